"""Push delivery of Security Event Tokens from the outbox (RFC 8935), off the request path.

Each due outbox row is leased, its SET (RFC 8417) built and signed with the org's key,
and POSTed as ``application/secevent+jwt``. A 2xx answer (RFC 8935 §2.2 asks for 202)
delivers it. A 400 whose body is an RFC 8935 §2.3 error object is the receiver
rejecting the SET: retrying would not change that, so the row fails and is audited.
Anything else (a timeout, a refused connection, a 5xx, garbage) is retried with
exponential backoff until ``MAX_ATTEMPTS``; then the row fails and is audited. The
``jti`` stays the same across retries, so a receiver deduplicates by it.

POSTs go through the guarded outbound client (namoid.outbound): the receiver's address
is checked again at every connection. A receiver whose host now resolves to an address
the policy refuses (DNS changed since registration) fails the row at once, audited as
``webhook.refused_address``: retrying would only knock on the same door.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.events.tokens import security_event_token
from namoid.outbound import DestinationRefused, OutboundPolicy, ResponseTooLarge, guarded_client, policy_for
from namoid.services import Services
from namoid.signing import ORG_KEY_ALG
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import event_outbox
from namoid.tenancy import organizations
from namoid.tenancy.resolve import issuer_for

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/secevent+jwt"
RETRY_BASE = timedelta(seconds=10)
RETRY_CAP = timedelta(hours=1)
#: About a day of retries (10 s, 20 s, … then hourly) before a row fails for good.
MAX_ATTEMPTS = 30
BATCH = 50
#: A receiver answers 202 with an empty body, or an RFC 8935 §2.3 error object: small either way.
MAX_RESPONSE_BYTES = 64 * 1024

Verdict = Literal["delivered", "rejected", "refused", "retry"]
FAILURE_ACTIONS: dict[Verdict, str] = {
    "rejected": "webhook.rejected",
    "refused": "webhook.refused_address",
    "retry": "webhook.delivery_failed",
}


def backoff(attempt: int) -> timedelta:
    """Delay after the ``attempt``-th failed try: 10 s doubling, capped at an hour."""
    delay: timedelta = RETRY_BASE * 2 ** min(attempt - 1, 20)
    return min(delay, RETRY_CAP)


def _rfc8935_error(response: httpx.Response) -> str | None:
    """The ``err`` code of an RFC 8935 §2.3 error body, or None if the body is not one."""
    try:
        body = json.loads(response.content[:4096])
    except ValueError:
        return None
    err = body.get("err") if isinstance(body, dict) else None
    return err if isinstance(err, str) and err else None


@dataclass(slots=True)
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class EventDelivery:
    """Delivers every org's due outbox rows; safe to run in several workers at once."""

    def __init__(self, services: Services, policy: OutboundPolicy | None = None) -> None:
        """``policy`` defaults to the settings' (``namoid.outbound.policy_for``)."""
        self.services = services
        timeout = services.settings.webhook_timeout
        #: The most one POST may take in all (httpx's timeout bounds each read, not the sum).
        self.deadline = 2 * timeout
        self.client = guarded_client(
            policy or policy_for(services.settings),
            timeout=timeout,
            deadline=self.deadline,
            max_response_bytes=MAX_RESPONSE_BYTES,
            ca_file=services.settings.webhook_ca_file,
            headers={"User-Agent": "NamoID-SET-delivery"},
        )
        #: Longer than a batch's POSTs take; a worker that dies frees its rows when it runs out.
        self.lease = timedelta(seconds=self.deadline + 5)
        self.stopping = False

    def stop(self) -> None:
        """Finish the batch in flight (at most ``deadline`` more), then deliver nothing more."""
        self.stopping = True

    async def close(self) -> None:
        await self.client.aclose()

    async def run(
        self, now: datetime | None = None, orgs: Sequence[Organization] | None = None
    ) -> DeliveryReport:
        """Deliver what is due in ``orgs`` (default: every org); ``now`` pins the clock (tests)."""
        report = DeliveryReport()
        for org in orgs if orgs is not None else await organizations.list_all(self.services.db):
            try:
                await self._deliver_org(org, now, report)
            except Exception as exc:  # one org's trouble (say, an unusable key) must not stall the others
                log.exception("event delivery for org %s failed", org.slug)
                report.errors.append(f"{org.slug}: {type(exc).__name__}")
        return report

    async def _deliver_org(self, org: Organization, now: datetime | None, report: DeliveryReport) -> None:
        db = self.services.db
        issuer = issuer_for(self.services.settings.base_url, org.slug)
        while not self.stopping:
            moment = now or utcnow()
            async with db.tenant(org.id) as session:
                claimed = await event_outbox.claim_due(session, org.id, moment, moment + self.lease, BATCH)
            if not claimed:
                return
            key = await self.services.signing.active_key(org, ORG_KEY_ALG)
            verdicts = await asyncio.gather(
                *(self._post(c.url, security_event_token(c.event, issuer, c.url, key)) for c in claimed)
            )
            async with db.tenant(org.id) as session:
                for item, (verdict, error) in zip(claimed, verdicts, strict=True):
                    await self._settle(session, org, item, verdict, error, now or utcnow(), report)

    async def _post(self, url: str, token: str) -> tuple[Verdict, str]:
        try:
            response = await self.client.post(
                url, content=token, headers={"Content-Type": CONTENT_TYPE, "Accept": "application/json"}
            )
        except DestinationRefused as exc:
            return "refused", f"refused: {exc}"[:200]
        except (httpx.HTTPError, TimeoutError, ResponseTooLarge) as exc:
            return "retry", type(exc).__name__
        if 200 <= response.status_code < 300:
            return "delivered", ""
        if response.status_code == 400 and (err := _rfc8935_error(response)) is not None:
            return "rejected", f"rejected: {err}"[:200]
        return "retry", f"HTTP {response.status_code}"

    async def _settle(
        self,
        session: AsyncSession,
        org: Organization,
        item: event_outbox.Claimed,
        verdict: Verdict,
        error: str,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        if verdict == "delivered":
            await event_outbox.mark_delivered(session, org.id, item.entry_id, now)
            report.delivered += 1
            log.info("delivered event %s to %s", item.event.id, item.url)
            return
        report.errors.append(error)
        if verdict == "retry" and item.attempt < MAX_ATTEMPTS:
            at = now + backoff(item.attempt)
            await event_outbox.retry_later(session, org.id, item.entry_id, item.attempt, at, error)
            report.retried += 1
            log.warning(
                "event %s to %s: %s; retry %d scheduled", item.event.id, item.url, error, item.attempt
            )
            return
        if not await event_outbox.mark_failed(session, org.id, item.entry_id, item.attempt, now, error):
            return  # our lease ran out and another worker has the row now
        report.failed += 1
        log.error("event %s to %s failed for good: %s", item.event.id, item.url, error)
        await audit.record(
            session,
            org.id,
            actor=audit.WORKER,
            action=FAILURE_ACTIONS[verdict],
            target_type="webhook",
            target_id=item.url[:200],
            outcome="failure",
            detail={"event": str(item.event.id), "attempts": item.attempt, "error": error},
        )
