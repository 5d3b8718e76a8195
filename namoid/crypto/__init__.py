"""Key material lives here only: keyring (AES-GCM), passwords (Argon2id), secrets, dev TLS."""
