"""Offline e-KYC ZIP and XML handling: every hostile shape refused with a reason, in memory."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import pytest

from namoid.kyc import offline_ekyc, signature
from namoid.kyc.errors import KycRefused
from tests import kyc_fixtures as fx


def _refused(reason: str, data: bytes, share_code: str = fx.SHARE_CODE) -> None:
    with pytest.raises(KycRefused) as caught:
        offline_ekyc.parse_xml(offline_ekyc.open_zip(data, share_code))
    assert caught.value.reason == reason
    assert fx.NAME not in str(caught.value) and fx.LAST4 not in str(caught.value)


def test_a_uidai_shaped_zipcrypto_file_opens_with_the_share_code() -> None:
    xml = fx.signed_xml()
    assert offline_ekyc.open_zip(fx.zipcrypto(xml), fx.SHARE_CODE) == xml


def test_an_aes_encrypted_zip_is_tolerated() -> None:
    xml = fx.signed_xml()
    assert offline_ekyc.open_zip(fx.aes_zip(xml), fx.SHARE_CODE) == xml


@pytest.mark.parametrize("code", ["0000", "7306", "73055", "x"])
def test_a_wrong_share_code_is_refused(code: str) -> None:
    _refused("bad_share_code", fx.zipcrypto(fx.signed_xml()), code)
    _refused("bad_share_code", fx.aes_zip(fx.signed_xml()), code)


def test_empty_and_non_zip_uploads_are_refused() -> None:
    _refused("empty", b"")
    _refused("not_zip", b"%PDF-1.7 not a zip at all" * 10)
    _refused("not_zip", fx.signed_xml())


@pytest.mark.parametrize(
    "entries",
    [
        {"a.xml": b"<x/>", "b.xml": b"<y/>"},
        {"offline/": b""},
        {"../../etc/offline.xml": b"<x/>"},
        {"dir/offline.xml": b"<x/>"},
        {"/abs.xml": b"<x/>"},
        {"offline.txt": b"<x/>"},
    ],
)
def test_anything_but_one_plain_xml_entry_is_refused(entries: dict[str, bytes]) -> None:
    _refused("bad_archive", fx.plain_zip(entries))


def test_a_zip_bomb_is_refused_from_its_header() -> None:
    bomb = fx.plain_zip({"offline.xml": b"\0" * (64 * 1024 * 1024)})  # ~64 KB on the wire
    assert len(bomb) < 100 * 1024
    _refused("too_large", bomb)


def test_a_zip_bomb_lying_about_its_size_is_cut_off_while_inflating() -> None:
    """The header claims 900 KB for 16 MiB: reading stops at the claim (then the CRC fails)."""
    payload = b"<" + b"A" * (16 * 1024 * 1024)
    bomb = fx.zipcrypto(payload, declared_size=900 * 1024)
    assert len(zlib.compress(payload)) < 64 * 1024
    _refused("damaged", bomb)


def test_a_one_gigabyte_expansion_is_refused() -> None:
    bomb = fx.gigabyte_bomb()
    assert len(bomb) < 1100 * 1024
    _refused("too_large", bomb)


def test_an_upload_over_the_zip_cap_is_refused_unread() -> None:
    _refused("too_large", b"PK" + b"\0" * (offline_ekyc.MAX_ZIP_BYTES + 1))


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<OfflinePaperlessKyc referenceId="&lol3;"/>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<OfflinePaperlessKyc>&xxe;</OfflinePaperlessKyc>"
)
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><OfflinePaperlessKyc/>'


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_dtds_and_entities_are_refused(xml: bytes) -> None:
    _refused("dtd_refused", fx.zipcrypto(xml))


def test_a_utf16_doctype_is_refused_too() -> None:
    with pytest.raises(KycRefused) as caught:
        offline_ekyc.parse_xml(
            EXTERNAL_ENTITY.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
            .decode()
            .encode("utf-16")
        )
    assert caught.value.reason in {"dtd_refused", "bad_xml"}


@pytest.mark.parametrize(
    "xml",
    [b"<OKY n='x'/>", b"<OfflinePaperlessKyc referenceId='1'/>", b"not xml", b"<OfflinePaperlessKyc"],
)
def test_other_documents_are_refused(xml: bytes) -> None:
    with pytest.raises(KycRefused) as caught:
        offline_ekyc.parse_xml(xml)
    assert caught.value.reason in {"unsupported_format", "bad_xml"}


def _verify(xml: bytes, pinned: fx.Signer | None = None) -> signature.Verified:
    root = offline_ekyc.parse_xml(xml)
    signer = pinned or fx.current_signer()
    return signature.verify(xml, [signer.pinned], offline_ekyc.generation_time(root))


def test_a_synthetic_uidai_signature_verifies_with_the_research_configuration() -> None:
    verified = _verify(fx.signed_xml())
    assert verified.result == "valid" and verified.signer == fx.current_signer().pinned
    assert verified.signer_sha256 == fx.current_signer().pinned.sha256
    assert verified.signed_root is not None
    kyc = offline_ekyc.extract(verified.signed_root)
    assert (kyc.last4, kyc.name) == (fx.LAST4, fx.NAME)


@pytest.mark.parametrize(
    ("old", "new"),
    [(fx.NAME.encode(), b"Testa Fixture Kumaro"), (b'dob="01-01-1990"', b'dob="01-01-1991"')],
)
def test_a_tampered_field_fails_the_digest(old: bytes, new: bytes) -> None:
    tampered = fx.signed_xml().replace(old, new)
    assert _verify(tampered).result == "invalid"


def test_a_tampered_photo_fails_the_digest() -> None:
    xml = fx.signed_xml()
    start = xml.index(b"<Pht>") + 5
    tampered = xml[:start] + (b"A" if xml[start : start + 1] != b"A" else b"B") + xml[start + 1 :]
    assert _verify(tampered).result == "invalid"


def test_a_document_signed_by_another_key_is_an_unknown_signer() -> None:
    now = datetime.now(UTC)
    stranger = fx.make_signer(now - timedelta(days=1), now + timedelta(days=30))
    assert _verify(fx.signed_xml(signer=stranger)).result == "unknown_signer"


def test_a_signer_expired_at_generation_time_still_verifies_and_is_named() -> None:
    """The signature is checked at a time inside the validity; standing is trust's decision."""
    now = datetime.now(UTC)
    expired = fx.make_signer(now - timedelta(days=400), now - timedelta(days=2))
    verified = _verify(fx.signed_xml(signer=expired), expired)
    assert verified.result == "valid" and verified.signer == expired.pinned


def test_the_shipped_uidai_set_does_not_trust_the_test_signer() -> None:
    from namoid.kyc import trust

    pinned = trust.pinned_certificates(None)
    assert len(pinned) == 5
    assert _verify_with(fx.signed_xml(), pinned).result == "unknown_signer"


def _verify_with(xml: bytes, pinned: list) -> signature.Verified:  # type: ignore[type-arg]
    root = offline_ekyc.parse_xml(xml)
    return signature.verify(xml, pinned, offline_ekyc.generation_time(root))
