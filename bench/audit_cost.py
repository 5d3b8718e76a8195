"""What the audit write costs a token request: ``client_credentials`` with and without it.

    .venv/bin/python bench/audit_cost.py [--duration 10] [--rounds 2]

The same pinned set-up as ``bench/run.py`` (server on core 0, wrk on core 1, production mode
on PostgreSQL as the RLS-bound app role). Each round runs the scenario against a server that
writes the ``token.issued`` audit entry (as always) and against one started with
``bench/without_audit`` on ``PYTHONPATH``, whose ``sitecustomize`` turns the audit INSERT
into a no-op; rounds alternate so that drift hits both alike.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from run import (
    BENCH,
    PG_ROLE,
    Deployment,
    Result,
    Scenario,
    _measure,
    _postgres_roles,
    deployment,
    ensure_wrk,
    postgres_database,
    provision,
    serving,
)

WITHOUT_AUDIT = str(BENCH / "without_audit")


def _round(wrk: str, dep: Deployment, args: argparse.Namespace, audited: bool) -> Result:
    env = dict(dep.env)
    if not audited:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [WITHOUT_AUDIT, env.get("PYTHONPATH")]))
    variant = Deployment(dep.backend, dep.work, env, dep.base_url, dep.cafile, dep.slug, dep.client_id,
                         dep.client_secret, dep.user_id)  # fmt: skip
    scenario = Scenario(
        "client_credentials",
        f"/o/{dep.slug}/token",
        "client_credentials.lua",
        {"BENCH_BASIC": dep.basic, "BENCH_SCOPE": "api"},
    )
    with serving(variant):
        return _measure(wrk, variant, scenario, args, "audited" if audited else "audit write skipped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}-audit-cost.md"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="namoid-audit-cost-") as scratch, postgres_database() as urls:
        if urls is None:
            raise SystemExit("PostgreSQL is not reachable (NAMOID_TEST_PG_ADMIN_URL)")
        owner_url, app_url = urls
        extra = {"NAMOID_MIGRATION_DATABASE_URL": owner_url, "NAMOID_DATABASE_APP_ROLE": PG_ROLE}
        dep = deployment("postgres", Path(scratch), app_url, extra)
        dep.cli("migrate")
        _postgres_roles(owner_url)
        provision(dep)
        for _ in range(args.rounds):
            results += [_round(wrk, dep, args, audited=True), _round(wrk, dep, args, audited=False)]
    rows = [
        f"| {r.note} | {r.requests_per_s:,.1f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.failed} |"
        for r in results
    ]
    with_audit = [r.requests_per_s for r in results if r.note == "audited"]
    without = [r.requests_per_s for r in results if r.note != "audited"]
    a, b = sum(with_audit) / len(with_audit), sum(without) / len(without)
    text = "\n".join(
        [
            f"# Audit write cost at the token endpoint, {datetime.now(UTC):%Y-%m-%d}",
            "",
            f"PostgreSQL, `client_credentials`, {args.connections} connections, {args.duration:.0f} s "
            f"per run, server on core 0 and wrk on core 1; load average before the run: {load}.",
            "",
            "| server | req/s | p50 ms | p99 ms | non-2xx |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Mean: {a:,.1f} req/s audited, {b:,.1f} req/s without the write: the audit INSERT costs "
            f"{(1 / a - 1 / b) * 1000:.2f} ms of server time per request ({(b - a) / b:.1%} of throughput).",
            "",
        ]
    )
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
