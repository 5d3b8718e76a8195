"""Every state-changing route writes an audit entry with the change (issue 5, DESIGN.md §5).

Every non-GET route of the app (and the GET routes that can change state) must appear in
``EXERCISES``, so a new route fails this test until it is exercised here. Each exercise
prepares what its request needs, then the request alone runs between two fingerprints of
the org's data; if anything changed, the audit log must hold an entry of that very request
(its ``X-Request-ID``). Refusals are exercised too: a refusal that changes state must say so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from namoid import audit
from namoid.providers import registry
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, OtpChallenge, utcnow
from tests.features.audit.fingerprint import changed, fingerprint
from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.authorize.test_logout import _id_token
from tests.features.conftest import served_routes
from tests.features.consent.conftest import api_token, remembered, withdraw
from tests.features.otpflows.conftest import NEW_PASSWORD, CodeFlow, code_in, delivered, set_policy
from tests.features.token.conftest import age_first_use, basic, exchange

Request = Callable[[], Awaitable[httpx.Response]]
Prepare = Callable[[Flow], Awaitable[Request]]


async def _tokens(flow: Flow, scope: str = "openid profile email offline_access") -> dict[str, str]:
    params = await flow.sign_in_and_allow(scope=scope)
    response = await exchange(flow.http, flow.org, flow.rp, params["code"], flow.verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def _post(flow: Flow, path: str, data: dict[str, str], authenticated: bool = True) -> Request:
    headers = basic(flow.rp.client_id, flow.rp.secret) if authenticated else {}
    return lambda: flow.http.post(f"{flow.base}{path}", data=data, headers=headers)


async def authorize_get(flow: Flow) -> Request:
    return flow.authorize


async def authorize_post(flow: Flow) -> Request:
    return lambda: flow.http.post(f"{flow.base}/authorize", data=flow.params())


async def login_ok(flow: Flow) -> Request:
    page = await flow.follow(await flow.authorize())
    return lambda: flow.login(page)


async def login_wrong_password(flow: Flow) -> Request:
    page = await flow.follow(await flow.authorize())
    return lambda: flow.login(page, password="not the password")


async def _consent_page(flow: Flow) -> httpx.Response:
    return await flow.follow(await flow.login(await flow.follow(await flow.authorize())))


async def consent_allow(flow: Flow) -> Request:
    page = await _consent_page(flow)
    return lambda: flow.decide(page, "allow")


async def consent_deny(flow: Flow) -> Request:
    page = await _consent_page(flow)
    return lambda: flow.decide(page, "deny")


async def token_code(flow: Flow) -> Request:
    params = await flow.sign_in_and_allow()
    return lambda: exchange(flow.http, flow.org, flow.rp, params["code"], flow.verifier)


async def token_code_replayed(flow: Flow) -> Request:
    request = await token_code(flow)
    assert (await request()).status_code == 200
    return request


async def token_refresh(flow: Flow) -> Request:
    tokens = await _tokens(flow)
    return _post(flow, "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})


async def token_refresh_reused(flow: Flow) -> Request:
    request = await token_refresh(flow)
    assert (await request()).status_code == 200
    return request


async def token_refresh_replayed(flow: Flow) -> Request:
    tokens = await _tokens(flow)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert (await _post(flow, "/token", form)()).status_code == 200
    await age_first_use(flow.services, flow.org, tokens["refresh_token"], 60)  # past the reuse window
    return _post(flow, "/token", form)


async def token_bad_client(flow: Flow) -> Request:
    return lambda: flow.http.post(
        f"{flow.base}/token",
        data={"grant_type": "client_credentials"},
        headers=basic(flow.rp.client_id, "wrong secret"),
    )


async def revoke_refresh(flow: Flow) -> Request:
    tokens = await _tokens(flow)
    return _post(flow, "/revoke", {"token": tokens["refresh_token"]})


async def revoke_access(flow: Flow) -> Request:
    tokens = await _tokens(flow)
    return _post(flow, "/revoke", {"token": tokens["access_token"]})


async def introspect(flow: Flow) -> Request:
    tokens = await _tokens(flow)
    return _post(flow, "/introspect", {"token": tokens["access_token"]})


async def userinfo_post(flow: Flow) -> Request:
    tokens = await _tokens(flow)
    return lambda: flow.http.post(
        f"{flow.base}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )


async def logout_get(flow: Flow) -> Request:
    await flow.sign_in_and_allow()
    hint = await _id_token(flow)
    return lambda: flow.http.get(f"{flow.base}/logout", params={"id_token_hint": hint})


async def logout_post(flow: Flow) -> Request:
    await _tokens(flow, scope="openid profile")  # a session-bound refresh family ends with the session
    hint = await _id_token(flow)
    page = await flow.http.get(f"{flow.base}/logout", params={"id_token_hint": hint})
    return lambda: flow.http.post(f"{flow.base}/logout", data=form_inputs(page.text) | {"decision": "logout"})


async def _kyc_page(flow: Flow) -> dict[str, str]:
    from namoid.kyc import service as kyc
    from tests.features.account.conftest import ConsoleBrowser
    from tests.features.conftest import ADMIN

    await kyc.set_policy(flow.services.db, flow.org.id, True, 3, ADMIN)
    return await ConsoleBrowser(flow.http, flow.services, flow.org, flow.user).form("/kyc")


async def kyc_upload(flow: Flow) -> Request:
    """A synthetic file is refused (the shipped UIDAI set does not trust its test signer): audited."""
    from tests import kyc_fixtures

    fields = await _kyc_page(flow) | {"share_code": kyc_fixtures.SHARE_CODE, "consent": "yes"}
    files = {"file": ("okyc.zip", kyc_fixtures.upload(), "application/zip")}
    return lambda: flow.http.post(f"{flow.base}/account/kyc", data=fields, files=files)


async def kyc_withdraw(flow: Flow) -> Request:
    from datetime import UTC, datetime

    from namoid.storage.models import KycRecord
    from namoid.storage.repos import kyc as kyc_repo

    fields = await _kyc_page(flow)
    now = datetime.now(UTC)
    record = KycRecord(
        user_id=flow.user.id, last4="0000", name_mac="0" * 64, result="valid", signer_sha256="0" * 64,
        generated_at=now, verified_at=now,
    )  # fmt: skip
    async with flow.services.db.tenant(flow.org.id) as session:
        await kyc_repo.put_record(session, flow.org.id, record)
    return lambda: flow.http.post(f"{flow.base}/account/kyc/withdraw", data=fields)


async def _kyc_api_token(flow: Flow) -> str:
    """KYC on in the org, and the user's access token with the ``kyc`` scope."""
    from namoid.kyc import service as kyc
    from tests.features.conftest import ADMIN
    from tests.features.consent.conftest import first_party
    from tests.features.revocation.conftest import browser_tokens

    await kyc.set_policy(flow.services.db, flow.org.id, True, 3, ADMIN)
    rp = await first_party(flow, ["openid", "kyc"])
    return (await browser_tokens(flow, rp, "openid kyc"))["access_token"]


def _kyc_api_post(flow: Flow, headers: dict[str, str]) -> Request:
    from tests import kyc_fixtures

    files = {"file": ("okyc.zip", kyc_fixtures.upload(), "application/zip")}
    data = {"share_code": kyc_fixtures.SHARE_CODE}
    return lambda: flow.http.post(f"{flow.base}/kyc/offline-ekyc", data=data, files=files, headers=headers)


async def kyc_api_upload(flow: Flow) -> Request:
    """Through the org API: refused (untrusted test signer), audited with the client."""
    token = await _kyc_api_token(flow)
    return _kyc_api_post(flow, {"Authorization": f"Bearer {token}"})


async def kyc_api_unauthenticated(flow: Flow) -> Request:
    await _kyc_api_token(flow)
    return _kyc_api_post(flow, {})


async def console_sign_in_start(flow: Flow) -> Request:
    """The first console sign-in of an org registers its console client (audited)."""
    return lambda: flow.http.get(f"{flow.base}/account/signin")


async def console_callback(flow: Flow) -> Request:
    """The console's callback redeems its code (token.issued) and sets its cookie."""
    from tests.features.account.conftest import ConsoleBrowser

    browser = ConsoleBrowser(flow.http, flow.services, flow.org, flow.user)
    location = (await browser.until_callback()).headers["location"]
    return lambda: flow.http.get(browser.path(location))


async def sign_in_link_redeemed(flow: Flow) -> Request:
    """A one-time sign-in link sets the password (sign_in_link.used, user.password_set)."""
    from namoid.accounts import sign_in_links

    services = flow.services
    token = await sign_in_links.issue(
        services.db, services.keyring.pepper, flow.org.id, flow.user, utcnow(), audit.Actor("admin", "test")
    )
    new_password = "a brand new password"  # pragma: allowlist secret
    form = {"token": token, "email": flow.user.email, "password": new_password}
    return lambda: flow.http.post(f"{flow.base}/sign-in-link", data=form)


async def sign_in_link_forged(flow: Flow) -> Request:
    """A forged link changes nothing."""
    new_password = "a brand new password"  # pragma: allowlist secret
    form = {"token": "forged", "email": flow.user.email, "password": new_password}
    return lambda: flow.http.post(f"{flow.base}/sign-in-link", data=form)


async def _console(flow: Flow, path: str) -> tuple[dict[str, str], Callable[[str, dict[str, str]], Request]]:
    """The form inputs of console page ``path`` (signed in as the flow's user), and a poster."""
    from tests.features.account.conftest import ConsoleBrowser

    browser = ConsoleBrowser(flow.http, flow.services, flow.org, flow.user)
    fields = await browser.form(path)
    return fields, lambda to, data: lambda: browser.post(to, data)


async def console_end_session(flow: Flow) -> Request:
    from namoid.accounts import sessions

    fields, post_to = await _console(flow, "/sessions")
    async with flow.services.db.tenant(flow.org.id) as session:  # the user's sign-in elsewhere
        other = await sessions.start(session, flow.org, user=flow.user, amr=["pwd"], now=utcnow())
    return post_to("/sessions/end", fields | {"session": str(other.row.id)})


async def console_end_all_sessions(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/sessions")
    return post_to("/sessions/end-all", fields)


async def console_forged_form(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/sessions")
    return post_to("/sessions/end-all", fields | {"csrf_token": "forged"})


async def console_change_password(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/password")
    return post_to("/password", fields | {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})


async def console_stale_password(flow: Flow) -> Request:
    from tests.features.account.conftest import ConsoleBrowser

    fields, post_to = await _console(flow, "/password")
    await ConsoleBrowser(flow.http, flow.services, flow.org, flow.user).age_sign_in(3600)
    return post_to("/password", fields | {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})


async def console_export_request(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/data")
    return post_to("/data", fields | {"do": "export"})


async def _ready_export(flow: Flow) -> tuple[dict[str, str], Callable[[str, dict[str, str]], Request]]:
    from namoid.privacy import export_jobs

    fields, post_to = await _console(flow, "/data")
    actor = audit.Actor("user", str(flow.user.id))
    await export_jobs.request(flow.services.db, flow.org.id, flow.user.id, actor)
    await export_jobs.produce_pending(flow.services.db, flow.services.keyring, flow.org, utcnow())
    return fields, post_to


async def console_export_link(flow: Flow) -> Request:
    fields, post_to = await _ready_export(flow)
    return post_to("/data", fields | {"do": "download"})


async def console_export_download(flow: Flow) -> Request:
    """The GET that destroys the document (a state change, so it is listed here too)."""
    from namoid.privacy import export_jobs

    await _ready_export(flow)
    link = await export_jobs.issue_link(flow.services.db, flow.org.id, flow.user.id)
    return lambda: flow.http.get(f"{flow.base}/account/data/download/{link.token}")


async def console_export_stale(flow: Flow) -> Request:
    from tests.features.account.conftest import ConsoleBrowser

    fields, post_to = await _console(flow, "/data")
    await ConsoleBrowser(flow.http, flow.services, flow.org, flow.user).age_sign_in(3600)
    return post_to("/data", fields | {"do": "export"})


async def console_change_name(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/profile")
    return post_to("/profile/name", {"csrf_token": fields["csrf_token"], "name": "New Name"})


async def console_ask_email_code(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/profile")
    return post_to("/profile/email", {"csrf_token": fields["csrf_token"], "email": "new@example.org"})


async def console_ask_phone_code(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/profile")
    return post_to("/profile/phone", {"csrf_token": fields["csrf_token"], "phone": "+919812345678"})


async def console_verify_email(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/profile")
    ask = {"csrf_token": fields["csrf_token"], "email": "new@example.org"}
    entry = await post_to("/profile/email", ask)()
    [message] = await delivered(flow.services, flow.org, "new@example.org")
    return post_to("/profile/verify", form_inputs(entry.text) | {"code": code_in(message)})


async def console_delete_account(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/delete")
    return post_to("/delete", fields | {"confirm": "DELETE"})


async def console_delete_unconfirmed(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/delete")
    return post_to("/delete", fields | {"confirm": "delete it"})


async def console_stale_delete(flow: Flow) -> Request:
    from tests.features.account.conftest import ConsoleBrowser

    fields, post_to = await _console(flow, "/delete")
    await ConsoleBrowser(flow.http, flow.services, flow.org, flow.user).age_sign_in(3600)
    return post_to("/delete", fields | {"confirm": "DELETE"})


async def console_raise_grievance(flow: Flow) -> Request:
    fields, post_to = await _console(flow, "/grievances")
    ticket = {"category": "access", "subject": "My data", "text": "What do you hold about me?"}
    return post_to("/grievances", {"csrf_token": fields["csrf_token"], **ticket})


async def _unreachable_provider(flow: Flow) -> None:
    spec = registry.ProviderSpec(
        name="up", preset="oidc", issuer="https://idp.example", client_id="c", client_secret="s"
    )
    await registry.add(flow.services.db, flow.services.keyring, flow.org.id, spec, audit.Actor("admin", "t"))


async def provider_callback_post(flow: Flow) -> Request:
    """Apple's form_post shape, without a state: refused (the full flow: tests/features/providers)."""
    await _unreachable_provider(flow)
    return lambda: flow.http.post(f"{flow.base}/providers/up/callback", data={"code": "c"})


async def console_connect_provider(flow: Flow) -> Request:
    """The upstream cannot be reached: refused and audited (the full flow: tests/features/providers)."""
    await _unreachable_provider(flow)
    fields, post_to = await _console(flow, "/providers")
    return post_to("/providers/up/connect", {"csrf_token": fields["csrf_token"]})


async def console_disconnect_provider(flow: Flow) -> Request:
    """Connected (as the CLI tests do), then disconnected from the console."""
    from namoid.providers import connections, vault

    await _unreachable_provider(flow)
    provider = await registry.get(flow.services.db, flow.org.id, "up")
    assert provider is not None
    async with flow.services.db.tenant(flow.org.id) as session:
        tokens = vault.UpstreamTokens("upstream-access", scopes=("openid",))
        admin = audit.Actor("admin", "t")
        await connections.link(session, flow.services.keyring, provider, flow.user.id, "sub-1", tokens, admin)
    fields, post_to = await _console(flow, "/providers")
    return post_to("/providers/up/disconnect", {"csrf_token": fields["csrf_token"]})


async def _code_entry(flow: Flow, purpose: str = "sign_in", destination: str | None = None) -> httpx.Response:
    """The code form after a send (the org offers email codes and sign-up)."""
    await set_policy(flow.services, flow.org, methods=("password", "email_otp"), registration="open")
    return await CodeFlow(flow).ask(purpose, "email", destination or flow.user.email)


async def _send(flow: Flow, channel: str, destination: str) -> Request:
    await set_policy(flow.services, flow.org, methods=("password", f"{channel}_otp"))
    fields = form_inputs((await CodeFlow(flow).code_page("sign_in", channel)).text)
    return lambda: flow.http.post(f"{flow.base}/code", data=fields | {"destination": destination})


async def code_send(flow: Flow) -> Request:
    return await _send(flow, "email", flow.user.email)


async def code_send_unknown(flow: Flow) -> Request:
    return await _send(flow, "email", "no@example.com")


async def code_send_blocked_country(flow: Flow) -> Request:
    return await _send(flow, "sms", "+16502530000")


async def code_verify_sign_in(flow: Flow) -> Request:
    entry = await _code_entry(flow)
    [message] = await delivered(flow.services, flow.org, flow.user.email)
    return lambda: CodeFlow(flow).enter(entry, code_in(message))


async def code_verify_wrong(flow: Flow) -> Request:
    entry = await _code_entry(flow)
    [message] = await delivered(flow.services, flow.org, flow.user.email)
    return lambda: CodeFlow(flow).enter(entry, "000000" if code_in(message) != "000000" else "111111")


async def code_verify_sign_up(flow: Flow) -> Request:
    entry = await _code_entry(flow, "sign_up", "new-user@example.com")
    [message] = await delivered(flow.services, flow.org, "new-user@example.com")
    return lambda: CodeFlow(flow).enter(entry, code_in(message), password=NEW_PASSWORD)


async def code_verify_reset(flow: Flow) -> Request:
    await _tokens(flow)  # something for the reset to revoke
    flow.http.cookies.clear()
    entry = await _code_entry(flow, "password_reset")
    [message] = await delivered(flow.services, flow.org, flow.user.email)
    return lambda: CodeFlow(flow).enter(entry, code_in(message), password=NEW_PASSWORD)


async def code_resend(flow: Flow) -> Request:
    entry = await _code_entry(flow)
    await age_challenges(flow)
    return lambda: flow.http.post(f"{flow.base}/code/resend", data=form_inputs(entry.text))


async def age_challenges(flow: Flow) -> None:
    """Move the org's challenges' last send past the resend cool-down."""
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(
            update(OtpChallenge)
            .where(OtpChallenge.org_id == flow.org.id)
            .values(last_sent_at=utcnow() - timedelta(minutes=1))
        )


#: (method, route) -> the exercises of that route. Every non-GET route must be here.
async def _withdrawal(flow: Flow) -> tuple[str, str]:
    """A standing consent of the flow's user (its id) and a token that may withdraw it."""
    await _tokens(flow)
    token = await api_token(flow)
    consent = await remembered(flow)
    assert consent is not None
    return str(consent.id), token


async def consent_withdraw(flow: Flow) -> Request:
    consent_id, token = await _withdrawal(flow)
    return lambda: withdraw(flow, consent_id, token)


async def consent_withdraw_again(flow: Flow) -> Request:
    consent_id, token = await _withdrawal(flow)
    assert (await withdraw(flow, consent_id, token)).status_code == 204
    return lambda: withdraw(flow, consent_id, token)


async def consent_withdraw_unauthenticated(flow: Flow) -> Request:
    consent_id, _ = await _withdrawal(flow)
    return lambda: flow.http.delete(f"{flow.base}/consents/{consent_id}")


async def console_withdraw(flow: Flow) -> Request:
    await _tokens(flow)
    consent = await remembered(flow)
    assert consent is not None
    fields, post_to = await _console(flow, "/applications")
    return post_to("/applications/withdraw", fields | {"consent": str(consent.id)})


async def console_withdraw_forged(flow: Flow) -> Request:
    await _tokens(flow)
    consent = await remembered(flow)
    assert consent is not None
    fields, post_to = await _console(flow, "/applications")
    return post_to("/applications/withdraw", fields | {"consent": str(consent.id), "csrf_token": "forged"})


EXERCISES: dict[tuple[str, str], list[Prepare]] = {
    ("GET", "/o/{org}/authorize"): [authorize_get],
    ("POST", "/o/{org}/authorize"): [authorize_post],
    ("POST", "/o/{org}/login"): [login_ok, login_wrong_password],
    ("POST", "/o/{org}/consent"): [consent_allow, consent_deny],
    ("POST", "/o/{org}/token"): [
        token_code,
        token_code_replayed,
        token_refresh,
        token_refresh_reused,
        token_refresh_replayed,
        token_bad_client,
    ],
    ("POST", "/o/{org}/revoke"): [revoke_refresh, revoke_access],
    ("POST", "/o/{org}/introspect"): [introspect],
    ("POST", "/o/{org}/userinfo"): [userinfo_post],
    ("GET", "/o/{org}/logout"): [logout_get],
    ("POST", "/o/{org}/logout"): [logout_post],
    ("POST", "/o/{org}/account/kyc"): [kyc_upload],
    ("POST", "/o/{org}/account/kyc/withdraw"): [kyc_withdraw],
    ("POST", "/o/{org}/kyc/offline-ekyc"): [kyc_api_upload, kyc_api_unauthenticated],
    ("POST", "/o/{org}/providers/{name}/callback"): [provider_callback_post],
    ("GET", "/o/{org}/account/signin"): [console_sign_in_start],
    ("GET", "/o/{org}/account/callback"): [console_callback],
    ("POST", "/o/{org}/sign-in-link"): [sign_in_link_redeemed, sign_in_link_forged],
    ("POST", "/o/{org}/account/sessions/end"): [console_end_session, console_forged_form],
    ("POST", "/o/{org}/account/sessions/end-all"): [console_end_all_sessions],
    ("POST", "/o/{org}/account/applications/withdraw"): [console_withdraw, console_withdraw_forged],
    ("POST", "/o/{org}/account/password"): [console_change_password, console_stale_password],
    ("POST", "/o/{org}/account/data"): [console_export_request, console_export_link, console_export_stale],
    ("GET", "/o/{org}/account/data/download/{token}"): [console_export_download],
    ("POST", "/o/{org}/account/profile/name"): [console_change_name],
    ("POST", "/o/{org}/account/profile/email"): [console_ask_email_code],
    ("POST", "/o/{org}/account/profile/phone"): [console_ask_phone_code],
    ("POST", "/o/{org}/account/profile/verify"): [console_verify_email],
    ("POST", "/o/{org}/account/providers/{name}/connect"): [console_connect_provider],
    ("POST", "/o/{org}/account/providers/{name}/disconnect"): [console_disconnect_provider],
    ("POST", "/o/{org}/account/grievances"): [console_raise_grievance],
    ("POST", "/o/{org}/account/delete"): [
        console_delete_account,
        console_delete_unconfirmed,
        console_stale_delete,
    ],
    ("POST", "/o/{org}/code"): [code_send, code_send_unknown, code_send_blocked_country],
    ("POST", "/o/{org}/code/verify"): [
        code_verify_sign_in,
        code_verify_wrong,
        code_verify_sign_up,
        code_verify_reset,
    ],
    ("POST", "/o/{org}/code/resend"): [code_resend],
    ("DELETE", "/o/{org}/consents/{consent_id}"): [
        consent_withdraw,
        consent_withdraw_again,
        consent_withdraw_unauthenticated,
    ],
}
ALL = [prepare for exercises in EXERCISES.values() for prepare in exercises]


def test_every_state_changing_route_is_exercised(services: Services) -> None:
    unlisted = {route for route in served_routes(services) if route[0] not in ("GET", "HEAD")} - set(
        EXERCISES
    )
    assert not unlisted, f"add an exercise for {sorted(unlisted)} to EXERCISES"


async def _audited(owner_db: Database, request_id: str) -> int:
    async with owner_db.system() as session:
        return int(await session.scalar(select(func.count()).where(AuditEntry.request_id == request_id)) or 0)


@pytest.mark.parametrize("prepare", ALL, ids=[prepare.__name__ for prepare in ALL])
async def test_a_change_comes_with_its_audit_entry(flow: Flow, owner_db: Database, prepare: Prepare) -> None:
    request = await prepare(flow)
    before = await fingerprint(owner_db, flow.org.id)
    response = await request()
    assert response.status_code < 500, response.text
    differences = changed(before, await fingerprint(owner_db, flow.org.id))
    if differences:
        assert await _audited(owner_db, response.headers["x-request-id"]), (
            f"{prepare.__name__} changed {differences} without an audit entry"
        )
