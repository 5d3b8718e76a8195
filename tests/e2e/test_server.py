"""``namoid serve`` as a real process over real TLS: embedded default and production mode."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from namoid.crypto.keyring import create_keyring_file
from namoid.crypto.tls import ensure_dev_certificate
from tests.conftest import POSTGRES_ONLY, REDIS_URL, Backend, unavailable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    cafile: Path
    log_path: Path
    admin_url: str | None = None

    @property
    def context(self) -> ssl.SSLContext:
        """Trusts the server's certificate."""
        return ssl.create_default_context(cafile=self.cafile)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.context, timeout=10)

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, verify=self.context, timeout=30)

    def log(self) -> str:
        return self.log_path.read_text()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMOID_")}
    return env | extra


def start(tmp_path: Path, cafile: Path | None = None, wait: float = 30, **settings: str) -> Server:
    port = free_port()
    base_url = f"https://localhost:{port}"
    data_dir = tmp_path / "data"
    log_path = tmp_path / "server.log"
    admin_url = f"https://localhost:{free_port()}"
    env = _env(
        NAMOID_BASE_URL=base_url, NAMOID_ADMIN_BASE_URL=admin_url, NAMOID_DATA_DIR=str(data_dir), **settings
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(  # stopped by pid in the fixture
            [sys.executable, "-m", "namoid", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(process, base_url, cafile or data_dir / "tls" / "cert.pem", log_path, admin_url)
    try:
        _wait_until_healthy(server, wait)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_until_healthy(server: Server, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            with server.client() as client:
                if client.get("/healthz").status_code == 200:
                    return
        except (httpx.TransportError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer in {seconds:g} s:\n{server.log()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextmanager
def running(tmp_path: Path, cafile: Path, settings: dict[str, str]) -> Iterator[Server]:
    server = start(tmp_path, cafile=cafile, **settings)
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start(tmp_path_factory.mktemp("embedded"))
    yield server
    stop(server)


def test_embedded_default_serves_https_with_its_dev_certificate(embedded: Server) -> None:
    with embedded.client() as client:
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert embedded.base_url.startswith("https://")
    log = embedded.log()
    assert "DEVELOPMENT" in log and str(embedded.cafile.resolve()) in log


def test_the_admin_api_has_its_own_port_and_never_the_public_one(embedded: Server) -> None:
    assert embedded.admin_url is not None
    with httpx.Client(base_url=embedded.admin_url, verify=embedded.context, timeout=10) as admin:
        document = admin.get("/admin/v1/openapi.json")
        unauthenticated = admin.get("/admin/v1/clients")
        public_route = admin.get("/healthz")
    assert document.status_code == 200 and document.json()["openapi"] == "3.1.0"
    assert unauthenticated.status_code == 401 and unauthenticated.headers["www-authenticate"]
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    assert "strict-transport-security" in unauthenticated.headers and public_route.status_code == 404
    with embedded.client() as client:
        assert client.get("/admin/v1/openapi.json").status_code == 404
        assert client.get("/admin/v1/clients").status_code == 404


def test_serve_refuses_when_both_apps_are_off(tmp_path: Path) -> None:
    result = _refused(
        {"NAMOID_SERVE_PUBLIC": "false", "NAMOID_SERVE_ADMIN": "0", "NAMOID_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.returncode == 2 and "nothing to serve" in result.stderr and "Traceback" not in result.stderr


def test_plain_http_is_not_served(embedded: Server) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(embedded.base_url.replace("https://", "http://") + "/healthz", timeout=5)


def test_ready_and_security_headers(embedded: Server) -> None:
    with embedded.client() as client:
        ready = client.get("/readyz")
        page = client.get("/", headers={"accept": "text/html"})
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    for response in (ready, page):
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-request-id"]
        assert "server" not in response.headers


def test_security_txt_and_policy_page(embedded: Server) -> None:
    with embedded.client() as client:
        txt = client.get("/.well-known/security.txt")
        policy = client.get("/security")
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    assert "Contact: mailto:security@namoid.in" in txt.text
    assert f"Policy: {embedded.base_url}/security" in txt.text
    assert policy.status_code == 200 and "48 hours" in policy.text and "Safe harbor" in policy.text


def test_unknown_org_is_404_never_500(embedded: Server) -> None:
    with embedded.client() as client:
        as_json = client.get("/o/no-such-org/.well-known/openid-configuration")
        as_html = client.get("/o/no-such-org/authorize", headers={"accept": "text/html"})
    assert as_json.status_code == 404 and as_json.json()["error"] == "not_found"
    assert as_html.status_code == 404 and as_html.headers["content-type"].startswith("text/html")


def test_oversized_body_is_413(embedded: Server) -> None:
    with embedded.client() as client:
        response = client.post("/o/demo/token", content=b"x" * (65 * 1024))
    assert response.status_code == 413


def test_malformed_setting_is_one_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "namoid", "serve"],
        env=_env(NAMOID_BASE_URL="http://insecure.example"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "NAMOID_BASE_URL" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_dev_certificate(tmp_path / "tls")


def _production(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path], **extra: str
) -> dict[str, str]:
    """Production settings; one node's own rate limits unless ``extra`` names a Redis."""
    cert, key = tls_pair
    return {
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_TLS_CERT_FILE": str(cert),
        "NAMOID_TLS_KEY_FILE": str(key),
        "NAMOID_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "NAMOID_RATELIMIT_SINGLE_NODE": "1",
        **extra,
    }


@POSTGRES_ONLY
def test_production_on_postgres_and_redis(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path], keyring_file: Path
) -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    shutil.copy2(keyring_file, tmp_path / "keyring.json")  # the shared database's deployment keyring
    with running(
        tmp_path, tls_pair[0], _production(backend, tmp_path, tls_pair, NAMOID_REDIS_URL=REDIS_URL)
    ) as server:
        with server.client() as client:
            ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
        assert '"level"' in server.log()  # JSON logs in production


@POSTGRES_ONLY
def test_readyz_reports_redis_down(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path], keyring_file: Path
) -> None:
    from tests.e2e.private_redis import private_redis

    shutil.copy2(keyring_file, tmp_path / "keyring.json")
    with (
        private_redis(tmp_path) as own_redis,
        running(
            tmp_path, tls_pair[0], _production(backend, tmp_path, tls_pair, NAMOID_REDIS_URL=own_redis.url)
        ) as server,
    ):
        own_redis.stop()  # a node refuses to start without Redis; once running, it reports the loss
        with server.client() as client:
            ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}


def _refused(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "namoid", "serve"],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@POSTGRES_ONLY
def test_production_refuses_to_start_without_a_keyring(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path]
) -> None:
    result = _refused(_production(backend, tmp_path, tls_pair))
    assert result.returncode == 2 and "keyring" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "keyring.json").write_text("{not json")
    result = _refused(_production(backend, tmp_path, tls_pair))
    assert result.returncode == 2 and "keyring" in result.stderr


@POSTGRES_ONLY
def test_production_refuses_a_role_that_bypasses_rls(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path]
) -> None:
    create_keyring_file(tmp_path / "keyring.json")
    env = _production(backend, tmp_path, tls_pair) | {
        "NAMOID_DATABASE_URL": backend.owner_url,
        "NAMOID_BASE_URL": f"https://localhost:{free_port()}",
    }
    result = _refused(env)
    assert result.returncode != 0
    assert "BYPASSRLS" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_certificate(tmp_path: Path) -> None:
    create_keyring_file(tmp_path / "keyring.json")
    result = _refused(
        {
            "NAMOID_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            "NAMOID_KEYRING_FILE": str(tmp_path / "keyring.json"),
        }
    )
    assert result.returncode == 2 and "NAMOID_TLS_CERT_FILE" in result.stderr


def test_access_log_keeps_personal_data_out(embedded: Server) -> None:
    """The real server's access log: allow-listed query values only (no login_hint, no email)."""
    query = "client_id=demo-x&login_hint=asha%40acme.example&email=ravi%40acme.example&state=s-17"
    with embedded.client() as client:
        client.get(f"/o/demo/authorize?{query}")
    deadline = time.monotonic() + 5
    while "s-17" not in embedded.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(line for line in embedded.log().splitlines() if "s-17" in line)
    assert "/o/demo/authorize?client_id=demo-x&login_hint=[REDACTED]&email=[REDACTED]&state=s-17" in line
    assert "acme.example" not in embedded.log()


def test_embedded_data_directory_is_private(embedded: Server) -> None:
    """The SQLite database (password hashes, personal data, the audit log), the dev keyring and
    the dev TLS key: nobody but their owner may read any of them."""
    data = embedded.cafile.parent.parent
    with embedded.client() as client:
        assert client.get("/o/demo/.well-known/openid-configuration").status_code == 200
    found = {path.relative_to(data).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in data.rglob("*")}
    assert {"namoid.db", "namoid.db-wal", "keyring.json", "tls/key.pem", "tls/cert.pem"} <= set(found)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {name: mode for name, mode in found.items() if mode != (0o700 if name == "tls" else 0o600)} == {}


def test_production_refuses_to_start_without_shared_rate_limits(
    tmp_path: Path, tls_pair: tuple[Path, Path]
) -> None:
    create_keyring_file(tmp_path / "keyring.json")
    cert, key = tls_pair
    result = _refused(
        {
            "NAMOID_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            "NAMOID_TLS_CERT_FILE": str(cert),
            "NAMOID_TLS_KEY_FILE": str(key),
            "NAMOID_KEYRING_FILE": str(tmp_path / "keyring.json"),
        }
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()  # one clear line, naming both ways out
    assert "NAMOID_REDIS_URL" in line and "NAMOID_RATELIMIT_SINGLE_NODE=1" in line


@POSTGRES_ONLY
def test_the_single_node_opt_out_starts_and_says_so_loudly(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path], keyring_file: Path
) -> None:
    shutil.copy2(keyring_file, tmp_path / "keyring.json")
    with running(tmp_path, tls_pair[0], _production(backend, tmp_path, tls_pair)) as server:
        with server.client() as client:
            assert client.get("/readyz").status_code == 200
        assert "RATE LIMITS ARE NOT SHARED" in server.log() and '"WARNING"' in server.log()
