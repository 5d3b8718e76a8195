"""The account console at ``{issuer}/account`` (issue 13): a user's own pages, server-rendered.

The console is an ordinary NamoID sign-in of the org's first-party client ``namoid-account``
(``sign_in``, ``oauth.console_client``); ``console_auth`` gives every page its signed-in
user, CSRF checking and step-up (read its docstring for the API).

To add a section:

1. Write one module here with an ``APIRouter`` named ``router``; its routes live under
   ``/account/...`` and take ``console: ConsoleUser`` (or
   ``Depends(require_fresh_auth())`` for sensitive actions); POST forms carry
   ``csrf_token`` (the dependency checks it) and call a service function that writes the
   change and its audit entry in one transaction. Render with ``console_page``.
2. Add one template extending ``account_base.html`` (no JavaScript; it must work at 390 px).
3. Add one line to ``SECTIONS`` below: the module's router, and its nav entry (label and path
   under ``/account``) or ``None`` for routes that need none.

Then classify the new routes in ``tests/features/ratelimit/test_coverage.py`` (console pages
count against ``interaction.ip`` through the dependency) and exercise every POST in
``tests/features/audit/test_completeness_http.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from namoid.web.account import (
    consents,
    data,
    delete,
    grievances,
    kyc,
    overview,
    password,
    profile,
    providers,
    sessions,
    sign_in,
)


@dataclass(frozen=True, slots=True)
class Section:
    router: APIRouter
    #: (label, path under ``/account``) in the console's navigation, or None.
    nav: tuple[str, str] | None


#: The console, one line per section, in navigation order.
SECTIONS: tuple[Section, ...] = (
    Section(sign_in.router, None),
    Section(overview.router, ("Overview", "")),
    Section(profile.router, ("Profile and contacts", "/profile")),
    Section(sessions.router, ("Where you are signed in", "/sessions")),
    Section(password.router, ("Password", "/password")),
    Section(providers.router, ("Connected providers", "/providers")),
    Section(consents.router, ("Connected applications", "/applications")),
    Section(consents.history_router, ("Consent history", "/consents")),
    Section(consents.access_router, ("Access summary", "/access")),
    Section(kyc.router, ("Aadhaar verification", "/kyc")),
    Section(data.router, ("Your data", "/data")),
    Section(grievances.router, ("Grievances", "/grievances")),
    Section(delete.router, ("Delete account", "/delete")),
)

NAV: tuple[tuple[str, str], ...] = tuple(section.nav for section in SECTIONS if section.nav is not None)

router = APIRouter()
for _section in SECTIONS:
    router.include_router(_section.router)
