"""The token vault: AES-256-GCM bound to org, user, provider, row and column; rotation keeps it readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from namoid.crypto.keyring import Keyring, activate_key, add_key, retire_key
from namoid.providers import registry, vault
from namoid.reencryption import ENCRYPTED_COLUMNS, count_under_key, reencrypt_all
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, ProviderToken, UpstreamProvider
from tests.conftest import ISOLATED
from tests.features.conftest import MakeUser
from tests.features.providers.conftest import ADMIN, Connect

TOKENS = vault.UpstreamTokens(
    access_token="upstream-access-token-value",
    refresh_token="upstream-refresh-token-value",
    id_token="upstream-id-token-value",
    scopes=("openid", "email"),
)


async def _row(services: Services, org: Organization, connection_id: object) -> ProviderToken:
    async with services.db.tenant(org.id) as session:
        return (
            await session.scalars(select(ProviderToken).where(ProviderToken.connection_id == connection_id))
        ).one()


async def _overwrite(services: Services, org: Organization, row_id: object, **values: object) -> None:
    async with services.db.tenant(org.id) as session:
        await session.execute(update(ProviderToken).where(ProviderToken.id == row_id).values(**values))


async def _unreadable_reports(services: Services, org: Organization) -> int:
    async with services.db.tenant(org.id) as session:
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id))).all()
    return actions.count("provider_token.unreadable")


async def test_tokens_are_stored_encrypted_and_read_back(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    connection = await connect(provider, await make_user(), TOKENS)
    row = await _row(services, org, connection.id)
    stored = f"{row.access_token_enc} {row.refresh_token_enc} {row.id_token_enc}"
    assert "upstream-" not in stored and stored.count("v1.") == 3
    assert await vault.read(services.db, services.keyring, org.id, connection.id) == TOKENS


async def test_a_tampered_ciphertext_is_reported_and_never_served(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    connection = await connect(provider, await make_user(), TOKENS)
    row = await _row(services, org, connection.id)
    flipped = row.access_token_enc[:-2] + ("AA" if not row.access_token_enc.endswith("AA") else "BA")
    await _overwrite(services, org, row.id, access_token_enc=flipped)
    with pytest.raises(vault.VaultUnreadable, match="cannot be decrypted"):
        await vault.read(services.db, services.keyring, org.id, connection.id)
    assert await _unreadable_reports(services, org) == 1


async def test_a_ciphertext_moved_to_another_users_row_fails(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    victim = await connect(provider, await make_user(), TOKENS)
    attacker = await connect(provider, await make_user(), vault.UpstreamTokens("attacker-access"))
    victim_row = await _row(services, org, victim.id)
    attacker_row = await _row(services, org, attacker.id)
    await _overwrite(services, org, attacker_row.id, access_token_enc=victim_row.access_token_enc)
    with pytest.raises(vault.VaultUnreadable):
        await vault.read(services.db, services.keyring, org.id, attacker.id)


async def test_a_ciphertext_moved_to_another_column_fails(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    connection = await connect(provider, await make_user(), TOKENS)
    row = await _row(services, org, connection.id)
    await _overwrite(services, org, row.id, access_token_enc=row.refresh_token_enc)
    with pytest.raises(vault.VaultUnreadable):
        await vault.read(services.db, services.keyring, org.id, connection.id)


async def test_a_row_repointed_at_another_user_or_provider_fails(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    connection = await connect(provider, await make_user(), TOKENS)
    row = await _row(services, org, connection.id)
    other_user = await make_user()
    await _overwrite(services, org, row.id, user_id=other_user.id)
    with pytest.raises(vault.VaultUnreadable):
        await vault.read(services.db, services.keyring, org.id, connection.id)
    other = registry.ProviderSpec(
        name="other", preset="oidc", issuer="https://other.example", client_id="c", client_secret="s"
    )
    other_provider = await registry.add(services.db, services.keyring, org.id, other, ADMIN)
    await _overwrite(services, org, row.id, user_id=row.user_id, provider_id=other_provider.id)
    with pytest.raises(vault.VaultUnreadable):
        await vault.read(services.db, services.keyring, org.id, connection.id)
    assert await _unreadable_reports(services, org) == 2


async def test_storing_again_replaces_the_tokens(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    connection = await connect(provider, await make_user(), TOKENS)
    fresh = vault.UpstreamTokens("refreshed-access", "refreshed-refresh", None, ("openid",))
    async with services.db.tenant(org.id) as session:
        await vault.store(session, services.keyring, connection, fresh)
    assert await vault.read(services.db, services.keyring, org.id, connection.id) == fresh


@ISOLATED
async def test_rotation_with_live_tokens_keeps_everything_readable(
    services: Services,
    org: Organization,
    provider: UpstreamProvider,
    make_user: MakeUser,
    connect: Connect,
    keyring_file: Path,
) -> None:
    connection = await connect(provider, await make_user(), TOKENS)
    old_key = services.keyring.active_key_id
    new_key = add_key(keyring_file)
    activate_key(keyring_file, new_key)
    rotated = Keyring.load(keyring_file)
    # signing key + provider secret + three vault columns
    assert await reencrypt_all(services.db, rotated, ADMIN) == 5
    assert await count_under_key(services.db, old_key) == 0
    retire_key(keyring_file, old_key)
    retired = Keyring.load(keyring_file)
    assert old_key not in retired.key_ids
    assert await vault.read(services.db, retired, org.id, connection.id) == TOKENS
    stored = await registry.get(services.db, org.id, provider.name)
    assert (
        stored is not None and registry.client_secret(retired, stored) == "upstream-client-secret-for-tests"
    )
    assert Keyring.key_id_of((await _row(services, org, connection.id)).access_token_enc) == new_key


async def test_reencryption_never_overwrites_tokens_refreshed_meanwhile(
    services: Services, org: Organization, provider: UpstreamProvider, make_user: MakeUser, connect: Connect
) -> None:
    """``keys reencrypt`` read the old envelope; a refresh then stored new tokens: the refresh wins."""
    connection = await connect(provider, await make_user(), TOKENS)
    [column] = [
        c for c in ENCRYPTED_COLUMNS if (c.table, c.column) == ("provider_tokens", "access_token_enc")
    ]
    async with services.db.tenant(org.id) as session:
        [read_before] = await column.read(session, org.id)
    fresh = vault.UpstreamTokens("refreshed-meanwhile", None, None, ("openid",))
    async with services.db.tenant(org.id) as session:
        await vault.store(session, services.keyring, connection, fresh)
    async with services.db.tenant(org.id) as session:
        await column.write(session, org.id, read_before, read_before.envelope.replace("v1.", "v1.", 1) + "A")
    assert (
        await vault.read(services.db, services.keyring, org.id, connection.id)
    ).access_token == "refreshed-meanwhile"
