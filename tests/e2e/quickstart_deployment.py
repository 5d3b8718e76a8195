"""A deployment made by ``deploy/quickstart.sh``, exactly as the README runs it, on a scratch
PostgreSQL database with role names of its own (never the suite's ``namoid_app``) and a Redis
server of its own; its processes are stopped by pid and its database and roles dropped after."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, admin_sql, unavailable
from tests.e2e.private_redis import PrivateRedis, private_redis
from tests.e2e.test_server import Server, free_port

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "quickstart.sh"


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    redis: PrivateRedis
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def config_dir(self) -> Path:
        return Path(self.env["CONFIG_DIR"])

    @property
    def cafile(self) -> Path:
        return self.config_dir / "tls" / "cert.pem"

    def settings(self) -> dict[str, str]:
        """The NAMOID_ settings the quickstart wrote for every node and worker."""
        lines = (self.config_dir / "namoid.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line)

    def run(self, *command: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        """``command`` to completion with the deployment's variables (plus ``extra``); it must succeed."""
        result = subprocess.run(
            list(command),
            env=self.env | extra,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
        return result

    def step(self, name: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        """``deploy/quickstart.sh NAME``."""
        return self.run("sh", str(SCRIPT), name, stdin=stdin, **extra)

    def namoid(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A namoid command with the deployment's settings (what `set -a; . namoid.env` gives a shell)."""
        return self.run(self.env["NAMOID"], *args, stdin=stdin, **self.settings())

    def spawn(self, name: str, log: str, **extra: str) -> subprocess.Popen[str]:
        """``quickstart.sh serve|worker`` in the background (the script execs namoid: same pid)."""
        with (self.root / log).open("w") as out:
            process = subprocess.Popen(  # stopped by pid in stop()
                ["sh", str(SCRIPT), name],
                env=self.env | extra,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.processes.append(process)
        return process

    def node(self, log: str, host: str = "127.0.0.1") -> Server:
        """A node bound to ``host`` on BASE_URL's port (several nodes: 127.0.0.2, …), answering /healthz."""
        port = self.env["BASE_URL"].rsplit(":", 1)[1]
        process = self.spawn("serve", log, NAMOID_HOST=host)
        server = Server(process, f"https://{host}:{port}", self.cafile, self.root / log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"node exited with {process.returncode}:\n{server.log()}")
            try:
                with httpx.Client(verify=self.tls(), timeout=5) as client:
                    if client.get(f"{server.base_url}/healthz").status_code == 200:
                        return server
            except (httpx.TransportError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"node did not answer in 60 s:\n{server.log()}")

    def tls(self) -> ssl.SSLContext:
        """Trusts the quickstart's certificate (for localhost) at any of the nodes' addresses."""
        context = ssl.create_default_context(cafile=self.cafile)
        context.check_hostname = False  # the chain is still verified; the nodes are 127.0.0.x
        return context

    def stop(self, process: subprocess.Popen[str]) -> None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def quickstart(root: Path) -> Iterator[Deployment]:
    """``quickstart.sh setup`` done; yields the deployment, then tears everything down."""
    suffix = uuid.uuid4().hex[:8]
    admin = make_url(PG_ADMIN_URL)
    names = {"OWNER_ROLE": f"qs_owner_{suffix}", "APP_ROLE": f"qs_app_{suffix}", "DB_NAME": f"qs_{suffix}"}
    try:
        asyncio.run(admin_sql(["SELECT 1"]))
    except Exception as exc:  # connection refused, auth failure, …
        unavailable("PostgreSQL", exc)
    with private_redis(root) as redis:
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(root),
            "NAMOID": str(Path(sys.executable).with_name("namoid")),
            "PG_ADMIN_URL": admin.set(drivername="postgresql").render_as_string(hide_password=False),
            "PG_HOST": admin.host or "127.0.0.1",
            "PG_PORT": str(admin.port or 5432),
            "OWNER_PASSWORD": f"owner-{uuid.uuid4().hex}",
            "APP_PASSWORD": f"app-{uuid.uuid4().hex}",
            "REDIS_URL": redis.url,
            "BASE_URL": f"https://localhost:{free_port()}",
            "CONFIG_DIR": str(root / "etc"),
            "SELF_SIGNED": "1",
            **names,
        }
        env |= {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        deployment = Deployment(root, env, redis)
        try:
            yield deployment
        finally:
            for process in deployment.processes:
                if process.poll() is None:
                    deployment.stop(process)
            asyncio.run(
                admin_sql(
                    [
                        f"DROP DATABASE IF EXISTS {names['DB_NAME']} WITH (FORCE)",
                        f"DROP DATABASE IF EXISTS {names['DB_NAME']}_restored WITH (FORCE)",
                        f"DROP ROLE IF EXISTS {names['APP_ROLE']}",
                        f"DROP ROLE IF EXISTS {names['OWNER_ROLE']}",
                    ]
                )
            )
