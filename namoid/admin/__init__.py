"""The admin API (issue 16): its own ASGI app and port, authorized by NamoID's own access tokens."""
