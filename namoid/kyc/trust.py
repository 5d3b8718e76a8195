"""The pinned UIDAI certificate set, and when a pinned certificate vouches for a file.

The set is shipped in ``namoid/kyc/uidai_certs`` (see its README) or read from
``NAMOID_KYC_UIDAI_CERTS_DIR``. Trust is by pinning, not by a PKI path: no chain, no CRL or
OCSP, only these keys. A certificate's validity still bounds what its key may sign, with one
documented exception (``signer_standing``), because UIDAI keeps signing with a key after its
certificate's notAfter: a genuine file generated on 2025-02-24 was signed with the key of
``uidai_offline_publickey_26022021.cer``, whose validity ended on 2024-02-27 (363 days before).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, Literal

from namoid.crypto.certificates import PinnedCertificate, load_certificate

_SUFFIXES = (".cer", ".pem", ".crt")
#: How long after a pinned certificate's notAfter a file generated with its key is still
#: accepted (flagged ``after_expiry``): the 363 days seen in a genuine UIDAI file, plus about
#: five weeks. Fixed, not a setting; an operator stops trusting a key by removing its
#: certificate from the pinned set.
EXPIRED_SIGNER_GRACE: Final = timedelta(days=400)

#: ``in_validity``: generated within the certificate's validity; ``after_expiry``: within the
#: grace after it.
Standing = Literal["in_validity", "after_expiry"]


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


def signer_standing(cert: PinnedCertificate, generated_at: datetime) -> Standing | None:
    """Whether ``cert`` (pinned, its key verified the signature) vouches for a file generated at
    ``generated_at`` (the time the signed ``referenceId`` states); None: it does not.

    - before notBefore: never (a file cannot be signed before its certificate existed);
    - from notBefore to notAfter: ``in_validity``;
    - up to ``EXPIRED_SIGNER_GRACE`` after notAfter: ``after_expiry``, recorded on the masked
      record and in the audit entry;
    - later: never. The org's maximum file age applies on top, in every case.
    """
    if generated_at < cert.not_before:
        return None
    if generated_at <= cert.not_after:
        return "in_validity"
    if generated_at <= cert.not_after + EXPIRED_SIGNER_GRACE:
        return "after_expiry"
    return None
