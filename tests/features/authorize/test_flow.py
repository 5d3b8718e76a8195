"""The browser side of the code flow: /authorize → login → consent → redirect with code, state, iss."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from namoid.accounts import login as password_login
from namoid.storage.models import AuthorizationRequest, BrowserSession, Consent, User, utcnow
from tests.features.authorize.conftest import (
    NONCE,
    REDIRECT_URI,
    STATE,
    Flow,
    form_action,
    form_inputs,
    query,
)
from tests.features.conftest import MakeClient


async def test_happy_path_issues_a_bound_code(flow: Flow) -> None:
    start = await flow.authorize()
    assert start.status_code == 303
    assert start.headers["location"].startswith(f"{flow.base}/login?req=")
    assert start.headers["cache-control"] == "no-store"

    login_page = await flow.follow(start)
    assert login_page.status_code == 200 and "Test App" in login_page.text
    assert (
        'autocomplete="username"' in login_page.text and 'autocomplete="current-password"' in login_page.text
    )
    assert '<label for="email">' in login_page.text and '<label for="password">' in login_page.text

    consent_redirect = await flow.login(login_page)
    assert consent_redirect.status_code == 303
    consent_page = await flow.follow(consent_redirect)
    assert consent_page.status_code == 200
    assert "See your email address" in consent_page.text and flow.user.email in consent_page.text
    assert 'name="decision" value="allow"' in consent_page.text
    assert 'name="decision" value="deny"' in consent_page.text

    done = await flow.decide(consent_page, "allow")
    assert done.status_code == 303 and done.headers["cache-control"] == "no-store"
    params = query(done.headers["location"])
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == STATE and params["iss"] == flow.issuer

    row = await flow.code_row(params["code"])
    assert row is not None and row.user_id == flow.user.id and row.client_id == flow.rp.client_id
    assert row.redirect_uri == REDIRECT_URI and row.code_challenge == flow.challenge
    assert row.nonce == NONCE and row.scope == "openid profile email" and row.amr == ["pwd"]
    assert row.sid and row.used_at is None
    actions = await flow.audit_actions()
    for action in ("login.succeeded", "consent.granted", "authorization.granted"):
        assert action in actions


async def test_consent_is_remembered_for_the_same_or_fewer_scopes(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    again = await flow.authorize(scope="openid email")
    assert again.status_code == 303
    params = query(again.headers["location"])
    assert set(params) == {"code", "state", "iss"}
    more = await flow.authorize(scope="openid offline_access")
    assert more.headers["location"].startswith(f"{flow.base}/consent?req=")
    assert await flow.count(Consent, user_id=flow.user.id, client_id=flow.rp.client_id) == 1


async def test_first_party_clients_skip_consent(flow: Flow, make_client: MakeClient) -> None:
    flow.rp = await make_client(redirect_uris=[REDIRECT_URI], first_party=True)
    login_page = await flow.follow(await flow.authorize())
    consent_step = await flow.login(login_page)
    done = await flow.follow(consent_step)
    assert done.status_code == 303
    params = query(done.headers["location"])
    assert params["state"] == STATE and params["iss"] == flow.issuer and "code" in params
    # prompt=consent still asks
    asked = await flow.authorize(prompt="consent")
    assert asked.headers["location"].startswith(f"{flow.base}/consent?req=")


async def test_deny_is_access_denied_with_state_and_iss(flow: Flow) -> None:
    consent_page = await flow.follow(await flow.login(await flow.follow(await flow.authorize())))
    denied = await flow.decide(consent_page, "deny")
    assert denied.status_code == 303
    assert query(denied.headers["location"]) == {
        "error": "access_denied",
        "error_description": "the user denied the request",
        "state": STATE,
        "iss": flow.issuer,
    }
    assert await flow.codes() == 0
    assert "consent.denied" in await flow.audit_actions()


async def test_consent_post_is_single_use(flow: Flow) -> None:
    consent_page = await flow.follow(await flow.login(await flow.follow(await flow.authorize())))
    first = await flow.decide(consent_page, "allow")
    assert first.status_code == 303
    replay = await flow.decide(consent_page, "allow")
    assert replay.status_code == 400 and "location" not in replay.headers
    assert await flow.codes() == 1
    assert await flow.count(AuthorizationRequest, completed_at=None) == 0


async def test_undecided_consent_post_changes_nothing(flow: Flow) -> None:
    consent_page = await flow.follow(await flow.login(await flow.follow(await flow.authorize())))
    response = await flow.decide(consent_page, "maybe")
    assert response.status_code == 400
    assert await flow.codes() == 0 and await flow.count(AuthorizationRequest, completed_at=None) == 1


async def test_prompt_none_without_session_is_login_required(flow: Flow) -> None:
    response = await flow.authorize(prompt="none")
    assert response.status_code == 303
    assert query(response.headers["location"]) == {
        "error": "login_required",
        "error_description": "the user must sign in",
        "state": STATE,
        "iss": flow.issuer,
    }
    assert await flow.count(AuthorizationRequest) == 0


async def test_prompt_none_with_session(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    silent = query((await flow.authorize(prompt="none")).headers["location"])
    assert "code" in silent and silent["iss"] == flow.issuer
    needs_consent = query(
        (await flow.authorize(prompt="none", scope="openid offline_access")).headers["location"]
    )
    assert needs_consent["error"] == "consent_required" and needs_consent["state"] == STATE
    too_old = query((await flow.authorize(prompt="none", max_age="0")).headers["location"])
    assert too_old["error"] == "login_required"


async def test_prompt_login_and_max_age_zero_force_a_new_login(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    for forcing in ({"prompt": "login"}, {"max_age": "0"}, {"prompt": "select_account"}):
        response = await flow.authorize(**forcing)
        assert response.headers["location"].startswith(f"{flow.base}/login?req="), forcing
        login_page = await flow.follow(response)
        after = await flow.follow(await flow.login(login_page))
        assert after.status_code == 303  # consent remembered: straight back with a code
        params = query(after.headers["location"])
        assert "code" in params and params["state"] == STATE
        row = await flow.code_row(params["code"])
        assert row is not None and row.auth_time >= (await _request_created(flow))


async def _request_created(flow: Flow) -> object:
    from sqlalchemy import func, select

    async with flow.services.db.tenant(flow.org.id) as session:
        return await session.scalar(
            select(func.max(AuthorizationRequest.created_at)).where(
                AuthorizationRequest.org_id == flow.org.id
            )
        )


async def test_max_age_is_honoured_for_a_recent_login(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    recent = await flow.authorize(max_age="3600")
    assert "code" in query(recent.headers["location"])
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.org_id == flow.org.id)
            .values(auth_time=utcnow() - timedelta(hours=2))
        )
    stale = await flow.authorize(max_age="3600")
    assert stale.headers["location"].startswith(f"{flow.base}/login?req=")


async def test_login_hint_prefills_the_email(flow: Flow) -> None:
    page = await flow.follow(await flow.authorize(login_hint="someone@example.com"))
    assert form_inputs(page.text)["email"] == "someone@example.com"


async def test_form_post_response_mode(flow: Flow) -> None:
    consent_page = await flow.follow(
        await flow.login(await flow.follow(await flow.authorize(response_mode="form_post")))
    )
    page = await flow.decide(consent_page, "allow")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert form_action(page.text) == REDIRECT_URI
    fields = form_inputs(page.text)
    assert set(fields) == {"code", "state", "iss"}
    assert fields["state"] == STATE and fields["iss"] == flow.issuer
    assert await flow.code_row(fields["code"]) is not None
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' https://rp.example;" in csp and "script-src 'self'" in csp
    assert '<button class="button block" type="submit">Continue</button>' in page.text
    assert '<script src="/static/form_post.js" defer></script>' in page.text
    script = await flow.http.get("/static/form_post.js")
    assert script.status_code == 200 and "form.submit()" in script.text


async def test_form_post_errors_are_posted_too(flow: Flow) -> None:
    page = await flow.authorize(response_mode="form_post", code_challenge_method="plain")
    assert page.status_code == 200
    fields = form_inputs(page.text)
    assert fields["error"] == "invalid_request" and fields["state"] == STATE and fields["iss"] == flow.issuer


async def test_pages_tell_browsers_where_their_forms_may_lead(flow: Flow) -> None:
    """Chromium applies form-action to the redirect after a form post, so the login and consent
    pages must allow the client's origin (their POST may end in a redirect to it)."""
    login_page = await flow.follow(await flow.authorize())
    assert "form-action 'self' https://rp.example;" in login_page.headers["content-security-policy"]
    assert login_page.headers["cache-control"] == "no-store"


# --- attacks -----------------------------------------------------------------------------


async def test_login_without_or_with_a_wrong_csrf_token_is_refused(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    fields = form_inputs(login_page.text) | {
        "email": flow.user.email,
        "password": "correct horse battery staple",
    }
    token = fields["csrf_token"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in ({"csrf_token": ""}, {"csrf_token": "x" * 43}, {"csrf_token": tampered}):
        response = await flow.http.post(f"{flow.base}/login", data=fields | bad)
        assert response.status_code == 403 and "location" not in response.headers
    flow.http.cookies.clear()
    no_cookie = await flow.http.post(f"{flow.base}/login", data=fields)
    assert no_cookie.status_code == 403
    assert await flow.signed_in_sessions() == 0
    assert "login.succeeded" not in await flow.audit_actions()
    assert "csrf.rejected" in await flow.audit_actions()


async def test_consent_without_a_valid_csrf_token_is_refused(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    consent_page = await flow.follow(await flow.login(login_page))
    token = form_inputs(consent_page.text)["csrf_token"]
    pre_login_token = form_inputs(login_page.text)["csrf_token"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in ("", "forged", tampered, pre_login_token):
        response = await flow.decide(consent_page, "allow", csrf_token=bad)
        assert response.status_code == 403 and "location" not in response.headers
    assert await flow.codes() == 0 and await flow.count(Consent) == 0
    assert await flow.count(AuthorizationRequest, completed_at=None) == 1
    assert (await flow.decide(consent_page, "allow")).status_code == 303


async def test_csrf_token_of_another_browser_is_refused(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    stolen = form_inputs(login_page.text)["csrf_token"]
    flow.http.cookies.clear()
    other_page = await flow.follow(await flow.authorize())
    response = await flow.login(other_page, csrf_token=stolen)
    assert response.status_code == 403


async def test_session_fixation_a_new_session_at_login(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    before = flow.cookie()
    assert before
    set_cookie = login_page.headers["set-cookie"]
    assert set_cookie.startswith(f"__Host-namoid-{flow.org.slug}=")
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Secure"):
        assert attribute.lower() in set_cookie.lower()
    assert "domain" not in set_cookie.lower()
    await flow.login(login_page)
    after = flow.cookie()
    assert after and after != before
    # the pre-login session is over: its cookie signs in nobody and its CSRF token is void
    flow.http.cookies.clear()
    replayed = await flow.http.get(
        f"{flow.base}/authorize",
        params=flow.params(prompt="none"),
        headers={"cookie": f"__Host-namoid-{flow.org.slug}={before}"},
    )
    assert query(replayed.headers["location"])["error"] == "login_required"


async def test_user_enumeration_same_answer_and_work(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | None] = []
    real = password_login.verify_password

    def spy(stored: str | None, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(password_login, "verify_password", spy)
    login_page = await flow.follow(await flow.authorize())
    unknown = await flow.login(login_page, email="nobody@example.com", password="wrong password")
    wrong = await flow.login(login_page, password="wrong password")
    malformed = await flow.login(login_page, email="not an email", password="wrong password")
    assert unknown.status_code == wrong.status_code == malformed.status_code == 200
    assert _normalized(unknown.text, "nobody@example.com") == _normalized(wrong.text, flow.user.email)
    assert _normalized(malformed.text, "not an email") == _normalized(wrong.text, flow.user.email)
    assert "do not match an account" in wrong.text
    assert len(calls) == 3 and calls[0] is None and calls[1] is not None and calls[2] is None
    assert await flow.signed_in_sessions() == 0
    assert (await flow.audit_actions()).count("login.failed") == 3


def _normalized(html: str, email: str) -> str:
    html = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)
    return html.replace(f'value="{email}"', 'value=""')


async def test_disabled_user_gets_the_same_answer(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    wrong = await flow.login(login_page, password="wrong password")
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(update(User).where(User.id == flow.user.id).values(status="disabled"))
    disabled = await flow.login(login_page)
    assert disabled.status_code == wrong.status_code
    assert _normalized(disabled.text, flow.user.email) == _normalized(wrong.text, flow.user.email)
    assert await flow.signed_in_sessions() == 0


async def test_an_over_long_password_is_a_plain_failure(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    response = await flow.login(login_page, password="x" * 5000)
    assert response.status_code == 200 and "do not match an account" in response.text


async def test_a_disabled_users_session_no_longer_counts(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(update(User).where(User.id == flow.user.id).values(status="disabled"))
    response = await flow.authorize(prompt="none")
    assert query(response.headers["location"])["error"] == "login_required"


async def test_expired_or_unknown_interaction_handles(flow: Flow) -> None:
    login_page = await flow.follow(await flow.authorize())
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(
            update(AuthorizationRequest)
            .where(AuthorizationRequest.org_id == flow.org.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await flow.login(login_page)).status_code == 400
    for path in ("login", "consent"):
        for handle in ("", "nope", "x" * 500, "\x00" * 20, form_inputs(login_page.text)["req"]):
            response = await flow.http.get(f"{flow.base}/{path}", params={"req": handle})
            assert response.status_code == 400 and "location" not in response.headers
    assert await flow.signed_in_sessions() == 0


async def test_consent_page_needs_a_session(flow: Flow) -> None:
    start = await flow.authorize()
    handle = query(start.headers["location"])["req"]
    response = await flow.http.get(f"{flow.base}/consent", params={"req": handle})
    assert response.status_code == 303 and response.headers["location"].startswith(f"{flow.base}/login?req=")
