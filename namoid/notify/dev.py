"""The dev sender (embedded default): every email and SMS lands in a mailbox directory, not the world.

One JSON file per message under ``{data_dir}/mailbox`` (the directory 0700, each file 0600,
created exclusively and renamed into place once written), read back by ``namoid dev mailbox``
and the dev-mode page ``/dev/mailbox``, like MailHog. Nothing of a message goes to the log.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from namoid.crypto.secrets import new_token
from namoid.notify.messages import EmailMessage, Message, SmsMessage, from_payload, to_payload
from namoid.settings import Settings

#: The newest this many messages are shown; older files stay on disk until removed by hand.
SHOWN = 200


def mailbox_dir(data_dir: Path) -> Path:
    return data_dir / "mailbox"


@dataclass(frozen=True, slots=True)
class Received:
    at: datetime
    message: Message


def _write(directory: Path, document: dict[str, Any], at: datetime) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    name = f"{at.strftime('%Y%m%dT%H%M%S%fZ')}-{new_token(16)}.json"
    partial = directory / f".{name}.partial"  # a reader never sees a half-written message
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, ensure_ascii=False)
    partial.replace(directory / name)


class DevMailbox:
    """Both sender protocols at once: the message is "sent" when its file is written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def _deliver(self, message: Message) -> None:
        at = datetime.now(UTC)
        document = {"received_at": at.isoformat(), "message": to_payload(message)}
        await asyncio.to_thread(_write, self.directory, document, at)

    async def send_email(self, message: EmailMessage) -> None:
        await self._deliver(message)

    async def send_sms(self, message: SmsMessage) -> None:
        await self._deliver(message)


def read_mailbox(directory: Path, limit: int = SHOWN) -> list[Received]:
    """The newest ``limit`` messages, newest first; unreadable or foreign files are skipped."""
    if not directory.is_dir():
        return []
    received = []
    for path in sorted(directory.glob("*.json"), reverse=True)[:limit]:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            received.append(
                Received(datetime.fromisoformat(document["received_at"]), from_payload(document["message"]))
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return received


def startup_notice(settings: Settings) -> str | None:
    """What ``namoid serve`` says when a sender is the dev mailbox: where the messages are."""
    kinds = [
        kind
        for kind, sender in (("email", settings.email_sender), ("SMS", settings.sms_sender))
        if sender == "dev"
    ]
    if not kinds:
        return None
    where = mailbox_dir(settings.data_dir).resolve()
    what = " and ".join(kinds)
    if not settings.is_dev:
        return f"NAMOID_*_SENDER=dev: {what} are NOT sent, only written to {where}"
    return (
        f"{what} are not sent in dev mode: read them at {settings.base_url}/dev/mailbox "
        f"or with `namoid dev mailbox` ({where})"
    )
