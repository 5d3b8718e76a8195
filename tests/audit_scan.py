"""The audit rows of the whole test suite, scanned for secrets (DESIGN.md §5: no secrets in the log).

Every random secret NamoID makes (codes, refresh tokens, client secrets, session tokens,
CSRF secrets: ``new_token`` with 32 bytes or more) is remembered while the suite runs, and so
is every one-time code (``new_numeric_code``), every email and SMS put in the outbox (its
text, and the 6-8 digit codes in it), and every value a test upstream provider hands out
(``UPSTREAM_ISSUED``: its tokens and codes, and NamoID's client secret there).
After each SQLite test and at the end of the PostgreSQL session, every text of every
audit row (actor, target, user agent, detail) is searched for those values, for JWTs,
PEM blocks, password hashes, keyring ciphertexts, the suite's passwords, Aadhaar-like numbers,
queued message texts and one-time codes, and the synthetic offline e-KYC data (names,
reference ids) that tests/kyc_fixtures.py registers in ``PERSONAL_DATA``. ``log_findings``
scans captured log lines (the provider and one-time-code flow tests) for the upstream's
values, JWTs, PEM blocks, codes and message texts.
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
import namoid.notify.outbox
from namoid.notify.messages import Message

ISSUED: set[str] = set()
#: Synthetic personal data the suite uploads (offline e-KYC names and reference ids): never audited.
PERSONAL_DATA: set[str] = set()
#: Values an upstream provider issued in the tests (tests/hostile_upstream.py): never logged or audited.
UPSTREAM_ISSUED: set[str] = set()
PASSWORDS = ("correct horse battery staple", "browser test password 1", "a long new passphrase")
PATTERNS = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "a PEM block": re.compile(r"-----BEGIN [A-Z ]+-----"),
    "a password hash": re.compile(r"\$argon2(id|i|d)\$"),
    # A keyring envelope (namoid/crypto/keyring.py): a signing key, a kept refresh response, ...
    "a keyring ciphertext": re.compile(r"v1\.[a-z0-9-]{1,32}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}"),
    # Not inside a word or a hyphenated run: a UUID's "4562-8204-1166" is not an Aadhaar number.
    "an Aadhaar-like number": re.compile(r"(?<![\w-])[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}(?![\w-])"),
}
COLUMNS = "actor_id, target_id, user_agent, detail"
#: Message texts at least this long are searched for whole; shorter ones only for their codes.
MIN_TEXT = 16
MESSAGE_TEXTS: set[str] = set()
CODES: set[str] = set()
#: A code stands alone: a digit run inside a hex hash or a UUID ("…9f123456ab…") is not one, nor
#: the fraction of a timestamp ("19:17:40.643210", in a DEBUG line of SQL parameters): counting
#: those made a collision with one of the suite's thousands of codes a matter of luck.
_CODE = re.compile(r"(?<![\w.:-])\d{6,8}(?![\w-])")


class _RecordingSecrets(ModuleType):
    """Stands in for the ``secrets`` module inside ``namoid.crypto.secrets`` only."""

    def __init__(self) -> None:
        super().__init__("secrets")

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        value = stdlib_secrets.token_urlsafe(nbytes)
        if nbytes is not None and nbytes >= 32:
            ISSUED.add(value)
        return value

    def randbelow(self, exclusive_upper_bound: int) -> int:
        value = stdlib_secrets.randbelow(exclusive_upper_bound)
        if exclusive_upper_bound in (10**6, 10**7, 10**8):  # a one-time code (new_numeric_code)
            CODES.add(f"{value:0{len(str(exclusive_upper_bound)) - 1}d}")
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(stdlib_secrets, name)


def _recording_seal(original: Any) -> Any:
    """Stands in for ``namoid.notify.outbox.seal``: remembers what each queued message says."""

    def seal(keyring: Any, org_id: Any, message_id: Any, message: Message) -> str:
        if len(message.text) >= MIN_TEXT:
            MESSAGE_TEXTS.add(message.text)
        CODES.update(_CODE.findall(message.text))
        sealed: str = original(keyring, org_id, message_id, message)
        return sealed

    return seal


def record_issued_secrets() -> None:
    namoid.crypto.secrets.secrets = _RecordingSecrets()  # type: ignore[attr-defined]
    namoid.notify.outbox.seal = _recording_seal(namoid.notify.outbox.seal)  # type: ignore[method-assign]


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
        if any(body in text for body in MESSAGE_TEXTS) or CODES.intersection(_CODE.findall(text)):
            found.append(f"a message's text or code in audit row {text[:200]!r}")
        lowered = text.casefold()
        for value in PERSONAL_DATA:
            if value.casefold() in lowered:
                found.append(f"synthetic personal data in audit row {text[:200]!r}")
    return found


def upstream_issued(value: str) -> str:
    """Remember a value an upstream issued (so every scan looks for it); return it."""
    UPSTREAM_ISSUED.add(value)
    return value


def scan_sqlite(path: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return findings(conn.execute(f"SELECT {COLUMNS} FROM audit_log"))


def log_findings(lines: Iterable[str]) -> list[str]:
    """Captured log lines carrying a value an upstream issued, a JWT, a PEM block, a one-time
    code or a queued message's text: one finding per line and kind."""
    found = []
    for line in lines:
        if any(value in line for value in UPSTREAM_ISSUED):
            found.append(f"an upstream-issued value in log line {line[:200]!r}")
        for name in ("a JWT", "a PEM block"):
            if PATTERNS[name].search(line):
                found.append(f"{name} in log line {line[:200]!r}")
        if CODES.intersection(_CODE.findall(line)) or any(body in line for body in MESSAGE_TEXTS):
            found.append(f"a one-time code or message text in log line {line[:200]!r}")
    return found
