"""An org's own rate limits through the admin API (``ratelimit.overrides``): tighten-only for the
org's admins, honoured by the limiter at once, for that org only (issue 16)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from namoid.ratelimit import policies
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization
from tests.features.admin.conftest import API, admin_client, bearer, token_response
from tests.features.conftest import MakeClient


async def _token_statuses(
    http: httpx.AsyncClient, services: Services, client: object, times: int
) -> list[int]:
    return [(await token_response(http, services, client)).status_code for _ in range(times)]  # type: ignore[arg-type]


async def test_an_override_takes_effect_for_its_org_only(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    token: str,
    org: Organization,
    other_org: Organization,
    make_client: MakeClient,
) -> None:
    auth = bearer(token)
    listed = (await admin_http.get(f"{API}/rate-limits", headers=auth)).json()["items"]
    assert {"policy": "token.client", "default": "600/minute", "rate": None} in listed
    assert len(listed) == len(policies.DEFAULTS)

    tightened = await admin_http.put(
        f"{API}/rate-limits", headers=auth, json={"policy": "token.client", "rate": "2/minute"}
    )
    assert tightened.status_code == 200, tightened.text
    assert {"policy": "token.client", "default": "600/minute", "rate": "2/minute"} in tightened.json()[
        "items"
    ]
    async with services.db.tenant(org.id) as session:
        [entry] = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.org_id == org.id, AuditEntry.action == "org.rate_limit_set"
                )
            )
        ).all()
    assert entry.target_id == "token.client" and entry.detail == {"rate": "2/minute", "previous": None}

    ours = await admin_client(services, make_client, org)
    assert await _token_statuses(http, services, ours, 3) == [200, 200, 429]
    theirs = await admin_client(services, make_client, other_org)
    assert await _token_statuses(http, services, theirs, 3) == [200, 200, 200]

    reset = await admin_http.put(
        f"{API}/rate-limits", headers=auth, json={"policy": "token.client", "rate": None}
    )
    assert reset.status_code == 200
    again = await admin_client(services, make_client, org)
    assert await _token_statuses(http, services, again, 3) == [200, 200, 200]


async def test_an_org_admin_may_only_tighten(admin_http: httpx.AsyncClient, token: str) -> None:
    auth = bearer(token)
    for body, detail in (
        ({"policy": "token.client", "rate": "601/minute"}, "may only be tightened"),
        ({"policy": "token.client", "rate": "100/hour"}, "may only be tightened"),
        ({"policy": "login.account_ip", "rate": "5/minute"}, "may only be tightened"),  # drops windows
        ({"policy": "token.client", "rate": "0/minute"}, "at least one request"),
        ({"policy": "token.client", "rate": "lots"}, ""),
        ({"policy": "no.such.policy", "rate": "1/minute"}, "unknown rate-limit policy"),
    ):
        refused = await admin_http.put(f"{API}/rate-limits", headers=auth, json=body)
        assert refused.status_code == 422 and detail in refused.json()["detail"], (body, refused.text)
    for body in ({"policy": "token.client"}, {"policy": "token.client", "rate": 5}, {"rate": "1/minute"}):
        assert (await admin_http.put(f"{API}/rate-limits", headers=auth, json=body)).status_code == 422, body
    listed = (await admin_http.get(f"{API}/rate-limits", headers=auth)).json()["items"]
    assert all(item["rate"] is None for item in listed)
    tighter = await admin_http.put(
        f"{API}/rate-limits",
        headers=auth,
        json={"policy": "login.account_ip", "rate": "3/minute;5/hour;10/day"},
    )
    assert tighter.status_code == 200, tighter.text
