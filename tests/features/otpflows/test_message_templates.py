"""Per-org wording of the code messages (issue 11 item 7), on SQLite and PostgreSQL: safe overrides
are used in the flow, in their language only; unsafe ones are refused when set and store nothing;
the SMS keeps its WebOTP line; a reset brings NamoID's wording back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from namoid.notify import overrides
from namoid.services import Services
from namoid.storage.models import AuditEntry, MessageTemplate, Organization
from namoid.web import code_messages
from tests.features.conftest import ADMIN, MakeUser
from tests.features.otpflows.conftest import CodeFlow, code_in, delivered, set_policy

UNSAFE = {
    "{{ code.__class__.__mro__ }}": "Getattr is not allowed",
    "{% for i in range(100000) %}{{ code }}{% endfor %}": "For is not allowed",
    "{{ code * 100000000 }}": "Mul is not allowed",
    "{% include 'base.html' %}{{ code }}": "Include is not allowed",
    "{{ lipsum() }} {{ code }}": "Call is not allowed",
    "{{ code|attr('upper') }}": "Filter is not allowed",
    "{{ user }} {{ code }}": "unknown variables ['user']",
    "Hello from {{ org }}": "must show the code",
    "{{ code": "does not parse",
    "x" * 301 + "{{ code }}": "1-300 characters",
}


async def _stored(services: Services, org: Organization) -> tuple[int, int]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalar(select(func.count()).select_from(MessageTemplate))
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.org_id == org.id, AuditEntry.action == "org.template_changed"
            )
        )
    return int(rows or 0), int(audited or 0)


async def test_unsafe_templates_are_refused_and_store_nothing(services: Services, org: Organization) -> None:
    for body, reason in UNSAFE.items():
        with pytest.raises(ValueError, match=reason.replace("[", r"\[").replace("]", r"\]")):
            await overrides.set_override(services.db, org, "code_sms", "en", "text", body, ADMIN)
    for template, locale, part in (
        ("code_sms", "en", "html"),
        ("code_email", "fr", "text"),
        ("welcome", "en", "text"),
    ):
        with pytest.raises(ValueError):
            await overrides.set_override(services.db, org, template, locale, part, "{{ code }}", ADMIN)
    with pytest.raises(LookupError):
        await overrides.set_override(services.db, org, "code_sms", "en", "text", None, ADMIN)
    assert await _stored(services, org) == (0, 0)


async def test_an_orgs_wording_is_used_in_its_language_and_a_reset_restores_ours(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("password", "email_otp"))
    wording = {
        "subject": "{{ org }} sign-in: {{ code }}",
        "text": "Namaste! Use {{ code }} to {{ purpose }} within {{ minutes }} minutes.",
        "html": "<p>Use <b>{{ code }}</b> for {{ org|upper }}</p>",
    }
    for part, body in wording.items():
        await overrides.set_override(services.db, org, "code_email", "en", part, body, ADMIN)
    assert await _stored(services, org) == (3, 3)
    email = code_flow.flow.user.email
    entry = await code_flow.ask("sign_in", "email", email)
    [mail] = await delivered(services, org, email)
    code = code_in(mail)
    assert mail.subject == f"Test Org sign-in: {code}"  # type: ignore[union-attr]
    assert mail.text == f"Namaste! Use {code} to sign in within 5 minutes."
    assert mail.html == f"<p>Use <b>{code}</b> for TEST ORG</p>"  # type: ignore[union-attr]
    assert (await code_flow.finish(await code_flow.enter(entry, code))).get("code")

    code_flow.http.cookies.clear()  # signed out again
    code_flow.http.headers["Accept-Language"] = "hi"  # no Hindi override: NamoID's Hindi wording
    await code_flow.ask("sign_in", "email", email)
    hindi, _ = await delivered(services, org, email)
    assert "आपका" in hindi.subject and "Namaste" not in hindi.text  # type: ignore[union-attr]

    await overrides.set_override(services.db, org, "code_email", "en", "text", None, ADMIN)
    code_flow.http.headers["Accept-Language"] = "en"
    await code_flow.ask("sign_in", "email", email)
    newest, *_ = await delivered(services, org, email)
    assert newest.text.startswith("Your Test Org code is") and newest.subject.endswith(code_in(newest))  # type: ignore[union-attr]
    assert await _stored(services, org) == (2, 4)


async def test_an_sms_override_keeps_the_web_otp_line_and_its_dlt_template(
    code_flow: CodeFlow, services: Services, org: Organization, make_user: MakeUser
) -> None:
    await set_policy(services, org, methods=("sms_otp",))
    await make_user(phone="+919812340002", phone_verified=True)
    await overrides.set_override(services.db, org, "code_sms", "en", "text", "{{ code }} - {{ org }}", ADMIN)
    await code_flow.ask("sign_in", "sms", "+919812340002")
    [sms] = await delivered(services, org, "+919812340002")
    code = code_in(sms)
    host = services.settings.base_url.removeprefix("https://")
    assert sms.text == f"{code} - Test Org\n\n@{host} #{code}" and sms.template == "otp_sign_in"  # type: ignore[union-attr]


def test_html_overrides_escape_the_variables_and_text_overrides_do_not() -> None:
    wording = {
        ("code_email", "en", "html"): "<p>{{ org }}: {{ code }}</p>",
        ("code_email", "en", "text"): "{{ org }}: {{ code }}",
    }
    mail = code_messages.email(
        "a@example.com", "123456", "sign_in", "A&B <script>", 5, "en", overrides=wording
    )
    assert mail.html == "<p>A&amp;B &lt;script&gt;: 123456</p>"
    assert mail.text == "A&B <script>: 123456"


def test_namoids_own_text_part_is_not_html_escaped() -> None:
    mail = code_messages.email("a@example.com", "123456", "sign_in", "A&B <Co>", 5, "en")
    assert mail.text.startswith("Your A&B <Co> code is 123456")
    assert "A&amp;B &lt;Co&gt;" in (mail.html or "")
