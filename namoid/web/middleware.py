"""Pure-ASGI middleware of the public app (DESIGN.md §7): request context, security headers, body caps.

Suggested order, outermost first: ``RequestContextMiddleware``, ``SecurityHeadersMiddleware``,
``BodySizeLimitMiddleware``, so the 400/413 answers of the body cap carry the security
headers and the request id too.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Sequence

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from namoid.audit import RequestMeta, request_meta_var
from namoid.logs import request_id_var

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

USER_AGENT_MAX = 512
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_DIGITS = re.compile(r"[0-9]+")

SECURITY_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_ENCODED_SECURITY_HEADERS = [
    (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()
]


# --- helpers ------------------------------------------------------------------------------


def _response_headers(message: Message) -> list[tuple[bytes, bytes]]:
    """The mutable header list of an ``http.response.start`` message (ASGI makes it optional)."""
    headers = list(message.get("headers", ()))
    message["headers"] = headers
    return headers


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-ID`` when well-formed (8-64 of ``A-Za-z0-9._-``), else a fresh one."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return secrets.token_hex(8)


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Trusted proxy IPs or CIDRs as networks; ValueError names a malformed entry."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _parse_ip(text: str) -> IPAddress | None:
    """An address from a peer or forwarded hop: bare, ``v4:port`` or ``[v6]:port``; None if malformed."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str | None:
    """The client address: the socket peer, unless that peer is one of our proxies.

    Only hops appended by trusted proxies are believed (RFC 7239 §8.3, §8.4: forwarding
    headers are trivially spoofed): walking ``X-Forwarded-For`` right to left, the first
    address outside the trusted networks is the client. A malformed hop stops the walk at
    the last address vouched for; if every hop is trusted, the left-most one is returned.
    """
    if peer is None:
        return None
    current = _parse_ip(peer)
    if current is None:
        return peer
    if not _is_trusted(current, trusted):
        return str(current)
    hops = [hop for line in forwarded_for for hop in line.split(",")]
    for hop in reversed(hops):
        address = _parse_ip(hop)
        if address is None:
            break
        current = address
        if not _is_trusted(current, trusted):
            break
    return str(current)


def declared_length(headers: Headers) -> int | None:
    """The declared ``Content-Length`` (RFC 9110 §8.6: 1*DIGIT), None if absent.

    ValueError if malformed or if several lines disagree (RFC 9112 §6.3).
    """
    values = {value.strip() for line in headers.getlist("content-length") for value in line.split(",")}
    if not values:
        return None
    value = values.pop()
    if values or not _DIGITS.fullmatch(value):
        raise ValueError("malformed Content-Length")
    return int(value)


#: Builds the response refusing a request body: (status, description) → response.
RefusalFactory = Callable[[int, str], Response]


def _oauth_error(status_code: int, description: str) -> Response:
    """An RFC 6749 §5.2-style JSON error (``invalid_request``), never cached."""
    body = {"error": "invalid_request", "error_description": description}
    return JSONResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


# --- request context ----------------------------------------------------------------------


class RequestContextMiddleware:
    """Request id, client IP and user agent for logs and audit entries (DESIGN.md §5, §7).

    Sets ``namoid.logs.request_id_var`` and ``namoid.audit.request_meta_var`` for the
    duration of the request, mirrors them on ``scope["state"]`` and answers with
    ``X-Request-ID``.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: list[str]) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    def _meta(self, scope: Scope) -> RequestMeta:
        headers = Headers(scope=scope)
        client = scope.get("client")
        return RequestMeta(
            ip=client_ip(client[0] if client else None, headers.getlist("x-forwarded-for"), self.trusted),
            user_agent=headers.get("user-agent", "")[:USER_AGENT_MAX] or None,
            request_id=request_id_from(headers.get("x-request-id")),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        meta = self._meta(scope)
        request_id = meta.request_id or request_id_from(None)  # always set by _meta
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = meta.ip
        raw_id = request_id.encode("ascii")  # the pattern or token_hex: ASCII, no CR/LF

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = _response_headers(message)
                headers[:] = [(k, v) for k, v in headers if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", raw_id))
            await send(message)

        id_token = request_id_var.set(request_id)
        meta_token = request_meta_var.set(meta)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_meta_var.reset(meta_token)
            request_id_var.reset(id_token)


# --- security headers ---------------------------------------------------------------------


class SecurityHeadersMiddleware:
    """Add ``SECURITY_HEADERS`` to every HTTP response, keeping any the app set itself (DESIGN.md §7).

    An exception escaping the app before its response started is answered here with a plain
    500 (then re-raised, so it is still logged): added with ``app.add_middleware``, this
    middleware sits inside Starlette's ServerErrorMiddleware, whose 500 would otherwise go
    out without these headers. Wrap the whole app instead to keep a custom 500 handler.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = _response_headers(message)
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in _ENCODED_SECURITY_HEADERS if item[0] not in present)
            await send(message)

        try:
            await self.app(scope, receive, send_secured)
        except Exception:
            if started:
                raise
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send_secured)
            raise


# --- body size limit ----------------------------------------------------------------------


class _BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes the cap."""


class _CappedExchange:
    """One request whose body is counted while streaming; past the cap, answer 413 and stop."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, max_bytes: int, refuse: RefusalFactory
    ) -> None:
        self._scope, self._receive, self._send, self._max = scope, receive, send, max_bytes
        self._refusal = refuse
        self.received = 0
        self.started = False
        self.refused = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self._max:
                await self._refuse()
                raise _BodyTooLarge
        return message

    async def _refuse(self) -> None:
        if self.started:
            return
        self.started = self.refused = True
        await self._refusal(413, "request body too large")(self._scope, self._receive, self._send)

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # our 413 went out; whatever the app answers to the aborted read is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodySizeLimitMiddleware:
    """Cap request bodies at ``max_bytes`` (DESIGN.md §7).

    A declared ``Content-Length`` over the cap gets 413 before the app runs (body unread); a
    malformed one gets 400; an undeclared (chunked) body is counted while streaming and cut
    off with 413 if the response has not started yet.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        path_caps: Sequence[tuple[re.Pattern[str], int]] = (),
        refuse: RefusalFactory = _oauth_error,
    ) -> None:
        if max_bytes < 0 or any(cap < 0 for _, cap in path_caps):
            raise ValueError("max_bytes must be >= 0")
        self.app = app
        #: The refusal in the app's own error format (an OAuth-style JSON error by default).
        self.refuse = refuse
        self.max_bytes = max_bytes
        #: Routes with a cap of their own (e.g. the offline e-KYC upload), by full path.
        self.path_caps = tuple(path_caps)

    def cap_for(self, path: str) -> int:
        return next((cap for pattern, cap in self.path_caps if pattern.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.cap_for(scope.get("path", ""))
        try:
            declared = declared_length(Headers(scope=scope))
        except ValueError:
            await self.refuse(400, "malformed Content-Length")(scope, receive, send)
            return
        if declared is not None and declared > max_bytes:
            await self.refuse(413, "request body too large")(scope, receive, send)
            return
        exchange = _CappedExchange(scope, receive, send, max_bytes, self.refuse)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except _BodyTooLarge:
            if not exchange.refused:
                raise
