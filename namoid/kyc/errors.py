"""Why an offline e-KYC upload was refused: a reason class (audited) and a message (shown).

Neither ever carries the file's data: no name, reference id, XML or exception text from
the parsers (which may quote the document).
"""

from __future__ import annotations

from typing import Final

MESSAGES: Final[dict[str, str]] = {
    "disabled": "Offline KYC is not enabled for this organization.",
    "empty": "The upload was empty. Choose the ZIP file you downloaded from UIDAI.",
    "too_large": "The file is larger than an Aadhaar offline e-KYC file can be.",
    "not_zip": "The file is not a ZIP archive. Upload the ZIP file exactly as UIDAI issued it.",
    "bad_archive": "The ZIP must contain exactly one XML file and nothing else.",
    "bad_share_code": "The share code does not open this file. Check the code and try again.",
    "damaged": "The ZIP file is damaged, or the share code is wrong. Download the file again and retry.",
    "bad_xml": "The file inside the ZIP is not a well-formed offline e-KYC XML document.",
    "dtd_refused": "The XML declares a document type or entities, which offline e-KYC files never do.",
    "unsupported_format": (
        "This is not a Paperless Offline e-KYC document (or an old format we do not accept)."
    ),
    "invalid_signature": "The document's digital signature does not match its contents.",
    "unknown_signer": "The document is not signed by a UIDAI certificate we trust.",
    "signer_not_valid": "The document claims a time before its signing certificate was valid.",
    "signer_expired": (
        "The document was signed long after its signing certificate expired. "
        "Download a fresh offline e-KYC file and try again."
    ),
    "too_old": "The file is too old. Download a fresh offline e-KYC file and try again.",
    "future_dated": "The file's generation time is in the future.",
}


class KycRefused(ValueError):
    """An upload that stores nothing; ``reason`` is one of ``MESSAGES``."""

    def __init__(self, reason: str) -> None:
        if reason not in MESSAGES:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(MESSAGES[reason])
        self.reason = reason
        self.message = MESSAGES[reason]
