"""HTML pages, templates, static files and the HTTP middleware of the public app (DESIGN.md §6, §7)."""
