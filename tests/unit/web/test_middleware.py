"""The public app's middleware: security headers, request context, body caps (DESIGN.md §7)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from namoid.audit import request_meta_var
from namoid.logs import request_id_var
from namoid.web.middleware import (
    SECURITY_HEADERS,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
    client_ip,
    parse_networks,
)

PEER = ("1.2.3.4", 123)
PROXY = ("10.0.0.5", 4000)


def client_for(app: ASGIApp, peer: tuple[str, int] = PEER, *, raise_errors: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app, client=peer, raise_app_exceptions=raise_errors)
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get_list(name) == [value], name


# --- security headers ---------------------------------------------------------------------


async def ok(_: Request) -> Response:
    return PlainTextResponse("ok")


async def custom_csp(_: Request) -> Response:
    return PlainTextResponse(
        "ok", headers={"Content-Security-Policy": "default-src 'none'; form-action https:"}
    )


async def boom(_: Request) -> Response:
    raise RuntimeError("boom")


def headers_app(*, outermost: bool) -> ASGIApp:
    app = Starlette(routes=[Route("/ok", ok), Route("/csp", custom_csp), Route("/boom", boom)])
    if outermost:
        return SecurityHeadersMiddleware(app)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


@pytest.mark.parametrize("outermost", [False, True])
@pytest.mark.parametrize(("path", "status"), [("/ok", 200), ("/nowhere", 404), ("/boom", 500)])
async def test_security_headers_on_every_response(path: str, status: int, outermost: bool) -> None:
    async with client_for(headers_app(outermost=outermost), raise_errors=False) as client:
        response = await client.get(path)
    assert response.status_code == status
    assert_security_headers(response)


async def test_unhandled_error_is_still_raised_for_logging() -> None:
    async with client_for(headers_app(outermost=False)) as client:
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/boom")


async def test_header_set_by_the_route_is_kept() -> None:
    async with client_for(headers_app(outermost=False)) as client:
        response = await client.get("/csp")
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'; form-action https:"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"


def test_csp_forbids_inline_script_and_framing() -> None:
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


# --- request context ----------------------------------------------------------------------


async def context_view(request: Request) -> Response:
    meta = request_meta_var.get()
    return JSONResponse(
        {
            "log_request_id": request_id_var.get(),
            "meta": None if meta is None else [meta.ip, meta.user_agent, meta.request_id],
            "state": [request.state.request_id, request.state.client_ip],
        }
    )


def context_app(trusted: list[str] | None = None) -> Starlette:
    app = Starlette(routes=[Route("/ctx", context_view)])
    app.add_middleware(RequestContextMiddleware, trusted_proxies=trusted or [])
    return app


async def get_context(
    headers: dict[str, str] | None = None, peer: tuple[str, int] = PEER, trusted: list[str] | None = None
) -> tuple[httpx.Response, dict[str, object]]:
    async with client_for(context_app(trusted), peer) as client:
        response = await client.get("/ctx", headers=headers)
    assert response.status_code == 200
    return response, response.json()


async def test_request_id_is_generated_and_visible_during_the_request() -> None:
    response, body = await get_context({"User-Agent": "probe/1.0"})
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 16 and int(request_id, 16) >= 0
    assert body == {
        "log_request_id": request_id,
        "meta": ["1.2.3.4", "probe/1.0", request_id],
        "state": [request_id, "1.2.3.4"],
    }


async def test_context_is_reset_after_the_request() -> None:
    await get_context()
    assert request_id_var.get() is None
    assert request_meta_var.get() is None


async def test_well_formed_request_id_is_propagated() -> None:
    response, body = await get_context({"X-Request-ID": "lb-7f3a.9_Z-0001"})
    assert response.headers["x-request-id"] == "lb-7f3a.9_Z-0001"
    assert body["log_request_id"] == "lb-7f3a.9_Z-0001"


@pytest.mark.parametrize(
    "incoming", ["short", "x" * 65, "has space in it", "<script>x</script>", "abcd/efgh", "abc;defgh=1", ""]
)
async def test_malformed_request_id_is_replaced(incoming: str) -> None:
    response, body = await get_context({"X-Request-ID": incoming})
    request_id = response.headers["x-request-id"]
    assert request_id != incoming and len(request_id) == 16
    assert body["log_request_id"] == request_id


async def test_user_agent_is_truncated() -> None:
    _, body = await get_context({"User-Agent": "a" * 2000})
    meta = body["meta"]
    assert isinstance(meta, list) and meta[1] == "a" * 512


async def test_request_id_header_on_404() -> None:
    async with client_for(context_app()) as client:
        response = await client.get("/nowhere", headers={"X-Request-ID": "req-00000001"})
    assert response.status_code == 404
    assert response.headers.get_list("x-request-id") == ["req-00000001"]


async def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    _, body = await get_context({"X-Forwarded-For": "203.0.113.9"}, peer=PEER, trusted=["10.0.0.0/8"])
    assert body["state"] == [body["log_request_id"], "1.2.3.4"]


async def test_forwarded_for_honoured_from_trusted_proxy() -> None:
    _, body = await get_context({"X-Forwarded-For": "203.0.113.9"}, peer=PROXY, trusted=["10.0.0.0/8"])
    meta = body["meta"]
    assert isinstance(meta, list) and meta[0] == "203.0.113.9"


TRUSTED = parse_networks(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("1.2.3.4", ["203.0.113.9"], "1.2.3.4"),  # untrusted peer: header ignored
        ("10.0.0.5", [], "10.0.0.5"),  # trusted proxy, no header: the proxy itself
        ("10.0.0.5", ["203.0.113.9"], "203.0.113.9"),
        ("192.0.2.1", ["203.0.113.9"], "203.0.113.9"),  # a single trusted IP, not a CIDR
        ("10.0.0.5", ["6.6.6.6, 203.0.113.9, 10.0.0.7"], "203.0.113.9"),  # client-supplied 6.6.6.6 ignored
        ("10.0.0.5", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),  # several header lines, in order
        ("10.0.0.5", ["10.1.1.1, 10.2.2.2"], "10.1.1.1"),  # every hop trusted: the left-most
        ("10.0.0.5", ["203.0.113.9, not-an-ip"], "10.0.0.5"),  # malformed hop: stop at the proxy
        ("10.0.0.5", ["203.0.113.9:5555"], "203.0.113.9"),
        ("2001:db8::1", ["[2001:db9::7]:443"], "2001:db9::7"),
        ("::ffff:10.0.0.5", ["203.0.113.9"], "203.0.113.9"),  # IPv4-mapped peer
        (None, ["203.0.113.9"], None),
    ],
)
def test_client_ip(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    assert client_ip(peer, forwarded, TRUSTED) == expected


def test_malformed_trusted_proxy_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        RequestContextMiddleware(context_app(), trusted_proxies=["10.0.0.0/8", "proxy.internal"])


# --- body size limit ----------------------------------------------------------------------

LIMIT = 100


async def echo(request: Request) -> Response:
    return JSONResponse({"received": len(await request.body())})


def limited_starlette() -> Starlette:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=LIMIT)
    return app


def limited_fastapi() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo_json(payload: dict[str, str]) -> dict[str, int]:
        return {"received": len(payload)}

    app.add_middleware(BodySizeLimitMiddleware, max_bytes=LIMIT)
    return app


async def chunks(count: int, size: int = 40) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


TOO_LARGE = {"error": "invalid_request", "error_description": "request body too large"}


async def test_small_body_passes() -> None:
    async with client_for(limited_starlette()) as client:
        exact = await client.post("/echo", content=b"x" * LIMIT)
        streamed = await client.post("/echo", content=chunks(2))
    assert exact.json() == {"received": LIMIT}
    assert streamed.json() == {"received": 80}


async def test_streamed_body_over_the_cap_is_cut_off() -> None:
    async with client_for(limited_starlette()) as client:
        response = await client.post("/echo", content=chunks(5))
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


async def test_streamed_body_over_the_cap_in_fastapi_route() -> None:
    """FastAPI turns a failed body read into its own 400; the 413 already sent wins."""

    async def big_json() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        async for chunk in chunks(5):
            yield chunk
        yield b'"}'

    async with client_for(limited_fastapi()) as client:
        small = await client.post("/echo", json={"a": "b"})
        response = await client.post(
            "/echo", content=big_json(), headers={"Content-Type": "application/json"}
        )
    assert small.json() == {"received": 1}
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


# Raw ASGI, to see that neither the app nor the body is touched.


async def raw_call(headers: list[tuple[bytes, bytes]]) -> tuple[list[Message], bool]:
    app_called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal app_called
        app_called = True

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/echo", "headers": headers}
    await BodySizeLimitMiddleware(app, max_bytes=LIMIT)(scope, receive, send)
    return sent, app_called


def status_and_body(sent: list[Message]) -> tuple[int, object]:
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def test_declared_body_over_the_cap_is_refused_unread() -> None:
    sent, app_called = await raw_call([(b"content-length", str(LIMIT + 1).encode())])
    assert not app_called
    assert status_and_body(sent) == (413, TOO_LARGE)
    assert (b"cache-control", b"no-store") in sent[0]["headers"]


@pytest.mark.parametrize(
    "lengths",
    [[b"abc"], [b"-1"], [b"1e3"], [b""], [b"+5"], [b"5 5"], [b"\xb2"], [b"5", b"6"], [b"5, 6"]],
)
async def test_malformed_content_length_is_400(lengths: list[bytes]) -> None:
    sent, app_called = await raw_call([(b"content-length", value) for value in lengths])
    assert not app_called
    status, body = status_and_body(sent)
    assert status == 400
    assert body == {"error": "invalid_request", "error_description": "malformed Content-Length"}


async def test_large_declared_body_is_413_through_the_stack() -> None:
    app = limited_starlette()
    app.add_middleware(SecurityHeadersMiddleware)
    async with client_for(app) as client:
        response = await client.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert_security_headers(response)


def test_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        BodySizeLimitMiddleware(limited_starlette(), max_bytes=-1)


async def test_app_that_keeps_reading_after_the_cap_gets_one_413() -> None:
    """An app swallowing the error and reading on must not produce a second response."""

    async def stubborn_app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(3):
            with contextlib.suppress(Exception):
                await receive()
        await PlainTextResponse("done")(scope, receive, send)

    async def endless_body() -> Message:
        return {"type": "http.request", "body": b"x" * 60, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await BodySizeLimitMiddleware(stubborn_app, max_bytes=LIMIT)(scope, endless_body, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert status_and_body(sent) == (413, TOO_LARGE)
