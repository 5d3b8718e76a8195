"""Sending a one-time code from a browser page and showing the form to enter it (issue 11).

Shared by the code routes (namoid.web.codes) and the password form's second factor
(namoid.web.interaction). Limits come before any work: the purpose's own policies
(``registration.*``, ``password_reset.*``), then ``otp.send.ip``, ``otp.send.destination``
and the org's hourly budget (``ratelimit.otp.admit_send``). The page after a send is the
same whether or not the destination has an account (namoid.accounts.codes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from namoid.accounts import codes, otp
from namoid.accounts.codes import Channel
from namoid.notify import overrides
from namoid.notify.messages import Message
from namoid.ratelimit.keys import request_ip
from namoid.ratelimit.login import account_key
from namoid.ratelimit.otp import admit_send
from namoid.services import Services
from namoid.storage.models import BrowserSession, Organization, User, utcnow
from namoid.web import code_messages, code_texts, limits
from namoid.web.csrf import csrf_token
from namoid.web.responses import page

#: Per purpose, the policies counted per IP and per destination before the ``otp.send.*`` ones.
PURPOSE_POLICIES: dict[str, tuple[str, str]] = {
    "sign_up": ("registration.ip", "registration.destination"),
    "password_reset": ("password_reset.ip", "password_reset.destination"),
}
TTL_MINUTES = int(otp.DEFAULT_TTL.total_seconds() // 60)
Compose = Callable[[str], Message]


@dataclass(frozen=True, slots=True)
class CodeStep:
    """Where a code form stands: its sign-in request, what the code is for and where it went."""

    org: Organization
    handle: str
    client_id: str
    client_name: str
    form_targets: list[str]
    browser: BrowserSession
    purpose: otp.Purpose
    channel: Channel
    destination: str
    #: The relying party's ``ui_locales`` (OIDC Core §3.1.2.1), first in choosing the language.
    ui_locales: str | None = None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def composer(request: Request, step: CodeStep) -> Compose:
    """How the step's code message is written (``compose_for``), in the request's language."""
    return await compose_for(request, step.org, step.purpose, step.channel, step.destination, step.ui_locales)


async def compose_for(
    request: Request,
    org: Organization,
    purpose: otp.Purpose,
    channel: Channel,
    destination: str,
    ui_locales: str | None = None,
) -> Compose:
    """How a code's message for ``purpose`` to ``destination`` is written: in the language of
    ``ui_locales`` or the browser, and in the org's own wording if it has one
    (namoid.notify.overrides), from the org's From address."""
    services = _services(request)
    locale = code_messages.choose_locale(request.headers.get("accept-language"), ui_locales)
    wording = await overrides.load(services.db, org)

    def compose(code: str) -> Message:
        if channel == "sms":
            base_url = services.settings.base_url
            return code_messages.sms(
                destination, code, purpose, org.name, TTL_MINUTES, locale, base_url, wording
            )
        return code_messages.email(
            destination,
            code,
            purpose,
            org.name,
            TTL_MINUTES,
            locale,
            from_address=org.email_from,
            overrides=wording,
        )

    return compose


async def admit(request: Request, step: CodeStep) -> Response | None:
    """The 429 if a policy refuses this send, else None (each policy counted once)."""
    services = _services(request)
    ip = request_ip(request)
    destination_key = account_key(services.keyring.pepper, step.org.id, step.destination)
    keys = (services.limiter.ip_key(ip), destination_key)
    for policy, key in zip(PURPOSE_POLICIES.get(step.purpose, ()), keys, strict=False):
        decision = await services.limiter.hit(policy, key, org=step.org.slug)
        if not decision.allowed:
            return await limits.too_many(request, step.org, decision)
    refused = await admit_send(services, step.org, step.destination, ip)
    return None if refused is None else await limits.too_many(request, step.org, refused)


def entry_page(
    request: Request,
    step: CodeStep,
    challenge_id: uuid.UUID | str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The form for the code (and, for sign-up and reset, the new password), in the request's
    language; ``error`` is the key of what went wrong (``code_texts.ERRORS``)."""
    base = f"/o/{step.org.slug}"
    locale = code_messages.choose_locale(request.headers.get("accept-language"), step.ui_locales)
    text = code_texts.PAGE[locale]
    digits = step.org.challenge_digits
    shown = codes.masked(step.channel, step.destination)
    context = {
        "lang": locale,
        "t": text,
        "lead": text["entry_lead"].format(destination=shown, client=step.client_name, digits=digits),
        "action": f"{base}/code/verify",
        "resend_action": f"{base}/code/resend",
        "back": f"{base}/login?req={step.handle}",
        "req": step.handle,
        "csrf_token": csrf_token(step.browser),
        "client_name": step.client_name,
        "purpose": step.purpose,
        "channel": step.channel,
        "destination": step.destination,
        "shown_destination": shown,
        "challenge": str(challenge_id),
        "digits": digits,
        "new_password": step.purpose in ("sign_up", "password_reset"),
        "error": code_texts.error(locale, error, digits) if error else None,
    }
    return page(request, "code_entry.html", context, form_targets=step.form_targets, status_code=status_code)


async def deliverable(request: Request, step: CodeStep) -> bool:
    """Whether the code may go out: an account exists (sign-up: no account holds the address)."""
    async with _services(request).db.tenant(step.org.id) as session:
        if step.purpose == "sign_up":
            return not await codes.address_taken(session, step.org.id, step.channel, step.destination)
        user = await codes.user_for(session, step.org.id, step.channel, step.destination)
    return user is not None


async def send_and_ask(request: Request, step: CodeStep) -> Response:
    """Count the send against its limits, issue the challenge (queue its code if it may go out)
    and show the code form; the same form whether or not a message was queued."""
    refused = await admit(request, step)
    if refused is not None:
        return refused
    services = _services(request)
    deliver = await deliverable(request, step)
    compose = await composer(request, step)
    async with services.db.tenant(step.org.id) as session:
        challenge_id = await codes.send(
            session,
            services.keyring,
            services.wakeup,
            step.org,
            purpose=step.purpose,
            channel=step.channel,
            destination=step.destination,
            interaction=step.browser.sid,
            deliver=deliver,
            compose=compose,
            now=utcnow(),
        )
    return entry_page(request, step, challenge_id)


def second_factor_channel(org: Organization, user: User) -> tuple[Channel, str] | None:
    """Where the second factor goes after a right password, or None if the org asks none of
    this user: ``required`` asks everyone, ``optional`` those with a verified phone. SMS to a
    verified phone when the org offers SMS codes, else email."""
    by_sms = "sms_otp" in org.sign_in_methods and user.phone is not None and user.phone_verified
    if org.mfa == "required" or (org.mfa == "optional" and by_sms):
        return ("sms", user.phone) if by_sms and user.phone else ("email", user.email)
    return None
