"""Delivery of queued emails and SMS by the worker (DESIGN.md §8), off the request path.

Due message rows are leased per org, decrypted and handed to the configured sender of
their kind, all of a batch at once, each bounded by ``deadline``. Accepted → delivered,
audited ``message.sent``. A transient failure (a provider outage, a timeout) is retried
with the outbox's backoff (``events.delivery.backoff``), so an outage delays a message and
never loses it; a permanent one, or the last retry, fails the row and audits
``message.failed``. Either way the message's content is then erased from its row.
Destinations are audited masked, never a message's text.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.keyring import KeyringError
from namoid.events.delivery import MAX_ATTEMPTS, DeliveryReport, backoff
from namoid.notify.messages import KINDS, EmailMessage, Message, SendFailed
from namoid.notify.outbox import destination_detail, unseal
from namoid.notify.senders import Senders, build_senders
from namoid.services import Services
from namoid.storage.models import utcnow
from namoid.storage.repos import event_outbox
from namoid.tenancy import organizations

log = logging.getLogger(__name__)

BATCH = 50

Outcome = tuple[Message | None, SendFailed | None]


class MessageDelivery:
    """Sends every org's due messages; safe to run in several workers at once (rows are leased)."""

    def __init__(self, services: Services, senders: Senders | None = None) -> None:
        self.services = services
        self.senders = senders or build_senders(services.settings)
        settings = services.settings
        #: The most one send may take (an SMTP dialogue is several timed steps; boto3 retries once).
        self.deadline = 3 * max(settings.smtp_timeout, settings.aws_timeout)
        self.lease = timedelta(seconds=self.deadline + 5)
        self.stopping = False

    def stop(self) -> None:
        self.stopping = True

    async def run(
        self, now: datetime | None = None, org_ids: Iterable[uuid.UUID] | None = None
    ) -> DeliveryReport:
        """Send what is due in ``org_ids`` (default: every org); ``now`` pins the clock (tests)."""
        report = DeliveryReport()
        if org_ids is None:
            org_ids = [org.id for org in await organizations.list_all(self.services.db)]
        for org_id in org_ids:
            try:
                await self._deliver_org(org_id, now, report)
            except Exception as exc:  # one org's trouble must not stall the others
                log.exception("message delivery for org %s failed", org_id)
                report.errors.append(f"{org_id}: {type(exc).__name__}")
        return report

    async def _deliver_org(self, org_id: uuid.UUID, now: datetime | None, report: DeliveryReport) -> None:
        db = self.services.db
        while not self.stopping:
            moment = now or utcnow()
            async with db.tenant(org_id) as session:
                claimed = await event_outbox.claim_messages(
                    session, org_id, KINDS, moment, moment + self.lease, BATCH
                )
            if not claimed:
                return
            outcomes = await asyncio.gather(*(self._send(org_id, item) for item in claimed))
            async with db.tenant(org_id) as session:
                for item, outcome in zip(claimed, outcomes, strict=True):
                    await self._settle(session, org_id, item, outcome, now or utcnow(), report)

    async def _send(self, org_id: uuid.UUID, item: event_outbox.ClaimedMessage) -> Outcome:
        try:
            message = unseal(self.services.keyring, org_id, item.message_id, item.payload_enc)
        except (KeyringError, ValueError):
            return None, SendFailed("payload cannot be decrypted", permanent=True)
        try:
            async with asyncio.timeout(self.deadline):
                if isinstance(message, EmailMessage):
                    await self.senders.email.send_email(message)
                else:
                    await self.senders.sms.send_sms(message)
        except SendFailed as exc:
            return message, exc
        except TimeoutError:
            return message, SendFailed(f"no answer within {self.deadline:g} s")
        except Exception as exc:  # a sender's unexpected error is an outage, not a verdict: retry
            return message, SendFailed(type(exc).__name__)
        return message, None

    async def _settle(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        item: event_outbox.ClaimedMessage,
        outcome: Outcome,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        message, failure = outcome
        detail = destination_detail(self.services.keyring.pepper, org_id, message) if message else {}
        detail["attempts"] = item.attempt
        if failure is None:
            await event_outbox.mark_delivered(session, org_id, item.entry_id, now)
            await event_outbox.erase_payload(session, org_id, item.entry_id)
            report.delivered += 1
            await self._audit(session, org_id, item, "message.sent", "success", detail)
            return
        report.errors.append(failure.reason)
        if not failure.permanent and item.attempt < MAX_ATTEMPTS:
            at = now + backoff(item.attempt)
            await event_outbox.retry_later(session, org_id, item.entry_id, item.attempt, at, failure.reason)
            report.retried += 1
            log.warning(
                "%s %s: %s; retry %d scheduled", item.kind, item.message_id, failure.reason, item.attempt
            )
            return
        if not await event_outbox.mark_failed(
            session, org_id, item.entry_id, item.attempt, now, failure.reason
        ):
            return  # our lease ran out and another worker has the row now
        await event_outbox.erase_payload(session, org_id, item.entry_id)
        report.failed += 1
        log.error("%s %s failed for good: %s", item.kind, item.message_id, failure.reason)
        await self._audit(
            session, org_id, item, "message.failed", "failure", {**detail, "error": failure.reason}
        )

    @staticmethod
    async def _audit(
        session: AsyncSession,
        org_id: uuid.UUID,
        item: event_outbox.ClaimedMessage,
        action: str,
        outcome: Literal["success", "failure"],
        detail: dict[str, object],
    ) -> None:
        await audit.record(
            session,
            org_id,
            actor=audit.WORKER,
            action=action,
            target_type=item.kind,
            target_id=str(item.message_id),
            outcome=outcome,
            detail=detail,
        )
