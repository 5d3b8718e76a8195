"""``{issuer}/account/profile``: the name, and changing the email or phone with a one-time code.

The name changes at once. A new email or phone is a sensitive change (step-up): a code goes to
the new address (``accounts.contacts``, counted against ``otp.send.*`` first), and only the
code coming back replaces the old address, verified. Until then nothing changes.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.accounts import codes, contacts, otp, users
from namoid.accounts.codes import Channel
from namoid.accounts.phones import PhoneRefused, normalize_mobile
from namoid.ratelimit.keys import request_ip
from namoid.ratelimit.otp import admit_send
from namoid.services import Services
from namoid.storage.models import utcnow
from namoid.web import limits
from namoid.web.account.console_auth import (
    DEFAULT_MAX_AGE,
    Console,
    ConsoleUser,
    console_page,
    require_fresh_auth,
)
from namoid.web.code_forms import TTL_MINUTES, compose_for

router = APIRouter()
PROFILE = "/profile"
#: Asking for a code needs a fresh sign-in; entering it may take the code's lifetime more.
Fresh = Annotated[Console, Depends(require_fresh_auth(return_to=PROFILE))]
CODE_MAX_AGE = DEFAULT_MAX_AGE + int(otp.DEFAULT_TTL.total_seconds())
FreshCode = Annotated[Console, Depends(require_fresh_auth(CODE_MAX_AGE, return_to=PROFILE))]
CHANNELS: dict[str, Channel] = {"email": "email", "sms": "sms"}
VERDICTS = {
    "wrong": "That code is not right. Check the message and try again.",
    "malformed": f"Enter the {otp.DEFAULT_DIGITS}-digit code from the message.",
}
EXPIRED = "That code can no longer be used. Ask for a new one."
TAKEN = "That address cannot be used for your account. Nothing was changed."


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _profile(
    request: Request, console: Console, *, error: str | None = None, notice: str | None = None
) -> Response:
    context = {
        "name_action": console.url(PROFILE + "/name"),
        "email_action": console.url(PROFILE + "/email"),
        "phone_action": console.url(PROFILE + "/phone"),
        "max_name": users.MAX_NAME,
        "error": error,
        "notice": notice,
    }
    return console_page(request, console, "account_profile.html", context, status_code=400 if error else 200)


@router.get("/account/profile", include_in_schema=False)
async def profile_page(request: Request, console: ConsoleUser) -> Response:
    return _profile(request, console)


@router.post("/account/profile/name", include_in_schema=False)
async def change_name(request: Request, console: ConsoleUser) -> Response:
    try:
        name = await users.set_name(
            _services(request).db,
            console.org.id,
            console.user.id,
            console.form.get("name", ""),
            console.actor,
        )
    except ValueError:
        return _profile(request, console, error=f"Enter a name of 1 to {users.MAX_NAME} characters.")
    console.user.name = name
    return _profile(request, console, notice="Your name was changed.")


def _code_page(
    request: Request,
    console: Console,
    channel: Channel,
    destination: str,
    challenge: uuid.UUID | str,
    error: str | None = None,
) -> Response:
    context = {
        "action": console.url(PROFILE + "/verify"),
        "channel": channel,
        "destination": destination,
        "shown_destination": codes.masked(channel, destination),
        "challenge": str(challenge),
        "digits": otp.DEFAULT_DIGITS,
        "minutes": TTL_MINUTES,
        "error": error,
    }
    status = 400 if error else 200
    return console_page(request, console, "account_contact_code.html", context, status_code=status)


async def _send(request: Request, console: Console, channel: Channel, destination: str) -> Response:
    """Count the send against ``otp.send.*``, issue the challenge and ask for the code."""
    services = _services(request)
    refused = await admit_send(services, console.org, destination, request_ip(request))
    if refused is not None:
        return await limits.too_many(request, console.org, refused)
    purpose = contacts.PURPOSES[channel]
    async with services.db.tenant(console.org.id) as session:
        challenge = await contacts.start_change(
            session, services.keyring, services.wakeup, console.org, console.user,
            channel=channel, destination=destination, interaction=console.browser.sid,
            compose=compose_for(request, console.org, purpose, channel, destination), now=utcnow(),
        )  # fmt: skip
    return _code_page(request, console, channel, destination, challenge)


@router.post("/account/profile/email", include_in_schema=False)
async def change_email(request: Request, console: Fresh) -> Response:
    """Send a code to the new email; it replaces the old one only when the code comes back."""
    try:
        email = users.normalize_email(console.form.get("email", ""))
    except ValueError:
        return _profile(request, console, error="Enter an email address, such as name@example.com.")
    if email == console.user.email:
        return _profile(request, console, error="That is already your email address.")
    return await _send(request, console, "email", email)


@router.post("/account/profile/phone", include_in_schema=False)
async def change_phone(request: Request, console: Fresh) -> Response:
    """Send a code by SMS to the new mobile number (the org's allowed countries only)."""
    try:
        phone = normalize_mobile(console.form.get("phone", ""), console.org.sms_countries)
    except PhoneRefused as refused:
        return _profile(request, console, error=str(refused))
    if phone == console.user.phone:
        return _profile(request, console, error="That is already your phone number.")
    return await _send(request, console, "sms", phone)


@router.post("/account/profile/verify", include_in_schema=False)
async def verify_contact(request: Request, console: FreshCode) -> Response:
    """The code for a new address: right, and the address replaces the old one, verified."""
    form = console.form
    channel = CHANNELS.get(form.get("channel", ""))
    destination = form.get("destination", "")[:320]
    try:
        challenge = uuid.UUID(form.get("challenge", "")[:36])
    except ValueError:
        challenge = None
    if channel is None or challenge is None:
        return _profile(request, console, error=EXPIRED)
    services = _services(request)
    async with services.db.tenant(console.org.id) as session:
        outcome = await contacts.finish_change(
            session, services.keyring, console.org.id, console.user,
            channel=channel, challenge_id=challenge, destination=destination, code=form.get("code", ""),
            interaction=console.browser.sid, now=utcnow(),
        )  # fmt: skip
    if outcome in VERDICTS:
        return _code_page(request, console, channel, destination, challenge, VERDICTS[outcome])
    if outcome == "taken":
        return _profile(request, console, error=TAKEN)
    if outcome != "verified":
        return _profile(request, console, error=EXPIRED)
    setattr(console.user, contacts.COLUMNS[channel], destination)
    setattr(console.user, f"{contacts.COLUMNS[channel]}_verified", True)
    what = "email address" if channel == "email" else "phone number"
    return _profile(request, console, notice=f"Your {what} was changed and verified.")
