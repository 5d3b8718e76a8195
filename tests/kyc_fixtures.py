"""SYNTHETIC Aadhaar offline e-KYC files, signed by a throw-away test CA exactly as UIDAI signs.

Adapted from ``research/make_fake_offline_kyc.py``: the person is invented, the signer is a
test key made per test session, and nothing is written to disk. The ZIP is ZipCrypto, built
by hand because pyzipper writes AES only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from namoid.crypto.certificates import PinnedCertificate, load_certificate
from tests import audit_scan

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
IST = timezone(timedelta(hours=5, minutes=30))
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
#: Distinctive synthetic values the no-persistence tests search for.
NAME = "Testa Fixture Kumari"
LAST4 = "4821"
SHARE_CODE = "7305"
#: Recognisable bytes standing in for the JPEG photo.
PHOTO = b"\xff\xd8\xff\xe0SYNTHETIC-PHOTO-NOT-A-PERSON" * 40 + b"\xff\xd9"


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    pinned: PinnedCertificate


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NamoID TEST FIXTURES - NOT UIDAI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_signer(not_before: datetime, not_after: datetime, cn: str = "DS TEST Signer Not UIDAI 99") -> Signer:
    """A test CA's document signer valid from ``not_before`` to ``not_after``."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name("NamoID Test Root CA (synthetic)"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return Signer(key, load_certificate(cert.public_bytes(serialization.Encoding.PEM)))


def der(pinned: PinnedCertificate) -> bytes:
    """The DER encoding of a pinned certificate (UIDAI may publish DER)."""
    return x509.load_pem_x509_certificate(pinned.pem.encode()).public_bytes(serialization.Encoding.DER)


@cache
def current_signer() -> Signer:
    now = datetime.now(UTC)
    return make_signer(now - timedelta(days=365), now + timedelta(days=3 * 365))


@dataclass
class Person:
    name: str = NAME
    last4: str = LAST4
    generated_at: datetime = field(default_factory=lambda: datetime.now(IST) - timedelta(hours=1))
    photo: bytes = PHOTO

    def __post_init__(self) -> None:
        audit_scan.PERSONAL_DATA.update({self.name, self.reference_id})

    @property
    def reference_id(self) -> str:
        return self.last4 + self.generated_at.astimezone(IST).strftime("%Y%m%d%H%M%S%f")[:-3]


def build_xml(person: Person) -> etree._Element:
    root = etree.Element("OfflinePaperlessKyc", referenceId=person.reference_id)
    uid = etree.SubElement(root, "UidData")
    etree.SubElement(uid, "Poi", dob="01-01-1990", e="", gender="F", m="", name=person.name)
    poa = etree.SubElement(uid, "Poa")
    for key in ("careof", "country", "dist", "house", "loc", "pc", "state", "vtc"):
        poa.set(key, "Testpur" if key != "pc" else "110001")
    etree.SubElement(uid, "Pht").text = base64.b64encode(person.photo).decode()
    return root


def sign(root: etree._Element, signer: Signer) -> bytes:
    """Enveloped XMLDSig in UIDAI's shape (C14N 1.0, rsa-sha1, sha256), KeyInfo omitted."""

    def ds(tag: str) -> str:
        return f"{{{DS_NS}}}{tag}"

    digest = base64.b64encode(hashlib.sha256(etree.tostring(root, method="c14n")).digest()).decode()
    sig = etree.SubElement(root, ds("Signature"), nsmap={None: DS_NS})
    info = etree.SubElement(sig, ds("SignedInfo"))
    etree.SubElement(info, ds("CanonicalizationMethod"), Algorithm=C14N_10)
    etree.SubElement(info, ds("SignatureMethod"), Algorithm=DS_NS + "rsa-sha1")
    ref = etree.SubElement(info, ds("Reference"), URI="")
    transforms = etree.SubElement(ref, ds("Transforms"))
    etree.SubElement(transforms, ds("Transform"), Algorithm=DS_NS + "enveloped-signature")
    etree.SubElement(ref, ds("DigestMethod"), Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    etree.SubElement(ref, ds("DigestValue")).text = digest
    c14n = etree.tostring(etree.fromstring(etree.tostring(info)), method="c14n")
    raw = signer.key.sign(c14n, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303  UIDAI's algorithm, test only
    etree.SubElement(sig, ds("SignatureValue")).text = base64.b64encode(raw).decode()
    return XML_DECL + etree.tostring(root, encoding="UTF-8")


def signed_xml(person: Person | None = None, signer: Signer | None = None) -> bytes:
    return sign(build_xml(person or Person()), signer or current_signer())


class _ZipCrypto:
    """Traditional PKWARE encryption (APPNOTE 6.1), as UIDAI ships it."""

    def __init__(self, pwd: bytes) -> None:
        self.k0, self.k1, self.k2 = 0x12345678, 0x23456789, 0x34567890
        for b in pwd:
            self._update(b)

    def _update(self, b: int) -> None:
        self.k0 = zlib.crc32(bytes([b]), self.k0 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        self.k1 = (((self.k1 + (self.k0 & 0xFF)) & 0xFFFFFFFF) * 134775813 + 1) & 0xFFFFFFFF
        self.k2 = zlib.crc32(bytes([(self.k1 >> 24) & 0xFF]), self.k2 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for p in data:
            t = (self.k2 | 2) & 0xFFFF
            out.append(p ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self._update(p)
        return bytes(out)


def zipcrypto(payload: bytes, share_code: str = SHARE_CODE, *, declared_size: int | None = None) -> bytes:
    """One deflated, ZipCrypto-encrypted entry (flag 0x0009), like UIDAI's files."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = comp.compress(payload) + comp.flush()
    size = len(payload) if declared_size is None else declared_size
    return zipcrypto_deflated(deflated, zlib.crc32(payload), size, share_code)


def zipcrypto_deflated(deflated: bytes, crc: int, size: int, share_code: str = SHARE_CODE) -> bytes:
    """A ZipCrypto entry around an already deflated stream (for bombs too big to hold inflated)."""
    when = datetime(2026, 1, 1, 17, 8, 12)
    dos_time = (when.hour << 11) | (when.minute << 5) | (when.second // 2)
    dos_date = ((when.year - 1980) << 9) | (when.month << 5) | when.day
    header = bytearray(b"NamoIDTest!")  # fixed: a wrong test code then fails the check byte every run
    header.append((dos_time >> 8) & 0xFF)
    enc = _ZipCrypto(share_code.encode()).encrypt(bytes(header) + deflated)
    fname = b"offlineaadhaar20260101050812345.xml"
    crc &= 0xFFFFFFFF
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 9, 8, dos_time, dos_date, 0, 0, 0, len(fname), 0)
    descriptor = struct.pack("<IIII", 0x08074B50, crc, len(enc), size)
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            9,
            8,
            dos_time,
            dos_date,
            crc,
            len(enc),
            size,
            len(fname),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + fname
    )
    body = local + fname + enc + descriptor
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + eocd


def gigabyte_bomb() -> bytes:
    """1 GiB of zeros, deflated in pieces (never held inflated), as a ZipCrypto entry."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk, crc, parts = bytes(1024 * 1024), 0, []
    for _ in range(1024):
        parts.append(comp.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(comp.flush())
    return zipcrypto_deflated(b"".join(parts), crc, 1024 * 1024 * 1024)


def aes_zip(payload: bytes, share_code: str = SHARE_CODE) -> bytes:
    import pyzipper

    buffer = io.BytesIO()
    aes = pyzipper.WZ_AES
    with pyzipper.AESZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=aes) as zf:
        zf.setpassword(share_code.encode())
        zf.writestr("offlineaadhaar20260101050812345.xml", payload)
    return buffer.getvalue()


def plain_zip(entries: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def upload(person: Person | None = None, signer: Signer | None = None) -> bytes:
    """A complete synthetic upload: signed XML in a ZipCrypto ZIP under ``SHARE_CODE``."""
    return zipcrypto(signed_xml(person, signer))
