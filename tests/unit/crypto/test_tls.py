"""The self-signed development certificate (DESIGN.md §1, §7)."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from namoid.crypto.tls import DEV_CERT_CN, ensure_dev_certificate, load_certificate_info


@pytest.fixture(scope="module")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_dev_certificate(tmp_path_factory.mktemp("tls"))


class _TlsServer:
    """Accepts TLS connections on 127.0.0.1 in a thread and answers ``ok``."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)  # so the thread notices ``stop`` promptly
        self.port: int = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (OSError, ssl.SSLError):
                continue  # a client that rejected us; keep serving

    def __enter__(self) -> _TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def server(dev_cert: tuple[Path, Path]) -> Iterator[_TlsServer]:
    with _TlsServer(*dev_cert) as running:
        yield running


def _fetch(port: int, host: str, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.recv(2)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_cert_is_its_own_trust_anchor(dev_cert: tuple[Path, Path], server: _TlsServer, host: str) -> None:
    context = ssl.create_default_context(cafile=str(dev_cert[0]))
    assert context.check_hostname
    assert _fetch(server.port, host, context) == b"ok"


def test_strict_x509_verification_accepts_it(dev_cert: tuple[Path, Path], server: _TlsServer) -> None:
    context = ssl.create_default_context(cafile=str(dev_cert[0]))
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default
    assert _fetch(server.port, "localhost", context) == b"ok"


def test_connecting_by_name(dev_cert: tuple[Path, Path], server: _TlsServer) -> None:
    context = ssl.create_default_context(cafile=str(dev_cert[0]))
    with (
        socket.create_connection(("localhost", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.recv(2) == b"ok"
        peer = tls.getpeercert()
    assert peer is not None
    assert peer["subject"] == ((("commonName", DEV_CERT_CN),),)
    assert peer["subjectAltName"] == (
        ("DNS", "localhost"),
        ("IP Address", "127.0.0.1"),
        ("IP Address", "0:0:0:0:0:0:0:1"),
    )


def test_other_hostnames_fail(dev_cert: tuple[Path, Path], server: _TlsServer) -> None:
    context = ssl.create_default_context(cafile=str(dev_cert[0]))
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        _fetch(server.port, "example.com", context)


def test_untrusted_without_cafile(server: _TlsServer) -> None:
    context = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError, match=r"self[- ]signed"):
        _fetch(server.port, "localhost", context)


def test_files_and_modes(dev_cert: tuple[Path, Path]) -> None:
    cert, key = dev_cert
    assert (cert.name, key.name) == ("cert.pem", "key.pem")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in cert.read_text()


def test_certificate_contents(dev_cert: tuple[Path, Path]) -> None:
    not_after, sans = load_certificate_info(dev_cert[0])
    assert sans == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    assert timedelta(days=364) < not_after - datetime.now(UTC) <= timedelta(days=365)


def test_kept_when_still_valid(tmp_path: Path) -> None:
    cert, key = ensure_dev_certificate(tmp_path)
    before = cert.read_bytes(), key.read_bytes()
    assert ensure_dev_certificate(tmp_path) == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == before


def test_renewed_when_expiring_within_a_week(tmp_path: Path) -> None:
    cert, key = ensure_dev_certificate(tmp_path, now=datetime.now(UTC) - timedelta(days=360))
    old_not_after, _ = load_certificate_info(cert)
    assert old_not_after - datetime.now(UTC) < timedelta(days=7)
    old_key = key.read_bytes()
    ensure_dev_certificate(tmp_path)
    new_not_after, _ = load_certificate_info(cert)
    assert new_not_after - datetime.now(UTC) > timedelta(days=364)
    assert key.read_bytes() != old_key


@pytest.mark.parametrize("damage", ["missing-key", "missing-cert", "garbage-cert", "other-key"])
def test_regenerated_when_unusable(tmp_path: Path, damage: str) -> None:
    cert, key = ensure_dev_certificate(tmp_path)
    old_cert = cert.read_bytes()
    if damage == "missing-key":
        key.unlink()
    elif damage == "missing-cert":
        cert.unlink()
    elif damage == "garbage-cert":
        cert.write_text("not a certificate")
    else:
        other = ensure_dev_certificate(tmp_path / "other")[1]
        key.write_bytes(other.read_bytes())
    ensure_dev_certificate(tmp_path)
    assert cert.read_bytes() != old_cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)  # the pair matches again
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
