"""Audit-chain benchmark: sealing and ``verify`` throughput over 10⁶ entries on PostgreSQL.

    .venv/bin/python bench/audit_chain.py [--entries 1000000] [--output FILE]

Makes a scratch database (through ``NAMOID_TEST_PG_ADMIN_URL``, the tests' superuser), migrates
it, creates an org, and inserts the entries with one ``INSERT … SELECT generate_series``
(realistic rows: actor, target, IP, user agent, request id, a small JSON detail). Then, as
the RLS-bound app role, it times one ``seal_chain`` over all of them (batches of
``sealing.BATCH``) and one ``verify_chain``. Sealing and verifying run on one core of this
machine in this process, with PostgreSQL on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from run import PG_ROLE, _admin, _postgres_roles, postgres_database
from sqlalchemy import text

from namoid import audit
from namoid.audit import sealing
from namoid.audit.verification import verify_chain
from namoid.crypto.keyring import Keyring, create_keyring_file
from namoid.storage.db import Database
from namoid.storage.migrate import upgrade_sync
from namoid.tenancy import organizations

BENCH = Path(__file__).resolve().parent

FILL = """
INSERT INTO audit_log (org_id, occurred_at, actor_type, actor_id, action, target_type, target_id,
                       outcome, ip, user_agent, request_id, detail)
SELECT :org, now() - make_interval(secs => :n - g), 'client', 'bench-client', 'token.issued', 'user',
       md5(g::text), 'success', '203.0.113.' || (g % 250), 'bench-agent/1.0', md5((g * 7)::text),
       jsonb_build_object('grant', 'client_credentials', 'client_id', 'bench-client', 'scope', 'api', 'n', g)
FROM generate_series(1, :n) AS g
"""


async def measure(entries: int, owner_url: str, app_url: str, keyring: Keyring) -> dict[str, float]:
    owner = Database(owner_url)
    app = Database(app_url)
    try:
        org = await organizations.create(owner, keyring, "bench", None, audit.Actor("admin", "bench"))
        started = time.perf_counter()
        async with owner.system() as session:
            await session.execute(text(FILL), {"org": org.id, "n": entries})
        fill_s = time.perf_counter() - started
        await _admin(["VACUUM ANALYZE audit_log"], owner_url)

        started = time.perf_counter()
        sealed = await sealing.seal_chain(app, org.id)
        seal_s = time.perf_counter() - started

        started = time.perf_counter()
        verdict = await verify_chain(app, org.id)
        verify_s = time.perf_counter() - started
        if not verdict.intact or verdict.checked != sealed:
            raise SystemExit(f"verify disagrees: {verdict}")
        return {"entries": sealed, "fill_s": fill_s, "seal_s": seal_s, "verify_s": verify_s}
    finally:
        await owner.dispose()
        await app.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--output", type=Path, default=BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}-audit.md"
    )
    args = parser.parse_args()
    with postgres_database() as urls:
        if urls is None:
            raise SystemExit("PostgreSQL is not reachable (NAMOID_TEST_PG_ADMIN_URL)")
        owner_url, app_url = urls
        upgrade_sync(owner_url, PG_ROLE)
        _postgres_roles(owner_url)
        with tempfile.TemporaryDirectory() as work:
            keyring_path = Path(work) / "keyring.json"
            create_keyring_file(keyring_path)
            figures = asyncio.run(measure(args.entries, owner_url, app_url, Keyring.load(keyring_path)))
    n = figures["entries"]
    rows = [
        ("fill (INSERT … generate_series, owner)", figures["fill_s"]),
        (f"seal (`seal_chain`, batches of {sealing.BATCH})", figures["seal_s"]),
        ("verify (`verify_chain`)", figures["verify_s"]),
    ]
    report = "\n".join(
        [
            f"# Audit chain, {datetime.now(UTC):%Y-%m-%d}",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            "PostgreSQL on 127.0.0.1, the sealer/verifier in one Python process as the RLS-bound app role.",
            "",
            "| step | entries | seconds | entries/s |",
            "|---|---:|---:|---:|",
            *(f"| {step} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} |" for step, seconds in rows),
            "",
        ]
    )
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
