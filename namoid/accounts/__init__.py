"""End users: accounts, credentials, sessions."""
