"""What the rate limiter adds to one token request, with Redis (issue 6: aim below 1 ms p50).

    .venv/bin/python bench/limiter_latency.py [--requests 5000] [--e2e-requests 2000] [--no-e2e]

1. **The limiter's own cost**: the limiter calls ``POST /token`` makes for a ``client_credentials``
   request that authenticates (``namoid.oauth.endpoints`` and ``namoid.oauth.client_limits``):
   the ``token.ip`` ceiling, the two failure windows it must not be in, and after authentication
   the client's ``token.client`` budget; timed call by call, on real Redis and on the in-process
   storage, with one Redis ``PING`` as the round-trip floor.
2. **End to end**: two ``namoid serve`` (production mode, SQLite, HTTPS; helpers of
   ``bench/run.py``) on core 0, one counting in Redis and one in process memory; the same
   ``client_credentials`` request is sent to each, one at a time over a kept-alive connection from
   core 1, in alternating blocks so drift hits both alike. The difference of the two is what
   Redis costs over the in-process limiter; with (1) it gives the limiter's whole cost.

The per-client and per-IP ceilings are raised (``BENCH_RATE_LIMITS``), so nothing is refused and
every request does the full work. Redis comes from ``NAMOID_BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/14``); its keys carry a fresh prefix and expire within a minute.
The report goes to ``bench/results/<date>-limiter.md`` (or ``--output``) and is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from redis.asyncio import Redis
from run import (  # bench/run.py: this script's directory is the first on sys.path
    BENCH,
    BENCH_RATE_LIMITS,
    LOAD_CORE,
    SERVER_CORE,
    Deployment,
    _commit,
    _machine,
    deployment,
    provision,
    serving,
)

from namoid.ratelimit.limiter import Limiter

REDIS_URL = os.environ.get("NAMOID_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
FORM = {"grant_type": "client_credentials", "scope": "api"}
CALLER = "192.0.2.1"
BLOCK = 100


@dataclass(frozen=True)
class Figures:
    name: str
    samples: list[float]  # milliseconds

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples, n=100)[98]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    def row(self) -> str:
        return f"| {self.name} | {self.p50:.3f} | {self.p99:.3f} | {self.mean:.3f} | {len(self.samples):,} |"


async def _timed(name: str, call: Callable[[], Awaitable[object]], count: int) -> Figures:
    for _ in range(min(500, count)):  # warm-up: connections, Lua scripts loaded, caches
        await call()
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        await call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return Figures(name, samples)


async def _token_limits(limiter: Limiter) -> None:
    """The limiter calls of one authenticated token request, in the endpoint's order."""
    await limiter.hit("token.ip", CALLER, org="bench")
    await limiter.test("client_auth.failures_ip", CALLER, org="bench")
    await limiter.test("client_auth.failures_client_ip", "bench-client", CALLER, org="bench")
    await limiter.hit("token.client", "bench-client", org="bench")


async def limiter_cost(count: int) -> list[Figures]:
    """The token endpoint's limiter calls, on Redis and in memory, and a bare Redis PING."""
    results = []
    for storage, url in (("Redis", REDIS_URL), ("in-process memory", None)):
        limiter = Limiter(redis_url=url, overrides=BENCH_RATE_LIMITS, key_prefix=f"bench-{uuid.uuid4().hex}")
        try:

            async def admit(limiter: Limiter = limiter) -> None:
                await _token_limits(limiter)

            figures = await _timed(f"limiter on {storage}: the four calls of POST /token", admit, count)
            if limiter.degraded:
                raise SystemExit(f"Redis at {REDIS_URL} did not answer: the figures would be memory's")
            results.append(figures)
        finally:
            await limiter.close()
    client = Redis.from_url(REDIS_URL)
    try:
        results.append(await _timed("one Redis PING (the round-trip floor)", client.ping, count))
    finally:
        await client.aclose()
    return results


def _token_request(dep: Deployment, client: httpx.Client) -> None:
    response = client.post(f"{dep.issuer}/token", data=FORM, auth=(dep.client_id, dep.client_secret))
    if response.status_code != 200:
        raise RuntimeError(f"token request failed: {response.status_code} {response.text}")


def end_to_end(work: Path, count: int) -> list[Figures]:
    """The same token request against a Redis-limited and a memory-limited server, interleaved."""
    deps = {}
    for name, extra in (("Redis", {"NAMOID_REDIS_URL": REDIS_URL}), ("in-process memory", {})):
        folder = work / name.split()[0].lower()
        folder.mkdir()
        dep = deployment("sqlite", folder, f"sqlite+aiosqlite:///{folder / 'namoid.db'}", extra)
        dep.cli("migrate")
        provision(dep)
        deps[name] = dep
    samples: dict[str, list[float]] = {name: [] for name in deps}
    with serving(deps["Redis"]), serving(deps["in-process memory"]):
        clients = {name: dep.http() for name, dep in deps.items()}
        try:
            for name, dep in deps.items():  # warm-up
                for _ in range(BLOCK):
                    _token_request(dep, clients[name])
            for _ in range(max(1, count // BLOCK)):
                for name, dep in deps.items():
                    for _ in range(BLOCK):
                        start = time.perf_counter_ns()
                        _token_request(dep, clients[name])
                        samples[name].append((time.perf_counter_ns() - start) / 1e6)
        finally:
            for client in clients.values():
                client.close()
    return [Figures(f"POST /token, limiter on {name}", values) for name, values in samples.items()]


def report(direct: list[Figures], e2e: list[Figures], load: str) -> str:
    header = ["| measured | p50 ms | p99 ms | mean ms | samples |", "|---|---:|---:|---:|---:|"]
    lines = [
        f"# Rate-limiter latency at the token endpoint, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {_machine()}; load average before the run: {load}",
        f"- commit {_commit()} (plus the working tree); Redis {REDIS_URL} on the same machine (TCP loopback)",
        "- one request at a time (latency, not throughput); `bench/limiter_latency.py`",
        "",
        "## The limiter's own cost per token request",
        "",
        "The limiter calls of an authenticated `POST /token`: the `token.ip` ceiling, the two failure "
        "windows (`client_auth.failures_ip`, `client_auth.failures_client_ip`) before authentication, "
        "`token.client` after it (one Redis round trip per window; a window is read back only to answer "
        "a refusal).",
        "",
        *header,
        *(figures.row() for figures in direct),
    ]
    if e2e:
        redis_e2e, memory_e2e = e2e
        lines += [
            "",
            "## End to end",
            "",
            f"Two `namoid serve` (production mode, SQLite, HTTPS, audit on) pinned to core {SERVER_CORE}; "
            f"the client on core {LOAD_CORE}, alternating blocks of {BLOCK} `client_credentials` requests "
            "(Basic auth) between them over a kept-alive connection.",
            "",
            *header,
            *(figures.row() for figures in e2e),
            "",
            f"Redis over the in-process limiter, end to end: **{redis_e2e.p50 - memory_e2e.p50:+.3f} ms** "
            f"at p50, {redis_e2e.p99 - memory_e2e.p99:+.3f} ms at p99 (differences of the two runs' "
            "percentiles; the limiter's own figures above are the direct measurement).",
        ]
    redis_direct = direct[0]
    verdict = "below" if redis_direct.p50 < 1 else "above"
    lines += [
        "",
        f"**The limiter with Redis adds {redis_direct.p50:.3f} ms per token request at p50 "
        f"({redis_direct.p99:.3f} ms at p99): {verdict} the 1 ms p50 aim.**",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000, help="limiter calls timed per storage")
    parser.add_argument("--e2e-requests", type=int, default=2000, help="token requests per server")
    parser.add_argument("--no-e2e", action="store_true", help="only the limiter's own cost")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    direct = asyncio.run(limiter_cost(args.requests))
    for figures in direct:
        print(figures.row(), flush=True)
    e2e: list[Figures] = []
    if not args.no_e2e:
        with tempfile.TemporaryDirectory(prefix="namoid-limiter-bench-") as scratch:
            e2e = end_to_end(Path(scratch), args.e2e_requests)
    text = report(direct, e2e, load)
    output = args.output or BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}-limiter.md"
    output.write_text(text)
    print(text)
    print(f"written to {output}")


if __name__ == "__main__":
    main()
