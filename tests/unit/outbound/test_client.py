"""The guarded client against real servers: pinning, TLS by name, redirects, size and time bounds.

127.0.0.2 stands in for a public address (the policies here allow it by name); 127.0.0.1 is
the internal address an attacker wants to reach. Both are loopback aliases a test can bind.
The dev certificate names localhost, 127.0.0.1 and ::1, never 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path

import httpx
import pytest

from namoid.crypto.tls import ensure_dev_certificate
from namoid.events.delivery import BATCH
from namoid.outbound import DestinationRefused, OutboundPolicy, ResponseTooLarge, guarded_client
from tests.e2e.test_server import free_port
from tests.receiver import receiver
from tests.resolver import ScriptedResolver, resolving

Tls = tuple[Path, Path]
OUTSIDE = "127.0.0.2"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return ensure_dev_certificate(tmp_path_factory.mktemp("outbound-tls"))


def allowing(*networks: str, resolve: ScriptedResolver | None = None) -> OutboundPolicy:
    allowed = tuple(ipaddress.ip_network(n) for n in networks)
    return OutboundPolicy(allowed_networks=allowed, resolve=resolve or ScriptedResolver({}))


async def test_the_connection_goes_to_the_address_that_was_checked(tls: Tls) -> None:
    """DNS rebinding: the first answer is allowed, every later one points inside. No second lookup."""
    port = free_port()
    dns = ScriptedResolver({"localhost": [[OUTSIDE], ["127.0.0.1"]]})
    policy = allowing(f"{OUTSIDE}/32", resolve=dns)
    with receiver(cert=tls, host=OUTSIDE, port=port) as checked, receiver(cert=tls, port=port) as inside:
        async with guarded_client(policy, ca_file=tls[0], timeout=2) as client:
            first = await client.post(f"https://localhost:{port}/events", content=b"set")
            assert first.status_code == 202 and dns.asked == ["localhost"]
            # the receiver closes each connection: the next request looks the name up again
            with pytest.raises(DestinationRefused, match=r"localhost \(127\.0\.0\.1\) is a loopback address"):
                await client.post(f"https://localhost:{port}/events", content=b"set")
    assert dns.asked == ["localhost", "localhost"]
    assert len(checked.received) == 1 and inside.received == []


async def test_the_certificate_is_checked_against_the_host_name(tls: Tls) -> None:
    dns = resolving({"localhost": OUTSIDE, "hooks.example.com": OUTSIDE})
    policy = allowing(f"{OUTSIDE}/32", resolve=dns)
    with receiver(cert=tls, host=OUTSIDE) as rx:
        port = rx.url.rsplit(":", 1)[1].split("/")[0]
        async with guarded_client(policy, ca_file=tls[0], timeout=2) as client:
            # the certificate names localhost, not 127.0.0.2: it is verified against the name
            assert (await client.post(f"https://localhost:{port}/e")).status_code == 202
            with pytest.raises(httpx.ConnectError, match="Hostname mismatch"):
                await client.post(f"https://hooks.example.com:{port}/e")  # same address, wrong name
        async with guarded_client(policy, timeout=2) as client:  # without the CA: untrusted
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.post(f"https://localhost:{port}/e")
    assert rx.server_names == ["localhost", "hooks.example.com", "localhost"]  # SNI: the URL's name
    assert len(rx.received) == 1


async def test_redirects_are_not_followed_unless_asked_and_each_hop_is_checked(tls: Tls) -> None:
    policy = allowing("127.0.0.1/32")
    with receiver("redirect", cert=tls) as hop, receiver(cert=tls) as target:
        async with guarded_client(policy, ca_file=tls[0], timeout=2) as client:
            assert (await client.post(hop.url)).status_code == 307  # not followed
        async with guarded_client(policy, ca_file=tls[0], timeout=2, follow_redirects=True) as client:
            with pytest.raises(DestinationRefused, match=r"169\.254\.169\.254 is a cloud metadata address"):
                await client.post(hop.url)
            hop.location = target.url.replace("https://", "http://")
            with pytest.raises(DestinationRefused, match="must be https"):
                await client.post(hop.url)
            hop.location = target.url
            assert (await client.post(hop.url, content=b"set")).status_code == 202
    assert len(hop.received) == 4 and target.tokens() == ["set"]


async def test_an_oversized_body_is_cut_off(tls: Tls) -> None:
    policy = allowing("127.0.0.1/32")
    with receiver("flood", cert=tls) as flood, receiver("reject", cert=tls) as small:
        async with guarded_client(policy, ca_file=tls[0], timeout=2, max_response_bytes=100_000) as client:
            began = time.monotonic()
            with pytest.raises(ResponseTooLarge, match="larger than 100000 bytes"):
                await client.post(flood.url)
            assert time.monotonic() - began < 2
        async with guarded_client(policy, ca_file=tls[0], timeout=2, max_response_bytes=10) as client:
            with pytest.raises(ResponseTooLarge, match="announces"):  # by its Content-Length, unread
                await client.post(small.url)


async def test_time_is_bounded(tls: Tls) -> None:
    policy = allowing("127.0.0.1/32")
    with receiver("hang", cert=tls) as hang, receiver("drip", cert=tls) as drip:
        async with guarded_client(policy, ca_file=tls[0], timeout=0.3) as client:
            began = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await client.post(hang.url)
            with pytest.raises(TimeoutError):  # a byte every 0.2 s never trips a 0.3 s read timeout
                await client.post(drip.url)
            assert time.monotonic() - began < 0.3 + 0.6 + 1


async def test_plain_http_only_in_dev_mode_and_only_to_loopback() -> None:
    with receiver() as rx:
        async with guarded_client(OutboundPolicy(allow_loopback=True), timeout=2) as client:
            assert (await client.post(rx.url)).status_code == 202
        async with guarded_client(allowing("127.0.0.1/32"), timeout=2) as client:
            with pytest.raises(DestinationRefused, match="must be https"):
                await client.post(rx.url)
    assert len(rx.received) == 1


async def test_a_delivery_batch_gets_its_connections_at_once(tls: Tls) -> None:
    """The pinned pool keeps httpx's limits: a batch of 50 SETs does not queue behind 10 sockets."""
    with receiver("hang", cert=tls) as rx:
        async with guarded_client(allowing("127.0.0.1/32"), ca_file=tls[0], timeout=3) as client:
            posts = [asyncio.create_task(client.post(rx.url, content=b"set")) for _ in range(BATCH)]
            began = time.monotonic()
            while len(rx.received) < BATCH and time.monotonic() - began < 2.5:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # the receiver counts in its own threads: poll it
            arrived = len(rx.received)
            rx.release.set()
            await asyncio.gather(*posts, return_exceptions=True)
    assert arrived == BATCH
