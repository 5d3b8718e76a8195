"""The guarded httpx client: checked, pinned, bounded outbound HTTP (DESIGN.md §8).

Pinning: httpcore asks its network backend to open a TCP connection to a host. Ours
resolves the host once, refuses the connection unless every address is allowed, and
connects to one of exactly those addresses. TLS then runs on that socket against the
URL's host name (SNI and certificate name check), so there is no second lookup an
attacker's DNS could answer differently (no DNS rebinding window). A pooled connection is
reused only for the same scheme, host and port, which were checked when it was opened.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Final

import httpcore
import httpx

from namoid.outbound.policy import OutboundPolicy, ResolutionFailed

DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RESPONSE_BYTES: Final = 1024 * 1024
#: httpx's own defaults, stated: an idle connection (pinned when it was opened) lives 5 s at most.
LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class ResponseTooLarge(Exception):
    """The response body went past the client's size cap; the rest was not read."""


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """The system's trust store (plus ``ca_file``), certificate and host name checked, TLS 1.2+."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy checked, found by one lookup per connection."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._sockets = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._policy.addresses_for(host, port)
        except ResolutionFailed as exc:
            raise httpcore.ConnectError(str(exc)) from None
        connect = functools.partial(
            self._sockets.connect_tcp,
            port=port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        for address in addresses[:-1]:  # each was checked; the first that answers is the one
            try:
                return await connect(str(address))
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await connect(str(addresses[-1]))

    async def sleep(self, seconds: float) -> None:
        await self._sockets.sleep(seconds)


class _CappedStream(httpx.AsyncByteStream):
    """A response body that stops at ``max_bytes`` and at the exchange's deadline."""

    def __init__(self, inner: httpx.AsyncByteStream, max_bytes: int, deadline: float) -> None:
        self._inner, self._max_bytes, self._deadline = inner, max_bytes, deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        chunks = aiter(self._inner)
        while True:
            async with asyncio.timeout_at(self._deadline):
                chunk = await anext(chunks, None)
            if chunk is None:
                return
            received += len(chunk)
            if received > self._max_bytes:
                raise ResponseTooLarge(f"the response body is larger than {self._max_bytes} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over the pinned backend; every request (every redirect hop) re-checked."""

    def __init__(
        self, policy: OutboundPolicy, *, ssl_context: ssl.SSLContext, max_response_bytes: int, deadline: float
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=LIMITS)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("this httpx keeps its connection pool elsewhere: pinning would be lost")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=_PinnedBackend(policy),
        )
        self._policy, self._max_response_bytes, self._deadline = policy, max_response_bytes, deadline

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        deadline = asyncio.get_running_loop().time() + self._deadline
        async with asyncio.timeout_at(deadline):
            response = await super().handle_async_request(request)
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self._max_response_bytes:
            await response.aclose()
            raise ResponseTooLarge(f"the response announces {length} bytes, over {self._max_response_bytes}")
        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport answered with a synchronous body")
        response.stream = _CappedStream(response.stream, self._max_response_bytes, deadline)
        return response


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ca_file: Path | None = None,
    follow_redirects: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that only reaches what ``policy`` allows.

    ``timeout`` bounds each connect, read, write and pool wait; ``deadline`` (default twice
    ``timeout``) the whole of one exchange, body included, so a receiver dripping one byte
    at a time cannot hold it. Bodies over ``max_response_bytes`` raise ResponseTooLarge.
    Redirects are followed only with ``follow_redirects``, each hop checked like the first.
    A refused destination raises DestinationRefused (not an httpx error: retrying will not help).
    """
    transport = GuardedTransport(
        policy,
        ssl_context=tls_context(ca_file),
        max_response_bytes=max_response_bytes,
        deadline=deadline if deadline is not None else 2 * timeout,
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=follow_redirects,
        trust_env=False,
        headers=headers,
    )
