"""RP-Initiated Logout 1.0: confirm, end the session, redirect only to a verified registered URI."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from namoid.jose.jwt import sign
from namoid.storage.models import Organization
from namoid.tenancy import organizations
from tests.features.authorize.conftest import Flow, form_inputs, query
from tests.features.conftest import ADMIN

SIGNED_OUT = "https://rp.example/signed-out"
LOGOUT_STATE = "logout-state-42"


async def _id_token(flow: Flow, org: Organization | None = None, typ: str = "JWT", **claims: Any) -> str:
    org = org or flow.org
    now = int(time.time())
    body = {
        "iss": f"{flow.services.settings.base_url}/o/{org.slug}",
        "sub": str(flow.user.id),
        "aud": flow.rp.client_id,
        "iat": now,
        "exp": now + 600,
    } | claims
    keys = await flow.services.signing.for_org(org)
    return sign(body, keys.signer("RS256"), typ=typ)


async def _logout(flow: Flow, **params: str) -> httpx.Response:
    return await flow.http.get(f"{flow.base}/logout", params=params)


async def _confirm(flow: Flow, page: httpx.Response, **extra: str) -> httpx.Response:
    assert page.status_code == 200, page.text
    return await flow.http.post(
        f"{flow.base}/logout", data=form_inputs(page.text) | {"decision": "logout"} | extra
    )


async def _assert_signed_out_page(flow: Flow, response: httpx.Response) -> None:
    assert response.status_code == 200 and "location" not in response.headers
    assert "You are signed out" in response.text


async def test_logout_with_a_valid_hint_redirects_with_state_and_ends_the_session(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    hint = await _id_token(flow)
    page = await _logout(flow, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT, state=LOGOUT_STATE)
    assert page.status_code == 200 and flow.user.email in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "form-action 'self' https://rp.example;" in page.headers["content-security-policy"]
    assert await flow.signed_in_sessions() == 1  # nothing ends before the user confirms
    done = await _confirm(flow, page)
    assert done.status_code == 303
    assert done.headers["location"] == f"{SIGNED_OUT}?state={LOGOUT_STATE}"
    cleared = done.headers["set-cookie"].lower()
    assert (
        cleared.startswith(f"__host-namoid-{flow.org.slug}=")
        and "max-age=0" in cleared
        and "secure" in cleared
    )
    assert await flow.signed_in_sessions() == 0
    assert "session.ended" in await flow.audit_actions()
    silent = await flow.authorize(prompt="none")
    assert query(silent.headers["location"])["error"] == "login_required"


async def test_expired_hint_and_client_id_only_are_accepted(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    expired = await _id_token(flow, exp=int(time.time()) - 86400, iat=int(time.time()) - 90000)
    page = await _logout(flow, id_token_hint=expired, post_logout_redirect_uri=SIGNED_OUT)
    assert (await _confirm(flow, page)).headers["location"] == SIGNED_OUT
    await flow.sign_in_and_allow()
    page = await _logout(flow, client_id=flow.rp.client_id, post_logout_redirect_uri=SIGNED_OUT, state="s")
    assert (await _confirm(flow, page)).headers["location"] == f"{SIGNED_OUT}?state=s"


async def test_unverifiable_requests_end_the_session_but_never_redirect(flow: Flow) -> None:
    other_org = await organizations.create(
        flow.services.db, flow.services.keyring, f"{flow.org.slug}-b", None, ADMIN
    )
    good = await _id_token(flow)
    header, payload, signature = good.split(".")
    cases: list[dict[str, str]] = [
        {"id_token_hint": good, "post_logout_redirect_uri": "https://rp.example/elsewhere"},  # unregistered
        {"id_token_hint": good, "post_logout_redirect_uri": SIGNED_OUT + "/"},  # not exactly registered
        {"id_token_hint": await _id_token(flow, other_org), "post_logout_redirect_uri": SIGNED_OUT},  # org B
        {"id_token_hint": f"{header}.{payload}.{signature[::-1]}", "post_logout_redirect_uri": SIGNED_OUT},
        {"id_token_hint": await _id_token(flow, typ="at+jwt"), "post_logout_redirect_uri": SIGNED_OUT},
        {"id_token_hint": "not-a-jwt", "post_logout_redirect_uri": SIGNED_OUT},
        {"id_token_hint": good, "client_id": "someone-else", "post_logout_redirect_uri": SIGNED_OUT},
        {
            "id_token_hint": await _id_token(flow, aud=str(uuid.uuid4())),
            "post_logout_redirect_uri": SIGNED_OUT,
        },
        {"post_logout_redirect_uri": SIGNED_OUT},  # no client named
    ]
    for params in cases:
        await flow.sign_in_and_allow()
        page = await _logout(flow, state="x", **params)
        done = await _confirm(flow, page)
        await _assert_signed_out_page(flow, done)
        assert await flow.signed_in_sessions() == 0, params
    assert "logout.hint_rejected" in await flow.audit_actions()


async def test_without_a_session_there_is_nothing_to_confirm(flow: Flow) -> None:
    hint = await _id_token(flow)
    response = await _logout(flow, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT, state="s")
    assert response.status_code == 303 and response.headers["location"] == f"{SIGNED_OUT}?state=s"
    await _assert_signed_out_page(flow, await _logout(flow))
    await _assert_signed_out_page(flow, await _logout(flow, post_logout_redirect_uri="https://evil.example/"))


async def test_logout_confirmation_needs_the_csrf_token(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    page = await _logout(flow, client_id=flow.rp.client_id, post_logout_redirect_uri=SIGNED_OUT)
    for bad in ("", "forged"):
        response = await _confirm(flow, page, csrf_token=bad)
        assert response.status_code == 403 and "location" not in response.headers
    assert await flow.signed_in_sessions() == 1
    forged_post = await flow.http.post(f"{flow.base}/logout", data={"decision": "logout"})
    assert forged_post.status_code == 403
    assert await flow.signed_in_sessions() == 1


async def test_rp_may_post_the_logout_request(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    hint = await _id_token(flow)
    page = await flow.http.post(
        f"{flow.base}/logout", data={"id_token_hint": hint, "post_logout_redirect_uri": SIGNED_OUT}
    )
    assert page.status_code == 200 and 'value="logout"' in page.text
    assert (await _confirm(flow, page)).headers["location"] == SIGNED_OUT
