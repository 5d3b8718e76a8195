"""The keyring: AES-256-GCM envelopes, AAD binding, rotation and the key file (DESIGN.md §4)."""

from __future__ import annotations

import base64
import copy
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from namoid.crypto.keyring import (
    DecryptionFailed,
    Keyring,
    KeyringError,
    KeyringFileError,
    UnknownKeyId,
    aad_for,
    activate_key,
    add_key,
    create_keyring_file,
    describe,
    retire_key,
)

ORG = "0b6f2c1e-8a4d-4c39-9a57-2f1e8c3d4b5a"
ROW = "7d3e9f10-2b4c-4e8a-b1f6-9c0d2e3f4a5b"
AAD = aad_for("signing_keys", "private_key_enc", ORG, ROW)
KEYRING = Keyring.generate()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _flip(envelope: str, part: int, byte: int) -> str:
    parts = envelope.split(".")
    raw = bytearray(_unb64(parts[part]))
    raw[byte] ^= 0x01
    parts[part] = _b64(bytes(raw))
    return ".".join(parts)


# --- envelopes ----------------------------------------------------------------


def test_round_trip() -> None:
    envelope = KEYRING.encrypt(b"private key bytes", AAD)
    assert KEYRING.decrypt(envelope, AAD) == b"private key bytes"


def test_envelope_format() -> None:
    version, key_id, nonce, sealed = KEYRING.encrypt(b"abc", AAD).split(".")
    assert (version, key_id) == ("v1", KEYRING.active_key_id)
    assert len(_unb64(nonce)) == 12
    assert len(_unb64(sealed)) == 3 + 16  # ciphertext + GCM tag
    assert "=" not in nonce + sealed


def test_empty_plaintext_round_trips() -> None:
    assert KEYRING.decrypt(KEYRING.encrypt(b"", AAD), AAD) == b""


@pytest.mark.parametrize(
    ("part", "byte"),
    [(3, 0), (3, -1), (2, 0), (2, 11)],
    ids=["ciphertext", "tag", "nonce-first", "nonce-last"],
)
def test_flipped_bit_fails(part: int, byte: int) -> None:
    envelope = KEYRING.encrypt(b"secret value", AAD)
    with pytest.raises(DecryptionFailed):
        KEYRING.decrypt(_flip(envelope, part, byte), AAD)


@pytest.mark.parametrize(
    "other_place",
    [
        aad_for("signing_keys", "private_key_enc", ORG, "11111111-2b4c-4e8a-b1f6-9c0d2e3f4a5b"),
        aad_for("signing_keys", "private_key_enc", "22222222-8a4d-4c39-9a57-2f1e8c3d4b5a", ROW),
        aad_for("signing_keys", "totp_secret_enc", ORG, ROW),
        aad_for("provider_tokens", "private_key_enc", ORG, ROW),
    ],
    ids=["other-row", "other-org", "other-column", "other-table"],
)
def test_value_moved_elsewhere_fails(other_place: bytes) -> None:
    envelope = KEYRING.encrypt(b"secret value", AAD)
    with pytest.raises(DecryptionFailed):
        KEYRING.decrypt(envelope, other_place)


def test_aad_is_unambiguous() -> None:
    assert aad_for("ab", "c", ORG, ROW) != aad_for("a", "bc", ORG, ROW)
    assert aad_for("a", "b", "c.d", ROW) != aad_for("a", "b.c", "d", ROW)


@pytest.mark.parametrize("bad", ["", None, 7])
def test_aad_rejects_empty_fields(bad: object) -> None:
    with pytest.raises(ValueError, match="row_id"):
        aad_for("t", "c", ORG, bad)  # type: ignore[arg-type]


def test_encrypt_requires_aad() -> None:
    with pytest.raises(ValueError, match="aad"):
        KEYRING.encrypt(b"x", b"")


def test_unknown_key_id() -> None:
    envelope = Keyring.generate().encrypt(b"x", AAD)
    with pytest.raises(UnknownKeyId):
        KEYRING.decrypt(envelope, AAD)


def test_same_key_id_other_secret_fails() -> None:
    impostor = Keyring({KEYRING.active_key_id: b"\x07" * 32}, KEYRING.active_key_id, b"\x08" * 32)
    with pytest.raises(DecryptionFailed):
        KEYRING.decrypt(impostor.encrypt(b"x", AAD), AAD)


def _malformed() -> list[object]:
    """Broken envelopes, each with a fixed test id: the values hold a random key id and nonce, and
    parallel workers (pytest-xdist) must collect the same test names."""
    good = KEYRING.encrypt(b"secret value", AAD)
    _, kid, nonce, sealed = good.split(".")
    cases = {
        "empty": "",
        "version only": "v1",
        "other version": f"v2.{kid}.{nonce}.{sealed}",
        "upper-case version": f"V1.{kid}.{nonce}.{sealed}",
        "no version": f"{kid}.{nonce}.{sealed}",
        "no ciphertext": f"v1.{kid}.{nonce}",
        "extra part": f"v1.{kid}.{nonce}.{sealed}.extra",
        "empty key id": f"v1..{nonce}.{sealed}",
        "upper-case key id": f"v1.K-UPPER.{nonce}.{sealed}",
        "long key id": f"v1.{'k' * 33}.{nonce}.{sealed}",
        "bad nonce character": f"v1.{kid}.{nonce}!.{sealed}",
        "padded ciphertext": f"v1.{kid}.{nonce}.{sealed}=",
        "non-url-safe ciphertext": f"v1.{kid}.{nonce}.{sealed[:-1]}+",
        "short nonce": f"v1.{kid}.{nonce[:-2]}.{sealed}",
        "short ciphertext": f"v1.{kid}.{nonce}.{_b64(b'short')}",
        "trailing space": f"v1.{kid}.{nonce}.{sealed} ",
        "one-character ciphertext": f"v1.{kid}.{nonce}.A",
    }
    return [pytest.param(envelope, id=name) for name, envelope in cases.items()]


@pytest.mark.parametrize("envelope", _malformed())
def test_malformed_envelopes_fail(envelope: str) -> None:
    with pytest.raises(DecryptionFailed):
        KEYRING.decrypt(envelope, AAD)


def test_errors_do_not_leak_details() -> None:
    envelope = _flip(KEYRING.encrypt(b"secret value", AAD), 3, 0)
    with pytest.raises(DecryptionFailed) as caught:
        KEYRING.decrypt(envelope, AAD)
    assert str(caught.value) == "decryption failed"
    assert caught.value.__cause__ is None


def test_nonces_are_unique() -> None:
    nonces = {KEYRING.encrypt(b"same", AAD).split(".")[2] for _ in range(5000)}
    assert len(nonces) == 5000


def test_key_id_of_and_is_current() -> None:
    envelope = KEYRING.encrypt(b"x", AAD)
    assert Keyring.key_id_of(envelope) == KEYRING.active_key_id
    assert KEYRING.is_current(envelope)
    assert not KEYRING.is_current(Keyring.generate().encrypt(b"x", AAD))
    with pytest.raises(DecryptionFailed):
        Keyring.key_id_of("garbage")


def test_keyring_is_immutable_and_keeps_secrets_out_of_repr() -> None:
    with pytest.raises(AttributeError):
        KEYRING._active_key_id = "k-other"
    with pytest.raises(TypeError):
        copy.copy(KEYRING)  # nor pickled: the secrets stay in this object
    kid = KEYRING.active_key_id
    assert repr(KEYRING) == f"Keyring(active_key_id={kid!r}, key_ids=({kid!r},))"


@pytest.mark.parametrize(
    ("keys", "active", "pepper", "message"),
    [
        ({"k-1": b"\x01" * 32}, "k-2", b"\x02" * 32, "active key"),
        ({"k-1": b"\x01" * 16}, "k-1", b"\x02" * 32, "32 bytes"),
        ({"K_1": b"\x01" * 32}, "K_1", b"\x02" * 32, "invalid key id"),
        ({"k-1": b"\x01" * 32}, "k-1", b"\x02" * 31, "pepper"),
        ({"k-1": b"\x01" * 32}, "k-1", b"\x01" * 32, "pepper must differ"),
    ],
)
def test_constructor_validates(keys: dict[str, bytes], active: str, pepper: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Keyring(keys, active, pepper)


@given(plaintext=st.binary(max_size=2048), table=st.text(min_size=1), row=st.text(min_size=1))
def test_round_trip_property(plaintext: bytes, table: str, row: str) -> None:
    aad = aad_for(table, "column", ORG, row)
    envelope = KEYRING.encrypt(plaintext, aad)
    assert KEYRING.decrypt(envelope, aad) == plaintext
    assert Keyring.key_id_of(envelope) == KEYRING.active_key_id


# --- the file -------------------------------------------------------------------


def test_create_writes_0600_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    created = create_keyring_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert loaded.active_key_id == created.active_key_id
    assert loaded.pepper == created.pepper
    assert len(loaded.pepper) == 32
    assert loaded.decrypt(created.encrypt(b"x", AAD), AAD) == b"x"
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]  # no temp files left


def test_file_format(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert len(_unb64(doc["pepper"])) == 32
    [key] = doc["keys"]
    assert set(key) == {"id", "secret", "status", "created_at"}
    assert key["status"] == "active"
    assert len(_unb64(key["secret"])) == 32
    assert key["id"].startswith("k-") and len(key["id"]) <= 32


def test_create_refuses_existing(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    before = path.read_bytes()
    with pytest.raises(KeyringFileError, match="already exists"):
        create_keyring_file(path)
    assert path.read_bytes() == before


def test_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    k1 = create_keyring_file(path).active_key_id
    old = Keyring.load(path).encrypt(b"old value", AAD)

    k2 = add_key(path)
    assert k2 != k1
    assert Keyring.load(path).active_key_id == k1  # added keys start enabled
    activate_key(path, k2)
    ring = Keyring.load(path)
    assert ring.active_key_id == k2
    assert set(ring.key_ids) == {k1, k2}
    assert ring.decrypt(old, AAD) == b"old value"
    assert not ring.is_current(old)

    fresh = ring.encrypt(ring.decrypt(old, AAD), AAD)
    assert Keyring.key_id_of(fresh) == k2
    assert ring.is_current(fresh)

    retire_key(path, k1)
    ring = Keyring.load(path)
    assert ring.key_ids == (k2,)
    assert ring.decrypt(fresh, AAD) == b"old value"
    with pytest.raises(UnknownKeyId):
        ring.decrypt(old, AAD)
    assert [(i.id, i.status) for i in describe(path)] == [(k1, "retired"), (k2, "active")]


def test_pepper_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    pepper = create_keyring_file(path).pepper
    activate_key(path, add_key(path))
    assert Keyring.load(path).pepper == pepper


def test_retire_refuses_active_key(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    active = create_keyring_file(path).active_key_id
    with pytest.raises(KeyringError, match="active"):
        retire_key(path, active)


def test_retired_key_cannot_be_activated(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    k2 = add_key(path)
    retire_key(path, k2)
    with pytest.raises(KeyringError, match="retired"):
        activate_key(path, k2)


def test_unknown_key_in_file_operations(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    with pytest.raises(UnknownKeyId):
        activate_key(path, "k-nope")
    with pytest.raises(UnknownKeyId):
        retire_key(path, "k-nope")


def test_describe_never_shows_secrets(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    add_key(path)
    secrets = [k["secret"] for k in json.loads(path.read_text())["keys"]]
    shown = repr(describe(path))
    assert all(secret not in shown for secret in secrets)
    assert [info.status for info in describe(path)] == ["active", "enabled"]


def test_rewrites_stay_0600(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    path.chmod(0o644)
    add_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- invalid files ----------------------------------------------------------------


def _valid_doc() -> dict[str, object]:
    return {
        "version": 1,
        "pepper": _b64(b"\x01" * 32),
        "keys": [
            {
                "id": "k-1",
                "secret": _b64(b"\x02" * 32),
                "status": "active",
                "created_at": "2026-11-29T10:00:00+00:00",
            },
            {
                "id": "k-2",
                "secret": _b64(b"\x03" * 32),
                "status": "enabled",
                "created_at": "2026-11-29T11:00:00Z",
            },
        ],
    }


def _key(doc: dict[str, object], index: int) -> dict[str, object]:
    keys = doc["keys"]
    assert isinstance(keys, list)
    key = keys[index]
    assert isinstance(key, dict)
    return key


def test_valid_doc_loads() -> None:
    ring = Keyring.from_json(json.dumps(_valid_doc()))
    assert ring.active_key_id == "k-1"
    assert ring.key_ids == ("k-1", "k-2")


_BREAKAGES: dict[str, Callable[[dict[str, object]], object]] = {
    "version": lambda doc: doc.update(version=2),
    "version-bool": lambda doc: doc.update(version=True),
    "two-active": lambda doc: _key(doc, 1).update(status="active"),
    "no-active": lambda doc: _key(doc, 0).update(status="enabled"),
    "short-key": lambda doc: _key(doc, 0).update(secret=_b64(b"\x02" * 16)),
    "padded-key": lambda doc: _key(doc, 0).update(secret=_b64(b"\x02" * 32) + "="),
    "short-pepper": lambda doc: doc.update(pepper=_b64(b"\x01" * 31)),
    "duplicate-id": lambda doc: _key(doc, 1).update(id="k-1"),
    "bad-id": lambda doc: _key(doc, 1).update(id="K 2"),
    "bad-status": lambda doc: _key(doc, 1).update(status="dormant"),
    "naive-time": lambda doc: _key(doc, 1).update(created_at="2026-11-29T11:00:00"),
    "extra-field": lambda doc: _key(doc, 1).update(note="x"),
    "no-keys": lambda doc: doc.update(keys=[]),
    "missing-pepper": lambda doc: doc.pop("pepper"),
    "pepper-is-a-key": lambda doc: doc.update(pepper=_key(doc, 0)["secret"]),
}


def _broken(change: str) -> str:
    doc = _valid_doc()
    _BREAKAGES[change](doc)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("version", "version"),
        ("version-bool", "version"),
        ("two-active", "exactly one key must be active, found 2"),
        ("no-active", "exactly one key must be active, found 0"),
        ("short-key", r"keys\[0\].secret must be 32 bytes"),
        ("padded-key", r"keys\[0\].secret"),
        ("short-pepper", "pepper must be 32 bytes"),
        ("duplicate-id", "duplicate key ids"),
        ("bad-id", r"keys\[1\].id"),
        ("bad-status", r"keys\[1\].status"),
        ("naive-time", r"keys\[1\].created_at"),
        ("extra-field", r"keys\[1\]"),
        ("no-keys", "non-empty"),
        ("missing-pepper", "exactly"),
        ("pepper-is-a-key", "pepper must differ"),
    ],
)
def test_invalid_file_content(tmp_path: Path, change: str, message: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(_broken(change))
    with pytest.raises(KeyringFileError, match=message) as caught:
        Keyring.load(path)
    assert str(path) in str(caught.value)
    assert _b64(b"\x02" * 32) not in str(caught.value)  # never echo key material


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "expected an object"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "keyring.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyringFileError, match=message) as caught:
        Keyring.load(path)
    assert str(path) in str(caught.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringFileError, match="cannot read"):
        Keyring.load(tmp_path)


def test_management_on_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringFileError, match="not found"):
        add_key(tmp_path / "missing.json")
    with pytest.raises(KeyringFileError, match="not found"):
        describe(tmp_path / "missing.json")


def test_from_json_errors_are_keyring_file_errors() -> None:
    with pytest.raises(KeyringFileError, match="keyring JSON"):
        Keyring.from_json("nope")
