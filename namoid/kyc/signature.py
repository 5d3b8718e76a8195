"""XMLDSig verification of offline e-KYC XML against the pinned UIDAI set (research §1.4).

UIDAI signs enveloped (``Reference URI=""``), C14N 1.0, rsa-sha1 over a sha256 digest, with
an un-prefixed ``<Signature xmlns=…>``. signxml needs exactly three departures from its
defaults, allowed here and nowhere else:

1. RSA-SHA1 as a signature method (UIDAI still signs with it);
2. ``excise_empty_xmlns_declarations``: lxml's C14N of the un-prefixed Signature adds
   ``xmlns=""`` to SignedInfo's grandchildren, which breaks every genuine signature;
3. ``verification_time`` set explicitly to the file's generation time, clamped into the
   pinned certificate's validity; whether the certificate vouches for a file generated
   outside it is decided by the caller (``namoid.kyc.trust.signer_standing``), never here.

Only pinned certificates count; a certificate in the XML's KeyInfo is never a trust anchor.
The caller reads fields only from ``Verified.signed_root`` (what the signature covers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from namoid.crypto.certificates import PinnedCertificate

Result = Literal["valid", "invalid", "unknown_signer"]


class _DropAll(logging.Filter):
    """signxml logs the canonicalised document (name, photo, reference id) at DEBUG: the
    offline e-KYC XML must never reach a log line, at any configured level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


for _name in ("signxml", "signxml.processor", "signxml.verifier", "signxml.signer", "signxml.util"):
    logging.getLogger(_name).addFilter(_DropAll())


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome: ``result``; the pinned certificate whose key verified the signature."""

    result: Result
    signer: PinnedCertificate | None = None
    signed_root: etree._Element | None = None

    @property
    def signer_sha256(self) -> str | None:
        return self.signer.sha256 if self.signer is not None else None


def _config(at: datetime) -> SignatureConfiguration:
    return SignatureConfiguration(
        require_x509=True,
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
        verification_time=at,
    )


def _verifier() -> XMLVerifier:
    verifier = XMLVerifier()
    verifier.excise_empty_xmlns_declarations = True
    return verifier


def _clamp(moment: datetime, cert: PinnedCertificate) -> datetime:
    return min(max(moment, cert.not_before), cert.not_after)


def verify(xml: bytes, pinned: Sequence[PinnedCertificate], generated_at: datetime) -> Verified:
    """Try each pinned certificate; ``valid`` for the first that verifies signature and digest.

    A signature that verifies under a pinned key but whose digest does not match (the
    contents were changed) is ``invalid``; no pinned key verifying is ``unknown_signer``.
    """
    for cert in pinned:
        try:
            config = _config(_clamp(generated_at, cert))
            result = _verifier().verify(xml, x509_cert=cert.pem, expect_config=config)
        except InvalidDigest:
            return Verified("invalid", cert)
        except (InvalidSignature, InvalidCertificate):
            continue
        except (InvalidInput, etree.XMLSyntaxError, ValueError):
            return Verified("invalid")
        signed = result[0] if isinstance(result, list) else result
        root = signed.signed_xml
        if root is None:
            return Verified("invalid")
        return Verified("valid", cert, root)
    return Verified("unknown_signer")
