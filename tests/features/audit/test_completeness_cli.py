"""Every state-changing CLI command writes an audit entry with its change (issue 5).

Every command of ``namoid`` must be exercised here (or listed as read-only, or exempt with
a reason), so a new command fails this test until it is. Each command runs in-process
between two fingerprints of the whole database (every table but the audit log's own) and
of the keyring file; if anything changed, the audit log must have grown.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import typer.main
from click import Command, Group
from sqlalchemy import func, select
from typer.testing import CliRunner

from namoid.cli.main import app
from namoid.privacy import grievances
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, utcnow
from namoid.storage.repos import users
from namoid.tenancy import organizations
from tests.conftest import ISOLATED, Backend
from tests.features.audit.fingerprint import changed, fingerprint

READ_ONLY = {
    "org list",
    "client list",
    "user list",
    "keys list",
    "webhooks list",
    "audit verify",
    "audit export",
    "dev mailbox",
    "providers list",
    "providers consents",
    "org inbox",
    "grievances list",
    "admin openapi",
}
EXEMPT = {"serve": "serves HTTP: every route is checked by test_completeness_http"}
PASSWORD = "completeness test password"  # pragma: allowlist secret


def _commands(group: Group, prefix: tuple[str, ...] = ()) -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        if isinstance(command, Group):
            names |= _commands(command, (*prefix, name))
        elif isinstance(command, Command):
            names.add(" ".join((*prefix, name)))
    return names


class Session:
    """Runs commands against one database and keyring, checking each one's audit trail."""

    def __init__(self, backend: Backend, env: dict[str, str], keyring: Path) -> None:
        self.backend, self.env, self.keyring = backend, env, keyring
        self.runner = CliRunner()
        self.exercised: set[str] = set()

    async def _state(self) -> tuple[dict[str, str], int]:
        db = Database(self.backend.owner_url)
        try:
            tables = await fingerprint(db, None)
            async with db.system() as session:
                entries = int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        finally:
            await db.dispose()
        tables["keyring file"] = hashlib.sha256(self.keyring.read_bytes()).hexdigest()
        return tables, entries

    def run(self, name: str, *args: str, stdin: str | None = None) -> Any:
        before, entries_before = asyncio.run(self._state())
        result = self.runner.invoke(app, [*name.split(" "), *args], env=self.env, input=stdin)
        assert result.exit_code == 0, (name, result.output)
        after, entries_after = asyncio.run(self._state())
        differences = changed(before, after)
        if name in READ_ONLY:
            assert not differences, f"read-only `{name}` changed {differences}"
        elif differences:
            assert entries_after > entries_before, f"`{name}` changed {differences} without an audit entry"
        self.exercised.add(name)
        return json.loads(result.stdout) if "--json" in args else result.stdout


def _orgs_clients_users(cli: Session, slug: str) -> None:
    """Organizations, clients and users."""
    email = f"someone-{uuid.uuid4().hex[:6]}@example.com"
    cli.run("org create", slug, "--json")
    cli.run("org list", "--json")
    cli.run("org set-lifetimes", slug, "--access-token-ttl", "300")
    cli.run("org set-kyc", slug, "--enable", "--max-age-days", "7")
    cli.run("org set-kyc", slug, "--disable")
    cli.run("org set-limit", slug, "--policy", "token.client", "--rate", "1200/minute", "--json")
    cli.run("org set-sign-in", slug, "--method", "password", "--method", "email_otp", "--mfa", "required")
    notice = Path(tempfile.mkdtemp()) / "notice.md"
    notice.write_text("# Our notice\n\nWe share only what you allow.", encoding="utf-8")
    cli.run("org set-notice", slug, "--file", str(notice), "--lang", "hi")
    cli.run("org set-sign-in", slug, "--code-length", "8", "--email-from", "no-reply@example.com")
    wording = Path(cli.keyring).parent / "code_sms.en.txt"
    wording.write_text("{{ code }} is your {{ org }} code", encoding="utf-8")
    cli.run("org set-template", slug, "--template", "code_sms", "--lang", "en", "--file", str(wording))
    cli.run("org set-template", slug, "--template", "code_sms", "--lang", "en", "--reset")
    cli.run("org create", f"{slug}-test", "--test-mode")
    cli.run("org inbox", f"{slug}-test", "--json")
    cli.run("audit set-retention", "--org", slug, "--days", "500")
    cli.run("org set-erasure-grace", slug, "--days", "0")  # the worker below purges the deleted user
    client = cli.run(
        "client create", "--org", slug, "--name", "App", "--type", "confidential",
        "--redirect-uri", "https://rp.example/cb", "--grant-type", "authorization_code",
        "--grant-type", "refresh_token", "--json",
    )  # fmt: skip
    client_id = client["client_id"]
    cli.run("client list", "--org", slug)
    cli.run("client rotate-secret", "--org", slug, "--client-id", client_id)
    cli.run("client set-lifetimes", "--org", slug, "--client-id", client_id, "--refresh-ttl", "7200")
    cli.run("client disable", "--org", slug, "--client-id", client_id)
    cli.run("client enable", "--org", slug, "--client-id", client_id)
    cli.run("user create", "--org", slug, "--email", email, "--password-stdin", stdin=PASSWORD)
    cli.run("user list", "--org", slug)
    cli.run("user set-password", "--org", slug, "--email", email, "--password-stdin", stdin=PASSWORD + "!")
    cli.run("user disable", "--org", slug, "--email", email, "--reason", "test")
    cli.run("user enable", "--org", slug, "--email", email)
    cli.run("user export", "--org", slug, "--email", email, "--out", str(cli.keyring.parent / f"{slug}.json"))
    cli.run("user revoke-sessions", "--org", slug, "--email", email)
    cli.run("user grant-role", "--org", slug, "--email", email, "--role", "auditor")
    cli.run("user delete", "--org", slug, "--email", email, "--reason", "test")
    robot = cli.run(
        "client create", "--org", slug, "--name", "Robot", "--type", "confidential",
        "--grant-type", "client_credentials", "--json",
    )  # fmt: skip
    cli.run(
        "client allow-admin", "--org", slug, "--client-id", robot["client_id"], "--scope", "admin:audit:read"
    )
    root = f"root-{uuid.uuid4().hex[:6]}@example.com"
    cli.run("admin bootstrap", "--email", root, "--slug", f"{slug}-platform")
    cli.run("admin sign-in-link", "--org", f"{slug}-platform", "--email", root)
    cli.run("admin openapi")


def _keys_and_webhooks(cli: Session, slug: str) -> None:
    """The keyring, signing keys and webhooks."""
    old_key = next(key["id"] for key in cli.run("keys list", "--json") if key["status"] == "active")
    new_key = cli.run("keys add", "--json")["key_id"]
    cli.run("keys activate", new_key)
    cli.run("keys reencrypt")
    cli.run("keys retire", old_key)
    cli.run("keys rotate-signing", "--org", slug)
    hook = cli.run("webhooks add", "--org", slug, "--url", "https://127.0.0.1:8443/hook", "--json")
    cli.run("webhooks list", "--org", slug)
    cli.run("webhooks remove", "--org", slug, "--id", hook["id"])


def _providers(cli: Session, slug: str) -> None:
    """Connected providers and token exchange."""
    cli.run(
        "providers add", "--org", slug, "--name", "corp", "--preset", "oidc", "--issuer", "https://idp.example",
        "--client-id", "namoid", "--client-secret-stdin", "--json", stdin="upstream-secret",
    )  # fmt: skip
    cli.run("providers list", "--org", slug)
    rp = cli.run(
        "client create", "--org", slug, "--name", "Exchanger", "--type", "confidential",
        "--redirect-uri", "https://rp.example/cb", "--scope", "openid", "--scope", "provider:corp",
        "--allow-token-exchange", "corp", "--json",
    )  # fmt: skip
    cli.run("client set-token-exchange", "--org", slug, "--client-id", rp["client_id"])
    cli.run("providers set-scopes", "--org", slug, "--name", "corp", "--scope", "openid", "--scope", "email")
    member = f"member-{uuid.uuid4().hex[:6]}@example.com"
    cli.run("user create", "--org", slug, "--email", member, "--password-stdin", stdin=PASSWORD)
    cli.run("providers disconnect", "--org", slug, "--name", "corp", "--email", member)
    cli.run("providers consents", "--org", slug)
    cli.run("providers remove", "--org", slug, "--name", "corp")


async def _raise_grievance(backend: Backend, slug: str, email: str) -> str:
    """A user's ticket, raised as the account console does (no command raises one)."""
    db = Database(backend.owner_url)
    try:
        org = await organizations.require(db, slug)
        async with db.tenant(org.id) as session:
            user = await users.get_by_email(session, org.id, email)
            assert user is not None
            ticket = await grievances.raise_ticket(
                session, org, user, category="access", subject="My data", text="What do you hold?",
                locale="en", now=utcnow(),
            )  # fmt: skip
        return str(ticket.id)
    finally:
        await db.dispose()


def _grievances(cli: Session, slug: str) -> None:
    """The grievance policy and tickets (issue 13 item 7)."""
    cli.run("org set-grievance", slug, "--response-days", "20", "--contact-name", "DPO", "--contact-email",
            "dpo@example.com", "--json")  # fmt: skip
    email = f"principal-{uuid.uuid4().hex[:6]}@example.com"
    cli.run("user create", "--org", slug, "--email", email, "--password-stdin", stdin=PASSWORD)
    first = asyncio.run(_raise_grievance(cli.backend, slug, email))
    second = asyncio.run(_raise_grievance(cli.backend, slug, email))
    assert [t["id"] for t in cli.run("grievances list", "--org", slug, "--status", "open", "--json")] == [
        first, second
    ]  # fmt: skip
    cli.run("grievances respond", "--org", slug, "--id", first, "--text", "We hold your email only.")
    reject = ("--id", second, "--text-stdin", "--reject")
    cli.run("grievances respond", "--org", slug, *reject, stdin="A duplicate.")


@ISOLATED
def test_every_command_is_exercised_and_audits_its_changes(
    backend: Backend, tmp_path: Path, keyring_file: Path
) -> None:
    env = {
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_MIGRATION_DATABASE_URL": backend.owner_url,
        "NAMOID_KEYRING_FILE": str(keyring_file),
        "NAMOID_DATA_DIR": str(tmp_path / "data"),
        "NAMOID_DEV_MODE": "false",
        "NAMOID_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32",  # the webhook below: an internal receiver
    }
    cli = Session(backend, env, keyring_file)
    slug = f"cmp-{uuid.uuid4().hex[:8]}"

    cli.run("migrate")
    cli.run("keys init", "--file", str(tmp_path / "another-deployment" / "keyring.json"))
    for exercise in (_orgs_clients_users, _keys_and_webhooks, _providers, _grievances):
        exercise(cli, slug)
    cli.run("worker", "--once")
    cli.run("audit seal")
    cli.run("audit checkpoint", "--org", slug)
    cli.run("audit verify", "--org", slug)
    cli.run("audit export", "--org", slug)
    cli.run("audit prune")
    cli.run("dev mailbox", "--json")

    every = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
    missing = every - cli.exercised - set(EXEMPT)
    assert not missing, f"exercise {sorted(missing)} here (or list it as read-only or exempt)"
