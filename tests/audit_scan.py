"""The audit rows of the whole test suite, scanned for secrets (DESIGN.md §5: no secrets in the log).

Every random secret NamoID makes (codes, refresh tokens, client secrets, session tokens,
CSRF secrets: ``new_token`` with 32 bytes or more) is remembered while the suite runs.
After each SQLite test and at the end of the PostgreSQL session, every text of every
audit row (actor, target, user agent, detail) is searched for those values, for JWTs,
PEM blocks, password hashes, the suite's passwords, Aadhaar-like numbers, and the synthetic offline e-KYC data
(names, reference ids) that tests/kyc_fixtures.py registers in ``PERSONAL_DATA``.
"""

from __future__ import annotations

import json
import re
import secrets as stdlib_secrets
import sqlite3
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import namoid.crypto.secrets

ISSUED: set[str] = set()
#: Synthetic personal data the suite uploads (offline e-KYC names and reference ids): never audited.
PERSONAL_DATA: set[str] = set()
PASSWORDS = ("correct horse battery staple", "browser test password 1")
PATTERNS = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "a PEM block": re.compile(r"-----BEGIN [A-Z ]+-----"),
    "a password hash": re.compile(r"\$argon2(id|i|d)\$"),
    # Not inside a word or a hyphenated run: a UUID's "4562-8204-1166" is not an Aadhaar number.
    "an Aadhaar-like number": re.compile(r"(?<![\w-])[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}(?![\w-])"),
}
COLUMNS = "actor_id, target_id, user_agent, detail"


class _RecordingSecrets(ModuleType):
    """Stands in for the ``secrets`` module inside ``namoid.crypto.secrets`` only."""

    def __init__(self) -> None:
        super().__init__("secrets")

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        value = stdlib_secrets.token_urlsafe(nbytes)
        if nbytes is not None and nbytes >= 32:
            ISSUED.add(value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(stdlib_secrets, name)


def record_issued_secrets() -> None:
    namoid.crypto.secrets.secrets = _RecordingSecrets()  # type: ignore[attr-defined]


def findings(rows: Iterable[tuple[Any, ...]]) -> list[str]:
    found = []
    for row in rows:
        text = " ".join(
            value if isinstance(value, str) else json.dumps(value) for value in row if value is not None
        )
        for name, pattern in PATTERNS.items():
            if pattern.search(text):
                found.append(f"{name} in audit row {text[:200]!r}")
        for secret in (*PASSWORDS, *ISSUED):
            if secret in text:
                found.append(f"an issued secret in audit row {text[:200]!r}")
        lowered = text.casefold()
        for value in PERSONAL_DATA:
            if value.casefold() in lowered:
                found.append(f"synthetic personal data in audit row {text[:200]!r}")
    return found


def scan_sqlite(path: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return findings(conn.execute(f"SELECT {COLUMNS} FROM audit_log"))
