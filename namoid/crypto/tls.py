"""The self-signed development TLS certificate of the embedded mode (DESIGN.md §1, §7).

One ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1 that is its own trust
anchor: clients trust it with ``cafile=cert.pem`` (RFC 5280 profile: end-entity,
CA:FALSE, serverAuth, with subject and authority key identifiers so strict X.509
verification accepts it too). Never for production.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import ssl
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEV_CERT_CN: Final = "NamoID development certificate (not for production)"
VALIDITY: Final = timedelta(days=365)
RENEW_BEFORE: Final = timedelta(days=7)
CLOCK_SKEW: Final = timedelta(minutes=5)
CERT_FILE: Final = "cert.pem"
KEY_FILE: Final = "key.pem"
_SANS: Final = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
)


def ensure_dev_certificate(tls_dir: Path, *, now: datetime | None = None) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` in ``tls_dir``, (re)made if missing, unusable or expiring within 7 days."""
    cert_path, key_path = tls_dir / CERT_FILE, tls_dir / KEY_FILE
    moment = now or datetime.now(UTC)
    if not _still_good(cert_path, key_path, moment):
        tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        cert_pem = _build_certificate(key, moment).public_bytes(serialization.Encoding.PEM)
        _write_atomic(key_path, key_pem, 0o600)
        _write_atomic(cert_path, cert_pem, 0o600)  # public, but in the owner's private data directory
    return cert_path, key_path


def load_certificate_info(cert_path: Path) -> tuple[datetime, list[str]]:
    """``(not_after, subject alternative names)`` of a PEM certificate, names as ``DNS:x`` / ``IP:x``."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return cert.not_valid_after_utc, []
    dns = [f"DNS:{name}" for name in names.get_values_for_type(x509.DNSName)]
    ips = [f"IP:{ip}" for ip in names.get_values_for_type(x509.IPAddress)]
    return cert.not_valid_after_utc, dns + ips


def _spki(key: object) -> bytes | None:
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return None
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _still_good(cert_path: Path, key_path: Path, now: datetime) -> bool:
    """The pair exists, parses, matches, and stays valid for more than ``RENEW_BEFORE``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    same_key = _spki(cert.public_key()) is not None and _spki(cert.public_key()) == _spki(key.public_key())
    return same_key and cert.not_valid_after_utc - now > RENEW_BEFORE


def _build_certificate(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    """A self-signed end-entity certificate (RFC 5280 §4.2) for the loopback names."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEV_CERT_CN)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(list(_SANS)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file in the same directory (given mode, fsync, rename)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def check_pair(cert_file: Path, key_file: Path) -> str | None:
    """Why ``key_file`` cannot serve ``cert_file`` (unreadable, malformed or not its key), or None."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        reason = "does not match the certificate" if "KEY_VALUES_MISMATCH" in str(exc) else "is not usable"
        return f"{key_file} {reason} in NAMOID_TLS_CERT_FILE {cert_file} ({exc.reason or exc})"
    except OSError as exc:
        return f"cannot read {exc.filename or key_file}: {exc.strerror or exc}"
    return None
