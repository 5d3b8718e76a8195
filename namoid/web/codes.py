"""The one-time-code pages under ``/o/{org}`` (issue 11): ask for a code, enter it, get a new one.

``GET /code`` asks where to send a code for a purpose (sign in by email or SMS, sign up,
password reset); ``POST /code`` sends it (namoid.web.code_forms); ``POST /code/verify``
checks it and does what it was for; ``POST /code/resend`` replaces it after the cool-down.
Cheap checks come first, as on the password form: a live session, its CSRF token and an
open sign-in request; a refusal costs no shared budget. A code is bound to its purpose,
to this browser's session and to its destination (namoid.accounts.otp); guesses are
counted per challenge (``otp.verify.challenge`` and the challenge's own five tries).
Every bad input gets the form again with a message, never a 500.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from namoid.accounts import codes, otp, sessions
from namoid.accounts import login as password_login
from namoid.accounts.codes import CODE_AMR, Channel
from namoid.accounts.phones import PhoneRefused, normalize_mobile
from namoid.accounts.users import MAX_PASSWORD, MIN_PASSWORD, normalize_email
from namoid.storage.models import BrowserSession, Organization, utcnow
from namoid.web import code_texts, limits
from namoid.web.code_forms import CodeStep, admit, composer, deliverable, entry_page, send_and_ask
from namoid.web.code_messages import choose_locale
from namoid.web.cookies import read_session_token, set_session_cookie
from namoid.web.csrf import csrf_token, csrf_valid
from namoid.web.interaction import (
    CurrentOrg,
    Pending,
    _expired,
    _field,
    _form_targets,
    _pending,
    _services,
    _to_interaction,
)
from namoid.web.responses import page, problem, request_pairs

router = APIRouter()

NOT_OFFERED = ("This way of signing in is not offered here", "Go back and choose another way to sign in.")


def offered(org: Organization, purpose: str, channel: str) -> bool:
    """Whether the org's sign-in policy offers codes for ``purpose`` by ``channel`` on these pages."""
    if (purpose, channel) not in code_texts.TITLES["en"]:
        return False
    if purpose == "sign_in":
        return f"{channel}_otp" in org.sign_in_methods
    if purpose == "sign_up":
        return org.registration == "open"
    return "password" in org.sign_in_methods  # password_reset


def _request_page(
    request: Request,
    org: Organization,
    pending: Pending,
    browser: BrowserSession,
    purpose: str,
    channel: str,
    *,
    destination: str = "",
    error: str | None = None,
) -> Response:
    locale = choose_locale(request.headers.get("accept-language"), pending.params.ui_locales)
    text = code_texts.PAGE[locale]
    context = {
        "lang": locale,
        "t": text,
        "title": code_texts.TITLES[locale][(purpose, channel)],
        "lead": text["request_lead"].format(client=pending.client.name, digits=org.challenge_digits),
        "action": f"/o/{org.slug}/code",
        "back": f"/o/{org.slug}/login?req={pending.handle}",
        "req": pending.handle,
        "csrf_token": csrf_token(browser),
        "client_name": pending.client.name,
        "purpose": purpose,
        "channel": channel,
        "destination": destination[:320],
        "digits": org.challenge_digits,
        "error": error,
    }
    status = 400 if error else 200
    return page(
        request, "code_request.html", context, form_targets=_form_targets(pending.params), status_code=status
    )


def normalized_destination(org: Organization, channel: str, raw: str) -> str:
    """The email (normalized) or E.164 number; ValueError with a message for the form."""
    if channel == "sms":
        return normalize_mobile(raw, org.sms_countries)
    try:
        return normalize_email(raw[:400])
    except ValueError:
        raise ValueError("Enter a valid email address, like name@example.com.") from None


@router.get("/code", include_in_schema=False)
async def code_page(request: Request, org: CurrentOrg) -> Response:
    """Where to send a code (an email address or a mobile number)."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    now = utcnow()
    started = None
    purpose, channel = request.query_params.get("purpose", ""), request.query_params.get("channel", "")
    async with _services(request).db.tenant(org.id) as session:
        pending = await _pending(session, org, request.query_params.get("req"))
        if pending is None:
            return await limits.refuse(request, org, _expired(request), session)
        if not offered(org, purpose, channel):
            return problem(request, 404, *NOT_OFFERED)
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None:
            started = await sessions.start(session, org, user=None, amr=[], now=now)
            browser = started.row
    hint = pending.params.login_hint or "" if channel == "email" else ""
    response = _request_page(request, org, pending, browser, purpose, channel, destination=hint)
    if started is not None:
        set_session_cookie(response, org.slug, started.token, browser.expires_at, now)
    return response


async def _form_context(
    request: Request, org: Organization
) -> tuple[list[tuple[str, str]], BrowserSession, Pending] | Response:
    """The posted form, its live session (CSRF-checked) and open request; else the refusal."""
    form = await request_pairs(request)
    async with _services(request).db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), utcnow())
        if browser is None or not csrf_valid(browser, _field(form, "csrf_token")):
            return await limits.refuse_form(session, request, org, browser, "code")
        pending = await _pending(session, org, _field(form, "req"))
        if pending is None:
            return await limits.refuse(request, org, _expired(request), session)
    return form, browser, pending


def _step(
    org: Organization, pending: Pending, browser: BrowserSession, purpose: str, channel: str, destination: str
) -> CodeStep:
    return CodeStep(
        org=org,
        handle=pending.handle,
        client_id=pending.client.client_id,
        client_name=pending.client.name,
        form_targets=_form_targets(pending.params),
        browser=browser,
        purpose=purpose,  # type: ignore[arg-type]  # checked by offered() / the challenge's binding
        channel=channel,  # type: ignore[arg-type]
        destination=destination,
        ui_locales=pending.params.ui_locales,
    )


@router.post("/code", include_in_schema=False)
async def send_code(request: Request, org: CurrentOrg) -> Response:
    """Send a code (if the destination may get one) and ask for it; the same page either way."""
    context = await _form_context(request, org)
    if isinstance(context, Response):
        return context
    form, browser, pending = context
    purpose, channel, raw = _field(form, "purpose"), _field(form, "channel"), _field(form, "destination")
    if not offered(org, purpose, channel):
        return problem(request, 400, *NOT_OFFERED)
    try:
        destination = normalized_destination(org, channel, raw)
    except ValueError as refusal:
        if isinstance(refusal, PhoneRefused):
            await codes.record_refused_number(_services(request).db, org.id, str(refusal))
        return _request_page(
            request, org, pending, browser, purpose, channel, destination=raw, error=str(refusal)
        )
    return await send_and_ask(request, _step(org, pending, browser, purpose, channel, destination))


def _challenge_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if len(value) <= 36 else None
    except ValueError:
        return None


async def _posted_step(
    request: Request, org: CurrentOrg
) -> tuple[list[tuple[str, str]], CodeStep, uuid.UUID] | Response:
    """The code form's posted step and challenge, after the cheap checks; else the refusal."""
    context = await _form_context(request, org)
    if isinstance(context, Response):
        return context
    form, browser, pending = context
    purpose, channel = _field(form, "purpose"), _field(form, "channel")
    if purpose != "second_factor" and not offered(org, purpose, channel):
        return problem(request, 400, *NOT_OFFERED)
    if purpose == "second_factor" and (org.mfa == "off" or channel not in ("email", "sms")):
        return problem(request, 400, *NOT_OFFERED)
    try:
        destination = normalized_destination(org, channel, _field(form, "destination"))
    except ValueError:
        destination = ""
    challenge_id = _challenge_id(_field(form, "challenge"))
    if not destination or challenge_id is None:
        return problem(request, 400, "This code form is not valid", "Go back to sign in and send a new code.")
    return form, _step(org, pending, browser, purpose, channel, destination), challenge_id


@router.post("/code/verify", include_in_schema=False)
async def verify_code(request: Request, org: CurrentOrg) -> Response:
    """Check the code; a right one signs in, creates the account or sets the new password."""
    posted = await _posted_step(request, org)
    if isinstance(posted, Response):
        return posted
    form, step, challenge_id = posted
    services = _services(request)
    code = _field(form, "code")
    if otp.well_formed(
        code, org.challenge_digits
    ):  # a guess: counted per challenge; anything else per IP, below
        refused = await services.limiter.hit("otp.verify.challenge", str(challenge_id), org=org.slug)
        if not refused.allowed:
            return await limits.too_many(request, org, refused)
    password = _field(form, "password")
    password_hash = None
    if step.purpose in ("sign_up", "password_reset") and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return entry_page(request, step, challenge_id, error="password_rule", status_code=400)
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        verdict = await otp.verify(
            session,
            otp.Challenger(services.keyring.pepper, codes.ANONYMOUS),
            org.id,
            challenge_id,
            purpose=step.purpose,
            interaction=step.browser.sid,
            code=code,
            now=now,
            destination=step.destination,
        )
    if verdict == "malformed":
        answer = entry_page(request, step, challenge_id, error=verdict, status_code=400)
        return await limits.refuse(request, org, answer)
    if verdict != "verified":
        return entry_page(request, step, challenge_id, error=verdict, status_code=400)
    if step.purpose in ("sign_up", "password_reset"):
        password_hash = await codes.new_password_hash(password)
    return await _complete(request, step, password_hash, now)


async def _complete(request: Request, step: CodeStep, password_hash: str | None, now: datetime) -> Response:
    """What a verified code was for: a session (sign-in, second factor, sign-up) or a new password."""
    services = _services(request)
    org = step.org
    channel: Channel = step.channel
    async with services.db.tenant(org.id) as session:
        user = await codes.user_for(session, org.id, channel, step.destination)
        if step.purpose == "sign_up":
            taken = await codes.address_taken(session, org.id, channel, step.destination)
            if user is not None or taken or password_hash is None:
                return entry_page(request, step, "", error="unknown", status_code=400)
            user = await codes.sign_up(session, org.id, step.destination, password_hash)
        elif user is None:  # the account went away (or never was: then no code was sent)
            return entry_page(request, step, "", error="unknown", status_code=400)
        else:
            await codes.mark_verified(session, org.id, user, channel)
        if step.purpose == "password_reset" and password_hash is not None:
            await codes.reset_password(session, org.id, user, password_hash, now)
            return RedirectResponse(
                f"/o/{org.slug}/login?req={step.handle}&done=reset",
                status_code=303,
                headers={"Cache-Control": "no-store"},
            )
        amr = CODE_AMR[channel]
        if step.purpose == "second_factor":
            amr = (password_login.PASSWORD_AMR, *amr, "mfa")
        try:
            started = await password_login.sign_in(
                session, org, user, previous=step.browser, client_id=step.client_id, now=now, amr=amr
            )
        except password_login.AccountInactive:  # deleted or disabled while the code was on its way
            return entry_page(request, step, "", error="unknown", status_code=400)
    response = _to_interaction(org, "consent", step.handle)
    set_session_cookie(response, org.slug, started.token, started.row.expires_at, now)
    return response


@router.post("/code/resend", include_in_schema=False)
async def resend_code(request: Request, org: CurrentOrg) -> Response:
    """A new code for the same challenge after its cool-down (counted like a first send)."""
    posted = await _posted_step(request, org)
    if isinstance(posted, Response):
        return posted
    _, step, challenge_id = posted
    refused = await admit(request, step)
    if refused is not None:
        return refused
    services = _services(request)
    deliver = await deliverable(request, step)
    compose = await composer(request, step)
    async with services.db.tenant(org.id) as session:
        renewed = await codes.resend(
            session,
            services.keyring,
            services.wakeup,
            org,
            challenge_id,
            interaction=step.browser.sid,
            deliver=deliver,
            compose=compose,
            now=utcnow(),
        )
    return entry_page(request, step, challenge_id, error=None if renewed else "resend_refused")
