"""Every grant to a relying party is in the consent ledger, under the notice shown (issue 13 item 2)."""

from __future__ import annotations

import hashlib

from namoid.privacy import notices
from namoid.storage.models import AuditEntry
from tests.features.authorize.conftest import Flow, query
from tests.features.consent.conftest import ADMIN, first_party, ledger, remembered, with_rp

HOSTILE = "# Our notice\n\nWe share <script>alert(1)</script> only what you allow.\nLine two."


async def _publish(flow: Flow, body: str, language: str = "en") -> notices.NoticeText:
    return await notices.publish(flow.services.db, flow.org.id, language, body.encode(), ADMIN)


async def _consent_page(flow: Flow) -> str:
    page = await flow.follow(await flow.authorize())
    if "/login" in str(page.url):
        page = await flow.follow(await flow.login(page))
    assert page.status_code == 200 and 'value="allow"' in page.text, page.text
    return page.text


async def test_a_clicked_grant_is_recorded_with_notice_time_ip_scopes_and_claims(flow: Flow) -> None:
    page = await _consent_page(flow)
    default = notices.default("en")
    assert "Data Protection Board of India" in page and "Notice version default-1" in page
    await flow.sign_in_and_allow()
    [record] = await ledger(flow)
    consent = await remembered(flow)
    assert consent is not None and record.consent_id == consent.id
    assert (record.event, record.counterparty, record.user_id) == ("granted", flow.rp.client_id, flow.user.id)
    assert record.scopes == ["openid", "profile", "email"]
    assert record.claims == ["sub", "name", "updated_at", "email", "email_verified"]
    assert record.purposes == ["sign_in", "share_profile"]
    assert (record.notice_version, record.notice_hash, record.language) == ("default-1", default.sha256, "en")
    assert default.sha256 == hashlib.sha256(default.body.encode()).hexdigest()
    assert (record.ip, record.action) == ("203.0.113.7", "clicked_allow")
    assert record.user_agent and record.occurred_at.tzinfo is not None
    # A remembered consent is not a new grant: no second record.
    assert "code" in query((await flow.authorize()).headers["location"])
    assert len(await ledger(flow)) == 1


async def test_a_first_party_grant_is_recorded_as_implied(flow: Flow) -> None:
    app = with_rp(flow, await first_party(flow, ["openid", "email"]))
    await app.sign_in_and_allow(scope="openid email")
    assert "code" in query((await app.authorize(scope="openid")).headers["location"])
    [record] = await ledger(app)
    assert record.action == "implied_first_party" and record.counterparty == app.rp.client_id
    assert record.scopes == ["openid", "email"] and record.notice_version == "default-1"


async def test_a_new_notice_version_asks_again_and_is_shown_escaped(flow: Flow) -> None:
    await flow.sign_in_and_allow()
    published = await _publish(flow, HOSTILE)
    assert published.version == "1"
    silent = await flow.authorize(prompt="none")
    assert query(silent.headers["location"])["error"] == "consent_required"
    again = await flow.authorize()
    assert again.headers["location"].startswith(f"{flow.base}/consent?req=")
    page = await flow.follow(again)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert "Notice version 1" in page.text
    assert (await flow.decide(page, "allow")).status_code == 303
    first, second = await ledger(flow)
    assert first.consent_id == second.consent_id
    assert (second.notice_version, second.notice_hash) == ("1", published.sha256)
    assert "code" in query((await flow.authorize()).headers["location"])  # remembered under version 1


async def test_an_allow_under_a_replaced_notice_shows_the_new_one(flow: Flow) -> None:
    await _consent_page(flow)
    page = await flow.follow(await flow.authorize())
    await _publish(flow, "A newer notice.")
    answer = await flow.decide(page, "allow")
    assert (
        answer.status_code == 200 and "A newer notice." in answer.text and "Notice version 1" in answer.text
    )
    assert await ledger(flow) == [] and await flow.codes() == 0
    done = await flow.decide(answer, "allow")
    assert "code" in query(done.headers["location"])
    [record] = await ledger(flow)
    assert record.notice_version == "1"


async def test_the_notice_follows_the_browser_language(flow: Flow) -> None:
    hindi = await _publish(flow, "हम केवल वही साझा करते हैं जिसकी आप अनुमति देते हैं।", "hi")
    flow.http.headers["accept-language"] = "hi-IN,hi;q=0.9,en;q=0.5"
    page = await _consent_page(flow)
    assert "हम केवल वही साझा करते हैं" in page and 'lang="hi"' in page
    await flow.sign_in_and_allow()
    [record] = await ledger(flow)
    assert (record.language, record.notice_version, record.notice_hash) == ("hi", "1", hindi.sha256)
    public = await flow.http.get(f"{flow.base}/notice", params={"lang": "hi"})
    assert public.status_code == 200 and "हम केवल वही" in public.text and hindi.sha256 in public.text


async def test_publishing_is_audited_and_validated(flow: Flow) -> None:
    await _publish(flow, "One.")
    await _publish(flow, "Two.")
    async with flow.services.db.tenant(flow.org.id) as session:
        assert (await notices.current(session, flow.org.id, "en")).version == "2"
    assert (await flow.audit_actions()).count("notice.published") == 2
    for language, raw, message in (
        ("fr", b"x", "language"),
        ("en", b"  ", "empty"),
        ("en", b"\xff", "UTF-8"),
    ):
        try:
            await notices.publish(flow.services.db, flow.org.id, language, raw, ADMIN)
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError("accepted a bad notice")
    assert await flow.count(AuditEntry, action="notice.published") == 2
