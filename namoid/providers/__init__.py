"""Connected upstream providers (DESIGN.md §6): the registry, the token vault, sign-in flows."""
