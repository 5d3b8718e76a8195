"""verified_claims (OpenID Connect for Identity Assurance 1.0) through the real protocol:
the relying party asks with the ``claims`` parameter (OIDC Core §5.5), the user sees the line
on the consent page and allows, and the ID token, validated with authlib against the JWKS,
or UserInfo carries the verified current profile name; a changed name is no longer verified."""

from __future__ import annotations

import json
import warnings
from typing import Any

from authlib.deprecate import AuthlibDeprecationWarning
from sqlalchemy import update

from namoid.services import Services
from namoid.storage.models import User
from tests import kyc_fixtures as fx
from tests.features.authorize.conftest import NONCE, REDIRECT_URI, Flow, query
from tests.features.conftest import MakeClient
from tests.features.kyc.test_upload_page import upload
from tests.features.token.conftest import exchange, refresh

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)  # as tests/e2e/test_oidc_client.py
    from authlib.jose import JsonWebKey, jwt

REQUEST = {"verification": {"trust_framework": None}, "claims": {"name": None}}
ASK = json.dumps({"id_token": {"verified_claims": REQUEST}})


async def _id_token(flow: Flow, **overrides: str) -> dict[str, Any]:
    """authorize (claims, prompt=consent) → consent page (the line shown) → allow → code → ID token."""
    consent = await flow.follow(await flow.authorize(claims=ASK, prompt="consent", **overrides))
    assert consent.status_code == 200, consent.text
    assert 'id="verified-claims-line"' in consent.text
    done = await flow.decide(consent, "allow")
    code = query(done.headers["location"])["code"]
    response = await exchange(flow.http, flow.org, flow.rp, code, flow.verifier)
    assert response.status_code == 200, response.text
    jwks = (await flow.http.get(f"{flow.base}/jwks.json")).json()
    claims = jwt.decode(
        response.json()["id_token"], JsonWebKey.import_key_set(jwks),
        claims_options={"iss": {"essential": True, "value": flow.issuer},
                        "aud": {"essential": True, "value": flow.rp.client_id},
                        "nonce": {"essential": True, "value": NONCE}},
    )  # fmt: skip
    claims.validate()
    return dict(claims)


async def test_the_relying_party_receives_the_verified_name(signed_in: Flow, services: Services) -> None:
    assert (await upload(signed_in, fx.upload())).status_code == 200
    claims = await _id_token(signed_in)
    verified = claims["verified_claims"]
    assert verified["claims"] == {"name": fx.NAME}
    verification = verified["verification"]
    assert verification["trust_framework"] == "in_uidai_okyc"
    assert verification["time"].endswith("Z")
    [evidence] = verification["evidence"]
    assert evidence["type"] == "electronic_record"
    assert evidence["record"]["type"] == "aadhaar_paperless_offline_ekyc"
    assert "name" not in claims  # the ID token carries no other profile claim


async def test_a_changed_name_is_no_longer_verified(signed_in: Flow, services: Services) -> None:
    assert (await upload(signed_in, fx.upload())).status_code == 200
    async with services.db.tenant(signed_in.org.id) as session:
        await session.execute(update(User).where(User.id == signed_in.user.id).values(name="Someone Else"))
    assert "verified_claims" not in await _id_token(signed_in)


async def test_without_a_kyc_record_nothing_is_claimed(signed_in: Flow) -> None:
    assert "verified_claims" not in await _id_token(signed_in)


async def test_without_asking_nothing_is_released(signed_in: Flow) -> None:
    """Also: consent remembered without the verified_claims line shown releases none (IDA needs consent)."""
    assert (await upload(signed_in, fx.upload())).status_code == 200
    answered = await signed_in.authorize(claims=ASK)  # consent remembered: no consent page, code at once
    code = query(answered.headers["location"])["code"]
    response = await exchange(signed_in.http, signed_in.org, signed_in.rp, code, signed_in.verifier)
    token = response.json()["id_token"]
    jwks = (await signed_in.http.get(f"{signed_in.base}/jwks.json")).json()
    assert "verified_claims" not in jwt.decode(token, JsonWebKey.import_key_set(jwks))


async def test_a_malformed_claims_parameter_is_invalid_request(signed_in: Flow) -> None:
    malformed = (
        "not json", "[]", '{"id_token": []}', '{"id_token": {"verified_claims": {"claims": {}}}}',
        '{"id_token": {"verified_claims": []}}', '{"id_token": {"verified_claims": {"claims": {"name": 1}}}}',
    )  # fmt: skip
    for bad in malformed:
        response = await signed_in.authorize(claims=bad)
        assert response.status_code == 303, (bad, response.text)
        assert query(response.headers["location"])["error"] == "invalid_request", bad


async def test_discovery_advertises_identity_assurance(signed_in: Flow) -> None:
    metadata = (await signed_in.http.get(f"{signed_in.base}/.well-known/openid-configuration")).json()
    assert metadata["claims_parameter_supported"] is True
    assert metadata["verified_claims_supported"] is True
    assert metadata["trust_frameworks_supported"] == ["in_uidai_okyc"]
    assert metadata["evidence_supported"] == ["electronic_record"]
    assert metadata["claims_in_verified_claims_supported"] == ["name"]


# --- at UserInfo: the claims request's userinfo member (IDA 1.0 §6), same consent, same content ---

ASK_USERINFO = json.dumps({"userinfo": {"verified_claims": REQUEST}})
ASK_BOTH = json.dumps({"id_token": {"verified_claims": REQUEST}, "userinfo": {"verified_claims": REQUEST}})


async def _tokens_after_consent(flow: Flow, ask: str, **overrides: str) -> dict[str, Any]:
    """authorize (claims, prompt=consent) → the consent line shown → allow → the token response."""
    consent = await flow.follow(await flow.authorize(claims=ask, prompt="consent", **overrides))
    assert consent.status_code == 200 and 'id="verified-claims-line"' in consent.text, consent.text
    done = await flow.decide(consent, "allow")
    code = query(done.headers["location"])["code"]
    response = await exchange(flow.http, flow.org, flow.rp, code, flow.verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _userinfo(flow: Flow, access_token: str) -> dict[str, Any]:
    response = await flow.http.get(
        f"{flow.base}/userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    assert response.status_code == 200, response.text
    claims: dict[str, Any] = response.json()
    return claims


async def test_userinfo_releases_the_verified_name_asked_for_there(signed_in: Flow) -> None:
    assert (await upload(signed_in, fx.upload())).status_code == 200
    tokens = await _tokens_after_consent(signed_in, ASK_USERINFO)
    info = await _userinfo(signed_in, tokens["access_token"])
    assert info["verified_claims"]["claims"] == {"name": fx.NAME}
    assert info["verified_claims"]["verification"]["trust_framework"] == "in_uidai_okyc"
    assert "verified_claims" not in jwt.decode(  # asked for at UserInfo only
        tokens["id_token"],
        JsonWebKey.import_key_set((await signed_in.http.get(f"{signed_in.base}/jwks.json")).json()),
    )


async def test_userinfo_and_the_id_token_carry_the_same_verified_claims(signed_in: Flow) -> None:
    assert (await upload(signed_in, fx.upload())).status_code == 200
    tokens = await _tokens_after_consent(signed_in, ASK_BOTH)
    jwks = JsonWebKey.import_key_set((await signed_in.http.get(f"{signed_in.base}/jwks.json")).json())
    in_id_token = jwt.decode(tokens["id_token"], jwks)["verified_claims"]
    assert (await _userinfo(signed_in, tokens["access_token"]))["verified_claims"] == in_id_token


async def test_userinfo_releases_nothing_asked_only_for_the_id_token(signed_in: Flow) -> None:
    assert (await upload(signed_in, fx.upload())).status_code == 200
    tokens = await _tokens_after_consent(signed_in, ASK)
    assert "verified_claims" not in await _userinfo(signed_in, tokens["access_token"])


async def test_userinfo_releases_nothing_when_the_consent_form_was_not_shown(signed_in: Flow) -> None:
    """Consent remembered (the signed_in fixture allowed the client before): no form, no release."""
    assert (await upload(signed_in, fx.upload())).status_code == 200
    answered = await signed_in.authorize(claims=ASK_USERINFO)
    code = query(answered.headers["location"])["code"]
    response = await exchange(signed_in.http, signed_in.org, signed_in.rp, code, signed_in.verifier)
    assert "verified_claims" not in await _userinfo(signed_in, response.json()["access_token"])


async def test_userinfo_stops_vouching_for_a_changed_name_and_without_a_record(
    signed_in: Flow, services: Services
) -> None:
    tokens = await _tokens_after_consent(signed_in, ASK_USERINFO)
    assert "verified_claims" not in await _userinfo(signed_in, tokens["access_token"])  # no record yet
    assert (await upload(signed_in, fx.upload())).status_code == 200
    assert "verified_claims" in await _userinfo(signed_in, tokens["access_token"])
    async with services.db.tenant(signed_in.org.id) as session:
        await session.execute(update(User).where(User.id == signed_in.user.id).values(name="Someone Else"))
    assert "verified_claims" not in await _userinfo(signed_in, tokens["access_token"])


async def test_a_refreshed_access_token_keeps_exactly_the_consented_release(
    signed_in: Flow, services: Services, make_client: MakeClient
) -> None:
    assert (await upload(signed_in, fx.upload())).status_code == 200
    rp = await make_client(
        redirect_uris=[REDIRECT_URI], scopes=["openid", "profile", "offline_access"],
        grant_types=["authorization_code", "refresh_token"],
    )  # fmt: skip
    flow = Flow(
        signed_in.http, services, signed_in.org, rp, signed_in.user, signed_in.verifier, signed_in.challenge
    )
    first = await _tokens_after_consent(flow, ASK_USERINFO, scope="openid offline_access")
    renewed = await refresh(flow.http, flow.org, rp, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert (await _userinfo(flow, renewed.json()["access_token"]))["verified_claims"]["claims"] == {
        "name": fx.NAME
    }
    other = await _tokens_after_consent(
        flow, ASK, scope="openid offline_access"
    )  # a new grant, not for UserInfo
    again = await refresh(flow.http, flow.org, rp, other["refresh_token"])
    assert "verified_claims" not in await _userinfo(flow, again.json()["access_token"])
