"""Privacy notices, versioned per org and language (DPDP Act s.5, s.6(3); Rules R.3).

A notice is shown with every consent request. Each publication is a new version (the
``notices`` table is append-only); the consent ledger records the version and the SHA-256
of the exact text shown, so what the user saw can be proven. An org that published none
shows the built-in notice, which is versioned too (``default-N``). Consent given under
another version than the current one is stale: the user is asked again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.storage.db import Database
from namoid.storage.models import Notice
from namoid.storage.repos import notices

LANGUAGES: Final = ("en", "hi")
MAX_BYTES: Final = 64 * 1024
#: Bump with any change to a built-in text below.
DEFAULT_VERSION: Final = "default-1"
DEFAULT_TEXTS: Final = {
    "en": (
        "When you allow an application, we share with it only the items listed above, so that you "
        "can sign in to it. The application uses them under its own privacy policy.\n\n"
        "You can withdraw this consent at any time, as easily as you gave it: in your account, under "
        "Connected applications. The application then receives no more data from us and is told of "
        "your withdrawal.\n\n"
        "You may see what was shared and when, download a receipt of this consent, and raise a "
        "grievance from your account. If you are not satisfied with the response, you may complain "
        "to the Data Protection Board of India."
    ),
    "hi": (
        "जब आप किसी एप्लिकेशन को अनुमति देते हैं, तो हम उसके साथ केवल ऊपर दी गई जानकारी साझा करते हैं, "
        "ताकि आप उसमें साइन इन कर सकें। एप्लिकेशन इसका उपयोग अपनी गोपनीयता नीति के अनुसार करता है।\n\n"
        "आप यह सहमति कभी भी उतनी ही आसानी से वापस ले सकते हैं जितनी आसानी से आपने दी थी: अपने खाते में, "
        "कनेक्टेड एप्लिकेशन के अंतर्गत। इसके बाद एप्लिकेशन को हमसे कोई डेटा नहीं मिलता और उसे आपकी "
        "वापसी की सूचना दी जाती है।\n\n"
        "आप अपने खाते से देख सकते हैं कि क्या और कब साझा किया गया, इस सहमति की रसीद डाउनलोड कर सकते हैं "
        "और शिकायत दर्ज कर सकते हैं। उत्तर से संतुष्ट न होने पर आप भारत के डेटा संरक्षण बोर्ड से शिकायत "
        "कर सकते हैं।"
    ),
}


@dataclass(frozen=True, slots=True)
class NoticeText:
    """The notice shown: its language, version, text and the SHA-256 (hex) of that text."""

    language: str
    version: str
    body: str
    sha256: str

    @property
    def paragraphs(self) -> list[str]:
        """The text as paragraphs (blank-line separated); shown escaped, never as HTML."""
        return [part.strip() for part in self.body.split("\n\n") if part.strip()]


def digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    return language


def default(language: str) -> NoticeText:
    body = DEFAULT_TEXTS[check_language(language)]
    return NoticeText(language, DEFAULT_VERSION, body, digest(body))


async def current(session: AsyncSession, org_id: uuid.UUID, language: str) -> NoticeText:
    """The org's latest notice in ``language``, else the built-in one."""
    row = await notices.latest(session, org_id, check_language(language))
    if row is None:
        return default(language)
    return NoticeText(row.language, str(row.version), row.body, row.sha256)


def normalise(raw: bytes) -> str:
    """A notice file's text: UTF-8, at most 64 KiB, not empty, line ends as ``\\n``."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"the notice is larger than {MAX_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n").strip()
    except UnicodeDecodeError:
        raise ValueError("the notice is not UTF-8 text") from None
    if not text:
        raise ValueError("the notice is empty")
    return text


async def publish(
    db: Database, org_id: uuid.UUID, language: str, raw: bytes, actor: audit.Actor
) -> NoticeText:
    """Publish a new version of the org's notice in ``language`` (audited); remembered consents
    given under an older version are asked again."""
    body = normalise(raw)
    async with db.tenant(org_id) as session:
        previous = await notices.latest(session, org_id, check_language(language))
        version = (previous.version if previous is not None else 0) + 1
        row = await notices.add(
            session, org_id, Notice(language=language, version=version, body=body, sha256=digest(body))
        )
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="notice.published",
            target_type="org",
            target_id=str(org_id),
            detail={"language": language, "version": version, "sha256": row.sha256},
        )
    return NoticeText(language, str(version), body, row.sha256)
