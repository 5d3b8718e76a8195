"""Token-endpoint benchmark: one ``namoid serve`` pinned to core 0, ``wrk`` pinned to core 1.

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--no-postgres]

For each backend (a SQLite file always; PostgreSQL when reachable) it sets up a production-
mode deployment (HTTPS with a certificate file, keyring file, audit on, JSON logs), creates an
org, a confidential client and a user with the CLI, starts the server under
``taskset -c 0`` and runs ``wrk --latency`` under ``taskset -c 1`` against discovery, the JWKS,
``client_credentials``, introspection, the ``authorization_code`` exchange (codes made
beforehand with ``namoid.oauth.codes.issue``, each redeemed once) and the ``refresh_token``
grant (families made beforehand in the database, each token used once). The RS256 ceiling of
core 0 comes from ``bench/sign_ceiling.py``. With ``--with-node`` node-oidc-provider 9
(``bench/node_provider``, installed with ``npm ci``) runs the same scenarios on the same cores
and the report adds NamoID's ratio to it per scenario. The report goes to
``bench/results/<date>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from namoid.crypto.keyring import create_keyring_file
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.crypto.tls import ensure_dev_certificate
from namoid.oauth import codes
from namoid.oauth.pkce import s256
from namoid.storage.db import Database, make_engine
from namoid.storage.models import RefreshFamily
from namoid.storage.repos import refresh_tokens
from namoid.tenancy import organizations

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node_oidc  # bench/ is not a package
import scale

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVER_CORE, LOAD_CORE = "0", "1"
REDIRECT_URI = "https://rp.example/callback"
PASSWORD = "bench password, not a secret"  # noqa: S105
BENCH_RATE_LIMITS = {
    name: "1000000/minute"
    for name in ("token.ip", "token.client", "introspect.ip", "introspect.client", "userinfo.ip")
}
PG_ADMIN_URL = os.environ.get("NAMOID_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PG_ROLE = "namoid_bench"
PG_ROLE_PASSWORD = "namoid-bench-only"  # noqa: S105


@dataclass
class Scenario:
    name: str
    path: str
    script: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: Each request spends a pre-generated grant, so there is no warm-up run to spend them on.
    single_use: bool = False


@dataclass
class Result:
    backend: str
    scenario: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    #: The server's CPU time (user + system, all its threads) per request, and its RSS afterwards.
    cpu_ms: float
    rss_mb: float
    note: str = ""


@dataclass
class Target:
    """A running server under load: where it answers and which process to account to."""

    backend: str
    base_url: str
    work: Path
    pid: int
    load_cores: str = LOAD_CORE


def _stat(pid: int) -> list[str]:
    """proc(5) ``stat`` fields after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """The process and its children (the workers of ``namoid serve --workers N``)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return [pid, *children]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (proc(5) ``stat`` fields 14 and 15)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = _stat(member)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


# --- wrk ---------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """``wrk`` (Debian package ``wrk``), installed with apt-get if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install wrk) ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and apt-get could not install it")
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms), total requests and failed ones (non-2xx plus socket errors)."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return {
        "rate": rate,
        "p50": _ms(percentiles["50"]),
        "p99": _ms(percentiles["99"]),
        "total": total,
        "failed": failed,
    }


def cores(workers: int) -> tuple[str, str]:
    """(server cores, load cores): the server on cores 0..N-1, wrk on the next core, or on every
    core when the machine has no core left for it (then it competes with the server)."""
    count = os.cpu_count() or 1
    server = SERVER_CORE if workers == 1 else f"0-{workers - 1}"
    load = LOAD_CORE if workers == 1 else (str(workers) if count > workers else f"0-{count - 1}")
    return server, load


def run_wrk(
    wrk: str, url: str, scenario: Scenario, args: argparse.Namespace, seconds: float, load: str = LOAD_CORE
) -> str:
    command = [
        "taskset", "-c", load, wrk, "--latency",
        "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds:g}s", "--timeout", "10s",
    ]  # fmt: skip
    if scenario.script:
        command += ["-s", str(BENCH / "lua" / scenario.script)]
    env = os.environ | scenario.env | {"BENCH_THREADS": str(args.threads)}
    result = subprocess.run([*command, url], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr}")
    return result.stdout


# --- deployment --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    backend: str
    work: Path
    env: dict[str, str]
    base_url: str
    cafile: Path
    slug: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:6]}")
    client_id: str = ""
    client_secret: str = ""
    user_id: str = ""

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/o/{self.slug}"

    @property
    def basic(self) -> str:
        return base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()

    def cli(self, *args: str, stdin: str | None = None) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "namoid", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"namoid {' '.join(args)} failed: {result.stderr}")
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def http(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=self.cafile), timeout=10)


def deployment(backend: str, work: Path, database_url: str, extra: dict[str, str]) -> Deployment:
    """Production mode: explicit database, certificate and keyring; nothing from dev mode."""
    cert, key = ensure_dev_certificate(work / "tls")
    if not (work / "keyring.json").exists():  # a kept scale deployment has its keyring already
        create_keyring_file(work / "keyring.json")
    base_url = f"https://localhost:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMOID_")} | {
        "NAMOID_BASE_URL": base_url,
        "NAMOID_DATABASE_URL": database_url,
        "NAMOID_TLS_CERT_FILE": str(cert),
        "NAMOID_TLS_KEY_FILE": str(key),
        "NAMOID_KEYRING_FILE": str(work / "keyring.json"),
        "NAMOID_DATA_DIR": str(work / "data"),
        # The limiter runs on every request (in process memory, as on a single node without Redis),
        # but its per-client and per-IP ceilings are raised so that one load generator is not refused.
        "NAMOID_RATE_LIMITS": json.dumps(BENCH_RATE_LIMITS),
        "NAMOID_RATELIMIT_SINGLE_NODE": "1",
        # Only the public app: the admin app (its own port) takes no part in these scenarios.
        "NAMOID_SERVE_ADMIN": "0",
        **extra,
    }
    return Deployment(backend, work, env, base_url, cert)


def provision(dep: Deployment) -> None:
    """An org, a confidential client (code, refresh and client_credentials grants) and a user, via the CLI."""
    dep.cli("org", "create", dep.slug, "--json")
    client = dep.cli(
        "client", "create", "--org", dep.slug, "--name", "Bench RP", "--type", "confidential",
        "--redirect-uri", REDIRECT_URI, "--grant-type", "authorization_code",
        "--grant-type", "refresh_token", "--grant-type", "client_credentials",
        "--scope", "openid", "--scope", "profile", "--scope", "email", "--scope", "api", "--json",
    )  # fmt: skip
    dep.client_id, dep.client_secret = client["client_id"], client["client_secret"]
    email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
    user = dep.cli(
        "user", "create", "--org", dep.slug, "--email", email, "--password-stdin", "--json", stdin=PASSWORD
    )
    dep.user_id = user["id"]


async def _code_exchanges(dep: Deployment, count: int) -> list[str]:
    """``count`` fresh codes, each as the form body that redeems it with its PKCE verifier."""
    db = Database(dep.env["NAMOID_DATABASE_URL"])
    try:
        org = await organizations.require(db, dep.slug)
        org.code_ttl = 3600  # in memory only: these codes must outlive the run, not 60 s
        redirect_uri = quote(REDIRECT_URI, safe="")
        bodies = []
        for start in range(0, count, 1000):
            async with db.tenant(org.id) as session:
                for _ in range(min(1000, count - start)):
                    verifier = new_token(32)
                    grant = codes.CodeGrant(
                        client_id=dep.client_id,
                        user_id=uuid.UUID(dep.user_id),
                        redirect_uri=REDIRECT_URI,
                        scope="openid profile",
                        code_challenge=s256(verifier),
                        nonce="n-bench",
                        sid=None,
                        auth_time=datetime.now(UTC) - timedelta(seconds=5),
                        amr=["pwd"],
                    )
                    code = await codes.issue(session, org, grant)
                    bodies.append(
                        f"grant_type=authorization_code&code={code}&redirect_uri={redirect_uri}"
                        f"&code_verifier={verifier}"
                    )
        return bodies
    finally:
        await db.dispose()


async def _refreshes(dep: Deployment, count: int) -> list[str]:
    """``count`` refresh families, each with one fresh token, as the form body that rotates it."""
    db = Database(dep.env["NAMOID_DATABASE_URL"])
    try:
        org = await organizations.require(db, dep.slug)
        now = datetime.now(UTC)
        bodies = []
        for start in range(0, count, 1000):
            async with db.tenant(org.id) as session:
                for _ in range(min(1000, count - start)):
                    family = await refresh_tokens.start_family(
                        session,
                        org.id,
                        RefreshFamily(
                            client_id=dep.client_id,
                            user_id=uuid.UUID(dep.user_id),
                            scope="openid profile",
                            sid=None,
                            auth_time=now - timedelta(seconds=5),
                            amr=["pwd"],
                            created_at=now,
                            expires_at=now + timedelta(hours=1),
                        ),
                    )
                    token = new_token(32)
                    await refresh_tokens.add(
                        session, org.id, family.id, sha256_hex(token), now + timedelta(hours=1)
                    )
                    bodies.append(f"grant_type=refresh_token&refresh_token={token}")
        return bodies
    finally:
        await db.dispose()


@contextmanager
def serving(dep: Deployment, workers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """``namoid serve`` (``workers`` processes) pinned to the server cores, until the block ends."""
    log = (dep.work / "server.log").open("wb")
    process = subprocess.Popen(  # stopped below
        ["taskset", "-c", cores(workers)[0], sys.executable, "-m", "namoid", "serve"],
        env=dep.env | {"NAMOID_WORKERS": str(workers)},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(dep, process, workers)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(dep: Deployment, process: subprocess.Popen[bytes], workers: int) -> None:
    """Until the server answers and each of its workers has started."""
    deadline = time.monotonic() + 120
    with dep.http() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {(dep.work / 'server.log').read_text()}")
            with contextlib.suppress(httpx.TransportError):
                started = (dep.work / "server.log").read_text().count("Application startup complete")
                if client.get(f"{dep.base_url}/healthz").status_code == 200 and started >= workers:
                    return
            time.sleep(0.3)
    raise RuntimeError("server did not become healthy in 120 s")


def _access_token(dep: Deployment) -> str:
    with dep.http() as client:
        response = client.post(
            f"{dep.issuer}/token",
            data={"grant_type": "client_credentials", "scope": "api"},
            auth=(dep.client_id, dep.client_secret),
        )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


# --- the run -----------------------------------------------------------------------------------


def _measure(
    wrk: str, target: Target, scenario: Scenario, args: argparse.Namespace, note: str = ""
) -> Result:
    """A warm-up (unless single-use), then ``args.repeat`` measured runs; the median run is reported.

    A single-use scenario's ``BENCH_BODIES`` names one file per run (``{name}.{i}.txt``), so no
    run replays a grant an earlier run spent.
    """
    url = f"{target.base_url}{scenario.path}"
    if args.warmup and not scenario.single_use:
        run_wrk(wrk, url, scenario, args, args.warmup, target.load_cores)
    runs = []
    for index in range(args.repeat):
        run = scenario
        if scenario.single_use:
            bodies = {"BENCH_BODIES": scenario.env["BENCH_BODIES"].format(index)}
            run = Scenario(scenario.name, scenario.path, scenario.script, scenario.env | bodies, True)
        cpu_before = process_cpu_seconds(target.pid)
        output = run_wrk(wrk, url, run, args, args.duration, target.load_cores)
        cpu = process_cpu_seconds(target.pid) - cpu_before
        (target.work / f"wrk-{scenario.name}-{index}.txt").write_text(output)
        try:
            figures = parse_wrk(output)
        except (AttributeError, KeyError) as exc:
            raise RuntimeError(f"cannot read the wrk output:\n{output}") from exc
        figures["cpu_ms"] = 1000 * cpu / max(1.0, figures["total"])
        runs.append(figures)
    runs.sort(key=lambda figures: figures["rate"])
    median = runs[len(runs) // 2]
    rates = " / ".join(f"{figures['rate']:.0f}" for figures in runs)
    print(f"  {target.backend:14} {scenario.name:20} {median['rate']:9.1f} req/s  ({rates})", flush=True)
    return Result(
        target.backend,
        scenario.name,
        median["rate"],
        median["p50"],
        median["p99"],
        int(sum(figures["total"] for figures in runs)),
        int(sum(figures["failed"] for figures in runs)),
        median["cpu_ms"],
        process_rss_mb(target.pid),
        note,
    )


def _write_bodies(work: Path, name: str, bodies: list[str], runs: int) -> str:
    """Split pre-generated single-use bodies into one file per measured run; the name pattern."""
    share = len(bodies) // runs
    for index in range(runs):
        chunk = bodies[index * share : (index + 1) * share]
        (work / f"{name}.{index}.txt").write_text("\n".join(chunk) + "\n")
    return str(work / f"{name}.{{}}.txt")


def _userinfo_token(dep: Deployment, body: str) -> str:
    """Spend one pre-generated code for an access token with the openid scope (for /userinfo)."""
    with dep.http() as client:
        response = client.post(
            f"{dep.issuer}/token",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(dep.client_id, dep.client_secret),
        )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


#: What the scale run measures (issue 15): the scenarios that write or look up per request.
WRITE_SCENARIOS = ("client_credentials", "introspection", "authorization_code", "refresh_token")


def bench_deployment(
    wrk: str, dep: Deployment, args: argparse.Namespace, only: tuple[str, ...] | None = None
) -> list[Result]:
    """The scenarios (``only`` these, if given) against the deployment, once per ``--workers`` count."""
    if not dep.client_id:
        provision(dep)
    results: list[Result] = []
    for workers in args.workers:
        results += _bench_server(wrk, dep, args, workers, only)
    return results


def _bench_server(
    wrk: str, dep: Deployment, args: argparse.Namespace, workers: int, only: tuple[str, ...] | None
) -> list[Result]:
    prefix = f"/o/{dep.slug}"
    basic = {"BENCH_BASIC": dep.basic}
    label = dep.backend if workers == 1 else f"{dep.backend} x{workers}"
    results: list[Result] = []

    def wanted(name: str) -> bool:
        return only is None or name in only

    with serving(dep, workers) as process:
        target = Target(label, dep.base_url, dep.work, process.pid, cores(workers)[1])
        for scenario in (
            Scenario("discovery", f"{prefix}/.well-known/openid-configuration"),
            Scenario("jwks", f"{prefix}/jwks.json"),
            Scenario("client_credentials", f"{prefix}/token", "client_credentials.lua",
                     basic | {"BENCH_SCOPE": "api"}),
        ):  # fmt: skip
            if wanted(scenario.name):
                results.append(_measure(wrk, target, scenario, args))
        if wanted("introspection"):
            token = {"BENCH_TOKEN": _access_token(dep)}
            introspection = Scenario("introspection", f"{prefix}/introspect", "introspect.lua", basic | token)
            results.append(_measure(wrk, target, introspection, args))
        # Enough single-use grants for 1.5 times the client_credentials rate (the cheapest grant).
        rate = next((r.requests_per_s for r in results if r.scenario == "client_credentials"), 1000.0)
        count = max(2000, int(rate * args.duration * 1.5))
        code_bodies = asyncio.run(_code_exchanges(dep, count * args.repeat + 1))
        if wanted("userinfo"):
            userinfo = Scenario("userinfo", f"{prefix}/userinfo", "userinfo.lua",
                                {"BENCH_TOKEN": _userinfo_token(dep, code_bodies.pop())})  # fmt: skip
            results.append(_measure(wrk, target, userinfo, args))
        for name, bodies, note in (
            ("authorization_code", code_bodies, f"{count} codes a run; ID token + access token"),
            ("refresh_token", asyncio.run(_refreshes(dep, count * args.repeat)),
             f"{count} families a run; ID token + access token + new refresh token"),
        ):  # fmt: skip
            if wanted(name):
                pattern = _write_bodies(dep.work, f"{name}-x{workers}", bodies, args.repeat)
                spend = basic | {"BENCH_BODIES": pattern}
                scenario = Scenario(name, f"{prefix}/token", "single_use.lua", spend, True)
                results.append(_measure(wrk, target, scenario, args, note))
    return results


#: The node-oidc-provider route of each scenario (its defaults: /jwks, /token/introspection, /me).
NODE_PATHS = {
    "discovery": "/.well-known/openid-configuration",
    "jwks": "/jwks",
    "client_credentials": "/token",
    "introspection": "/token/introspection",
    "userinfo": "/me",
    "authorization_code": "/token",
    "refresh_token": "/token",
}


def bench_node(wrk: str, args: argparse.Namespace, work: Path) -> list[Result]:
    """The same scenarios against node-oidc-provider, on the same cores, with the same wrk."""
    per_run = int(2000 * args.duration)
    results: list[Result] = []
    with node_oidc.serving(work, free_port(), SERVER_CORE, per_run * args.repeat) as node:
        target = Target("node-oidc-provider", node.base_url, work, node.pid)
        basic = {"BENCH_BASIC": node.basic}
        token = {"BENCH_TOKEN": node.token}
        for scenario in (
            Scenario("discovery", NODE_PATHS["discovery"]),
            Scenario("jwks", NODE_PATHS["jwks"]),
            Scenario("client_credentials", NODE_PATHS["client_credentials"], "client_credentials.lua",
                     basic | {"BENCH_SCOPE": "api"}),
            Scenario("introspection", NODE_PATHS["introspection"], "introspect.lua", basic | token),
            Scenario("userinfo", NODE_PATHS["userinfo"], "userinfo.lua", token),
        ):  # fmt: skip
            results.append(_measure(wrk, target, scenario, args))
        for name, bodies in (("authorization_code", node.codes), ("refresh_token", node.refreshes)):
            pattern = _write_bodies(work, f"node-{name}", bodies, args.repeat)
            spend = basic | {"BENCH_BODIES": pattern}
            scenario = Scenario(name, NODE_PATHS[name], "single_use.lua", spend, True)
            results.append(_measure(wrk, target, scenario, args, f"{per_run} a run"))
    return results


def sign_ceiling(seconds: float) -> dict[str, float]:
    output = subprocess.run(
        [
            "taskset",
            "-c",
            SERVER_CORE,
            sys.executable,
            str(BENCH / "sign_ceiling.py"),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    rates: dict[str, float] = json.loads(output)
    return rates


# --- PostgreSQL --------------------------------------------------------------------------------


async def _admin(sql: list[str], url: str = PG_ADMIN_URL) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in sql:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def postgres_database() -> Iterator[tuple[str, str] | None]:
    """A scratch database: (owner URL for migrations, app-role URL for the server), or None."""
    name = f"namoid_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin([f"CREATE DATABASE {name}"]))
    except Exception as exc:  # unreachable PostgreSQL just skips that backend
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); SQLite only", flush=True)
        yield None
        return
    owner = make_url(PG_ADMIN_URL).set(database=name)
    app = owner.set(username=PG_ROLE, password=PG_ROLE_PASSWORD)
    try:
        yield owner.render_as_string(hide_password=False), app.render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin([f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]))


def _postgres_roles(owner_url: str) -> None:
    """After the migration created the app role (NOLOGIN): let it log in, never bypassing RLS."""
    database = make_url(owner_url).database
    asyncio.run(
        _admin(
            [
                f"ALTER ROLE {PG_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{PG_ROLE_PASSWORD}'",
                f"GRANT CONNECT ON DATABASE {database} TO {PG_ROLE}",
            ]
        )
    )


# --- report ------------------------------------------------------------------------------------


def _machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"


def _commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    return result.stdout.strip() or "unknown"


REFERENCE = "node-oidc-provider"


POSTGRES = "postgres"
#: (scenario, aim as a ratio to node-oidc-provider, p99 ceiling in ms or None), issue 15.
RATIO_AIMS = (
    ("discovery", 1.0, None),
    ("jwks", 1.0, None),
    ("client_credentials", 0.6, 100.0),
    ("refresh_token", 0.6, 100.0),
    ("authorization_code", 0.6, 100.0),
    ("introspection", 0.5, None),
)
SCALE_TOLERANCE = 0.15


def _find(results: list[Result], backend: str, scenario: str) -> Result | None:
    return next((r for r in results if r.backend == backend and r.scenario == scenario), None)


def _side_by_side(results: list[Result]) -> list[str]:
    """Every server's figures per scenario, node-oidc-provider first, with NamoID's ratio to it."""
    lines = [
        "## Side by side (ratio = requests/s over node-oidc-provider's, same run, same cores)",
        "",
        "| scenario | server | requests/s | ratio | p50 ms | p99 ms | CPU ms/request | RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    backends = sorted({r.backend for r in results}, key=lambda b: (b != REFERENCE, b))
    for scenario in dict.fromkeys(r.scenario for r in results):
        reference = _find(results, REFERENCE, scenario)
        for backend in backends:
            if (r := _find(results, backend, scenario)) is None:
                continue
            ratio = f"{r.requests_per_s / reference.requests_per_s:.2f}" if reference else "no node run"
            lines.append(
                f"| {scenario} | {backend} | {r.requests_per_s:,.0f} | {ratio} | {r.p50_ms:.1f} "
                f"| {r.p99_ms:.1f} | {r.cpu_ms:.2f} | {r.rss_mb:.0f} |"
            )
    return [*lines, ""]


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def _aims(results: list[Result], limiter: float | None) -> list[str]:
    """Each aim of issue 15 with the figure this run measured for it (or what run would)."""
    lines = [
        "## Aims (issue 15)",
        "",
        "| aim | target | measured | verdict |",
        "|---|---|---|---|",
    ]
    for scenario, aim, p99_cap in RATIO_AIMS:
        mine, reference = _find(results, POSTGRES, scenario), _find(results, REFERENCE, scenario)
        target = f"≥ {aim:.1f}x node-oidc-provider" + (f", p99 < {p99_cap:.0f} ms" if p99_cap else "")
        if mine is None or reference is None:
            lines.append(f"| {scenario} on PostgreSQL | {target} | not run (`make bench`) | — |")
            continue
        ratio = mine.requests_per_s / reference.requests_per_s
        met = ratio >= aim and (p99_cap is None or mine.p99_ms < p99_cap)
        measured = f"{ratio:.2f}x" + (f", p99 {mine.p99_ms:,.0f} ms" if p99_cap else "")
        lines.append(f"| {scenario} on PostgreSQL | {target} | {measured} | {_verdict(met)} |")
    for backend in sorted({r.backend for r in results if " x" in r.backend}):
        base, workers = backend.rsplit(" x", 1)
        one, many = _find(results, base, "client_credentials"), _find(results, backend, "client_credentials")
        if one and many:
            gain = many.requests_per_s / one.requests_per_s
            lines.append(
                f"| client_credentials, {workers} workers on {workers} cores ({base}) | ≥ 1.7x one worker "
                f"| {gain:.2f}x | {_verdict(gain >= 1.7)} |"
            )
    if not any(" x" in r.backend for r in results):
        lines.append(
            "| 2 workers on 2 cores | ≥ 1.7x one worker | not run (`--workers 1 2 --redis-url …`) | — |"
        )
    if limiter is None:
        lines.append(
            "| the limiter's cost per token request (Redis) | < 1 ms p50 | not measured (no Redis) | — |"
        )
    else:
        lines.append(
            f"| the limiter's cost per token request (Redis) | < 1 ms p50 | {limiter:.3f} ms | "
            f"{_verdict(limiter < 1.0)} |"
        )
    lines += _scale_rows(results)
    return [*lines, ""]


def _scale_rows(results: list[Result]) -> list[str]:
    """CPU per request seeded against unseeded, per write scenario (aim: flat within ±15%)."""
    rows = []
    for scenario in WRITE_SCENARIOS:
        plain, seeded = _find(results, POSTGRES, scenario), _find(results, f"{POSTGRES}-scale", scenario)
        if plain and seeded:
            change = seeded.cpu_ms / plain.cpu_ms - 1
            rows.append(
                f"| {scenario}: CPU ms/request with the seeded database | within ±{SCALE_TOLERANCE:.0%} "
                f"of unseeded | {plain.cpu_ms:.2f} → {seeded.cpu_ms:.2f} ({change:+.0%}) "
                f"| {_verdict(abs(change) <= SCALE_TOLERANCE)} |"
            )
    if not rows:
        rows.append(
            f"| 10⁶ refresh tokens, 10⁷ audit rows | CPU ms/request within ±{SCALE_TOLERANCE:.0%} "
            "of unseeded | not run (`--scale`) | — |"
        )
    return rows


README_START = "<!-- bench:results:start (written by bench/run.py --readme) -->"
README_END = "<!-- bench:results:end -->"


def update_readme(readme: Path, text_report: str) -> None:
    """Put the report between the README's markers (which must be there), replacing the last one."""
    content = readme.read_text()
    before, found, rest = content.partition(README_START)
    _old, found_end, after = rest.partition(README_END)
    if not (found and found_end):
        raise SystemExit(f"{readme}: the markers {README_START!r} … {README_END!r} are missing")
    body = text_report.replace("# Token endpoint benchmark,", "### Latest run,", 1).replace(
        "\n## ", "\n#### "
    )
    readme.write_text(f"{before}{README_START}\n{body.strip()}\n{README_END}{after}")


def report(
    results: list[Result],
    ceiling: dict[str, float],
    args: argparse.Namespace,
    load: str,
    limiter: float | None,
) -> str:
    raw, signed = ceiling["raw_rs256_per_s"], ceiling["jwt_sign_per_s"]
    lines = [
        f"# Token endpoint benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {_machine()}; load average before the run: {load}",
        f"- commit {_commit()}; each server pinned to core {SERVER_CORE} (`namoid serve`: production mode, "
        f"HTTPS, audit on, JSON access logs); `wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration:g}s --latency` pinned to core {LOAD_CORE}; {args.warmup:g} s warm-up, then "
        f"{args.repeat} runs per scenario, the median run reported",
        f"- rate limiting: on ({'in Redis' if args.redis_url else 'in-process limiter'}, checked on every "
        "token, introspection and userinfo request; the per-client and per-IP ceilings raised so the one "
        "load generator is not refused)",
        *[
            f"- `x{n}` rows: `namoid serve --workers {n}` pinned to cores {cores(n)[0]}, wrk on cores "
            f"{cores(n)[1]}; CPU and RSS summed over the supervisor and its workers"
            for n in args.workers
            if n > 1
        ],
        *(
            [
                f"- `postgres-scale`: PostgreSQL seeded with {args.scale_tokens:,} live refresh tokens and "
                f"{args.scale_audit:,} audit rows (bench/scale.py); `postgres`: the same scenarios unseeded"
            ]
            if args.scale
            else []
        ),
        f"- RS256 ceiling of core {SERVER_CORE}: **{raw:,.0f} signatures/s** raw (OpenSSL via "
        f"cryptography), {signed:,.0f}/s through `namoid.jose.jwt.sign`",
        "",
        *_side_by_side(results),
        *_aims(results, limiter),
        "## All runs",
        "",
        "| backend | scenario | requests/s | p50 ms | p99 ms | CPU ms/request | RSS MB | requests | failed "
        "| vs RS256 ceiling | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        signs = r.scenario in ("client_credentials", "authorization_code", "refresh_token")
        ratio = f"{r.requests_per_s / raw:.0%}" if signs else ""
        lines.append(
            f"| {r.backend} | {r.scenario} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.cpu_ms:.2f} | {r.rss_mb:.0f} | {r.requests:,} | {r.failed:,} | {ratio} | {r.note} |"
        )
    lines += [
        "",
        "`failed` counts non-2xx answers and socket errors; it must be 0. The authorization_code "
        "exchange and the refresh_token grant sign two JWTs per request (access token and ID token); "
        "the refresh also consumes its token and stores the family's next one (rotation). "
        "node-oidc-provider keeps everything in process memory (its default adapter); its "
        "introspection and userinfo use an opaque access token, NamoID's a JWT access token whose "
        "`jti` it looks up.",
        "",
    ]
    return "\n".join(lines)


SCALE_DATABASE = "namoid_bench_scale"


def _postgres_deployment(
    backend: str, work: Path, owner_url: str, app_url: str, shared: dict[str, str]
) -> Deployment:
    extra = {"NAMOID_MIGRATION_DATABASE_URL": owner_url, "NAMOID_DATABASE_APP_ROLE": PG_ROLE, **shared}
    return deployment(backend, work, app_url, extra)


def _migrated(dep: Deployment, owner_url: str) -> Deployment:
    dep.cli("migrate")
    _postgres_roles(owner_url)
    return dep


def scale_deployment(args: argparse.Namespace, shared: dict[str, str]) -> Deployment:
    """The seeded PostgreSQL deployment of ``--scale``: reused from ``--scale-dir`` when a kept
    one was seeded with the same counts, else made afresh (database, org, client, user, seed)."""
    directory: Path = args.scale_dir
    owner = make_url(PG_ADMIN_URL).set(database=SCALE_DATABASE)
    owner_url = owner.render_as_string(hide_password=False)
    app_url = owner.set(username=PG_ROLE, password=PG_ROLE_PASSWORD).render_as_string(hide_password=False)
    wanted = {"tokens": args.scale_tokens, "audit_rows": args.scale_audit}
    state = scale.load_state(directory)
    if state and state["seeded"] == wanted:
        dep = _postgres_deployment("postgres-scale", directory, owner_url, app_url, shared)
        dep.slug, dep.client_id, dep.client_secret, dep.user_id = state["bench"]
        with contextlib.suppress(RuntimeError):  # the database is gone: seed again
            dep.cli("org", "list")
            print(f"scale: reusing {SCALE_DATABASE} ({wanted})", flush=True)
            return dep
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    asyncio.run(
        _admin(
            [f"DROP DATABASE IF EXISTS {SCALE_DATABASE} WITH (FORCE)", f"CREATE DATABASE {SCALE_DATABASE}"]
        )
    )
    dep = _migrated(_postgres_deployment("postgres-scale", directory, owner_url, app_url, shared), owner_url)
    orgs = []
    for index in range(1 + scale.EXTRA_ORGS):  # the bench org, then the others
        org = (
            dep
            if index == 0
            else dataclasses.replace(dep, slug=f"scale-{uuid.uuid4().hex[:6]}", client_id="")
        )
        provision(org)
        orgs.append({"slug": org.slug, "client_id": org.client_id, "user_id": org.user_id})
    print(f"scale: seeding {wanted} over {len(orgs)} orgs ...", flush=True)
    timings = scale.seed(owner_url, orgs, args.scale_tokens, args.scale_audit)
    print(f"scale: seeded in {', '.join(f'{name} {sec:.0f} s' for name, sec in timings.items())}", flush=True)
    bench = [dep.slug, dep.client_id, dep.client_secret, dep.user_id]
    scale.save_state(directory, {"seeded": wanted, "bench": bench, "seconds": timings})
    return dep


def drop_scale_database(directory: Path) -> None:
    asyncio.run(_admin([f"DROP DATABASE IF EXISTS {SCALE_DATABASE} WITH (FORCE)"]))
    shutil.rmtree(directory, ignore_errors=True)


def limiter_p50() -> float | None:
    """The limiter's own cost per token request on Redis, p50 ms (bench/limiter_latency.py), or None."""
    import limiter_latency  # imports this module: not at the top

    try:
        figures = asyncio.run(limiter_latency.limiter_cost(2000))
    except Exception as exc:  # Redis unreachable: the aims table says "not measured"
        print(f"limiter not measured ({exc.__class__.__name__})", flush=True)
        return None
    return figures[0].p50


def run_all(wrk: str, args: argparse.Namespace, shared: dict[str, str], tmp: Path) -> list[Result]:
    """Every server the arguments ask for, one after the other; their results."""
    results: list[Result] = []
    if not args.scale:
        work = tmp / "sqlite"
        work.mkdir(parents=True)
        dep = deployment("sqlite", work, f"sqlite+aiosqlite:///{work / 'namoid.db'}", shared)
        dep.cli("migrate")
        results += bench_deployment(wrk, dep, args)
    only = WRITE_SCENARIOS if args.scale else None
    if not args.no_postgres or args.scale:
        with postgres_database() as urls:
            if urls is not None:
                owner_url, app_url = urls
                work = tmp / "postgres"
                work.mkdir(parents=True)
                dep = _migrated(_postgres_deployment("postgres", work, owner_url, app_url, shared), owner_url)
                results += bench_deployment(wrk, dep, args, only)
    if args.scale:
        try:
            results += bench_deployment(wrk, scale_deployment(args, shared), args, only)
        finally:
            if not args.keep_scale_db:
                drop_scale_database(args.scale_dir)
    if args.with_node:
        results += bench_node(wrk, args, tmp / "node")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per scenario (median reported)")
    parser.add_argument(
        "--with-node", action="store_true", help="also node-oidc-provider (npm ci in bench/node_provider)"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (all on the load core)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and wrk outputs in this directory")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="run NamoID with each of these worker counts (1 2)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="rate limits in this Redis (needed by --workers > 1)"
    )
    parser.add_argument(
        "--scale", action="store_true", help="PostgreSQL only: the write scenarios, unseeded and seeded"
    )
    parser.add_argument("--scale-tokens", type=int, default=10**6, help="live refresh tokens seeded")
    parser.add_argument("--scale-audit", type=int, default=10**7, help="audit rows seeded")
    parser.add_argument("--scale-dir", type=Path, default=Path.home() / ".cache" / "namoid-bench-scale")
    parser.add_argument(
        "--keep-scale-db", action="store_true", help="keep the seeded database for the next --scale run"
    )
    parser.add_argument("--readme", type=Path, default=None, help="write the tables into this README")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two cores: one for the server, one for wrk")
    if max(args.workers) > 1 and not args.redis_url:
        raise SystemExit(
            "--workers above 1 needs --redis-url (namoid serve refuses several workers without it)"
        )
    shared = {"NAMOID_REDIS_URL": args.redis_url} if args.redis_url else {}
    wrk = ensure_wrk()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    ceiling = sign_ceiling(2)
    print(f"RS256 ceiling: {ceiling}", flush=True)
    with tempfile.TemporaryDirectory(prefix="namoid-bench-") as scratch:
        results = run_all(wrk, args, shared, args.keep or Path(scratch))
    limiter = limiter_p50()
    text_report = report(results, ceiling, args, load, limiter)
    if args.readme:
        update_readme(args.readme, text_report)
    output = args.output or BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text_report)
    print(text_report)
    print(f"written to {output}")


if __name__ == "__main__":
    main()
