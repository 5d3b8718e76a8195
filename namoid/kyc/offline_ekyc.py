"""Aadhaar Paperless Offline e-KYC: open the ZIP with the share code and parse the XML, in memory.

The ZIP (ZipCrypto as UIDAI issues it; AES tolerated) must hold exactly one ``.xml`` entry
with a plain name. Sizes are capped on the upload, on the entry's declared sizes and, since
headers can lie, on the bytes actually inflated (a bounded read that also caps the ratio).
The XML parser resolves no entities, loads no DTD, touches no network and refuses any
DOCTYPE. Nothing here writes anywhere; errors carry a reason class, never document data.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyzipper
from lxml import etree

from namoid.kyc.errors import KycRefused

#: UIDAI's files are a few KB (the photo included); these caps are generous and still tiny.
MAX_ZIP_BYTES = 1024 * 1024
MAX_XML_BYTES = 1024 * 1024
MAX_RATIO = 100
_CHUNK = 16 * 1024
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}\.xml$")
_REFERENCE_ID = re.compile(r"^[0-9]{21}$")
ROOT = "OfflinePaperlessKyc"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
IST = timezone(timedelta(hours=5, minutes=30))


@dataclass(frozen=True, slots=True)
class OfflineKyc:
    """The signed document's fields NamoID uses (read only from the verified tree)."""

    last4: str
    generated_at: datetime
    name: str


def _single_entry(archive: pyzipper.AESZipFile) -> pyzipper.ZipInfo:
    entries = archive.infolist()
    if len(entries) != 1:
        raise KycRefused("bad_archive")
    entry = entries[0]
    if entry.is_dir() or not _ENTRY_NAME.fullmatch(entry.filename) or entry.filename.startswith("."):
        raise KycRefused("bad_archive")
    if entry.file_size > MAX_XML_BYTES or entry.file_size > max(entry.compress_size, 1) * MAX_RATIO:
        raise KycRefused("too_large")
    return entry


def _bounded_read(archive: pyzipper.AESZipFile, entry: pyzipper.ZipInfo, share_code: bytes) -> bytes:
    """Inflate at most ``MAX_XML_BYTES`` (and ``MAX_RATIO`` x the compressed size), whatever
    the header claims."""
    limit = min(MAX_XML_BYTES, max(entry.compress_size, 1) * MAX_RATIO)
    out = io.BytesIO()
    with archive.open(entry, pwd=share_code) as stream:
        while chunk := stream.read(_CHUNK):
            out.write(chunk)
            if out.tell() > limit:
                raise KycRefused("too_large")
    return out.getvalue()


def open_zip(data: bytes, share_code: str) -> bytes:
    """The XML inside an offline e-KYC ZIP, decrypted with ``share_code``; KycRefused otherwise."""
    if not data:
        raise KycRefused("empty")
    if len(data) > MAX_ZIP_BYTES:
        raise KycRefused("too_large")
    if not share_code or not share_code.isprintable():
        raise KycRefused("bad_share_code")
    try:
        archive = pyzipper.AESZipFile(io.BytesIO(data))
    except (pyzipper.BadZipFile, pyzipper.LargeZipFile, ValueError, OSError, EOFError):
        raise KycRefused("not_zip") from None
    with archive:
        entry = _single_entry(archive)
        try:
            return _bounded_read(archive, entry, share_code.encode("utf-8"))
        except KycRefused:
            raise
        except RuntimeError:  # pyzipper: the password check byte (or AES verifier) failed
            raise KycRefused("bad_share_code") from None
        except (pyzipper.BadZipFile, zlib.error, ValueError, OSError, EOFError):
            # A bad CRC or inflate error: a damaged file, or (1 time in 256) a wrong code
            # that passed ZipCrypto's one-byte check.
            raise KycRefused("damaged") from None
        except NotImplementedError:
            raise KycRefused("not_zip") from None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
    )


def parse_xml(xml: bytes) -> etree._Element:
    """Parse hardened; refuse any DOCTYPE (no DTD, so no entity tricks) and other roots."""
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise KycRefused("dtd_refused")
    try:
        root = etree.fromstring(xml, parser=_parser())
    except etree.XMLSyntaxError:
        raise KycRefused("bad_xml") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise KycRefused("dtd_refused")
    if root.tag != ROOT:
        raise KycRefused("unsupported_format")
    signatures = [child for child in root if child.tag == f"{{{DSIG_NS}}}Signature"]
    if len(signatures) != 1:
        raise KycRefused("unsupported_format")
    return root


def generation_time(root: etree._Element) -> datetime:
    """When UIDAI generated the file: ``referenceId`` is last-4 + ``yyyyMMddHHmmssSSS`` (IST).

    The entry's file name uses a 12-hour clock, so it is never read (research §1.1).
    """
    reference = root.get("referenceId") or ""
    if not _REFERENCE_ID.fullmatch(reference):
        raise KycRefused("unsupported_format")
    try:
        return datetime.strptime(reference[4:], "%Y%m%d%H%M%S%f").replace(tzinfo=IST)
    except ValueError:
        raise KycRefused("unsupported_format") from None


def extract(signed_root: etree._Element) -> OfflineKyc:
    """The fields NamoID keeps a trace of, from the tree the signature covers."""
    poi = signed_root.find("UidData/Poi")
    name = poi.get("name") if poi is not None else None
    if not name or not name.strip():
        raise KycRefused("unsupported_format")
    reference = signed_root.get("referenceId") or ""
    return OfflineKyc(last4=reference[:4], generated_at=generation_time(signed_root), name=name)
