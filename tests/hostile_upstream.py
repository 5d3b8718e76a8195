"""A small OpenID Connect provider the test controls, served with TLS on 127.0.0.1.

It answers discovery, JWKS, token and userinfo requests with what the test put in
``Upstream`` (documents, the ID token to hand out) and can misbehave: ``slow`` (never
answers), ``oversized`` (a megabyte of JSON), ``redirect`` (every answer a 302 to the cloud
metadata address). It also plays GitHub's user and emails APIs (``github_user``,
``github_emails``). With ``form_post_subject`` set, its authorization endpoint signs that
subject in at once, like Apple: a page that POSTs ``code`` and ``state`` to the redirect URI
(``response_mode=form_post``), with the ID token for the request's nonce ready. ID tokens
are minted by the test with ``sign`` (a real key), or forged with ``forge`` (``alg: none``,
HS256 keyed with the public key, a flipped signature).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from namoid.jose import jwt
from namoid.jose.keys import generate_signing_key, load_private_key
from tests.audit_scan import upstream_issued

Behaviour = Literal["normal", "slow", "oversized", "redirect"]
METADATA_URL = "https://169.254.169.254/latest/meta-data/"
CLIENT_ID = "namoid-client"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Upstream:
    issuer: str
    behaviour: Behaviour = "normal"
    discovery_issuer: str | None = None
    id_token: str | None = None
    form_post_subject: str | None = None
    access_token: str = field(default_factory=lambda: upstream_issued(secrets.token_urlsafe(32)))
    #: GitHub's ``GET /user`` and ``GET /user/emails`` (a private email: ``email`` is null).
    github_user: dict[str, Any] = field(default_factory=lambda: {"id": 4242, "login": "octo", "email": None})
    github_emails: object = field(default_factory=list)
    #: The ``scope`` of the token response, if any (GitHub's is comma-delimited).
    token_scope: str | None = None
    requests: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        key = generate_signing_key("RS256")
        self.public_jwk = key.public_jwk
        self._key = load_private_key(key.kid, "RS256", key.private_pem)
        self.jwks: list[dict[str, Any]] = [key.public_jwk]

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "revocation_endpoint": f"{self.issuer}/revoke",
        }

    def claims(self, expected_nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "sub": "hostile-user",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": expected_nonce,
        }
        return {k: v for k, v in (base | overrides).items() if v is not None}

    def sign(self, claims: dict[str, Any]) -> str:
        return upstream_issued(jwt.sign(claims, self._key))

    def form_post_page(self, query: str) -> str:
        """The authorization endpoint's answer: sign ``form_post_subject`` in, POST back at once."""
        params = {k: v[0] for k, v in parse_qs(query).items()}
        self.id_token = self.sign(self.claims(params.get("nonce", ""), sub=self.form_post_subject))
        fields = {"code": self.new_code(), "state": params.get("state", "")}
        inputs = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items()
        )
        action = html.escape(params.get("redirect_uri", ""))
        return (
            f'<!doctype html><form method="post" action="{action}">{inputs}</form>'
            "<script>document.forms[0].submit()</script>"
        )

    @staticmethod
    def new_code() -> str:
        """An authorization code, as the upstream would hand one to the browser."""
        return upstream_issued(secrets.token_urlsafe(32))

    def forge(self, claims: dict[str, Any], how: Literal["none", "hs256", "flipped"]) -> str:
        kid = self.public_jwk["kid"]
        if how == "flipped":
            head, body, signature = self.sign(claims).split(".")
            return f"{head}.{body}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
        alg = "none" if how == "none" else "HS256"
        signing_input = (
            f"{_b64(json.dumps({'alg': alg, 'kid': kid}).encode())}.{_b64(json.dumps(claims).encode())}"
        )
        if how == "none":
            return f"{signing_input}."
        secret = json.dumps(
            self.public_jwk, sort_keys=True
        ).encode()  # the "public key as HMAC secret" attack
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def hostile_upstream(cert: tuple[Path, Path], behaviour: Behaviour = "normal") -> Iterator[Upstream]:
    state: Upstream

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, status: int, document: object) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _serve(self, body: str) -> None:
            state.requests.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if state.behaviour == "slow":
                state.release.wait(30)
                return
            if state.behaviour == "redirect":
                self.send_response(302)
                self.send_header("Location", METADATA_URL)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.behaviour == "oversized":
                self._answer(200, {"padding": "x" * 1_000_000})
                return
            path = self.path.split("?")[0]
            if path == "/authorize" and state.form_post_subject is not None:
                page = state.form_post_page(urlsplit(self.path).query).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            elif path.endswith("/.well-known/openid-configuration"):
                self._answer(200, state.discovery())
            elif path == "/jwks":
                self._answer(200, {"keys": state.jwks})
            elif path == "/token":
                response = {"access_token": state.access_token, "token_type": "Bearer", "expires_in": 300}
                response |= {"scope": state.token_scope} if state.token_scope else {}
                self._answer(200, response | ({"id_token": state.id_token} if state.id_token else {}))
            elif path == "/user":
                self._answer(200, state.github_user)
            elif path == "/user/emails":
                self._answer(200, state.github_emails)
            elif path == "/userinfo":
                self._answer(200, {"sub": "hostile-user", "email": "victim@example.com"})
            elif path == "/revoke":
                self._answer(200, {})
            else:
                self._answer(404, {"error": "not_found", "error_description": "upstream internals"})

        def do_GET(self) -> None:
            self._serve("")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self._serve(self.rfile.read(length).decode())

    server = _Server(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state = Upstream(issuer=f"https://127.0.0.1:{server.server_address[1]}", behaviour=behaviour)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
