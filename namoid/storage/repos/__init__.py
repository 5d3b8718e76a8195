"""Repositories: the only place with queries. Every function on a tenant table
takes ``(session, org_id, ...)`` and filters by ``org_id`` (DESIGN.md §2)."""
