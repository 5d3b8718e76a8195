"""Connecting and disconnecting a provider from the account console (issue 12's open gap):
a connect trip starts only from a CSRF-protected POST after a fresh sign-in, never from a
GET; disconnect revokes upstream, destroys the tokens and withdraws the consent."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import func, select

from namoid.privacy import consent_ledger
from namoid.storage.models import AuditEntry, ProviderAuthorization, ProviderConnection, UpstreamProvider
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import Flow
from tests.features.providers.test_signin_flow import _callback, _start_connect
from tests.hostile_upstream import Upstream


async def _trips(flow: Flow) -> int:
    async with flow.services.db.tenant(flow.org.id) as session:
        count = await session.scalar(select(func.count()).select_from(ProviderAuthorization))
        return int(count or 0)


async def _links(flow: Flow) -> int:
    async with flow.services.db.tenant(flow.org.id) as session:
        return int(await session.scalar(select(func.count()).select_from(ProviderConnection)) or 0)


def _console(flow: Flow) -> ConsoleBrowser:
    return ConsoleBrowser(flow.http, flow.services, flow.org, flow.user)


async def test_a_get_no_longer_starts_a_connect_trip(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    await _console(flow).open()
    for method in ("GET", "POST"):
        response = await flow.http.request(method, f"{flow.base}/providers/up/connect")
        assert response.status_code in (404, 405)
    assert (await flow.http.get(f"{flow.base}/account/providers/up/connect")).status_code == 405
    assert await _trips(flow) == 0


async def test_a_forged_or_stale_connect_post_starts_nothing(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    console = _console(flow)
    fields = await console.form("/providers")
    forged = await console.post("/providers/up/connect", {"csrf_token": "forged"})
    assert forged.status_code == 403
    await console.age_sign_in(301)
    stale = await console.post("/providers/up/connect", fields)
    assert stale.status_code == 403 and "Confirm it is you" in stale.text
    assert await _trips(flow) == 0


async def test_connect_from_the_console_then_disconnect(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    console = _console(flow)
    page = await console.open("/providers")
    assert "Connect up" in page.text
    # CSP form-action applies to the redirect after the form: the upstream's origin is allowed.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(upstream.issuer))
    assert f"form-action 'self' {origin};" in page.headers["content-security-policy"]
    trip = await _start_connect(flow, upstream)
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub="console-user"))
    connected = await _callback(flow, upstream, state=trip.state)
    assert connected.status_code == 200 and "up is connected" in connected.text
    assert f'href="{console.base}/providers"' in connected.text
    listed = await console.open("/providers")
    assert "Connected on" in listed.text and "Disconnect up" in listed.text
    assert upstream.access_token not in listed.text
    fields = await console.form("/providers")
    done = await console.post("/providers/up/disconnect", {"csrf_token": fields["csrf_token"]})
    assert done.status_code == 200 and "up was disconnected." in done.text
    assert await _links(flow) == 0
    assert [path for _, path, _, _ in upstream.requests if path == "/revoke"]
    records = await consent_ledger.list_records(flow.services.db, flow.org.id, user_id=flow.user.id)
    assert [(r.event, r.withdrawn_by) for r in records] == [("granted", None), ("withdrawn", "user")]
    async with flow.services.db.tenant(flow.org.id) as session:
        actions = set(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == flow.org.id))
        )
    assert "provider.disconnected" in actions
    again = await console.post("/providers/up/disconnect", {"csrf_token": fields["csrf_token"]})
    assert again.status_code == 200 and "up was not connected." in again.text
