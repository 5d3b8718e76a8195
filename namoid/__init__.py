"""NamoID: an OAuth 2.1 / OpenID Connect identity provider, strict by default."""

__version__ = "0.1.0"
