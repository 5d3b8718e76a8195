"""An org's upstream providers: validated, secrets under the keyring, every change audited.

The client secret (for Apple, the team's ES256 private key) is a keyring envelope bound
to its table, column, org and row (DESIGN.md §4): it is decrypted only to talk to the
upstream and never shown again. Removing a provider ends every connection to it: their
vault rows are destroyed and each connection's consent gets a withdrawal record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import urlsplit

from namoid import audit
from namoid.conflicts import StateConflict
from namoid.crypto.keyring import Keyring, aad_for
from namoid.jose.keys import KeyImportError, load_private_key
from namoid.oauth.client_metadata import validate_scope
from namoid.providers import connections as connections_service
from namoid.providers.presets import MICROSOFT_TENANT, PRESETS
from namoid.storage.db import Database
from namoid.storage.models import UpstreamProvider
from namoid.storage.repos import (
    provider_authorizations,
    provider_connections,
    token_exchange_permissions,
    upstream_providers,
)

NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_SCOPES: Final = 32
MAX_CLIENT_ID: Final = 255
MAX_SECRET: Final = 8192
SECRET_COLUMN: Final = ("upstream_providers", "client_secret_enc")
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What ``providers add`` was given."""

    name: str
    preset: str
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str | None = None
    scopes: tuple[str, ...] = ()
    team_id: str | None = None
    key_id: str | None = None
    create_accounts: bool = False


def redirect_uri(org_issuer: str, name: str) -> str:
    """The callback to register at the upstream: one per provider (mix-up defence, RFC 9700 §4.4.2)."""
    return f"{org_issuer}/providers/{name}/callback"


def _check_issuer(issuer: str) -> str:
    """An issuer is an https URL without query, fragment or credentials (OpenID Connect Discovery §2)."""
    try:
        parts = urlsplit(issuer)
        _ = parts.port
    except ValueError:
        raise ValueError(f"--issuer {issuer!r} is not a URL") from None
    template_ok = issuer.replace(MICROSOFT_TENANT, "t")
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
        or len(issuer) > 2048
        or any(c.isspace() for c in template_ok)
    ):
        raise ValueError(f"--issuer {issuer!r} must be an https URL without query, fragment or credentials")
    return issuer


def _check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    if len(scopes) > MAX_SCOPES:
        raise ValueError(f"at most {MAX_SCOPES} scopes")
    return tuple(dict.fromkeys(validate_scope(s) for s in scopes))


def _check_secret(spec: ProviderSpec, private_key: bool) -> None:
    if not spec.client_secret or len(spec.client_secret) > MAX_SECRET:
        raise ValueError("the client secret is empty or too long")
    if not private_key:
        if not _PRINTABLE.fullmatch(spec.client_secret):
            raise ValueError("the client secret must be printable ASCII without spaces")
        return
    if not spec.team_id or not spec.key_id:
        raise ValueError("Apple needs --team-id and --key-id (the key's id at Apple)")
    if not _PRINTABLE.fullmatch(spec.team_id) or not _PRINTABLE.fullmatch(spec.key_id):
        raise ValueError("--team-id and --key-id must be printable ASCII")
    try:
        load_private_key(spec.key_id, "ES256", spec.client_secret.encode())
    except KeyImportError:
        raise ValueError("Apple's client secret must be the team's ES256 private key (PEM)") from None


def validate(spec: ProviderSpec) -> ProviderSpec:
    """The spec as it will be stored (the preset's issuer and scopes filled in), or ValueError."""
    preset = PRESETS.get(spec.preset)
    if preset is None:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}")
    if not NAME.fullmatch(spec.name):
        raise ValueError(f"--name {spec.name!r} must match [a-z0-9][a-z0-9-]{{0,31}}")
    if not spec.client_id or len(spec.client_id) > MAX_CLIENT_ID or not _PRINTABLE.fullmatch(spec.client_id):
        raise ValueError("--client-id must be 1 to 255 printable ASCII characters")
    if spec.issuer is not None and not preset.issuer_configurable:
        raise ValueError(
            f"the {spec.preset} preset has a fixed issuer; --issuer is only for oidc and microsoft"
        )
    issuer = spec.issuer or preset.issuer
    if issuer is None and preset.is_oidc:
        raise ValueError("--issuer is required for a generic OpenID Connect provider")
    _check_secret(spec, preset.secret_is_private_key)
    if not preset.secret_is_private_key and (spec.team_id or spec.key_id):
        raise ValueError("--team-id and --key-id are for Apple only")
    scopes = _check_scopes(spec.scopes or preset.scopes)
    if preset.is_oidc and "openid" not in scopes:
        raise ValueError("an OpenID Connect provider needs the openid scope")
    return replace(spec, issuer=issuer and _check_issuer(issuer), scopes=scopes)


def _secret_aad(org_id: uuid.UUID, provider_id: uuid.UUID) -> bytes:
    return aad_for(*SECRET_COLUMN, str(org_id), str(provider_id))


def client_secret(keyring: Keyring, provider: UpstreamProvider) -> str:
    """The decrypted client secret (or Apple private key), to talk to the upstream only."""
    return keyring.decrypt(provider.client_secret_enc, _secret_aad(provider.org_id, provider.id)).decode()


def seal_client_secret(keyring: Keyring, org_id: uuid.UUID, provider_id: uuid.UUID, secret: bytes) -> str:
    return keyring.encrypt(secret, _secret_aad(org_id, provider_id))


def display_name(provider: UpstreamProvider) -> str:
    """How people know the provider: its preset's name (GitHub), else the org's name for it and
    its issuer's host (``work (idp.example.com)``)."""
    label = PRESETS[provider.preset].label
    if label is not None:
        return label
    host = urlsplit(provider.issuer or "").hostname
    return f"{provider.name} ({host})" if host else provider.name


def summary(provider: UpstreamProvider, org_issuer: str) -> dict[str, object]:
    """What may be shown about a provider: never its secret."""
    return {
        "name": provider.name,
        "preset": provider.preset,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "scopes": provider.scopes,
        "create_accounts": provider.create_accounts,
        "enabled": provider.enabled,
        "redirect_uri": redirect_uri(org_issuer, provider.name),
    }


async def add(
    db: Database, keyring: Keyring, org_id: uuid.UUID, spec: ProviderSpec, actor: audit.Actor
) -> UpstreamProvider:
    spec = validate(spec)
    preset = PRESETS[spec.preset]
    provider_id = uuid.uuid4()
    async with db.tenant(org_id) as session:
        if await upstream_providers.get_by_name(session, org_id, spec.name) is not None:
            raise StateConflict(f"a provider named {spec.name!r} already exists in this organization")
        provider = await upstream_providers.add(
            session,
            org_id,
            UpstreamProvider(
                id=provider_id,
                name=spec.name,
                preset=spec.preset,
                issuer=spec.issuer,
                endpoints=dict(preset.endpoints),
                client_id=spec.client_id,
                client_secret_enc=seal_client_secret(
                    keyring, org_id, provider_id, spec.client_secret.encode()
                ),
                team_id=spec.team_id,
                key_id=spec.key_id,
                scopes=list(spec.scopes),
                create_accounts=spec.create_accounts,
                enabled=True,
            ),
        )
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="provider.added",
            target_type="provider",
            target_id=spec.name,
            detail={
                "preset": spec.preset,
                "issuer": spec.issuer,
                "client_id": spec.client_id,
                "scopes": list(spec.scopes),
                "create_accounts": spec.create_accounts,
            },
        )
    return provider


async def list_providers(db: Database, org_id: uuid.UUID) -> Sequence[UpstreamProvider]:
    async with db.tenant(org_id) as session:
        return await upstream_providers.list_all(session, org_id)


async def get(db: Database, org_id: uuid.UUID, name: str) -> UpstreamProvider | None:
    async with db.tenant(org_id) as session:
        return await upstream_providers.get_by_name(session, org_id, name)


async def set_scopes(
    db: Database, org_id: uuid.UUID, name: str, scopes: Sequence[str], actor: audit.Actor
) -> UpstreamProvider:
    """Change the scopes asked of the upstream (new connections only: existing tokens keep theirs)."""
    checked = list(_check_scopes(scopes))
    async with db.tenant(org_id) as session:
        provider = await upstream_providers.get_by_name(session, org_id, name)
        if provider is None:
            raise LookupError(f"no provider {name!r} in this organization")
        if not checked or (PRESETS[provider.preset].is_oidc and "openid" not in checked):
            raise ValueError("give at least one scope (openid for an OpenID Connect provider)")
        before = list(provider.scopes)
        await upstream_providers.set_scopes(session, org_id, provider.id, checked)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="provider.scopes_changed",
            target_type="provider",
            target_id=name,
            detail={"from": before, "to": checked},
        )
        provider.scopes = checked
    return provider


async def remove(db: Database, org_id: uuid.UUID, name: str, actor: audit.Actor) -> int:
    """Remove a provider and end every connection to it; return how many connections ended."""
    async with db.tenant(org_id) as session:
        provider = await upstream_providers.get_by_name(session, org_id, name)
        if provider is None:
            raise LookupError(f"no provider {name!r} in this organization")
        connections = await provider_connections.list_for_provider(session, org_id, provider.id)
        for connection in connections:
            await connections_service.end(session, org_id, connection, by="provider_removed", actor=actor)
        await token_exchange_permissions.remove_for_provider(session, org_id, provider.id)
        await provider_authorizations.remove_for_provider(session, org_id, provider.id)
        await upstream_providers.remove(session, org_id, provider.id)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="provider.removed",
            target_type="provider",
            target_id=name,
            detail={"connections_ended": len(connections)},
        )
    return len(connections)
