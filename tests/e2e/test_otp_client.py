"""Issue 11's "done when" with a real relying party (authlib) against ``namoid serve`` over HTTPS,
on SQLite and PostgreSQL: sign-in with an email code in one org, with an SMS code in another,
and password then code in an MFA org; the validated ID token's ``amr`` says which (RFC 8176).
The codes are read from what the dev sender delivered (the worker sends them)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

import httpx

from namoid.notify.dev import mailbox_dir, read_mailbox
from tests.e2e import test_oidc_client as oidc
from tests.e2e.test_oidc_client import PASSWORD, REDIRECT_URI, Browser, IdP, make_tenant, query, relying_party
from tests.e2e.test_server import _env

#: The IdP (both backends) and the browser of test_oidc_client.py.
idp = oidc.idp
browser = oidc.browser
LINK = re.compile(r'href="([^"]*/code\?[^"]*)"')


def _code_for(idp: IdP, to: str) -> str:
    """Run a worker until a message to ``to`` is in the dev mailbox; the code in it."""
    worker = subprocess.Popen(  # stopped below
        [sys.executable, "-m", "namoid", "worker", "--once"],
        env=_env(NAMOID_BASE_URL=idp.server.base_url, **idp.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for item in read_mailbox(mailbox_dir(Path(idp.env["NAMOID_DATA_DIR"]))):
                if item.message.to == to:
                    found = re.search(r"\b([0-9]{6})\b", item.message.text)
                    assert found is not None
                    return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no message to {to}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


async def _sign_in_and_claims(
    idp: IdP, slug: str, tenant: object, browser: Browser, drive: object
) -> dict[str, object]:
    rp = relying_party(idp, tenant)  # type: ignore[arg-type]
    auth = await rp.create_authorization_url(redirect_uri=REDIRECT_URI)
    page = await browser.get(auth["url"])
    page = await drive(page)  # type: ignore[operator]
    if 'value="allow"' in page.text:
        page = await browser.submit(page, decision="allow")
    callback = query(page.headers["location"])
    assert callback["iss"] == idp.issuer(slug)
    token = await rp.fetch_access_token(
        redirect_uri=REDIRECT_URI, code=callback["code"], code_verifier=auth["code_verifier"]
    )
    return dict(await rp.parse_id_token(token, nonce=auth["nonce"]))


async def _by_code(
    browser: Browser, login: httpx.Response, channel: str, destination: str, code_of: object
) -> httpx.Response:
    link = next(url for url in LINK.findall(login.text) if f"channel={channel}" in url and "sign_in" in url)
    ask = await browser.get(urljoin(str(login.url), link.replace("&amp;", "&")))
    entry = await browser.submit(ask, destination=destination)
    assert 'autocomplete="one-time-code"' in entry.text
    return await browser.submit(entry, code=code_of())  # type: ignore[operator]


async def test_email_code_sms_code_and_mfa_orgs_with_authlib(idp: IdP, browser: Browser) -> None:
    by_email = make_tenant(idp, "--type", "confidential")
    idp.cli("org", "set-sign-in", by_email.slug, "--method", "email_otp")
    email_code = lambda: _code_for(idp, by_email.email)  # noqa: E731
    claims = await _sign_in_and_claims(
        idp, by_email.slug, by_email, browser,
        lambda login: _by_code(browser, login, "email", by_email.email, email_code),
    )  # fmt: skip
    assert claims["amr"] == ["otp"]

    by_sms = make_tenant(idp, "--type", "confidential")
    phone = f"+9198{uuid.uuid4().int % 10**8:08d}"
    idp.cli("org", "set-sign-in", by_sms.slug, "--method", "sms_otp")
    idp.cli(
        "user",
        "create",
        "--org",
        by_sms.slug,
        "--email",
        f"sms-{uuid.uuid4().hex[:6]}@example.com",
        "--phone",
        phone,
        "--phone-verified",  # the admin vouches: an unverified phone gets no sign-in code
    )
    browser.http.cookies.clear()
    claims = await _sign_in_and_claims(
        idp, by_sms.slug, by_sms, browser,
        lambda login: _by_code(browser, login, "sms", phone, lambda: _code_for(idp, phone)),
    )  # fmt: skip
    assert claims["amr"] == ["otp", "sms"]

    mfa = make_tenant(idp, "--type", "confidential")
    idp.cli("org", "set-sign-in", mfa.slug, "--mfa", "required")
    browser.http.cookies.clear()

    async def password_then_code(login: httpx.Response) -> httpx.Response:
        entry = await browser.submit(login, email=mfa.email, password=PASSWORD)
        assert 'name="code"' in entry.text  # the right password alone signs nobody in
        return await browser.submit(entry, code=_code_for(idp, mfa.email))

    claims = await _sign_in_and_claims(idp, mfa.slug, mfa, browser, password_then_code)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
