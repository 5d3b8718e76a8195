"""The friendly upstream: a second NamoID org on the same ``namoid serve`` over real HTTPS.

Org "upstream" is a real OpenID Connect provider; org "home" names it as a provider. A user
of home connects it to their account; later, in another browser, signs in to a relying
party of home through it (``amr`` fed); the relying party, allowed by the org and granted
``provider:friends`` by the user, exchanges its access token for the user's upstream access
token (RFC 8693), which the upstream's userinfo accepts. SQLite (dev mode) and PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from namoid.crypto.tls import ensure_dev_certificate
from namoid.jose import jwt
from tests.e2e.test_oidc_client import PASSWORD, REDIRECT_URI, Browser, IdP, _settings, query
from tests.e2e.test_server import start, stop

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@contextmanager
def serving(backend: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[IdP]:
    """``namoid serve`` whose orgs can be each other's upstream (it trusts its own certificate)."""
    env = _settings(backend, tmp, request)
    if "NAMOID_TLS_CERT_FILE" not in env:  # dev mode: give it the certificate it will serve
        cert, key = ensure_dev_certificate(tmp / "tls")
        env |= {"NAMOID_TLS_CERT_FILE": str(cert), "NAMOID_TLS_KEY_FILE": str(key)}
    env |= {
        "NAMOID_PROVIDER_CA_FILE": env["NAMOID_TLS_CERT_FILE"],  # home trusts upstream's certificate
        "NAMOID_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32,::1/128",  # both orgs live on localhost
    }
    server = start(tmp, cafile=Path(env["NAMOID_TLS_CERT_FILE"]), **env)
    try:
        yield IdP(server, env | {"NAMOID_DATA_DIR": str(tmp / "data")}, (Path(), Path()))
    finally:
        stop(server)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def idp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    with serving(request.param, request, tmp_path_factory.mktemp(f"providers-{request.param}")) as served:
        yield served


@dataclass
class World:
    upstream: str
    home: str
    upstream_email: str
    home_email: str
    rp_id: str
    rp_secret: str


def _user(idp: IdP, slug: str) -> str:
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    idp.cli("user", "create", "--org", slug, "--email", email, "--password-stdin", stdin=PASSWORD)
    return email


def make_world(idp: IdP, redirect_uri: str = REDIRECT_URI) -> World:
    """Org "upstream" with a user and a client for home; org "home" with the provider, a user and an RP."""
    upstream, home = f"up-{uuid.uuid4().hex[:6]}", f"home-{uuid.uuid4().hex[:6]}"
    idp.cli("org", "create", upstream)
    idp.cli("org", "create", home)
    callback = f"{idp.issuer(home)}/providers/friends/callback"
    at_upstream = idp.cli(
        "client", "create", "--org", upstream, "--name", "Home", "--type", "confidential",
        "--redirect-uri", callback, "--scope", "openid", "--scope", "email", "--scope", "profile",
    )  # fmt: skip
    added = idp.cli(
        "providers", "add", "--org", home, "--name", "friends", "--preset", "oidc",
        "--issuer", idp.issuer(upstream), "--client-id", at_upstream["client_id"], "--client-secret-stdin",
        stdin=at_upstream["client_secret"],
    )  # fmt: skip
    assert added["redirect_uri"] == callback
    rp = idp.cli(
        "client", "create", "--org", home, "--name", "Home RP", "--type", "confidential",
        "--redirect-uri", redirect_uri, "--scope", "openid", "--scope", "email",
        "--scope", "provider:friends", "--allow-token-exchange", "friends",
    )  # fmt: skip
    return World(upstream, home, _user(idp, upstream), _user(idp, home), rp["client_id"], rp["client_secret"])


@pytest.fixture(scope="module")
def world(idp: IdP) -> World:
    return make_world(idp)


@pytest.fixture
async def browser(idp: IdP) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(verify=idp.context, timeout=30) as http:
        yield Browser(http)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"="
    ).decode()


def authorize_url(idp: IdP, world: World, challenge: str, redirect_uri: str = REDIRECT_URI) -> str:
    params = {
        "response_type": "code",
        "client_id": world.rp_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email provider:friends",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{idp.issuer(world.home)}/authorize?{urlencode(params)}"


async def _upstream_pages(browser: Browser, response: httpx.Response, email: str) -> httpx.Response:
    """Sign in at the upstream (password, consent) until it sends the browser back to home."""
    for _ in range(4):
        if response.status_code != 200 or (
            'name="password"' not in response.text and 'value="allow"' not in response.text
        ):
            return response
        if 'name="password"' in response.text:
            response = await browser.submit(response, email=email, password=PASSWORD)
        else:
            response = await browser.submit(response, decision="allow")
    return response


async def _connect(browser: Browser, home: str, name: str) -> httpx.Response:
    """Connect from the account console (its sign-in passes through, the browser is signed in):
    a CSRF-protected POST, on its way to the upstream."""
    providers = await browser.get(f"{home}/account/providers")
    token = re.search(r'name="csrf_token" value="([^"]+)"', providers.text)
    assert token is not None, providers.text
    connect_url = f"{home}/account/providers/{name}/connect"
    connect = await browser.http.post(connect_url, data={"csrf_token": token[1]})
    return await browser.follow(connect)


async def test_connect_sign_in_and_exchange_through_a_real_upstream(
    idp: IdP, world: World, browser: Browser
) -> None:
    home = idp.issuer(world.home)
    # 1. A home user signs in with their password, then connects the upstream account.
    verifier, challenge = _pkce()
    assert (
        await browser.sign_in(authorize_url(idp, world, challenge), world.home_email, PASSWORD)
    ).startswith(REDIRECT_URI)
    connected = await _upstream_pages(browser, await _connect(browser, home, "friends"), world.upstream_email)
    assert connected.status_code == 200, connected.text
    assert "friends is connected" in connected.text
    ledger = idp.cli("providers", "consents", "--org", world.home)
    assert {r["kind"] for r in ledger} == {"client_grant", "provider_connection"}  # the RP's grant too
    ledger = [r for r in ledger if r["kind"] == "provider_connection"]
    assert [(r["kind"], r["event"], r["counterparty"]) for r in ledger] == [
        ("provider_connection", "granted", "friends")
    ]
    assert ledger[0]["ip"] and ledger[0]["scopes"] and ledger[0]["occurred_at"].endswith("+00:00")

    # 2. Another browser: sign in to the relying party with the upstream (no password at home).
    browser.http.cookies.clear()
    verifier, challenge = _pkce()
    login_page = await browser.get(authorize_url(idp, world, challenge))
    assert "Sign in with friends" in login_page.text
    handle = query(str(login_page.url))["req"]
    back_home = await _upstream_pages(
        browser, await browser.get(f"{home}/providers/friends/start?req={handle}"), world.upstream_email
    )
    assert 'id="form-post"' in back_home.text  # signed in at home: a page that continues by itself
    back_home = await browser.get(f"{home}/consent?req={handle}")
    if 'value="allow"' in back_home.text:  # home's consent for its relying party
        back_home = await browser.submit(back_home, decision="allow")
    location = back_home.headers["location"]
    assert location.startswith(REDIRECT_URI), back_home.text
    code = query(location)["code"]
    async with httpx.AsyncClient(verify=idp.context, timeout=30) as rp:
        auth = httpx.BasicAuth(world.rp_id, world.rp_secret)
        tokens = (
            await rp.post(
                f"{home}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                },
                auth=auth,
            )
        ).json()
        assert jwt.unverified_claims(tokens["id_token"])["amr"] == ["fed"]
        # 3. The relying party exchanges its token for the user's upstream access token (RFC 8693).
        exchanged = await rp.post(
            f"{home}/token",
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": tokens["access_token"],
                "subject_token_type": ACCESS_TOKEN_TYPE,
                "audience": "friends",
            },
            auth=auth,
        )
        assert exchanged.status_code == 200, exchanged.text
        body = exchanged.json()
        assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
        userinfo = await rp.get(
            f"{idp.issuer(world.upstream)}/userinfo",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
        assert userinfo.status_code == 200 and userinfo.json()["email"] == world.upstream_email
        discovery = (await rp.get(f"{home}/.well-known/openid-configuration")).json()
        assert TOKEN_EXCHANGE in discovery["grant_types_supported"]
    assert body["access_token"] not in idp.server.log()  # the upstream token never reaches a log line
