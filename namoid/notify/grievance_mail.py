"""The email that tells a user their grievance was answered or rejected (issue 13 item 7), in
English or Hindi.

DPDP Rules R.9: the DPO or contact person is named in every response; s.13(3): once the
grievance process is done, the principal may complain to the Data Protection Board. Only
what the answer needs: the ticket's subject, the outcome, the response and those contacts.
"""

from __future__ import annotations

from dataclasses import dataclass

from namoid.notify.messages import EmailMessage

#: Where a principal complains after the grievance process (DPDP Act s.13(3), s.27).
BOARD_URL = "https://www.dpb.gov.in/"

OUTCOME: dict[str, dict[str, str]] = {
    "en": {"answered": "answered", "rejected": "rejected"},
    "hi": {"answered": "उत्तर दिया गया", "rejected": "अस्वीकार किया गया"},
}
SUBJECT: dict[str, str] = {
    "en": "{org}: your grievance was {outcome}",
    "hi": "{org}: आपकी शिकायत का {outcome}",
}
BODY: dict[str, str] = {
    "en": (
        'Your grievance to {org}, "{subject}" (raised {raised}), was {outcome}.\n\n'
        "{response}\n\n"
        "Contact for personal data: {contact}\n"
        "If you are not satisfied, you may complain to the Data Protection Board of India "
        "(Digital Personal Data Protection Act 2023, section 13): {board}\n"
    ),
    "hi": (
        '{org} को आपकी शिकायत, "{subject}" ({raised} को दर्ज), का {outcome}।\n\n'
        "{response}\n\n"
        "व्यक्तिगत डेटा के लिए संपर्क: {contact}\n"
        "यदि आप संतुष्ट नहीं हैं, तो आप भारत के डेटा संरक्षण बोर्ड से शिकायत कर सकते हैं "
        "(डिजिटल व्यक्तिगत डेटा संरक्षण अधिनियम 2023, धारा 13): {board}\n"
    ),
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the email says: the ticket, its outcome and who to contact."""

    org_name: str
    subject: str
    raised: str
    outcome: str  # answered | rejected
    response: str
    contact: str


def answered(to: str, answer: Answer, locale: str, from_address: str | None = None) -> EmailMessage:
    language = locale if locale in BODY else "en"
    outcome = OUTCOME[language][answer.outcome]
    return EmailMessage(
        to=to,
        subject=SUBJECT[language].format(org=answer.org_name, outcome=outcome),
        text=BODY[language].format(
            org=answer.org_name,
            subject=answer.subject,
            raised=answer.raised,
            outcome=outcome,
            response=answer.response,
            contact=answer.contact,
            board=BOARD_URL,
        ),
        from_address=from_address,
    )
