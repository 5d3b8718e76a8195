"""The scale run's PostgreSQL database (issue 15): many live refresh tokens and audit rows.

``seed`` fills a migrated database, as its owner (set-based ``INSERT … SELECT generate_series``,
one statement per table, minutes rather than hours), spread round-robin over the bench org and
a few other orgs, each row valid for the schema, RLS and the audit log:

- ``refresh_families`` + ``refresh_tokens``: one live token per family (unused, expiring in
  30 days), the SHA-256 of a token nobody holds, owned by each org's own user and client;
- ``audit_log``: ``token.issued`` entries (actor the org's client, as the token endpoint writes
  them), appended after the org's existing ones, in the order of their ``seq``. They are left
  unsealed, as entries are between two passes of the worker's sealer: sealing is off the
  request path (DESIGN.md §5), so the scale run measures the hot path with them present, and
  ``namoid audit seal`` would chain them like any others.

The database is kept between runs (``--keep-scale-db``): ``state.json`` in the scale directory
records the database, the deployment's secrets' files (keyring, TLS) and the seeded counts;
a later run finding it seeded with the same counts reuses it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from namoid.storage.db import make_engine

#: The other orgs the rows are spread over, besides the bench org.
EXTRA_ORGS = 3

_FAMILIES = """
INSERT INTO refresh_families
    (id, org_id, client_id, user_id, scope, sid, auth_time, amr, created_at, expires_at)
SELECT md5('scale-family-' || g)::uuid, o.org_id, o.client_id, o.user_id, 'openid profile', NULL,
       now() - interval '1 hour', '["pwd"]'::jsonb, now() - interval '1 hour', now() + interval '30 days'
FROM generate_series(1, :count) AS g
JOIN scale_orgs AS o ON o.n = g % :orgs
"""
_TOKENS = """
INSERT INTO refresh_tokens (id, org_id, family_id, token_hash, created_at, expires_at)
SELECT md5('scale-token-' || g)::uuid, o.org_id, md5('scale-family-' || g)::uuid,
       encode(sha256(('scale-token-' || g)::bytea), 'hex'), now() - interval '1 hour',
       now() + interval '30 days'
FROM generate_series(1, :count) AS g
JOIN scale_orgs AS o ON o.n = g % :orgs
"""
_AUDIT = """
INSERT INTO audit_log (org_id, occurred_at, actor_type, actor_id, action, target_type, target_id,
                       outcome, ip, user_agent, request_id, detail)
SELECT o.org_id, now() - interval '1 day' + g * interval '1 millisecond', 'client', o.client_id,
       'token.issued', 'client', o.client_id, 'success', '192.0.2.' || (g % 250 + 1),
       'bench-scale', md5('scale-request-' || g), jsonb_build_object('grant_type', 'client_credentials')
FROM generate_series(1, :count) AS g
JOIN scale_orgs AS o ON o.n = g % :orgs
"""


async def _seed(owner_url: str, orgs: list[dict[str, str]], tokens: int, audit_rows: int) -> dict[str, float]:
    """Insert the rows; the seconds each table took."""
    engine = make_engine(owner_url)
    timings = {}
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("CREATE TEMP TABLE scale_orgs (n int, org_id uuid, client_id text, user_id uuid)")
            )
            for n, org in enumerate(orgs):
                await conn.execute(
                    text(
                        "INSERT INTO scale_orgs SELECT :n, id, :client_id, CAST(:user_id AS uuid)"
                        " FROM organizations WHERE slug = :slug"
                    ),
                    {"n": n, **org},
                )
            for name, statement, count in (
                ("refresh_families", _FAMILIES, tokens),
                ("refresh_tokens", _TOKENS, tokens),
                ("audit_log", _AUDIT, audit_rows),
            ):
                started = time.monotonic()
                await conn.execute(text(statement), {"count": count, "orgs": len(orgs)})
                timings[name] = time.monotonic() - started
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE refresh_families, refresh_tokens, audit_log"))
    finally:
        await engine.dispose()
    return timings


def seed(owner_url: str, orgs: list[dict[str, str]], tokens: int, audit_rows: int) -> dict[str, float]:
    """Seed ``tokens`` live refresh tokens and ``audit_rows`` audit entries over ``orgs``
    (each {"slug", "client_id", "user_id"}); the seconds per table."""
    return asyncio.run(_seed(owner_url, orgs, tokens, audit_rows))


def load_state(directory: Path) -> dict[str, Any] | None:
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def save_state(directory: Path, state: dict[str, Any]) -> None:
    path = directory / "state.json"
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)  # it names the bench client's secret
