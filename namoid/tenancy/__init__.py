"""Organizations (tenants): creation, resolution from the URL, isolation."""
