"""The logging set-up and its redaction layer (DESIGN.md §3: secrets never reach a log)."""

from __future__ import annotations

import base64
import io
import json
import logging
import logging.config
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from namoid.logs import (
    REDACTED,
    ROUTED_LOGGERS,
    RedactingFilter,
    access_log_target,
    configure_logging,
    redact,
    request_id_var,
    uvicorn_log_config,
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Built at run time so secret scanners do not flag this file.
JWT_HEADER = _b64url(b'{"alg":"RS256","typ":"at+jwt","kid":"k1"}')
JWT_PAYLOAD = _b64url(b'{"iss":"https://id.example/o/acme","sub":"user-1","exp":1900000000}')
JWT_SIGNATURE = _b64url(bytes(range(256)))
JWT = f"{JWT_HEADER}.{JWT_PAYLOAD}.{JWT_SIGNATURE}"
JWE = ".".join(
    _b64url(part)
    for part in (b'{"alg":"RSA-OAEP","enc":"A256GCM"}', b"k" * 40, b"iv" * 6, b"ciphertext" * 5, b"tag" * 5)
)
BEARER_TOKEN = "mF_9.B5f-4.1JqM"
BASIC_CREDENTIALS = base64.b64encode(b"s6BhdRkqt3:gX1fBat3bV").decode()
AUTH_CODE = "SplxlOBeZQQYbYS6WxSbIA"
CLIENT_SECRET = "7Fjfp0ZBr1KtDRbnfVdmIw"
PASSWORD = "hunter2-correct-horse"
QUERY_CODE = "Q3ODE-SECRET"
OTP = "493817"
SESSION = "sess-9f8e7d6c5b4a"
AADHAAR_SPACED = "2345 6789 0123"
AADHAAR_PLAIN = "234567890123"
AADHAAR_HYPHEN = "3456-7890-1234"
PEM_BODY = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFAKEfakeFAKEfake"
PEM = f"-----BEGIN {'PRIVATE'} KEY-----\n{PEM_BODY}\nZm9vYmFyYmF6\n-----END {'PRIVATE'} KEY-----"
RAW_TOKEN = "N3v3rL0gM3_abcdefghijklmnopqrstuvwxyzABCDEFG"
EXCEPTION_TOKEN = "Xq7_upstreamREFRESHtoken-0123456789abcdefGHIJ"

SECRETS = [
    JWT,
    JWT_SIGNATURE,
    JWE.split(".")[1],
    BEARER_TOKEN,
    BASIC_CREDENTIALS,
    AUTH_CODE,
    CLIENT_SECRET,
    PASSWORD,
    QUERY_CODE,
    OTP,
    SESSION,
    AADHAAR_SPACED,
    AADHAAR_PLAIN,
    AADHAAR_HYPHEN,
    PEM_BODY,
    "Zm9vYmFyYmF6",
    RAW_TOKEN,
    EXCEPTION_TOKEN,
]

STATE = "ok-state-123"
PATH = "/o/acme/callback"
UUID = "123e4567-e89b-12d3-a456-426614174000"
TIMESTAMP = "2026-11-29T10:15:30Z"
SURVIVORS = [STATE, PATH, "302", UUID, TIMESTAMP, "asha", "authorization_code"]

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access log call
MESSAGES: list[tuple[str, tuple[object, ...]]] = [
    ("Authorization: Bearer %s", (BEARER_TOKEN,)),
    ("token response %s", ({"access_token": JWT, "token_type": "Bearer"},)),
    ("encrypted id token %s", (JWE,)),
    ("headers: Authorization: Basic %s", (BASIC_CREDENTIALS,)),
    ("scope header %r", ([(b"authorization", f"Basic {BASIC_CREDENTIALS}".encode())],)),
    ("token request: grant_type=authorization_code&code=%s&client_secret=%s", (AUTH_CODE, CLIENT_SECRET)),
    ("login payload %s", (json.dumps({"username": "asha", "password": PASSWORD}),)),
    (ACCESS_FORMAT, ("127.0.0.1:51234", "GET", f"{PATH}?code={QUERY_CODE}&state={STATE}", "1.1", 302)),
    ("otp=%s sent at %s", (OTP, TIMESTAMP)),
    ("request Cookie: __Host-namoid_session=%s", (SESSION,)),
    ("kyc for %s (also %s, %s) org %s", (AADHAAR_SPACED, AADHAAR_PLAIN, AADHAAR_HYPHEN, UUID)),
    ("loaded key\n%s\ndone", (PEM,)),
    ("stray token %s in text", (RAW_TOKEN,)),
]

LOGGERS = [
    "namoid",
    "namoid.x",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "sqlalchemy.engine",
    "alembic",
    "httpx",
]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Give each test the process-wide logging state back as it found it."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved = {
        name: (list(lg.handlers), lg.propagate, lg.disabled, lg.level)
        for name in (*ROUTED_LOGGERS, *LOGGERS)
        for lg in [logging.getLogger(name)]
    }
    yield
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    for name, (handlers, propagate, disabled, level) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.propagate, lg.disabled = propagate, disabled
        lg.setLevel(level)


@dataclass
class Captured:
    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()


def _configure(json_format: bool, level: str = "DEBUG") -> Captured:
    stream = io.StringIO()
    configure_logging(level, json_format, stream=stream)
    return Captured(stream)


def _log_everything(name: str) -> None:
    log = logging.getLogger(name)
    for message, args in MESSAGES:
        log.info(message, *args)
    try:
        raise ValueError(f"upstream rejected refresh_token={EXCEPTION_TOKEN} (Bearer {EXCEPTION_TOKEN})")
    except ValueError:
        log.exception("refresh failed for state %s", STATE)


def _assert_clean(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"leaked {leaked}"
    assert REDACTED in text
    missing = [part for part in SURVIVORS if part not in text]
    assert not missing, f"over-redacted {missing}"


# --- every logger, both formats ------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("name", LOGGERS)
@pytest.mark.parametrize("json_format", [True, False], ids=["json", "dev"])
def test_secrets_never_reach_the_output(name: str, json_format: bool) -> None:
    out = _configure(json_format)
    logging.getLogger(name).setLevel(logging.INFO)  # SQLAlchemy defaults its loggers to WARNING
    _log_everything(name)
    _assert_clean(out.text)
    assert out.text.count("refresh failed") == 1
    assert f"ValueError: upstream rejected refresh_token={REDACTED}" in out.text


@pytest.mark.usefixtures("restore_logging")
def test_json_lines() -> None:
    out = _configure(json_format=True)
    token = request_id_var.set("req-42")
    try:
        _log_everything("namoid.oauth")
    finally:
        request_id_var.reset(token)
    entries = [json.loads(line) for line in out.text.splitlines()]
    assert len(entries) == len(MESSAGES) + 1
    for entry in entries:
        assert {"time", "level", "logger", "request_id", "message"} <= set(entry)
        assert entry["time"].endswith("Z") and entry["time"][10] == "T"
        assert (entry["level"], entry["logger"], entry["request_id"]) in {
            ("INFO", "namoid.oauth", "req-42"),
            ("ERROR", "namoid.oauth", "req-42"),
        }
    assert entries[-1]["exception"].startswith("Traceback")
    access_line = f'127.0.0.1:51234 - "GET {PATH}?code={REDACTED}&state={STATE} HTTP/1.1" 302'
    assert entries[7]["message"] == access_line


@pytest.mark.usefixtures("restore_logging")
def test_dev_format_line() -> None:
    out = _configure(json_format=False)
    logging.getLogger("namoid.web").warning("hello %s", "world")
    line = out.text.strip()
    stamp, level, name, request_id, message = line.split(" ", 4)
    assert stamp.endswith("Z") and stamp[10] == "T"
    assert (level, name, request_id, message) == ("WARNING", "namoid.web", "[-]", "hello world")


@pytest.mark.usefixtures("restore_logging")
def test_configure_is_idempotent_and_respects_level() -> None:
    first = _configure(json_format=False)
    second = _configure(json_format=True, level="warning")
    ours = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]
    assert len(ours) == 1
    logging.getLogger("namoid").info("quiet")
    logging.getLogger("namoid").warning("loud")
    assert first.text == ""
    assert [json.loads(line)["message"] for line in second.text.splitlines()] == ["loud"]


@pytest.mark.usefixtures("restore_logging")
def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("LOUD", json_format=False)


@pytest.mark.usefixtures("restore_logging")
def test_library_handlers_are_removed() -> None:
    private = io.StringIO()
    logging.getLogger("sqlalchemy.engine.Engine").addHandler(logging.StreamHandler(private))  # like echo=True
    logging.getLogger("sqlalchemy.engine.Engine").setLevel(logging.INFO)
    logging.getLogger("uvicorn.access").propagate = False
    out = _configure(json_format=False)
    logging.getLogger("sqlalchemy.engine.Engine").info("params %s", {"password": PASSWORD})
    logging.getLogger("uvicorn.access").info("%s", f"/cb?code={QUERY_CODE}")
    assert private.getvalue() == ""
    assert PASSWORD not in out.text and QUERY_CODE not in out.text
    assert out.text.count(REDACTED) == 2


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("use_colors", [None, True, False])
def test_uvicorn_config_routes_to_the_root_handler(use_colors: bool | None) -> None:
    out = _configure(json_format=True)

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover - never served
        return None

    uvicorn.Config(app, log_config=uvicorn_log_config(), log_level="info", use_colors=use_colors)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert logging.getLogger(name).handlers == []
        assert logging.getLogger(name).propagate
    access = logging.getLogger("uvicorn.access")
    assert access.hasHandlers()  # uvicorn only writes access lines if this is true
    access.info(ACCESS_FORMAT, "10.0.0.1:5000", "GET", f"{PATH}?code={QUERY_CODE}&state={STATE}", "1.1", 302)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    [first, second] = [json.loads(line) for line in out.text.splitlines()]
    assert first["message"] == f'10.0.0.1:5000 - "GET {PATH}?code={REDACTED}&state={STATE} HTTP/1.1" 302'
    assert second["message"] == "Started server process [4242]"


R = REDACTED


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (
            "/o/acme/authorize?client_id=c1&login_hint=asha%40acme.example&state=s1",
            f"/o/acme/authorize?client_id=c1&login_hint={R}&state=s1",
        ),
        (
            "/o/acme/logout?id_token_hint=x&post_logout_redirect_uri=https%3A%2F%2Frp.example%2F",
            f"/o/acme/logout?id_token_hint={R}&post_logout_redirect_uri=https%3A%2F%2Frp.example%2F",
        ),
        ("/x?email=asha%40acme.example&phone=%2B919876543210", f"/x?email={R}&phone={R}"),
        ("/x?Login_Hint=a&login%5Fhint=b&scope=openid", f"/x?Login_Hint={R}&login%5Fhint={R}&scope=openid"),
        ("/x?claims=%7B%7D&nonce=n&req=h&prompt=login", f"/x?claims={R}&nonce={R}&req={R}&prompt=login"),
        ("/x?login_hint&login_hint=&a=b=c", f"/x?login_hint&login_hint=&a={R}"),
        ("/healthz", "/healthz"),
        ("/o/acme/login?", "/o/acme/login?"),
    ],
)
def test_access_log_targets_keep_only_allow_listed_values(target: str, logged: str) -> None:
    assert access_log_target(target) == logged


@pytest.mark.usefixtures("restore_logging")
def test_access_log_lines_carry_no_login_hint() -> None:
    out = _configure(json_format=False)
    target = "/o/acme/authorize?client_id=c1&login_hint=asha%40acme.example&phone=%2B919876543210"
    logging.getLogger("uvicorn.access").info(ACCESS_FORMAT, "10.0.0.1:5000", "GET", target, "1.1", 303)
    logging.getLogger("namoid").info("not an access line: %s %s %s", "a", "b", "/x?login_hint=kept")
    assert "asha" not in out.text and "919876543210" not in out.text
    logged = f"/o/acme/authorize?client_id=c1&login_hint={REDACTED}&phone={REDACTED}"
    assert f'"GET {logged} HTTP/1.1" 303' in out.text
    assert "/x?login_hint=kept" in out.text


@pytest.mark.usefixtures("restore_logging")
def test_extras_are_redacted() -> None:
    out = _configure(json_format=True)
    logging.getLogger("namoid").info(
        "client authenticated",
        extra={
            "client_secret": CLIENT_SECRET,
            "detail": {"password": PASSWORD, "note": f"Bearer {BEARER_TOKEN}", "attempts": 3},
            "items": [JWT, 7],
            "status_code": 200,
        },
    )
    entry = json.loads(out.text)
    assert entry["extra"] == {
        "client_secret": REDACTED,
        "detail": {"password": REDACTED, "note": f"Bearer {REDACTED}", "attempts": 3},
        "items": [REDACTED, 7],
        "status_code": 200,
    }


def test_broken_format_args_do_not_leak() -> None:
    # Called directly: pytest's own capture handler re-raises logging errors.
    args = (f"password={PASSWORD}",)
    record = logging.LogRecord("namoid", logging.INFO, __file__, 1, "count %d", args, None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "count %d [log arguments could not be formatted]"


@pytest.mark.usefixtures("restore_logging")
def test_stack_info_is_redacted() -> None:
    out = _configure(json_format=False)
    logging.getLogger("namoid").info("with stack", stack_info=True)  # client_secret=7Fjfp0ZBr1KtDRbnfVdmIw
    assert "Stack (most recent call last)" in out.text
    assert f"client_secret={REDACTED}" in out.text
    assert CLIENT_SECRET not in out.text


def test_filter_sets_request_id_and_freezes_the_message() -> None:
    args = (AUTH_CODE, STATE)
    record = logging.LogRecord("namoid", logging.INFO, __file__, 1, "code=%s state=%s", args, None)
    token = request_id_var.set("r-1")
    try:
        assert RedactingFilter().filter(record)
    finally:
        request_id_var.reset(token)
    assert record.args is None
    assert record.getMessage() == f"code={REDACTED} state={STATE}"
    assert record.__dict__["request_id"] == "r-1"


# --- redact() itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", f"Authorization: {REDACTED}"),
        ("proxy-authorization: Negotiate abc", f"proxy-authorization: {REDACTED}"),
        (f"sent Bearer {BEARER_TOKEN}", f"sent Bearer {REDACTED}"),
        (f"DPoP {JWT}", f"DPoP {REDACTED}"),
        (f"x {JWT} y", f"x {REDACTED} y"),
        (f"jwe {JWE}", f"jwe {REDACTED}"),
        (f"Basic {BASIC_CREDENTIALS}", f"Basic {REDACTED}"),
        ("Basic user:pass", f"Basic {REDACTED}"),
        ("Basic settings loaded", "Basic settings loaded"),
        ('WWW-Authenticate: Bearer error="invalid_token"', 'WWW-Authenticate: Bearer error="invalid_token"'),
        ("?code=abc&state=xyz", f"?code={REDACTED}&state=xyz"),
        (
            "redirect=https://rp.example/cb?code=abc&state=xyz",
            f"redirect=https://rp.example/cb?code={REDACTED}&state=xyz",
        ),
        ('{"client_secret": "x"}', f'{{"client_secret": "{REDACTED}"}}'),
        ('{"otp": 123456, "ok": true}', f'{{"otp": {REDACTED}, "ok": true}}'),
        ("{'Password': 'p w'}", f"{{'Password': '{REDACTED}'}}"),
        ("code_verifier=dBjftJeZ4CVP", f"code_verifier={REDACTED}"),
        ("client_assertion=a.b&assertion_type=x", f"client_assertion={REDACTED}&assertion_type={REDACTED}"),
        ("pin: 4321, mpin=9876", f"pin: {REDACTED}, mpin={REDACTED}"),
        ("X-Api-Key: k123", f"X-Api-Key: {REDACTED}"),
        ("apiKey=k123 privateKey=p", f"apiKey={REDACTED} privateKey={REDACTED}"),
        ("aadhaar_number=2345 6789 0123", f"aadhaar_number={REDACTED}"),
        ("user[password]=x&user[name]=asha", f"user[password]={REDACTED}&user[name]=asha"),
        ("Set-Cookie: __Host-namoid_session=abc; Path=/; Secure", f"Set-Cookie: {REDACTED}"),
        ("session_id=abc", f"session_id={REDACTED}"),
        ('password="unterminated', f'password="{REDACTED}'),
        ('"{\\"password\\": \\"x\\"}"', f'"{{\\"password\\": \\"{REDACTED}\\"}}"'),
        ("Your OTP is 482913.", f"Your OTP is {REDACTED}."),
        ("one-time password: 4829", f"one-time password: {REDACTED}"),
        ("id 2345 6789 0123.", f"id {REDACTED}."),
        ("ids 234567890123,3456-7890-1234", f"ids {REDACTED},{REDACTED}"),
        ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", REDACTED),
        ("hmac-sha256$" + "ab" * 32, REDACTED),
        ("v1.k-20261129-3f9a.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBB", REDACTED),
        (f"token {RAW_TOKEN}.", f"token {REDACTED}."),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        UUID,
        UUID.upper(),
        f"org {UUID}",
        TIMESTAMP,
        "2026-11-29T10:15:30.123456+05:30",
        "/work/main/namoid/crypto/keyring.py:120",
        "status_code=302 statusCode: 404 error_code=invalid_grant",
        "token_type=Bearer token_type_hint=refresh_token code_challenge_method=S256",
        "state=xyz&nonce=n-0S6_WzA2Mj&scope=openid%20email",
        "grant_type=authorization_code",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "key k-20261129-3f9a activated",
        "1234567890123 and 123456789012 and 2345678901234",
        "pincode=560001 mapping=a spinner=b",
        "HTTP/1.1 302 Found",
        "took 23.5 ms",
        "client_id=s6BhdRkqt3Kx9aQ2mZ7wPe",
        "see https://namoid.example/o/acme/.well-known/openid-configuration",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "snake_case_identifier_that_is_quite_long_indeed",
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert redact(text) == text


def test_pem_private_keys() -> None:
    for kind in ("", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "):
        block = f"-----BEGIN {kind}PRIVATE KEY-----\nMIIEabc\n-----END {kind}PRIVATE KEY-----"
        assert redact(f"before\n{block}\nafter") == f"before\n{REDACTED}\nafter"
    truncated = f"-----BEGIN {'PRIVATE'} KEY-----\nMIIEabc (cut off"
    assert redact(f"x {truncated}") == f"x {REDACTED}"


def test_redact_is_fast_on_hostile_input() -> None:
    hostile = [
        "a" * 100_000,
        "=" * 100_000,
        '"' * 100_000,
        "password=" * 10_000,
        "a." * 50_000,
        "eyJ" + ".a" * 50_000,
        "'k': " * 20_000,
        "-----BEGIN PRIVATE KEY-----" * 3_000,
        "2345 " * 20_000,
        "Bearer " * 15_000,
        '\\"' * 50_000,
    ]
    for text in hostile:
        start = time.perf_counter()
        redact(text)
        assert time.perf_counter() - start < 2, text[:20]


_FRAGMENTS = st.sampled_from(
    [
        "password",
        "code",
        "state",
        "token",
        "otp",
        "Bearer",
        "Basic",
        "Authorization",
        "Cookie",
        "eyJ",
        "aadhaar",
        "OTP is ",
        "DPoP",
        "Set-",
        "user:pw",
        "a456-",
        "1234",
        "=",
        ":",
        ": ",
        "&",
        "?",
        " ",
        "\n",
        '"',
        "'",
        "\\",
        "b'",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ".",
        "-",
        "_",
        "2345",
        "6789",
        "0123",
        "123456",
        REDACTED,
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "v1.k-1.",
        "AAAAAAAAAAAAAAAA",
        "$argon2id$",
        "hmac-sha256$",
        "dXNlcjpwYXNz",
        "N3v3rL0gM3",
        "abcDEF123",
    ]
)
_MIXED = st.lists(_FRAGMENTS | st.text(max_size=4), max_size=30).map("".join)


@settings(max_examples=300)
@given(st.text() | _MIXED)
def test_redact_never_raises_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
