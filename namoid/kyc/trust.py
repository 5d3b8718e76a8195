"""The pinned UIDAI certificate set: shipped in ``namoid/kyc/uidai_certs`` (see its README),
or read from ``NAMOID_KYC_UIDAI_CERTS_DIR``."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from namoid.crypto.certificates import PinnedCertificate, load_certificate

_SUFFIXES = (".cer", ".pem", ".crt")


def _files(folder: Traversable) -> list[Traversable]:
    return sorted(
        (item for item in folder.iterdir() if item.is_file() and item.name.endswith(_SUFFIXES)),
        key=lambda item: item.name,
    )


def pinned_certificates(directory: Path | None) -> list[PinnedCertificate]:
    """Every certificate of the set; the newest first (the likeliest signer)."""
    shipped = resources.files("namoid.kyc") / "uidai_certs"
    folder: Traversable = directory if directory is not None else shipped
    certs = [load_certificate(item.read_bytes()) for item in _files(folder)]
    if not certs:
        raise ValueError("no UIDAI certificates found in the configured directory")
    return sorted(certs, key=lambda cert: cert.not_after, reverse=True)
