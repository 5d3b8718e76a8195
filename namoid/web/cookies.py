"""The session cookie (DESIGN.md §7): ``__Host-`` prefixed, Secure, HttpOnly, SameSite=Lax.

The ``__Host-`` prefix (RFC 6265bis §4.1.3.2) makes browsers refuse the cookie unless it is
Secure, has ``Path=/`` and no ``Domain``: it cannot be planted from a sibling subdomain.
One cookie per organization, so signing in to one org does not sign in to another.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

PREFIX = "__Host-namoid-"


def session_cookie_name(org_slug: str) -> str:
    return PREFIX + org_slug


def read_session_token(request: Request, org_slug: str) -> str | None:
    return request.cookies.get(session_cookie_name(org_slug))


def set_session_cookie(
    response: Response, org_slug: str, token: str, expires_at: datetime, now: datetime
) -> None:
    response.set_cookie(
        session_cookie_name(org_slug),
        token,
        max_age=max(0, int((expires_at - now).total_seconds())),
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, org_slug: str) -> None:
    response.delete_cookie(
        session_cookie_name(org_slug), path="/", secure=True, httponly=True, samesite="lax"
    )


# --- the device cookie (OWASP Authentication Cheat Sheet, "device cookies") ----------------

#: How long a browser stays "known" after its last successful sign-in (renewed at each one).
DEVICE_COOKIE_MAX_AGE = 90 * 24 * 3600
#: Slugs are [a-z0-9-]: no session cookie's name can end up equal to a device cookie's.
DEVICE_PREFIX = PREFIX + "device_"


def device_cookie_name(org_slug: str) -> str:
    return DEVICE_PREFIX + org_slug


def read_device_cookie(request: Request, org_slug: str) -> str | None:
    return request.cookies.get(device_cookie_name(org_slug))


def set_device_cookie(response: Response, org_slug: str, value: str) -> None:
    """Same attributes as the session cookie; it outlives sessions, never its own max-age."""
    response.set_cookie(
        device_cookie_name(org_slug),
        value,
        max_age=DEVICE_COOKIE_MAX_AGE,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


# --- the trip cookie: binds an upstream provider's response to this browser ----------------

#: ``_`` cannot occur in a slug, so no session or device cookie's name equals a trip cookie's.
TRIP_PREFIX = PREFIX + "trip_"


def trip_cookie_name(org_slug: str) -> str:
    return TRIP_PREFIX + org_slug


def read_trip_cookie(request: Request, org_slug: str) -> str | None:
    return request.cookies.get(trip_cookie_name(org_slug))


def set_trip_cookie(response: Response, org_slug: str, value: str, max_age: int) -> None:
    """SameSite=None: a ``form_post`` upstream (Apple) returns with a cross-site POST, which
    carries no Lax cookie. Single use, as short-lived as the trip; its SHA-256 is on the trip row."""
    response.set_cookie(
        trip_cookie_name(org_slug),
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="none",
    )


def clear_trip_cookie(response: Response, org_slug: str) -> None:
    response.delete_cookie(trip_cookie_name(org_slug), path="/", secure=True, httponly=True, samesite="none")


# --- the account console: its session cookie and the cookie of a sign-in in progress -------

#: ``_`` cannot occur in a slug: neither name can equal any other cookie's.
CONSOLE_PREFIX = PREFIX + "console_"
CONSOLE_START_PREFIX = PREFIX + "consolestart_"


def console_cookie_name(org_slug: str) -> str:
    return CONSOLE_PREFIX + org_slug


def console_start_cookie_name(org_slug: str) -> str:
    return CONSOLE_START_PREFIX + org_slug


def set_console_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    """One of the console's cookies (``console_cookie_name``, ``console_start_cookie_name``),
    with the session cookie's attributes."""
    response.set_cookie(
        name, value, max_age=max(0, max_age), path="/", secure=True, httponly=True, samesite="lax"
    )


def clear_console_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


# --- the admin console (on the admin origin): its session cookie and a sign-in in progress --

ADMIN_CONSOLE_PREFIX = PREFIX + "admin_"
ADMIN_CONSOLE_START_PREFIX = PREFIX + "adminstart_"


def admin_console_cookie_name(org_slug: str) -> str:
    return ADMIN_CONSOLE_PREFIX + org_slug


def admin_console_start_cookie_name(org_slug: str) -> str:
    return ADMIN_CONSOLE_START_PREFIX + org_slug
