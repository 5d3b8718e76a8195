"""A raised security event reaches a subscribed receiver as a signed SET (RFC 8417, RFC 8935)."""

from __future__ import annotations

from pathlib import Path

import httpx

from namoid import audit, events
from namoid.events import webhooks
from namoid.events.delivery import EventDelivery
from namoid.jose import jwt
from namoid.outbound import policy_for
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy.resolve import issuer_for
from tests.features.conftest import ADMIN
from tests.receiver import receiver


async def test_event_is_delivered_as_a_signed_set(
    services: Services, org: Organization, http: httpx.AsyncClient, receiver_tls: tuple[Path, Path]
) -> None:
    with receiver(cert=receiver_tls) as rx:
        await webhooks.add(services.db, org.id, rx.url, policy=policy_for(services.settings), actor=ADMIN)
        async with services.db.tenant(org.id) as session:
            event = await events.raise_event(
                session,
                org.id,
                "user.disabled",
                actor=audit.Actor("admin", "test"),
                subject=events.user_subject("u-1"),
                detail={"reason": "test"},
            )
        delivery = EventDelivery(services)
        try:
            report = await delivery.run(orgs=[org])
            again = await delivery.run(orgs=[org])
        finally:
            await delivery.close()
    assert (report.delivered, again.delivered) == (1, 0)
    [(headers, token)] = rx.received
    assert headers["content-type"] == "application/secevent+jwt"
    jwks = (await http.get(f"/o/{org.slug}/jwks.json")).json()
    issuer = issuer_for(services.settings.base_url, org.slug)
    # RFC 8417 §2.3: explicitly typed; signed with the org's published key; no exp (§2.2).
    claims = jwt.verify(
        token,
        jwks["keys"],
        algorithms=("RS256",),
        issuer=issuer,
        audience=rx.url,
        typ="secevent+jwt",
        expires=False,
    )
    assert jwt.unverified_header(token)["typ"] == "secevent+jwt" and "exp" not in claims
    assert claims["iss"] == issuer
    assert claims["jti"] == event.id.hex
    assert claims["aud"] == rx.url
    assert claims["sub_id"] == {"format": "iss_sub", "iss": issuer, "sub": "u-1"}
    [(event_type, payload)] = claims["events"].items()
    assert event_type == "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
    assert payload["reason"] == "test"
