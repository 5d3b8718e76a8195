"""``namoid dev mailbox``: the emails and SMS the dev sender kept instead of sending (read-only)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from namoid.cli.runtime import emit, settings
from namoid.notify.dev import Received, mailbox_dir, read_mailbox
from namoid.notify.messages import to_payload

app = typer.Typer(help="Development helpers (the embedded mode).", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _summary(item: Received) -> dict[str, Any]:
    return {"received_at": item.at.isoformat(), **to_payload(item.message)}


def _human(item: Received) -> str:
    subject = getattr(item.message, "subject", None)
    head = f"{item.at.isoformat()}  {item.message.kind} to {item.message.to}"
    return "\n".join([head, *([f"Subject: {subject}"] if subject else []), item.message.text, ""])


@app.command("mailbox")
def mailbox(as_json: JsonFlag = False) -> None:
    """Show the messages of the dev sender (NAMOID_EMAIL_SENDER / NAMOID_SMS_SENDER = dev), newest first."""
    directory = mailbox_dir(settings().data_dir)
    received = read_mailbox(directory)
    human = "\n".join(_human(item) for item in received) or f"no messages in {directory}"
    emit(as_json, [_summary(item) for item in received], human)
