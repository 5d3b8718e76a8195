"""Per-org code settings (issue 11 item 2) and the language of a code (item 7), on SQLite and
PostgreSQL: ``ui_locales`` comes before ``Accept-Language``; an org's codes can be 6-8 digits;
an org's From address reaches a real SMTP server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from namoid.notify.delivery import MessageDelivery
from namoid.notify.senders import Senders
from namoid.notify.smtp import SmtpSender
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.web import code_messages, code_texts
from tests.conftest import Backend
from tests.features.authorize.conftest import form_inputs
from tests.features.notify.conftest import SmtpServer, smtp_settings
from tests.features.otpflows.conftest import CodeFlow, code_in, delivered, set_policy


async def _ask(code_flow: CodeFlow, destination: str, **authorize: str) -> httpx.Response:
    """Ask for an email sign-in code from a sign-in request with these parameters."""
    flow = code_flow.flow
    login = await flow.follow(await flow.authorize(**authorize))
    req = re.search(r"req=([A-Za-z0-9_-]+)", login.text).group(1)  # type: ignore[union-attr]
    page = await flow.http.get(
        f"{flow.base}/code", params={"req": req, "purpose": "sign_in", "channel": "email"}
    )
    assert page.status_code == 200, page.text
    return await flow.http.post(
        f"{flow.base}/code", data=form_inputs(page.text) | {"destination": destination}
    )


@pytest.mark.parametrize(
    ("ui_locales", "accept_language", "language"),
    [
        ("hi", "en", "hi"),  # ui_locales first
        ("fr-CA hi-IN en", "en", "hi"),  # the first supported one, in the RP's order
        ("en hi", "hi", "en"),
        ("fr de", "hi-IN,en;q=0.5", "hi"),  # none supported: the header decides
        ("fr", "", "en"),  # nothing supported anywhere: English
        ("<script>", "hi", "hi"),  # implausible: dropped, the header decides
    ],
)
async def test_ui_locales_choose_the_language_before_accept_language(
    code_flow: CodeFlow,
    services: Services,
    org: Organization,
    ui_locales: str,
    accept_language: str,
    language: str,
) -> None:
    await set_policy(services, org, methods=("password", "email_otp"))
    code_flow.http.headers["Accept-Language"] = accept_language
    user = code_flow.flow.user
    entry = await _ask(code_flow, user.email, ui_locales=ui_locales)
    [message] = await delivered(services, org, user.email)
    assert ("आपका" in message.subject) == (language == "hi"), message.subject  # type: ignore[union-attr]
    callback = await code_flow.finish(await code_flow.enter(entry, code_in(message)))
    assert callback.get("code")


async def test_an_org_may_use_8_digit_codes(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    for refused in (5, 9):
        with pytest.raises(ValueError, match="6, 7 or 8"):
            await set_policy(services, org, code_length=refused)
    changed = await set_policy(services, org, methods=("password", "email_otp"), code_length=8)
    assert changed.challenge_digits == 8
    user = code_flow.flow.user
    entry = await code_flow.ask("sign_in", "email", user.email)
    assert "8-digit code" in entry.text and 'maxlength="10"' in entry.text
    [message] = await delivered(services, org, user.email)
    code = re.search(r"\b([0-9]{8})\b", message.text).group(1)  # type: ignore[union-attr]
    six = await code_flow.enter(entry, code[:6])
    assert six.status_code == 400 and "Enter the 8-digit code" in six.text
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code)))
    assert claims["amr"] == ["otp"]


async def test_the_orgs_from_address_reaches_the_smtp_server(
    code_flow: CodeFlow, services: Services, org: Organization, backend: Backend, tmp_path: Path,
    keyring_file: Path, smtp_server: SmtpServer,
) -> None:  # fmt: skip
    for bad in (
        "Acme <no-reply@acme.example>",
        "a,b@acme.example",
        "no-reply@acme.example\r\nBcc: x@y.example",
    ):
        with pytest.raises(ValueError, match="--email-from must be an address"):
            await set_policy(services, org, email_from=bad)
    await set_policy(services, org, methods=("email_otp",), email_from="No-Reply@Acme.example")
    smtp_server.start()
    email = SmtpSender(smtp_settings(backend, tmp_path, keyring_file, smtp_server))
    delivery = MessageDelivery(services, Senders(email=email, sms=email))  # type: ignore[arg-type]  # no SMS here
    await code_flow.ask("sign_in", "email", code_flow.flow.user.email)
    assert (await delivery.run(org_ids=[org.id])).delivered == 1
    [mail] = smtp_server.inbox.received
    assert mail["From"] == "no-reply@acme.example"
    reset = await set_policy(services, org, email_from="default")
    assert reset.email_from is None


async def test_ui_locales_choose_the_language_of_the_code_pages_too(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("password", "email_otp"))
    code_flow.http.headers["Accept-Language"] = "en"
    flow = code_flow.flow
    login = await flow.follow(await flow.authorize(ui_locales="hi-IN en"))
    req = re.search(r"req=([A-Za-z0-9_-]+)", login.text).group(1)  # type: ignore[union-attr]
    page = await flow.http.get(
        f"{flow.base}/code", params={"req": req, "purpose": "sign_in", "channel": "email"}
    )
    assert '<html lang="hi">' in page.text and "ईमेल पर कोड से साइन इन करें" in page.text
    entry = await flow.http.post(
        f"{flow.base}/code", data=form_inputs(page.text) | {"destination": flow.user.email}
    )
    assert '<html lang="hi">' in entry.text and "अपना कोड दर्ज करें" in entry.text
    [message] = await delivered(services, org, flow.user.email)
    wrong = await code_flow.enter(entry, "000000" if code_in(message) != "000000" else "111111")
    assert wrong.status_code == 400 and "यह कोड सही नहीं है" in wrong.text
    resend = await flow.http.post(f"{flow.base}/code/resend", data=form_inputs(entry.text))
    assert "थोड़ा रुकें" in resend.text  # the cool-down, said in Hindi

    english = await _ask(code_flow, flow.user.email, ui_locales="en")  # a new request, in English
    assert '<html lang="en">' in english.text and "Enter your code" in english.text


async def test_discovery_names_the_languages_the_pages_and_messages_come_in(
    code_flow: CodeFlow, org: Organization
) -> None:
    meta = (await code_flow.http.get(f"/o/{org.slug}/.well-known/openid-configuration")).json()
    assert meta["ui_locales_supported"] == list(code_messages.LOCALES) == list(code_texts.PAGE)
