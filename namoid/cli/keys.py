"""``namoid keys init|list|add|activate|retire|reencrypt``: the keyring of secrets at rest (DESIGN.md §4);
``namoid keys rotate-signing``: an organization's token-signing key (DESIGN.md §3).

Keyring rotation: ``add`` a key, ``activate`` it, ``reencrypt`` every stored value, then
``retire`` the old key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from namoid import audit
from namoid.cli.runtime import cli_actor, emit, fail, run, settings
from namoid.crypto import keyring
from namoid.crypto.kms import KmsWrap
from namoid.jose.keys import SIGNING_ALGORITHMS
from namoid.reencryption import count_under_key, reencrypt_all
from namoid.services import Services, keyring_kms
from namoid.signing import as_algorithm
from namoid.signing_rotation import rotate_signing_key
from namoid.storage.db import Database
from namoid.tenancy import organizations

app = typer.Typer(help="Keyring for secrets at rest.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
KeyId = Annotated[str, typer.Argument(help="Key id, as shown by `namoid keys list`.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
AlgOpt = Annotated[str, typer.Option("--alg", help="RS256 (default), PS256 or ES256.")]
FileOpt = Annotated[
    Path | None, typer.Option("--file", help="Where to create it (default: NAMOID_KEYRING_FILE).")
]


def _backup_advice(path: Path, active_key_id: str, kms: KmsWrap) -> str:
    wrapped = (
        f", wrapped under AWS KMS key {kms.key_id} ({kms.region}): it opens only with kms:Decrypt "
        "on that key, so keep the KMS key from being scheduled for deletion"
        if kms.key_id
        else ""
    )
    return (
        f"created keyring file {path} (mode 0600, active key {active_key_id}{wrapped}).\n"
        "BACK IT UP NOW, apart from the database backups: without it no signing key, TOTP secret or "
        "provider token can be decrypted and no client secret verifies; a database backup is useless "
        "without it.\n"
        "COPY IT, mode 0600, to every node and worker as NAMOID_KEYRING_FILE (or as the systemd "
        "credential `keyring`, see deploy/); every process must have the same file."
    )


@app.command("init")
def init(file: FileOpt = None, as_json: JsonFlag = False) -> None:
    """Create a new production keyring (mode 0600; refuses to overwrite), wrapped under
    NAMOID_KEYRING_KMS_KEY_ID if set, and record its creation in the audit log."""
    config = settings()
    path = file or config.resolved_keyring_file
    kms = keyring_kms(config)

    async def create() -> str:
        db = Database(config.resolved_database_url)
        try:
            await db.ping()  # the audit entry must be writable before the file exists
            async with db.system() as session:
                created = keyring.create_keyring_file(path, kms)
                await audit.record(
                    session,
                    None,
                    actor=cli_actor(),
                    action="keyring.created",
                    target_type="key",
                    target_id=created.active_key_id,
                    detail={"kms_wrapped": kms.key_id is not None},
                )
            return created.active_key_id
        finally:
            await db.dispose()

    try:
        active_key_id = asyncio.run(create())
    except keyring.KeyringError as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        fail(f"NAMOID_DATABASE_URL: cannot record the new keyring in the audit log ({type(exc).__name__})")
    data = {"file": str(path), "active_key_id": active_key_id, "kms_key_id": kms.key_id}
    emit(as_json, data, _backup_advice(path, active_key_id, kms))


def _file(services: Services) -> tuple[Path, KmsWrap]:
    """The keyring file and how to open (and re-wrap) it if it is wrapped under AWS KMS."""
    return services.settings.resolved_keyring_file, keyring_kms(services.settings)


def _change(action: str, change: Callable[[Services], Awaitable[str]], as_json: JsonFlag) -> None:
    """Apply a keyring-file change and its audit entry together (the entry commits only if it worked)."""

    async def apply(services: Services) -> None:
        async with services.db.system() as session:
            key_id = await change(services)
            await audit.record(
                session, None, actor=cli_actor(), action=action, target_type="key", target_id=key_id
            )
        emit(as_json, {"key_id": key_id, "action": action}, f"{action}: {key_id}")

    run(apply)


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Show the keys (ids, status, creation time; never the secrets)."""

    async def action(services: Services) -> None:
        rows = [asdict(info) for info in keyring.describe(*_file(services))]
        emit(as_json, rows, "\n".join(f"{r['id']}\t{r['status']}\t{r['created_at']}" for r in rows))

    run(action)


@app.command("add")
def add(as_json: JsonFlag = False) -> None:
    """Add a new key (enabled, not yet active)."""

    async def change(services: Services) -> str:
        return keyring.add_key(*_file(services))

    _change("keyring.key_added", change, as_json)


@app.command("activate")
def activate(key_id: KeyId, as_json: JsonFlag = False) -> None:
    """Make KEY_ID the key for new encryptions."""

    async def change(services: Services) -> str:
        keyring.activate_key(_file(services)[0], key_id, _file(services)[1])
        return key_id

    _change("keyring.key_activated", change, as_json)


@app.command("retire")
def retire(key_id: KeyId, as_json: JsonFlag = False) -> None:
    """Retire KEY_ID: values still under it can no longer be read, so run reencrypt first."""

    async def change(services: Services) -> str:
        still_used = await count_under_key(services.db, key_id)
        if still_used:
            raise ValueError(
                f"{still_used} stored value(s) are still encrypted under {key_id}; "
                "run `namoid keys reencrypt` first"
            )
        keyring.retire_key(_file(services)[0], key_id, _file(services)[1])
        return key_id

    _change("keyring.key_retired", change, as_json)


@app.command("reencrypt")
def reencrypt(as_json: JsonFlag = False) -> None:
    """Rewrite every encrypted column under the active key."""

    async def action(services: Services) -> None:
        count = await reencrypt_all(services.db, services.keyring, cli_actor())
        emit(
            as_json,
            {"reencrypted": count, "active_key_id": services.keyring.active_key_id},
            f"re-encrypted {count} value(s) under {services.keyring.active_key_id}",
        )

    run(action)


@app.command("rotate-signing")
def rotate_signing(org: OrgOpt, alg: AlgOpt = "RS256", as_json: JsonFlag = False) -> None:
    """New signing key for ALG; the old one stays in the JWKS until its tokens have expired."""
    if alg not in SIGNING_ALGORITHMS:
        fail(f"--alg must be one of {', '.join(SIGNING_ALGORITHMS)}")

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        rotation = await rotate_signing_key(
            services.db, services.keyring, services.signing, organization, as_algorithm(alg), cli_actor()
        )
        human = f"{organization.slug}: {rotation.alg} key {rotation.kid} is active"
        if rotation.retired:
            human += f"\nretired (published until their tokens expire): {', '.join(rotation.retired)}"
        if rotation.removed:
            human += f"\nremoved from the JWKS: {', '.join(rotation.removed)}"
        emit(as_json, {"org": organization.slug, **asdict(rotation)}, human)

    run(action)
