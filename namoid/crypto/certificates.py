"""Pinned X.509 certificates: load (PEM or DER), fingerprint, validity window.

Public key material, but still only handled here (DESIGN.md §6 rule 3). Used for the UIDAI
document-signer set that verifies Aadhaar offline e-KYC XML (namoid.kyc.signature).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


@dataclass(frozen=True, slots=True)
class PinnedCertificate:
    """A trusted certificate as the verifier needs it."""

    pem: str
    sha256: str  # lowercase hex over the DER encoding
    subject: str
    not_before: datetime
    not_after: datetime


def load_certificate(data: bytes) -> PinnedCertificate:
    """Parse a PEM certificate, or DER when it is not PEM; ValueError if it is neither."""
    pem = b"-----BEGIN" in data
    cert = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
    der = cert.public_bytes(Encoding.DER)
    return PinnedCertificate(
        pem=cert.public_bytes(Encoding.PEM).decode("ascii"),
        sha256=hashlib.sha256(der).hexdigest(),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
