"""Upstream providers per org: validation per preset, the secret under the keyring, audited changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from namoid.crypto.keyring import DecryptionFailed
from namoid.jose.keys import generate_signing_key
from namoid.privacy import consent_ledger
from namoid.providers import registry, vault
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, ProviderToken, UpstreamProvider
from tests.features.conftest import MakeUser
from tests.features.providers.conftest import ADMIN, UPSTREAM_SECRET, Connect


def _spec(**fields: object) -> registry.ProviderSpec:
    base: dict[str, object] = {
        "name": "corp",
        "preset": "oidc",
        "issuer": "https://idp.example",
        "client_id": "abc",
        "client_secret": "s3cret-value",  # pragma: allowlist secret
    }
    return registry.ProviderSpec(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"preset": "facebook"}, "--preset must be one of"),
        ({"name": "Bad Name"}, "--name"),
        ({"issuer": None}, "--issuer is required"),
        ({"issuer": "http://idp.example"}, "https URL"),
        ({"issuer": "https://idp.example/?x=1"}, "https URL"),
        ({"issuer": "https://user@idp.example"}, "https URL"),
        ({"preset": "google", "issuer": "https://evil.example"}, "fixed issuer"),
        ({"client_id": ""}, "--client-id"),
        ({"client_secret": ""}, "client secret"),
        ({"scopes": ("email",)}, "openid"),
        ({"scopes": ("openid", 'bad"scope')}, "invalid scope"),
        ({"preset": "apple", "issuer": None}, "--team-id"),
        ({"preset": "apple", "issuer": None, "team_id": "T1", "key_id": "K1"}, "ES256 private key"),
        ({"team_id": "T1"}, "Apple only"),
    ],
)
def test_bad_provider_specs_are_refused_with_a_clear_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        registry.validate(_spec(**fields))


def test_presets_fill_in_the_issuer_scopes_and_endpoints() -> None:
    google = registry.validate(_spec(preset="google", issuer=None))
    assert google.issuer == "https://accounts.google.com"
    assert google.scopes == ("openid", "email", "profile")
    microsoft = registry.validate(_spec(preset="microsoft", issuer=None))
    assert microsoft.issuer == "https://login.microsoftonline.com/{tenantid}/v2.0"
    github = registry.validate(_spec(preset="github", issuer=None))
    assert github.issuer is None and github.scopes == ("read:user", "user:email")
    key = generate_signing_key("ES256").private_pem.decode()
    apple = registry.validate(
        _spec(preset="apple", issuer=None, client_secret=key, team_id="T1", key_id="K1")
    )
    assert apple.issuer == "https://appleid.apple.com"


async def test_the_client_secret_is_encrypted_and_bound_to_its_row(
    services: Services, org: Organization, provider: UpstreamProvider
) -> None:
    assert UPSTREAM_SECRET not in provider.client_secret_enc
    assert registry.client_secret(services.keyring, provider) == UPSTREAM_SECRET
    other = await registry.add(services.db, services.keyring, org.id, _spec(), ADMIN)
    other.client_secret_enc = provider.client_secret_enc  # the envelope copied to another row
    with pytest.raises(DecryptionFailed):
        registry.client_secret(services.keyring, other)


async def test_names_are_unique_per_org(
    services: Services, org: Organization, provider: UpstreamProvider
) -> None:
    with pytest.raises(ValueError, match="already exists"):
        await registry.add(services.db, services.keyring, org.id, _spec(name=provider.name), ADMIN)


async def test_set_scopes_is_validated_and_audited(
    services: Services, org: Organization, provider: UpstreamProvider
) -> None:
    with pytest.raises(ValueError, match="openid"):
        await registry.set_scopes(services.db, org.id, provider.name, ["email"], ADMIN)
    await registry.set_scopes(services.db, org.id, provider.name, ["openid", "email"], ADMIN)
    stored = await registry.get(services.db, org.id, provider.name)
    assert stored is not None and stored.scopes == ["openid", "email"]
    async with services.db.tenant(org.id) as session:
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id))).all()
    assert {"provider.added", "provider.scopes_changed"} <= set(actions)


async def test_removing_a_provider_ends_its_connections_and_records_withdrawals(
    services: Services,
    org: Organization,
    provider: UpstreamProvider,
    make_user: MakeUser,
    connect: Connect,
) -> None:
    user = await make_user()
    await connect(provider, user, vault.UpstreamTokens("upstream-access", scopes=("openid",)))
    assert await registry.remove(services.db, org.id, provider.name, ADMIN) == 1
    assert await registry.get(services.db, org.id, provider.name) is None
    async with services.db.tenant(org.id) as session:
        assert (await session.scalars(select(ProviderToken))).all() == []
    events = [(r.event, r.withdrawn_by) for r in await consent_ledger.list_records(services.db, org.id)]
    assert events == [("granted", None), ("withdrawn", "provider_removed")]
    with pytest.raises(LookupError):
        await registry.remove(services.db, org.id, provider.name, ADMIN)
