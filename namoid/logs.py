"""The one logging set-up and the one redaction layer (DESIGN.md §3).

``configure_logging`` puts a single handler on the root logger; its ``RedactingFilter``
sees every record that propagates (namoid.*, uvicorn, sqlalchemy, alembic, httpx, ...)
and replaces anything that looks like a token, secret, OTP, Aadhaar number or private
key with ``[REDACTED]`` before it is written. Access log lines keep only the values of
allow-listed query parameters (``ACCESS_LOG_PARAMETERS``).
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TextIO
from urllib.parse import unquote_plus

REDACTED: Final = "[REDACTED]"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("namoid_request_id", default=None)

# --- what is sensitive ----------------------------------------------------------

#: A key is sensitive if its letters, joined without separators, contain one of these...
_SECRET_WORDS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "assertion",
    "aadhaar",
    "aadhar",
    "apikey",
    "privatekey",
    "session",
    "verifier",
    "credential",
)
#: ...or if one of its words (snake, kebab, dotted or camelCase) is one of these.
_SECRET_PARTS: Final = frozenset({"code", "otp", "totp", "hotp", "pin", "mpin", "pwd"})
#: Keys that match the words above but carry nothing secret.
_SAFE_KEYS: Final = frozenset(
    {
        "status_code",
        "error_code",
        "http_code",
        "response_code",
        "exit_code",
        "return_code",
        "returncode",
        "country_code",
        "postal_code",
        "code_challenge",
        "code_challenge_method",
        "code_challenge_methods_supported",
        "token_type",
        "token_type_hint",
        "token_endpoint",
        "token_endpoint_auth_method",
        "token_endpoint_auth_methods_supported",
    }
)
_KEY_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
#: Parameters of a ``WWW-Authenticate: Bearer ...`` challenge (RFC 6750 §3), not tokens.
_CHALLENGE_PARAMS: Final = frozenset({"realm=", "error=", "scope=", "error_description=", "error_uri="})


def _key_is_sensitive(key: str) -> bool:
    words = [word.lower() for word in _KEY_WORDS.findall(key)]
    if "_".join(words) in _SAFE_KEYS:
        return False
    joined = "".join(words)
    return any(word in joined for word in _SECRET_WORDS) or any(word in _SECRET_PARTS for word in words)


# --- the patterns ---------------------------------------------------------------

_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----(?:.*?-----END \1-----|.*)", re.DOTALL
)
_HEADER_LINE = re.compile(
    r"\b((?:proxy-)?authorization|(?:set-)?cookie)([ \t]*:[ \t]*)[^\r\n]*", re.IGNORECASE
)
_OWN_FORMATS = re.compile(
    r"(?<![A-Za-z0-9_.-])v1\.[a-z0-9-]{1,32}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}"  # keyring envelope
    r"|\$argon2(?:id|i|d)\$[A-Za-z0-9$=,+/.]*"  # password hash (PHC string)
    r"|hmac-sha256\$[0-9a-f]{64}"  # client secret hash
)
_JOSE = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}")  # JWS 3 parts, JWE 5
#: RFC 6750 §2.1 b64token, ending where a delimiter follows (so ``Bearer k=v`` params are not one).
_BEARER = re.compile(r"\b(Bearer|DPoP)(\s+)([A-Za-z0-9._~+/-]+=*)(?![^\s'\",;)\]}>])", re.IGNORECASE)
_BASIC = re.compile(r"\b(Basic)(\s+)([^\s'\"<>,;()\[\]{}]+)", re.IGNORECASE)
#: UIDAI Aadhaar: 12 digits, first 2-9, optional single space/hyphen between groups of 4;
#: not inside a longer run, and not the last group of a UUID.
_AADHAAR = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9A-Fa-f]{4}-)[2-9][0-9]{3}[ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9A-Za-z])"
)
_OTP_PHRASE = re.compile(
    r"\b(otp|totp|passcode|one[- ]time (?:password|code|pin)|verification code|security code)\b"
    r"([^0-9\[\]\r\n]{0,20}?)(?<![0-9])[0-9]{4,10}(?![0-9])",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(
    r"""
    (?: b?(?P<kq>["'])(?P<qkey>[^"'\\\r\n]{1,100})(?P=kq)                 # "key" 'key' b'key'
      | (?<![A-Za-z0-9_.\-\[\]])(?P<key>[A-Za-z_][A-Za-z0-9_.\-\[\]]*)    # key, a.b, x-y, a[b]
        (?:\\+["'])?                                                        # \"key\" (escaped JSON)
    )
    (?P<sep>[ \t]*[:=][ \t]*)
    (?P<value>
        \\+(?P<eq>["']).*?\\+(?P=eq)              # \"escaped quotes\"
      | \\+["'][^\r\n]*                           # \"unterminated
      | b?(?P<vq>["'])(?:\\.|[^\\\r\n])*?(?P=vq)  # "quoted" 'quoted' b'bytes'
      | b?["'][^\r\n]*                            # "unterminated: to the end of the line
      | \[[^\]\r\n]*\]                            # [a, list] (or [REDACTED])
      | [^\s&,;"'<>(){}\[\]]+                     # bare value
    )
    """,
    re.VERBOSE,
)
_VALUE_QUOTES = re.compile(r"(?P<open>b?\\*[\"'])?(?P<body>.*?)(?P<close>\\*[\"'])?\Z", re.DOTALL)
#: Catch-all: long base64url runs with mixed case (random tokens), not hex, UUIDs or paths.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")


# --- the replacements -----------------------------------------------------------


def _bearer(match: re.Match[str]) -> str:
    token = match[3]
    if token.lower() in _CHALLENGE_PARAMS:
        return match[0]
    return f"{match[1]}{match[2]}{REDACTED}"


def _looks_like_credentials(token: str) -> bool:
    """``user:pass`` itself or base64 of it (RFC 7617 §2)."""
    if ":" in token:
        return True
    try:
        return b":" in base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except ValueError:  # binascii.Error included
        return False


def _basic(match: re.Match[str]) -> str:
    if not _looks_like_credentials(match[3]):
        return match[0]
    return f"{match[1]}{match[2]}{REDACTED}"


def _otp_phrase(match: re.Match[str]) -> str:
    return f"{match[1]}{match[2]}{REDACTED}"


def _mask_value(value: str) -> str:
    parts = _VALUE_QUOTES.match(value)
    if parts is None:  # cannot happen: the pattern matches any string
        return REDACTED
    return f"{parts['open'] or ''}{REDACTED}{parts['close'] or ''}"


def _redact_pairs(text: str) -> str:
    """Mask the values of sensitive keys in ``k=v``, ``k: v``, JSON, dict reprs, queries and forms."""
    out: list[str] = []
    pos = 0
    while (match := _KEY_VALUE.search(text, pos)) is not None:
        key = match["qkey"] if match["qkey"] is not None else match["key"]
        if _key_is_sensitive(key):
            out.append(text[pos : match.start("value")] + _mask_value(match["value"]))
            pos = match.end()
        else:  # rescan the value: it may hold pairs of its own (a URL with ?code=...)
            out.append(text[pos : match.end("sep")])
            pos = match.end("sep")
    out.append(text[pos:])
    return "".join(out)


def _long_token(match: re.Match[str]) -> str:
    run = match[0]
    mixed_case = any(c.isupper() for c in run) and any(c.islower() for c in run)
    if mixed_case and (len(run) >= 40 or any(c.isdigit() for c in run)):
        return REDACTED
    return run


_RULES: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (_PEM_PRIVATE_KEY, REDACTED),
    (_HEADER_LINE, rf"\1\2{REDACTED}"),
    (_OWN_FORMATS, REDACTED),
    (_JOSE, REDACTED),
    (_BEARER, _bearer),
    (_BASIC, _basic),
    (_AADHAAR, REDACTED),
    (_OTP_PHRASE, _otp_phrase),
)


def redact(text: str) -> str:
    """``text`` with tokens, secrets, OTPs, Aadhaar numbers and private keys replaced by ``[REDACTED]``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    text = _redact_pairs(text)
    return _LONG_TOKEN.sub(_long_token, text)


# --- the access log ---------------------------------------------------------------

#: Query parameters whose values an access log line keeps: the shape of an OAuth/OIDC request,
#: nothing a person typed or is identified by. Every other value (login_hint, id_token_hint,
#: claims, nonce, the interaction handle ``req``, an ``email`` a scanner tries, ...) is masked.
ACCESS_LOG_PARAMETERS: Final = frozenset(
    {
        "response_type",
        "response_mode",
        "client_id",
        "redirect_uri",
        "post_logout_redirect_uri",
        "scope",
        "state",
        "prompt",
        "max_age",
        "display",
        "ui_locales",
        "code_challenge_method",
        "error",
        "iss",
    }
)
_ACCESS_LOGGER: Final = "uvicorn.access"
#: uvicorn logs (client address, method, path with query, HTTP version, status).
_ACCESS_TARGET: Final = 2


def access_log_target(target: str) -> str:
    """A request target as an access log shows it: the path, and the values of allow-listed
    query parameters only (DPDP: personal data such as a ``login_hint`` is not logged)."""
    path, question, query = target.partition("?")
    if not question:
        return target
    return f"{path}?{'&'.join(_logged_pair(pair) for pair in query.split('&'))}"


def _logged_pair(pair: str) -> str:
    name, _, value = pair.partition("=")
    if value and unquote_plus(name) not in ACCESS_LOG_PARAMETERS:
        return f"{name}={REDACTED}"
    return pair


def _mask_access_query(record: logging.LogRecord) -> None:
    args = record.args
    if record.name == _ACCESS_LOGGER and isinstance(args, tuple) and len(args) > _ACCESS_TARGET:
        target = args[_ACCESS_TARGET]
        if isinstance(target, str):
            record.args = (*args[:_ACCESS_TARGET], access_log_target(target), *args[_ACCESS_TARGET + 1 :])


# --- the filter -----------------------------------------------------------------

_STANDARD_ATTRS: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}
_MAX_DEPTH: Final = 8
_EXCEPTION_FORMATTER: Final = logging.Formatter()


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break logging
        return f"<unprintable {type(value).__name__}>"


def _redact_value(value: object, depth: int = 0) -> object:
    """A redacted copy of an ``extra`` value: strings redacted, sensitive keys masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            _safe_str(k): REDACTED if _key_is_sensitive(_safe_str(k)) else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item, depth + 1) for item in value]
    return redact(_safe_str(value))


def _render(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # wrong args for the format: keep the format, drop the args
        return f"{_safe_str(record.msg)} [log arguments could not be formatted]"


def _redact_exception(record: logging.LogRecord) -> None:
    if record.exc_info and not record.exc_text:
        record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    record.exc_info = None  # later formatters must use the redacted text, not re-render
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_extras(record: logging.LogRecord) -> None:
    fields = record.__dict__
    fields.pop("color_message", None)  # uvicorn's unrendered twin of msg
    for name in [n for n in fields if n not in _STANDARD_ATTRS and not n.startswith("_")]:
        fields[name] = REDACTED if _key_is_sensitive(name) else _redact_value(fields[name])


class RedactingFilter(logging.Filter):
    """Renders, redacts and freezes a record's message, exception and extras; adds ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_access_query(record)
        record.msg = redact(_render(record))
        record.args = None
        _redact_exception(record)
        _redact_extras(record)
        request_id = record.__dict__.get("request_id") or request_id_var.get() or "-"
        record.__dict__["request_id"] = redact(_safe_str(request_id))
        return True


# --- formatting and set-up ---------------------------------------------------------


def _iso_utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class _DevFormatter(logging.Formatter):
    """``time level logger [request_id] message`` for people."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s", defaults={"request_id": "-"}
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso_utc(record.created)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message (+ exception, extra)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "request_id": record.__dict__.get("request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        if extras := _extras(record):
            entry["extra"] = extras
        return json.dumps(entry, default=str)


class _RootHandler(logging.StreamHandler[TextIO]):
    """The handler ``configure_logging`` owns (found again by type when reconfiguring)."""


#: Libraries whose loggers must not keep handlers of their own (they would bypass redaction).
ROUTED_LOGGERS: Final = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.engine.Engine",
    "sqlalchemy.pool",
    "alembic",
    "asyncio",
    "httpx",
    "httpcore",
)
_UVICORN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _level(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.upper()) if isinstance(level, str) else None
    if number is None:
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(level: str, json_format: bool, *, stream: TextIO | None = None) -> None:
    """Install the one redacting root handler (stderr by default); safe to call again."""
    handler = _RootHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_JsonFormatter() if json_format else _DevFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.setLevel(_level(level))
    for old in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    for name in ROUTED_LOGGERS:
        logger = logging.getLogger(name)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.propagate = True
        logger.disabled = False


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's ``log_config``: its loggers keep no handlers and propagate to the root handler.

    The formatter entries exist only because uvicorn writes ``use_colors`` into them.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"format": "%(message)s"}, "access": {"format": "%(message)s"}},
        "handlers": {},
        "loggers": {name: {"handlers": [], "propagate": True} for name in _UVICORN_LOGGERS},
    }
