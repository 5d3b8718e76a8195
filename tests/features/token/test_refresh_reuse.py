"""The refresh-token reuse window (issue 10 §2): retries and parallel refreshes by the token's
own client get the first use's response; anything else is still a replay (RFC 9700 §4.14.2)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from namoid import sweeps
from namoid.crypto import keyring
from namoid.crypto.keyring import DecryptionFailed, Keyring, aad_for
from namoid.crypto.secrets import sha256_hex
from namoid.oauth import client_registry
from namoid.reencryption import count_under_key, reencrypt_all
from namoid.services import Services
from namoid.storage.models import Organization, RefreshToken, SecurityEvent, User, utcnow
from namoid.storage.repos import refresh_tokens, security_events
from tests.conftest import ISOLATED
from tests.features.conftest import ADMIN, MakeClient, RegisteredClient
from tests.features.token.conftest import (
    age_first_use,
    audit_rows,
    basic,
    code_tokens,
    post,
    refresh,
)

SCOPE = "openid profile email offline_access"
REPLAYED = "refresh_token.replayed"
REUSED = "refresh_token.reused_within_grace"


async def _family(services: Services, org: Organization, token: str) -> tuple[uuid.UUID, list[RefreshToken]]:
    """The token's family id and every token of the family."""
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(token))
        assert found is not None
        family = found[1]
        rows = await session.scalars(select(RefreshToken).where(RefreshToken.family_id == family.id))
        return family.id, list(rows)


async def _alive_without_fork(services: Services, org: Organization, newest: str) -> None:
    """The family is unrevoked and its one unused token is ``newest``."""
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(newest))
    assert found is not None and found[1].revoked_at is None
    _, rows = await _family(services, org, newest)
    assert [row.token_hash for row in rows if row.used_at is None] == [sha256_hex(newest)]


async def _events(services: Services, org: Organization) -> list[SecurityEvent]:
    async with services.db.tenant(org.id) as session:
        rows = await security_events.list_recent(session, org.id, limit=500)
    return [event for event in rows if event.name == REPLAYED]


def _same_answer(first: dict[str, Any], again: dict[str, Any]) -> bool:
    keep = ("access_token", "id_token", "refresh_token", "scope", "token_type")
    return all(first.get(name) == again.get(name) for name in keep)


async def test_parallel_page_loads_share_one_successor_and_the_family_lives(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    """mod_auth_openidc: four parallel page loads when a refresh falls due send the token three times."""
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    answers = await asyncio.gather(*(refresh(http, org, web_app, token) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    bodies = [a.json() for a in answers]
    assert all(_same_answer(bodies[0], body) for body in bodies)
    assert bodies[0]["refresh_token"] != token
    await _alive_without_fork(services, org, bodies[0]["refresh_token"])
    # Everything issued is live: the shared access token, the successor.
    userinfo = await http.get(
        f"/o/{org.slug}/userinfo", headers={"Authorization": f"Bearer {bodies[0]['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert (await refresh(http, org, web_app, bodies[0]["refresh_token"])).status_code == 200
    assert await _events(services, org) == []
    assert len(await audit_rows(services, org, "refresh_token.rotated")) == 2
    reused = await audit_rows(services, org, REUSED)
    family_id, _ = await _family(services, org, token)
    assert len(reused) == 2 and {r.target_id for r in reused} == {str(family_id)}
    assert reused[0].detail == {"family": str(family_id), "client_id": web_app.client_id, "window": 30}


async def test_a_lost_response_is_fetched_again_by_a_retry(
    http: httpx.AsyncClient, services: Services, org: Organization, spa: RegisteredClient, user: User
) -> None:
    """A mobile app whose response was lost retries: it gets what it missed, not a dead family."""
    token = (await code_tokens(http, services, org, spa, user))["refresh_token"]
    lost = (await refresh(http, org, spa, token)).json()
    await age_first_use(services, org, token, 12)  # the app's read timeout, then the retry
    retry = await refresh(http, org, spa, token)
    assert retry.status_code == 200 and _same_answer(lost, retry.json())
    # RFC 6749 §5.1: expires_in counts from this response.
    assert lost["expires_in"] - 13 <= retry.json()["expires_in"] <= lost["expires_in"] - 12
    following = await refresh(http, org, spa, retry.json()["refresh_token"])
    assert following.status_code == 200
    await _alive_without_fork(services, org, following.json()["refresh_token"])
    assert await _events(services, org) == []


@pytest.mark.parametrize(("kind", "window"), [("confidential", 30), ("public", 15)])
async def test_default_windows_by_client_type_then_a_replay(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    user: User,
    kind: str,
    window: int,
) -> None:
    client = await make_client(
        client_type=kind, grant_types=["authorization_code", "refresh_token"], scopes=SCOPE.split(" ")
    )
    token = (await code_tokens(http, services, org, client, user))["refresh_token"]
    successor = (await refresh(http, org, client, token)).json()
    await age_first_use(services, org, token, window - 1)
    assert (await refresh(http, org, client, token)).status_code == 200
    await age_first_use(services, org, token, 2)  # the window has closed
    replay = await refresh(http, org, client, token)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # Exactly as without a window: the chain is dead, the winner's tokens included.
    assert (await refresh(http, org, client, successor["refresh_token"])).json()["error"] == "invalid_grant"
    [event] = await _events(services, org)
    family_id, _ = await _family(services, org, token)
    assert event.payload["family"] == str(family_id) and event.payload["revoked_access"] == 2


async def test_window_zero_makes_every_reuse_a_replay_raised_once(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    client = await make_client(
        grant_types=["authorization_code", "refresh_token"], scopes=SCOPE.split(" "), refresh_reuse_window=0
    )
    token = (await code_tokens(http, services, org, client, user))["refresh_token"]
    assert (await refresh(http, org, client, token)).status_code == 200
    replays = await asyncio.gather(*(refresh(http, org, client, token) for _ in range(3)))
    assert {(r.status_code, r.json()["error"]) for r in replays} == {(400, "invalid_grant")}
    assert len(await _events(services, org)) == 1
    _, rows = await _family(services, org, token)
    assert all(row.successor_enc is None for row in rows)  # nothing kept without a window


async def test_nobody_else_gets_the_successor(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    make_client: MakeClient,
    user: User,
) -> None:
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    first = (await refresh(http, org, web_app, token)).json()
    other = await make_client(grant_types=["authorization_code", "refresh_token"])
    stolen = await refresh(http, org, other, token)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    form = {"grant_type": "refresh_token", "refresh_token": token}
    wrong_secret = await http.post(
        f"/o/{org.slug}/token", data=form, headers=basic(web_app.client_id, "not the secret")
    )
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    as_public = await http.post(f"/o/{org.slug}/token", data={**form, "client_id": web_app.client_id})
    assert as_public.status_code == 401 and "refresh_token" not in as_public.text
    # None of them got anything, or disturbed the family: the owner's retry still works.
    again = await refresh(http, org, web_app, token)
    assert again.status_code == 200 and _same_answer(first, again.json())
    await _alive_without_fork(services, org, first["refresh_token"])


async def test_a_different_scope_is_not_a_retry(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    assert (await refresh(http, org, web_app, token, scope="openid")).status_code == 200
    different = await refresh(http, org, web_app, token)
    assert different.status_code == 400 and different.json()["error"] == "invalid_grant"
    assert len(await _events(services, org)) == 1


async def test_no_kept_response_once_the_family_is_revoked(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    successor = (await refresh(http, org, web_app, token)).json()
    assert (
        await post(http, org, "revoke", {"token": successor["refresh_token"]}, web_app)
    ).status_code == 200
    refused = await refresh(http, org, web_app, token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # The repo's own check, for a request that loaded the family before it was revoked.
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(token))
        assert found is not None
        assert await refresh_tokens.successor(session, org.id, found[0].id, utcnow()) is None


async def test_no_kept_response_for_a_disabled_user(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    assert (await refresh(http, org, web_app, token)).status_code == 200
    async with services.db.tenant(org.id) as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.status = "disabled"  # directly, so that no revocation of the family hides the check
    refused = await refresh(http, org, web_app, token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_the_kept_response_is_sealed_bound_to_its_row_and_swept_after_the_window(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    successor = (await refresh(http, org, web_app, token)).json()
    _, rows = await _family(services, org, token)
    [used] = [row for row in rows if row.used_at is not None]
    assert used.successor_enc is not None and used.successor_expires_at is not None
    assert used.successor_enc.startswith(f"v1.{services.keyring.active_key_id}.")
    assert successor["refresh_token"] not in used.successor_enc
    aad = aad_for("refresh_tokens", "successor_enc", str(org.id), str(used.id))
    assert (
        json.loads(services.keyring.decrypt(used.successor_enc, aad))["refresh_token"]
        == (successor["refresh_token"])
    )
    [unused] = [row for row in rows if row.used_at is None]
    with pytest.raises(DecryptionFailed):  # copied to another row, it opens no more
        services.keyring.decrypt(
            used.successor_enc, aad_for("refresh_tokens", "successor_enc", str(org.id), str(unused.id))
        )

    assert "refresh_tokens.successor_enc" not in await sweeps.sweep(services.db, utcnow(), orgs=[org])
    assert any(row.successor_enc for row in (await _family(services, org, token))[1])  # window open
    swept = await sweeps.sweep(services.db, used.successor_expires_at, orgs=[org])
    assert swept["refresh_tokens.successor_enc"] == 1
    _, rows = await _family(services, org, token)
    assert all(row.successor_enc is None and row.successor_expires_at is None for row in rows)
    # Destroyed means gone: a retry inside what would have been the window is now a replay.
    refused = await refresh(http, org, web_app, token)
    assert refused.status_code == 400 and len(await _events(services, org)) == 1


async def test_the_window_is_set_per_client_and_audited(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    await client_registry.set_refresh_lifetimes(
        services.db, org.id, web_app.client_id, {"refresh_reuse_window": 0}, ADMIN
    )
    [updated] = await audit_rows(services, org, "client.updated")
    assert updated.detail["changed"] == ["refresh_reuse_window=0"]
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    assert (await refresh(http, org, web_app, token)).status_code == 200
    assert (await refresh(http, org, web_app, token)).json()["error"] == "invalid_grant"
    for bad in (-1, 61):
        with pytest.raises(ValueError, match="between 0 and 60"):
            await client_registry.set_refresh_lifetimes(
                services.db, org.id, web_app.client_id, {"refresh_reuse_window": bad}, ADMIN
            )


@ISOLATED
async def test_a_key_rotation_reseals_kept_responses(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    user: User,
    keyring_file: Path,
) -> None:
    """A response kept across ``namoid keys reencrypt`` still opens once the old key is retired."""
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    successor = (await refresh(http, org, web_app, token)).json()
    old_key = services.keyring.active_key_id
    keyring.activate_key(keyring_file, keyring.add_key(keyring_file))
    rotated = Keyring.load(keyring_file)
    assert await count_under_key(services.db, old_key) == 2  # the signing key and the kept response
    assert await reencrypt_all(services.db, rotated, ADMIN) == 2
    assert await count_under_key(services.db, old_key) == 0
    keyring.retire_key(keyring_file, old_key)
    _, rows = await _family(services, org, token)
    [used] = [row for row in rows if row.successor_enc is not None]
    assert used.successor_enc is not None and rotated.is_current(used.successor_enc)
    aad = aad_for("refresh_tokens", "successor_enc", str(org.id), str(used.id))
    reopened = json.loads(Keyring.load(keyring_file).decrypt(used.successor_enc, aad))
    assert reopened["refresh_token"] == successor["refresh_token"]


class _Aborted(Exception):
    pass


async def test_a_first_use_whose_transaction_fails_consumes_nothing(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    """A use that arrives while another holds the consuming UPDATE waits for it; if that one
    rolls back, nothing was consumed and the waiting use rotates as the first."""
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    waiting: asyncio.Task[httpx.Response] | None = None
    with pytest.raises(_Aborted):
        async with services.db.tenant(org.id) as session:
            found = await refresh_tokens.find(session, org.id, sha256_hex(token))
            assert found is not None
            assert await refresh_tokens.consume(session, org.id, found[0].id, utcnow())
            waiting = asyncio.create_task(refresh(http, org, web_app, token))
            await asyncio.sleep(0.5)
            assert not waiting.done()  # it waits for this transaction's lock
            raise _Aborted
    assert waiting is not None
    rotated = await waiting
    assert rotated.status_code == 200, rotated.text
    await _alive_without_fork(services, org, rotated.json()["refresh_token"])
    assert await _events(services, org) == []
    assert len(await audit_rows(services, org, "refresh_token.rotated")) == 1
