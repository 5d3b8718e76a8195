"""The OAuth 2.1 / OpenID Connect protocol: no SQL, no HTML."""
