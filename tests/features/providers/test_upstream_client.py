"""NamoID as a strict client: a hostile upstream's every trick is refused with a clear reason."""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from namoid.crypto.tls import ensure_dev_certificate
from namoid.outbound import OutboundPolicy
from namoid.providers.presets import expected_issuer
from namoid.providers.upstream import Metadata, UpstreamClient, UpstreamError
from namoid.storage.models import UpstreamProvider
from tests.hostile_upstream import CLIENT_ID, Behaviour, Upstream, hostile_upstream

NONCE = "nonce-of-this-sign-in"
POLICY = OutboundPolicy(allow_loopback=False, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_dev_certificate(tmp_path_factory.mktemp("upstream-tls"))


def _serve(cert: tuple[Path, Path], behaviour: Behaviour = "normal") -> Iterator[Upstream]:
    with hostile_upstream(cert, behaviour) as upstream:
        yield upstream


@pytest.fixture
def upstream(cert: tuple[Path, Path]) -> Iterator[Upstream]:
    yield from _serve(cert)


def _client(cert: tuple[Path, Path], timeout: float = 5.0, later: float = 0) -> UpstreamClient:
    """A client whose clock runs ``later`` seconds ahead."""
    return UpstreamClient(POLICY, ca_file=cert[0], timeout=timeout, clock=lambda: time.time() + later)


def _provider(upstream: Upstream, issuer: str | None = None) -> UpstreamProvider:
    return UpstreamProvider(
        id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        name="hostile",
        preset="oidc",
        issuer=issuer or upstream.issuer,
        endpoints={},
        client_id=CLIENT_ID,
        client_secret_enc="",
        scopes=["openid", "email"],
    )


async def _verify(
    cert: tuple[Path, Path], upstream: Upstream, token: str, nonce: str = NONCE, later: float = 0
) -> dict[str, object]:
    client, provider = _client(cert, later=later), _provider(upstream)
    metadata = await client.metadata(provider)
    return await client.verify_id_token(provider, metadata, token, nonce=nonce)


async def test_a_well_behaved_upstream_is_accepted(cert: tuple[Path, Path], upstream: Upstream) -> None:
    claims = await _verify(cert, upstream, upstream.sign(upstream.claims(NONCE)))
    assert claims["sub"] == "hostile-user"


async def test_code_exchange_sends_pkce_and_basic_auth_and_reads_the_tokens(
    cert: tuple[Path, Path], upstream: Upstream
) -> None:
    client, provider = _client(cert), _provider(upstream)
    metadata = await client.metadata(provider)
    url = client.authorization_url(
        provider, metadata, redirect_uri="https://idp.example/cb", state="st", nonce=NONCE, challenge="ch"
    )
    assert (
        "code_challenge_method=S256" in url
        and "nonce=" in url
        and url.startswith(f"{upstream.issuer}/authorize?")
    )
    tokens = await client.exchange_code(
        provider,
        "shh",
        metadata,
        code="the-code",
        redirect_uri="https://idp.example/cb",
        verifier="the-verifier",
    )
    assert tokens.access_token == upstream.access_token and tokens.expires_in == 300
    method, path, headers, body = upstream.requests[-1]
    assert (method, path) == ("POST", "/token")
    assert "code_verifier=the-verifier" in body and "client_secret" not in body
    assert headers["authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ("none", "bad_algorithm"),
        ("hs256", "bad_algorithm"),
        ("flipped", "bad_signature"),
    ],
)
async def test_forged_id_tokens_are_refused(
    cert: tuple[Path, Path], upstream: Upstream, forgery: str, reason: str
) -> None:
    token = upstream.forge(upstream.claims(NONCE), forgery)  # type: ignore[arg-type]
    with pytest.raises(UpstreamError) as refused:
        await _verify(cert, upstream, token)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://other-idp.example"}, "wrong_issuer"),  # mix-up
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"aud": [CLIENT_ID, "someone-else"]}, "wrong_audience"),  # several audiences, no azp
        ({"aud": [CLIENT_ID, "someone-else"], "azp": "someone-else"}, "wrong_audience"),
        ({"nonce": "another-sign-in"}, "wrong_nonce"),
        ({"nonce": None}, "wrong_nonce"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"iat": int(time.time()) - 3600}, "stale"),
        ({"iat": None}, "stale"),
        ({"sub": None}, "bad_id_token"),
    ],
)
async def test_id_tokens_with_bad_claims_are_refused(
    cert: tuple[Path, Path], upstream: Upstream, overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(UpstreamError) as refused:
        await _verify(cert, upstream, upstream.sign(upstream.claims(NONCE, **overrides)))
    assert refused.value.reason == reason


async def test_a_discovery_document_naming_another_issuer_is_refused(
    cert: tuple[Path, Path], upstream: Upstream
) -> None:
    upstream.discovery_issuer = "https://accounts.google.com"
    with pytest.raises(UpstreamError) as refused:
        await _client(cert).metadata(_provider(upstream))
    assert refused.value.reason == "wrong_issuer"


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("oversized", "oversized"), ("slow", "timeout"), ("redirect", "http_status")],
)
async def test_misbehaving_transport_is_refused(
    cert: tuple[Path, Path], behaviour: Behaviour, reason: str
) -> None:
    for upstream in _serve(cert, behaviour):
        started = time.monotonic()
        with pytest.raises(UpstreamError) as refused:
            await _client(cert, timeout=0.5).metadata(_provider(upstream))
        assert refused.value.reason == reason
        assert time.monotonic() - started < 5
        assert [path for _, path, _, _ in upstream.requests] == ["/.well-known/openid-configuration"]


async def test_a_redirect_to_the_metadata_address_is_refused_even_when_followed(
    cert: tuple[Path, Path],
) -> None:
    """The guarded client refuses 169.254.169.254 whatever the allow-list says."""
    metadata = Metadata(
        issuer=None,
        authorization_endpoint="https://x.example",
        token_endpoint="https://x.example",
        userinfo_endpoint="https://169.254.169.254/latest/meta-data/",
    )
    with pytest.raises(UpstreamError) as refused:
        await _client(cert).userinfo(metadata, "token")
    assert refused.value.reason == "refused_destination"


async def test_upstream_error_bodies_are_never_echoed(cert: tuple[Path, Path], upstream: Upstream) -> None:
    client = _client(cert)
    metadata = Metadata(
        issuer=None,
        authorization_endpoint=f"{upstream.issuer}/authorize",
        token_endpoint=f"{upstream.issuer}/token",
        userinfo_endpoint=f"{upstream.issuer}/nowhere",
    )
    with pytest.raises(UpstreamError) as refused:
        await client.userinfo(metadata, "token")
    assert "404" in str(refused.value) and "internals" not in str(refused.value)


async def test_an_unknown_kid_refetches_the_jwks_once(cert: tuple[Path, Path], upstream: Upstream) -> None:
    await _verify(cert, upstream, upstream.sign(upstream.claims(NONCE)))  # JWKS now cached
    rotated = Upstream(issuer=upstream.issuer)  # a new key at the same issuer
    upstream.jwks = [*upstream.jwks, rotated.public_jwk]
    with pytest.raises(UpstreamError):  # within a minute of the last fetch: no refetch
        await _verify(cert, upstream, rotated.sign(rotated.claims(NONCE)))
    assert len([path for _, path, _, _ in upstream.requests if path == "/jwks"]) == 1
    claims = await _verify(cert, upstream, rotated.sign(rotated.claims(NONCE)), later=61)
    assert claims["sub"] == "hostile-user"
    assert len([path for _, path, _, _ in upstream.requests if path == "/jwks"]) == 2
    stranger = Upstream(issuer=upstream.issuer)  # never published: no refetch storm
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await _verify(cert, upstream, stranger.sign(stranger.claims(NONCE)), later=62)
    assert len([path for _, path, _, _ in upstream.requests if path == "/jwks"]) == 2


async def test_a_multi_tenant_issuer_is_checked_against_the_tokens_tid(
    cert: tuple[Path, Path], upstream: Upstream
) -> None:
    template = f"{upstream.issuer}/{{tenantid}}/v2.0"
    upstream.discovery_issuer = template
    client, provider = _client(cert), _provider(upstream, issuer=template)
    metadata = await client.metadata(provider)
    tenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
    good = upstream.claims(NONCE, iss=f"{upstream.issuer}/{tenant}/v2.0", tid=tenant)
    assert (await client.verify_id_token(provider, metadata, upstream.sign(good), nonce=NONCE))[
        "tid"
    ] == tenant
    other = upstream.claims(NONCE, iss=f"{upstream.issuer}/{tenant}/v2.0", tid="another-tenant")
    with pytest.raises(UpstreamError) as refused:
        await client.verify_id_token(provider, metadata, upstream.sign(other), nonce=NONCE)
    assert refused.value.reason == "wrong_issuer"


def test_expected_issuer_fills_the_tenant_only_from_a_plain_tid() -> None:
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert expected_issuer(template, {"tid": "abc-123"}) == "https://login.microsoftonline.com/abc-123/v2.0"
    assert expected_issuer(template, {}) is None
    assert expected_issuer(template, {"tid": "x/../evil"}) is None
    assert expected_issuer("https://accounts.google.com", {"tid": "t"}) == "https://accounts.google.com"


# --- GitHub: the email comes from GET /user/emails, only primary and verified -----------------


def _github(upstream: Upstream, scopes: list[str] | None = None) -> UpstreamProvider:
    base = upstream.issuer
    return UpstreamProvider(
        id=uuid.uuid4(), org_id=uuid.uuid4(), name="gh", preset="github", issuer=None,
        endpoints={"authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
                   "userinfo_endpoint": f"{base}/user", "emails_endpoint": f"{base}/user/emails"},
        client_id=CLIENT_ID, client_secret_enc="", scopes=scopes or ["read:user", "user:email"],
    )  # fmt: skip


def _address(email: object, primary: bool = False, verified: bool = False) -> dict[str, object]:
    return {"email": email, "primary": primary, "verified": verified, "visibility": None}


async def _github_email(
    cert: tuple[Path, Path], upstream: Upstream, scopes: list[str] | None = None
) -> str | None:
    client = _client(cert)
    metadata = await client.metadata(_github(upstream, scopes))
    return await client.verified_primary_email(metadata, "gh-token")


async def test_github_private_email_the_primary_verified_address_is_used(
    cert: tuple[Path, Path], upstream: Upstream
) -> None:
    upstream.github_emails = [
        _address("old@example.com", verified=True),
        _address("octo@users.noreply.github.com", verified=True),
        _address("octo@example.com", primary=True, verified=True),
    ]
    assert await _github_email(cert, upstream) == "octo@example.com"
    method, path, headers, _ = upstream.requests[-1]
    assert (method, path, headers["authorization"]) == ("GET", "/user/emails", "Bearer gh-token")


@pytest.mark.parametrize(
    "listed",
    [
        [_address("someone@example.com", primary=True), _address("other@example.com", verified=True)],
        [_address("verified-but-not-primary@example.com", verified=True)],
        [],
    ],
    ids=["primary-unverified", "no-primary", "empty"],
)
async def test_github_without_a_primary_verified_address_gives_no_email(
    cert: tuple[Path, Path], upstream: Upstream, listed: list[object]
) -> None:
    upstream.github_emails = listed
    assert await _github_email(cert, upstream) is None


@pytest.mark.parametrize(
    "listed",
    [
        {"email": "a@example.com", "primary": True, "verified": True},
        ["a@example.com"],
        [_address("a@example.com", True, True), _address("b@example.com", True, True)],
        [_address(["a@example.com"], True, True)],
        [_address("x" * 300 + "@example.com", True, True)],
        [_address("a@example.com", True, True)] * 101,
    ],
    ids=["object", "strings", "two-primaries", "email-not-string", "email-too-long", "too-many"],
)
async def test_github_malformed_email_lists_are_refused(
    cert: tuple[Path, Path], upstream: Upstream, listed: object
) -> None:
    upstream.github_emails = listed
    with pytest.raises(UpstreamError) as refused:
        await _github_email(cert, upstream)
    assert refused.value.reason == "bad_userinfo"
    assert "a@example.com" not in str(refused.value)


async def test_github_an_oversized_email_list_is_refused(cert: tuple[Path, Path], upstream: Upstream) -> None:
    upstream.github_emails = [_address(f"{i}-{'x' * 200}@example.com", True, True) for i in range(2000)]
    with pytest.raises(UpstreamError) as refused:
        await _github_email(cert, upstream)
    assert refused.value.reason == "oversized"


async def test_github_without_the_email_scope_the_list_is_not_asked_for(
    cert: tuple[Path, Path], upstream: Upstream
) -> None:
    upstream.github_emails = [_address("octo@example.com", primary=True, verified=True)]
    assert await _github_email(cert, upstream, scopes=["read:user"]) is None
    assert not upstream.requests
    assert await _github_email(cert, upstream, scopes=["user"]) == "octo@example.com"


def test_the_github_preset_asks_for_the_email_scope_and_knows_the_emails_api() -> None:
    from namoid.providers.presets import PRESETS

    github = PRESETS["github"]
    assert "user:email" in github.scopes
    assert github.endpoints["emails_endpoint"] == "https://api.github.com/user/emails"
