"""JOSE: the only importer of joserfc (keys, JWT, JWKS)."""
