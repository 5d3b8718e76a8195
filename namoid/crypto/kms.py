"""Envelope encryption of the keyring file under an AWS KMS key (DESIGN.md §4).

KMS ``GenerateDataKey`` gives a fresh AES-256 data key in plaintext and wrapped under the
KMS key; the keyring JSON is sealed with AES-256-GCM under the plaintext data key, which is
then forgotten. The file holds only the wrapped data key and the sealed keyring, so a
stolen disk or backup reveals nothing without ``kms:Decrypt`` on that key. The encryption
context (AWS KMS Developer Guide, "Encryption context") binds the data key to this use.

boto3 blocks: these calls are made once, at start-up or by a ``namoid keys`` command,
before any event loop serves requests.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: The marker of a wrapped keyring file (a plain one has "pepper" and "keys" instead).
WRAPPED_FIELD: Final = "kms"
_CONTEXT: Final = {"namoid": "keyring-v1"}
_AAD: Final = b"namoid-keyring-kms-v1"
_NONCE_BYTES: Final = 12
_FIELDS: Final = frozenset({"key_id", "encrypted_data_key", "nonce", "ciphertext"})


class KmsError(Exception):
    """KMS refused or could not be reached, or the wrapped file is malformed (the message says which)."""


def _b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64d(value: object, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        raise KmsError(f"{what} is not base64") from None


@dataclass(frozen=True, slots=True)
class KmsWrap:
    """Where wrapped keyrings are opened (``region``) and new ones wrapped (``key_id``, if set)."""

    region: str
    key_id: str | None = None
    timeout: float = 10.0

    def _client(self) -> Any:
        config = Config(
            region_name=self.region,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"mode": "standard", "max_attempts": 3},
        )
        return boto3.client("kms", config=config)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client(), operation)(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "unknown")
            raise KmsError(f"KMS {operation} in {self.region} refused: {code}") from None
        except BotoCoreError as exc:
            raise KmsError(f"KMS {operation} in {self.region} failed: {type(exc).__name__}") from None
        return result

    def wrap(self, plaintext: bytes, key_id: str) -> dict[str, Any]:
        """Seal ``plaintext`` under a new data key from KMS key ``key_id``; the file's JSON document."""
        data_key = self._call(
            "generate_data_key", KeyId=key_id, KeySpec="AES_256", EncryptionContext=_CONTEXT
        )
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, _AAD)
        wrapped = {
            "key_id": data_key["KeyId"],
            "encrypted_data_key": _b64e(data_key["CiphertextBlob"]),
            "nonce": _b64e(nonce),
            "ciphertext": _b64e(sealed),
        }
        return {"version": 1, WRAPPED_FIELD: wrapped}

    def unwrap(self, document: dict[str, Any]) -> tuple[bytes, str]:
        """Open a wrapped file's document: the keyring JSON and the KMS key it was wrapped under."""
        wrapped = document.get(WRAPPED_FIELD)
        if (
            not isinstance(wrapped, dict)
            or set(document) != {"version", WRAPPED_FIELD}
            or set(wrapped) != _FIELDS
        ):
            raise KmsError(f'a wrapped keyring has exactly "version" and "kms" with {sorted(_FIELDS)}')
        key_id = wrapped["key_id"]
        if not isinstance(key_id, str) or not key_id:
            raise KmsError("kms.key_id must name the KMS key")
        blob = _b64d(wrapped["encrypted_data_key"], "kms.encrypted_data_key")
        nonce = _b64d(wrapped["nonce"], "kms.nonce")
        sealed = _b64d(wrapped["ciphertext"], "kms.ciphertext")
        data_key = self._call("decrypt", CiphertextBlob=blob, KeyId=key_id, EncryptionContext=_CONTEXT)
        try:
            return AESGCM(data_key["Plaintext"]).decrypt(nonce, sealed, _AAD), key_id
        except (InvalidTag, ValueError):
            raise KmsError("the wrapped keyring does not open with its data key (tampered?)") from None


def dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")
