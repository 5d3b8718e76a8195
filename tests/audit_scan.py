"""The audit rows of the whole test suite, scanned for secrets (DESIGN.md §5: no secrets in the log).

Every random secret NamoID makes (codes, refresh tokens, client secrets, session tokens,
CSRF secrets: ``new_token`` with 32 bytes or more) is remembered while the suite runs, and
so is every value a test upstream provider hands out (``UPSTREAM_ISSUED``: its tokens and
codes, and NamoID's client secret there); ``log_findings`` scans captured log output for
the upstream's values, JWTs and PEM blocks.
After each SQLite test and at the end of the PostgreSQL session, every text of every
audit row (actor, target, user agent, detail) is searched for those values, for JWTs,
PEM blocks, password hashes, the suite's passwords, and Aadhaar-like numbers.
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
#: Values an upstream provider issued in the tests (tests/hostile_upstream.py): never logged or audited.
UPSTREAM_ISSUED: set[str] = set()
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
        for secret in (*PASSWORDS, *ISSUED, *UPSTREAM_ISSUED):
            if secret in text:
                found.append(f"an issued secret in audit row {text[:200]!r}")
    return found


def upstream_issued(value: str) -> str:
    """Remember a value an upstream issued (so every scan looks for it); return it."""
    UPSTREAM_ISSUED.add(value)
    return value


def log_findings(text: str) -> list[str]:
    """Upstream-issued values, JWTs and PEM blocks in captured log output, one finding per line."""
    found = []
    for line in text.splitlines():
        if any(value in line for value in UPSTREAM_ISSUED):
            found.append(f"an upstream-issued value in log line {line[:200]!r}")
        for name in ("a JWT", "a PEM block"):
            if PATTERNS[name].search(line):
                found.append(f"{name} in log line {line[:200]!r}")
    return found


def scan_sqlite(path: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return findings(conn.execute(f"SELECT {COLUMNS} FROM audit_log"))
