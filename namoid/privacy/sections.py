"""Every room's personal-data sections, in export order (DESIGN.md §8).

A room that starts storing personal data declares its :class:`~namoid.privacy.registry.Section`
in its own ``personal_data`` module and adds it here; ``tests/unit/privacy/test_registry.py``
fails while a table with personal data is in no section.
"""

from __future__ import annotations

from typing import Final

from namoid.accounts import personal_data as accounts
from namoid.audit import personal_data as audit
from namoid.events import personal_data as events
from namoid.kyc import personal_data as kyc
from namoid.oauth import personal_data as oauth
from namoid.privacy import consent_ledger, export_history
from namoid.privacy.registry import Section, check_sections
from namoid.providers import personal_data as providers
from namoid.storage.models import Base

SECTIONS: Final[tuple[Section, ...]] = (
    accounts.ACCOUNT,
    accounts.SESSIONS,
    oauth.APPLICATIONS,
    consent_ledger.SECTION,
    providers.CONNECTED_PROVIDERS,
    kyc.IDENTITY_VERIFICATION,
    audit.AUDIT_EVENTS,
    events.SECURITY_EVENTS,
    export_history.DATA_EXPORTS,
)
check_sections(SECTIONS, Base.metadata)
