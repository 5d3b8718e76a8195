"""Rate limits around client authentication (RFC 6749 §2.3, §5.2; RFC 7523 §3) at the token,
revocation and introspection endpoints: the protocol's use of the limiter.

The ``client_id`` a request claims is public, so nothing keyed on the claim alone may refuse
the real client:

- A client's budget (``token.client``, ``revoke.client``, ``introspect.client``) is spent only
  by requests that *authenticated* as that client, after the check. A public client (RFC 6749
  §2.1, ``none``) authenticates with nothing but its public ``client_id``, so its budget is kept
  per (client, IP): otherwise anyone could spend the whole budget of, say, the account console's
  client with bogus requests and turn its sign-in off for everybody.
- Failed authentications are counted per (claimed client, IP) (``client_auth.failures_client_ip``)
  and per IP across clients (``client_auth.failures_ip``). Both are checked before any secret
  or signature work: an address that keeps failing gets 429 without another check, so it
  cannot guess, and it can only ever lock itself out.
- Failures per client across all IPs (``client_auth.failures``) raise the alarm
  ``client.bruteforce_suspected`` (once per ``client_auth.failures_alert`` window) and refuse
  nothing: a refusal keyed on the client alone would be a switch any attacker could use to
  turn the real client off, and secrets of 256 random bits or signed assertions are not
  guessed by spreading the tries over many addresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.oauth import client_auth
from namoid.oauth.errors import OAuthError, TemporarilyUnavailable
from namoid.ratelimit.limiter import Decision, Limiter
from namoid.services import Services
from namoid.storage.models import Client, Organization

TOO_MANY_REQUESTS = 429
#: Per endpoint: the budget an authenticated client spends there.
BUDGETS = {"token": "token.client", "revoke": "revoke.client", "introspect": "introspect.client"}


class RateLimited(TemporarilyUnavailable):
    """A request refused by a rate limit: HTTP 429 (RFC 6585 §4) with ``temporarily_unavailable``.

    RFC 6749 §5.2 registers no code for "too many requests"; ``temporarily_unavailable``
    (§4.1.2.1: "unable to handle the request due to a temporary overloading") says what a
    client should do, retry later, and every OAuth library understands it, whereas
    ``slow_down`` belongs to the device flow's polling (RFC 8628 §3.5) only.
    """

    status_code = TOO_MANY_REQUESTS

    def __init__(self, decision: Decision) -> None:
        super().__init__("rate limit exceeded")
        self.decision = decision


def _claimed(form: Mapping[str, str], authorization: str | None) -> str | None:
    """The client_id the request names; None if its credentials are malformed."""
    try:
        return client_auth.credentials(form, authorization).client_id
    except OAuthError:
        return None


def _failure_keys(claimed: str | None, ip: str) -> dict[str, tuple[str, ...]]:
    keys: dict[str, tuple[str, ...]] = {"client_auth.failures_ip": (ip,)}
    if claimed is not None:
        keys["client_auth.failures_client_ip"] = (claimed, ip)
    return keys


async def _refuse_known_failures(limiter: Limiter, org: str, claimed: str | None, ip: str) -> None:
    for policy, key in _failure_keys(claimed, ip).items():
        decision = await limiter.test(policy, *key, org=org)
        if not decision.allowed:
            raise RateLimited(decision)


async def _count_failure(
    session: AsyncSession, limiter: Limiter, org: Organization, claimed: str | None, ip: str
) -> None:
    for policy, key in _failure_keys(claimed, ip).items():
        await limiter.hit(policy, *key, org=org.slug)
    if claimed is None:
        return
    await limiter.hit("client_auth.failures", claimed, org=org.slug)
    if (await limiter.test("client_auth.failures", claimed, org=org.slug)).allowed:
        return
    if (await limiter.hit("client_auth.failures_alert", claimed, org=org.slug)).allowed:
        await _raise_alarm(session, org, claimed)


async def _raise_alarm(session: AsyncSession, org: Organization, claimed: str) -> None:
    """``client.bruteforce_suspected``: failures for one client from many addresses (``claimed``
    passed ``client_auth.credentials``, so it is a short printable client_id)."""
    await events.raise_event(
        session,
        org.id,
        "client.bruteforce_suspected",
        actor=audit.Actor("system"),
        subject=events.opaque_subject(f"client:{claimed}"),
        target_type="client",
        target_id=claimed,
        outcome="denied",
        detail={"policy": "client_auth.failures"},
    )


async def authenticate(
    services: Services,
    endpoint: str,
    session: AsyncSession,
    org: Organization,
    issuer: str,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str,
    now: datetime,
    confidential_only: bool = False,
) -> Client:
    """``client_auth.authenticate_at``, refused (RateLimited) while this address keeps failing,
    counted when it fails, and charged to the client's budget once it succeeded."""
    limiter = services.limiter
    claimed = _claimed(form, authorization)
    await _refuse_known_failures(limiter, org.slug, claimed, ip)
    try:
        client = await client_auth.authenticate_at(
            endpoint,
            session,
            org,
            issuer,
            form,
            authorization,
            pepper=services.keyring.pepper,
            now=now,
            directory=services.clients,
            confidential_only=confidential_only,
            legacy_audience=services.settings.client_assertion_legacy_audience,
        )
    except OAuthError:
        await _count_failure(session, limiter, org, claimed, ip)
        raise
    spender = f"{client.client_id}|{ip}" if client.client_type == "public" else client.client_id
    budget = await limiter.hit(BUDGETS[endpoint], spender, org=org.slug)
    if not budget.allowed:
        raise RateLimited(budget)
    return client
