"""The keyring for secrets at rest: AES-256-GCM, one active key (DESIGN.md §4).

Envelope: ``v1.<key_id>.<nonce>.<ciphertext+tag>``, base64url without padding
(RFC 4648 §5). Nonces are 96 random bits (NIST SP 800-38D §8.2.2); stay well below
2^32 encryptions per key (§8.3) by rotating. The associated data from ``aad_for``
binds a value to its table, column, org and row, so a copied ciphertext fails.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, NoReturn, cast, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from namoid.crypto.kms import WRAPPED_FIELD, KmsError, KmsWrap, dump

KeyStatus = Literal["active", "enabled", "retired"]
KEY_BYTES: Final = 32
PEPPER_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
FILE_VERSION: Final = 1
ENVELOPE_VERSION: Final = "v1"
_STATUSES: Final = frozenset(get_args(KeyStatus))
_KEY_ID = re.compile(r"[a-z0-9-]{1,32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_AAD_LABEL: Final = b"namoid-aad-v1"
_KEY_FIELDS: Final = frozenset({"id", "secret", "status", "created_at"})


class KeyringError(Exception):
    """Base of every keyring error."""


class KeyringFileError(KeyringError):
    """The keyring file is missing, unreadable, malformed or invalid (the message says which)."""


class UnknownKeyId(KeyringError):
    """No usable key with that id (never existed, or retired)."""


class DecryptionFailed(KeyringError):
    """Tampered or malformed envelope, or wrong associated data (deliberately unspecific)."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never its secret."""

    id: str
    status: KeyStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    info: KeyInfo
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class _KeyFile:
    pepper: bytes = field(repr=False)
    keys: tuple[_KeyEntry, ...]


@dataclass(frozen=True, slots=True)
class _Envelope:
    key_id: str
    nonce: bytes
    sealed: bytes


# --- encoding helpers -------------------------------------------------------


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    """Strict, canonical base64url without padding (RFC 4648 §5); ValueError otherwise."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(data) != text:
        raise ValueError("not canonical base64url")
    return data


def aad_for(table: str, column: str, org_id: str, row_id: str) -> bytes:
    """Associated data binding a value to its place (DESIGN.md §4).

    Each field is UTF-8 behind a 4-byte big-endian length, so distinct tuples never
    encode alike. Pass ``str(uuid)`` for ids.
    """
    parts = [_AAD_LABEL]
    for name, value in (("table", table), ("column", column), ("org_id", org_id), ("row_id", row_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"aad_for: {name} must be a non-empty string")
        encoded = value.encode("utf-8")
        parts.append(len(encoded).to_bytes(4, "big") + encoded)
    return b"".join(parts)


def _parse_envelope(envelope: str) -> _Envelope:
    parts = envelope.split(".") if isinstance(envelope, str) else []
    if len(parts) != 4 or parts[0] != ENVELOPE_VERSION or not _KEY_ID.fullmatch(parts[1]):
        raise DecryptionFailed("malformed envelope")
    try:
        nonce, sealed = _b64d(parts[2]), _b64d(parts[3])
    except ValueError:
        raise DecryptionFailed("malformed envelope") from None
    if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
        raise DecryptionFailed("malformed envelope")
    return _Envelope(parts[1], nonce, sealed)


def _check_material(keys: Mapping[str, bytes], active_key_id: str, pepper: bytes) -> None:
    if not isinstance(pepper, bytes) or len(pepper) != PEPPER_BYTES:
        raise ValueError(f"the pepper must be {PEPPER_BYTES} bytes")
    if active_key_id not in keys:
        raise ValueError(f"active key {active_key_id!r} is not among the keys")
    for key_id, secret in keys.items():
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"invalid key id {key_id!r} (expected [a-z0-9-]{{1,32}})")
        if not isinstance(secret, bytes) or len(secret) != KEY_BYTES:
            raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes")
        if hmac.compare_digest(secret, pepper):
            raise ValueError(f"the pepper must differ from key {key_id!r}")


# --- the keyring --------------------------------------------------------------


class Keyring:
    """Immutable AES-256-GCM keys by id, one active for new encryptions, plus the pepper.

    Only usable keys belong here: retired keys are left out, so their ciphertexts fail
    with ``UnknownKeyId``.
    """

    __slots__ = ("_active_key_id", "_ciphers", "_pepper")
    _active_key_id: str
    _ciphers: Mapping[str, AESGCM]
    _pepper: bytes

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str, pepper: bytes) -> None:
        _check_material(keys, active_key_id, pepper)
        ciphers = MappingProxyType({key_id: AESGCM(secret) for key_id, secret in keys.items()})
        object.__setattr__(self, "_ciphers", ciphers)
        object.__setattr__(self, "_active_key_id", active_key_id)
        object.__setattr__(self, "_pepper", bytes(pepper))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Keyring is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Keyring is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Keyring holds key material and cannot be pickled")

    def __repr__(self) -> str:
        return f"Keyring(active_key_id={self._active_key_id!r}, key_ids={self.key_ids!r})"

    @classmethod
    def generate(cls) -> Keyring:
        """A fresh in-memory keyring with one key (tests and throwaway use)."""
        key_id = _new_key_id(())
        return cls({key_id: os.urandom(KEY_BYTES)}, key_id, os.urandom(PEPPER_BYTES))

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """Parse and validate the keyring file format; ``KeyringFileError`` if invalid."""
        return _keyring_from(_parse_file(text, "keyring JSON"))

    @classmethod
    def load(cls, path: Path, kms: KmsWrap | None = None) -> Keyring:
        """Load and validate a keyring file (opening it with ``kms`` if it is wrapped);
        ``KeyringFileError`` names the file and the fault."""
        return _keyring_from(_open(path, kms)[0])

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of the keys that can decrypt (active and enabled)."""
        return tuple(self._ciphers)

    @property
    def pepper(self) -> bytes:
        """The 256-bit HMAC key for client secrets (DESIGN.md §3); never rotates with the keys."""
        return self._pepper

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        """Seal ``plaintext`` under the active key, bound to ``aad`` (NIST SP 800-38D)."""
        if not isinstance(aad, bytes) or not aad:
            raise ValueError("aad is required: use aad_for(table, column, org_id, row_id)")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active_key_id].encrypt(nonce, plaintext, aad)
        return ".".join((ENVELOPE_VERSION, self._active_key_id, _b64e(nonce), _b64e(sealed)))

    def decrypt(self, envelope: str, aad: bytes) -> bytes:
        """Open an envelope; ``UnknownKeyId`` or ``DecryptionFailed`` if it cannot be trusted."""
        parsed = _parse_envelope(envelope)
        cipher = self._ciphers.get(parsed.key_id)
        if cipher is None:
            raise UnknownKeyId(f"no usable key {parsed.key_id!r} in the keyring (unknown or retired)")
        try:
            return cipher.decrypt(parsed.nonce, parsed.sealed, aad)
        except InvalidTag:
            raise DecryptionFailed("decryption failed") from None

    @staticmethod
    def key_id_of(envelope: str) -> str:
        """The key id an envelope names; ``DecryptionFailed`` if malformed."""
        return _parse_envelope(envelope).key_id

    def is_current(self, envelope: str) -> bool:
        """True if the envelope is under the active key (nothing to re-encrypt)."""
        return self.key_id_of(envelope) == self._active_key_id


# --- the file -----------------------------------------------------------------


def _secret_field(value: object, what: str, size: int) -> bytes:
    try:
        data = _b64d(value) if isinstance(value, str) else b""
    except ValueError:
        data = b""
    if len(data) != size:
        raise ValueError(f"{what} must be {size} bytes of unpadded base64url")
    return data


def _created_at_field(value: object, what: str) -> datetime:
    try:
        created = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        created = None
    if created is None or created.tzinfo is None:
        raise ValueError(f"{what} must be an ISO 8601 time with a UTC offset")
    return created


def _key_entry(item: object, index: int) -> _KeyEntry:
    where = f"keys[{index}]"
    if not isinstance(item, dict) or set(item) != _KEY_FIELDS:
        raise ValueError(f"{where} must have exactly the fields {sorted(_KEY_FIELDS)}")
    key_id, status = item["id"], item["status"]
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"{where}.id must match [a-z0-9-]{{1,32}}")
    if status not in _STATUSES:
        raise ValueError(f"{where}.status must be one of {sorted(_STATUSES)}")
    secret = _secret_field(item["secret"], f"{where}.secret", KEY_BYTES)
    created = _created_at_field(item["created_at"], f"{where}.created_at")
    return _KeyEntry(KeyInfo(key_id, cast(KeyStatus, status), created), secret)


def _check_entries(entries: tuple[_KeyEntry, ...]) -> None:
    ids = [entry.info.id for entry in entries]
    duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
    if duplicates:
        raise ValueError(f"duplicate key ids {duplicates}")
    active = sum(entry.info.status == "active" for entry in entries)
    if active != 1:
        raise ValueError(f"exactly one key must be active, found {active}")


def _validate_file(doc: object) -> _KeyFile:
    if not isinstance(doc, dict) or set(doc) != {"version", "pepper", "keys"}:
        raise ValueError('expected an object with exactly "version", "pepper" and "keys"')
    if type(doc["version"]) is not int or doc["version"] != FILE_VERSION:
        raise ValueError(f"unsupported version (expected {FILE_VERSION})")
    pepper = _secret_field(doc["pepper"], "pepper", PEPPER_BYTES)
    items = doc["keys"]
    if not isinstance(items, list) or not items:
        raise ValueError("keys must be a non-empty list")
    entries = tuple(_key_entry(item, index) for index, item in enumerate(items))
    _check_entries(entries)
    if any(hmac.compare_digest(entry.secret, pepper) for entry in entries):
        raise ValueError("the pepper must differ from every key")
    return _KeyFile(pepper, entries)


def _parse_file(text: str, source: str) -> _KeyFile:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringFileError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    try:
        return _validate_file(doc)
    except ValueError as exc:
        raise KeyringFileError(f"{source}: {exc}") from None


def _open(path: Path, kms: KmsWrap | None) -> tuple[_KeyFile, str | None]:
    """The keyring in the file, and the KMS key it is wrapped under (None for a plain file)."""
    source = f"keyring file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyringFileError(f"{source}: not found") from None
    except UnicodeDecodeError:
        raise KeyringFileError(f"{source}: not UTF-8 text") from None
    except OSError as exc:
        raise KeyringFileError(f"{source}: cannot read ({exc.strerror or exc})") from None
    with contextlib.suppress(json.JSONDecodeError):
        doc = json.loads(text)
        if isinstance(doc, dict) and WRAPPED_FIELD in doc:
            if kms is None:
                raise KeyringFileError(f"{source}: wrapped under AWS KMS, which this command cannot reach")
            try:
                plaintext, key_id = kms.unwrap(doc)
            except KmsError as exc:
                raise KeyringFileError(f"{source}: {exc}") from None
            return _parse_file(plaintext.decode("utf-8"), source), key_id
    return _parse_file(text, source), None


def _keyring_from(keyfile: _KeyFile) -> Keyring:
    usable = {e.info.id: e.secret for e in keyfile.keys if e.info.status != "retired"}
    active = next(e.info.id for e in keyfile.keys if e.info.status == "active")
    return Keyring(usable, active, keyfile.pepper)


def _dump_file(keyfile: _KeyFile) -> bytes:
    keys = [
        {
            "id": e.info.id,
            "secret": _b64e(e.secret),
            "status": e.info.status,
            "created_at": e.info.created_at.isoformat(),
        }
        for e in keyfile.keys
    ]
    doc = {"version": FILE_VERSION, "pepper": _b64e(keyfile.pepper), "keys": keys}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


# --- atomic writes ------------------------------------------------------------


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a 0600 temporary file beside ``path`` and fsync it."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def _publish(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Atomically put ``data`` at ``path`` (rename, or hard link when it must not exist yet)."""
    temp = _write_temp(path, data)
    try:
        if overwrite:
            os.replace(temp, path)
        else:
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize read-modify-write of the keyring file (flock on its directory)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError as exc:
        raise KeyringFileError(f"keyring file {path}: cannot open its directory ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sealed(keyfile: _KeyFile, kms: KmsWrap | None, kms_key_id: str | None) -> bytes:
    """The file's bytes: plain JSON, or wrapped under KMS key ``kms_key_id``."""
    data = _dump_file(keyfile)
    if kms is None or kms_key_id is None:
        return data
    try:
        return dump(kms.wrap(data, kms_key_id))
    except KmsError as exc:
        raise KeyringFileError(str(exc)) from None


def _save(path: Path, keyfile: _KeyFile, kms: KmsWrap | None, wrapped_under: str | None) -> None:
    """Write the file back, re-wrapped (under the configured KMS key) if it was wrapped."""
    _keyring_from(keyfile)  # the invariants hold before anything is written
    kms_key_id = None
    if wrapped_under is not None:
        kms_key_id = (kms.key_id if kms is not None else None) or wrapped_under
    data = _sealed(keyfile, kms, kms_key_id)
    try:
        _publish(path, data, overwrite=True)
    except OSError as exc:
        raise KeyringFileError(f"keyring file {path}: cannot write ({exc.strerror or exc})") from None


# --- file management (namoid keys ..., embedded dev mode) --------------------


def _new_key_id(taken: Iterable[str]) -> str:
    """``k-<yyyymmdd>-<4 hex>``, not among ``taken``."""
    used = set(taken)
    day = datetime.now(UTC).strftime("%Y%m%d")
    for _ in range(1000):
        candidate = f"k-{day}-{secrets.token_hex(2)}"
        if candidate not in used:
            return candidate
    raise KeyringError("no free key id left for today")


def _new_entry(status: KeyStatus, existing: Iterable[_KeyEntry]) -> _KeyEntry:
    key_id = _new_key_id(entry.info.id for entry in existing)
    created = datetime.now(UTC).replace(microsecond=0)
    return _KeyEntry(KeyInfo(key_id, status, created), os.urandom(KEY_BYTES))


def _find(keyfile: _KeyFile, key_id: str) -> _KeyEntry:
    for entry in keyfile.keys:
        if entry.info.id == key_id:
            return entry
    raise UnknownKeyId(f"no key {key_id!r} in the keyring file")


def _with_status(entry: _KeyEntry, status: KeyStatus) -> _KeyEntry:
    return replace(entry, info=replace(entry.info, status=status))


def create_keyring_file(path: Path, kms: KmsWrap | None = None) -> Keyring:
    """Create a new keyring file (one active key, a fresh pepper), wrapped under ``kms.key_id``
    if set; refuses to overwrite."""
    keyfile = _KeyFile(os.urandom(PEPPER_BYTES), (_new_entry("active", ()),))
    data = _sealed(keyfile, kms, kms.key_id if kms is not None else None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _publish(path, data, overwrite=False)
    except FileExistsError:
        raise KeyringFileError(f"keyring file {path}: already exists, refusing to overwrite it") from None
    except OSError as exc:
        raise KeyringFileError(f"keyring file {path}: cannot create ({exc.strerror or exc})") from None
    return _keyring_from(keyfile)


def add_key(path: Path, kms: KmsWrap | None = None) -> str:
    """Add a new enabled (not yet active) key; return its id."""
    with _locked(path):
        keyfile, wrapped_under = _open(path, kms)
        entry = _new_entry("enabled", keyfile.keys)
        _save(path, replace(keyfile, keys=(*keyfile.keys, entry)), kms, wrapped_under)
    return entry.info.id


def activate_key(path: Path, key_id: str, kms: KmsWrap | None = None) -> None:
    """Make ``key_id`` the active key; the previously active key becomes enabled."""
    with _locked(path):
        keyfile, wrapped_under = _open(path, kms)
        if _find(keyfile, key_id).info.status == "retired":
            raise KeyringError(f"key {key_id!r} is retired and cannot be activated")
        keys = tuple(
            _with_status(e, "active")
            if e.info.id == key_id
            else _with_status(e, "enabled")
            if e.info.status == "active"
            else e
            for e in keyfile.keys
        )
        _save(path, replace(keyfile, keys=keys), kms, wrapped_under)


def retire_key(path: Path, key_id: str, kms: KmsWrap | None = None) -> None:
    """Retire ``key_id``: it no longer decrypts. Refuses the active key."""
    with _locked(path):
        keyfile, wrapped_under = _open(path, kms)
        if _find(keyfile, key_id).info.status == "active":
            raise KeyringError(f"key {key_id!r} is the active key; activate another key first")
        keys = tuple(_with_status(e, "retired") if e.info.id == key_id else e for e in keyfile.keys)
        _save(path, replace(keyfile, keys=keys), kms, wrapped_under)


def describe(path: Path, kms: KmsWrap | None = None) -> list[KeyInfo]:
    """Ids, statuses and creation times of the keys in the file; never the secrets."""
    return [entry.info for entry in _open(path, kms)[0].keys]
