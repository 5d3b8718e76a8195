"""What an authorization request needs next: a login, the consent page, or nothing (issue a code).

OIDC Core §3.1.2.1 (``prompt``, ``max_age``), §3.1.2.3 and §3.1.2.4 (authenticating the user and
obtaining consent), §3.1.2.6 (``login_required``, ``consent_required`` for ``prompt=none``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from namoid.oauth.authorize import AuthorizationParams
from namoid.oauth.errors import ConsentRequired, LoginRequired

Interaction = Literal["login", "consent"]


class Authenticated(Protocol):
    """A signed-in browser: when its user last proved who they are."""

    @property
    def auth_time(self) -> datetime: ...


A = TypeVar("A", bound=Authenticated)


def login_needed(
    params: AuthorizationParams, started_at: datetime, auth: Authenticated | None, now: datetime
) -> bool:
    """A login is needed without a session, or when ``prompt=login``/``select_account`` or an
    exceeded ``max_age`` asks for a fresh one: a login after the request started satisfies both."""
    if auth is None:
        return True
    if auth.auth_time >= started_at:
        return False
    if params.prompt & {"login", "select_account"}:
        return True
    return params.max_age is not None and (now - auth.auth_time).total_seconds() > params.max_age


#: Scopes only the user's own affirmative consent grants, at a first-party client too: handing
#: over an Aadhaar offline e-KYC file is never implied (DPDP Act s.6(1); issue 14).
EXPLICIT_SCOPES = frozenset({"kyc"})


def consent_needed(params: AuthorizationParams, granted: Collection[str] | None, first_party: bool) -> bool:
    """``prompt=consent`` always asks; otherwise first-party clients (unless they ask for an
    ``EXPLICIT_SCOPES`` scope) and scopes the user already granted this client do not."""
    if "consent" in params.prompt:
        return True
    if first_party and not EXPLICIT_SCOPES & set(params.scopes):
        return False
    return granted is None or not set(params.scopes) <= set(granted)


def next_step(
    params: AuthorizationParams,
    *,
    started_at: datetime,
    auth: A | None,
    granted: Collection[str] | None,
    first_party: bool,
    now: datetime,
) -> Interaction | A:
    """The interaction still needed, or ``auth`` itself when a code may be issued under it.

    With ``prompt=none`` a needed interaction is an error instead (OIDC Core §3.1.2.6).
    """
    silent = "none" in params.prompt
    if auth is None or login_needed(params, started_at, auth, now):
        if silent:
            raise LoginRequired("the user must sign in")
        return "login"
    if consent_needed(params, granted, first_party):
        if silent:
            raise ConsentRequired("the user has not consented to these scopes")
        return "consent"
    return auth
