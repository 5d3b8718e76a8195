"""A real OIDC relying party (authlib) against ``namoid serve`` over real HTTPS, SQLite and PostgreSQL.

discovery → authorization URL with PKCE (S256) and nonce → login and consent (the HTML forms,
driven like a browser without JavaScript) → callback with ``iss`` (RFC 9207) → code exchange
→ ID token validation (signature via jwks_uri, iss, aud, nonce, at_hash) → userinfo →
revocation (userinfo then refuses the token) → RP-initiated logout.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import OAuthError

from namoid.crypto.tls import ensure_dev_certificate
from namoid.jose import jwt
from tests.conftest import PgDatabase
from tests.e2e.test_server import Server, _env, start, stop
from tests.receiver import Receiver, receiver

with warnings.catch_warnings():
    # authlib's httpx integration announces a future move to "httpx2"; httpx is what we have.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.integrations.starlette_client import OAuth

REDIRECT_URI = "https://rp.example/callback"
SIGNED_OUT_URI = "https://rp.example/signed-out"
PASSWORD = "correct horse battery staple"


# --- a browser without JavaScript -------------------------------------------------------------


class _FirstForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self._inside = values.get("action", ""), True
        elif tag == "input" and self._inside and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def query(url: str) -> dict[str, str]:
    """The query parameters of ``url``, each exactly once."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


@dataclass
class Browser:
    """Follows redirects on the IdP, stops at the relying party, submits forms with their hidden fields."""

    http: httpx.AsyncClient
    stop_at: tuple[str, ...] = (REDIRECT_URI, SIGNED_OUT_URI)

    async def follow(self, response: httpx.Response) -> httpx.Response:
        for _ in range(10):
            location = response.headers.get("location")
            if not response.is_redirect or location is None or location.startswith(self.stop_at):
                return response
            response = await self.http.get(urljoin(str(response.url), location))
        raise AssertionError("redirect loop")

    async def get(self, url: str) -> httpx.Response:
        return await self.follow(await self.http.get(url))

    async def submit(self, page: httpx.Response, **fields: str) -> httpx.Response:
        form = _FirstForm()
        form.feed(page.text)
        assert form.action is not None, page.text
        data = form.fields | fields
        return await self.follow(await self.http.post(urljoin(str(page.url), form.action), data=data))

    async def sign_in(self, url: str, email: str, password: str) -> str:
        """Authorize → login → consent → back at the client: the URL the browser is sent to."""
        response = await self.get(url)
        for _ in range(4):
            location = response.headers.get("location", "")
            if location.startswith(self.stop_at):
                return location
            assert response.status_code == 200, response.text
            if 'name="password"' in response.text:
                response = await self.submit(response, email=email, password=password)
            elif 'value="allow"' in response.text:
                response = await self.submit(response, decision="allow")
            else:
                raise AssertionError(f"unexpected page:\n{response.text}")
        raise AssertionError("the sign-in did not come back to the client")


# --- the identity provider under test ---------------------------------------------------------


@dataclass
class IdP:
    server: Server
    env: dict[str, str]
    #: Certificate and key of an HTTPS webhook receiver the IdP trusts (NAMOID_WEBHOOK_CA_FILE).
    receiver_tls: tuple[Path, Path]

    @property
    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.server.cafile)

    def cli(self, *args: str, stdin: str | None = None) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "namoid", *args, "--json"],
            input=stdin,
            capture_output=True,
            text=True,
            env=_env(NAMOID_BASE_URL=self.server.base_url, **self.env),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def issuer(self, slug: str) -> str:
        return f"{self.server.base_url}/o/{slug}"


def _settings(backend: str, tmp: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """Embedded (dev) on SQLite; production mode on PostgreSQL as the RLS-bound app role."""
    if backend == "sqlite":
        return {}
    pg: PgDatabase = request.getfixturevalue("pg_database")
    cert, key = ensure_dev_certificate(tmp / "tls")
    keyring: Path = request.getfixturevalue("pg_keyring_file")  # the shared database's one keyring
    return {
        "NAMOID_DATABASE_URL": pg.app_url,
        "NAMOID_TLS_CERT_FILE": str(cert),
        "NAMOID_TLS_KEY_FILE": str(key),
        "NAMOID_KEYRING_FILE": str(keyring),
        "NAMOID_RATELIMIT_SINGLE_NODE": "1",
    }


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def idp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    tmp = tmp_path_factory.mktemp(f"idp-{request.param}")
    receiver_tls = ensure_dev_certificate(tmp / "receiver-tls")
    env = _settings(request.param, tmp, request) | {
        "NAMOID_WEBHOOK_CA_FILE": str(receiver_tls[0]),
        "NAMOID_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32",  # the webhook receiver is internal, by name
        "NAMOID_WORKER_INTERVAL": "1",
    }
    cafile = Path(env["NAMOID_TLS_CERT_FILE"]) if "NAMOID_TLS_CERT_FILE" in env else None
    server = start(tmp, cafile=cafile, **env)
    yield IdP(server, env | {"NAMOID_DATA_DIR": str(tmp / "data")}, receiver_tls)
    stop(server)


@dataclass
class Tenant:
    slug: str
    client_id: str
    client_secret: str | None
    email: str


def make_tenant(idp: IdP, *client_args: str) -> Tenant:
    slug = f"rp-{uuid.uuid4().hex[:8]}"
    idp.cli("org", "create", slug)
    created = idp.cli(
        "client", "create", "--org", slug, "--name", "Authlib RP",
        "--redirect-uri", REDIRECT_URI, "--post-logout-redirect-uri", SIGNED_OUT_URI,
        "--scope", "openid", "--scope", "profile", "--scope", "email", *client_args,
    )  # fmt: skip
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    idp.cli(
        "user",
        "create",
        "--org",
        slug,
        "--email",
        email,
        "--name",
        "Asha Rao",
        "--password-stdin",
        stdin=PASSWORD,
    )
    return Tenant(slug, created["client_id"], created.get("client_secret"), email)


@pytest.fixture
async def browser(idp: IdP) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(verify=idp.context, timeout=10) as http:
        yield Browser(http)


def relying_party(idp: IdP, tenant: Tenant) -> Any:
    """authlib's OIDC client app, configured from discovery only."""
    oauth = OAuth()
    return oauth.register(
        "namoid",
        client_id=tenant.client_id,
        client_secret=tenant.client_secret,
        server_metadata_url=f"{idp.issuer(tenant.slug)}/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid profile email",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic" if tenant.client_secret else "none",
            "verify": idp.context,
            "timeout": 10,
        },
    )


async def _code_flow(
    idp: IdP, tenant: Tenant, browser: Browser
) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """Discovery → authorize with PKCE + nonce → login/consent → code exchange → validated ID token."""
    rp = relying_party(idp, tenant)
    auth = await rp.create_authorization_url(redirect_uri=REDIRECT_URI)
    sent = query(auth["url"])
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] == auth["nonce"]
    callback = query(await browser.sign_in(auth["url"], tenant.email, PASSWORD))
    assert callback["state"] == auth["state"]
    assert callback["iss"] == idp.issuer(tenant.slug)  # RFC 9207
    token = await rp.fetch_access_token(
        redirect_uri=REDIRECT_URI, code=callback["code"], code_verifier=auth["code_verifier"]
    )
    assert token["token_type"].lower() == "bearer" and token["expires_in"] > 0
    # authlib: signature with the keys of jwks_uri, iss, aud, exp, nonce and at_hash (OIDC Core §3.1.3.7).
    id_claims = await rp.parse_id_token(token, nonce=auth["nonce"])
    assert id_claims["iss"] == idp.issuer(tenant.slug) and id_claims["aud"] == tenant.client_id
    assert id_claims["nonce"] == auth["nonce"] and id_claims["at_hash"]
    return rp, token, dict(id_claims)


async def test_confidential_client_full_flow(idp: IdP, browser: Browser) -> None:
    tenant = make_tenant(idp, "--type", "confidential")
    rp, token, id_claims = await _code_flow(idp, tenant, browser)

    info = await rp.userinfo(token=token)
    assert info["sub"] == id_claims["sub"] and info["email"] == tenant.email and info["name"] == "Asha Rao"

    metadata = await rp.load_server_metadata()
    async with AsyncOAuth2Client(
        tenant.client_id, tenant.client_secret, verify=idp.context, timeout=10
    ) as client:
        revoked = await client.revoke_token(
            metadata["revocation_endpoint"], token=token["access_token"], token_type_hint="access_token"
        )
    assert revoked.status_code == 200
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await rp.userinfo(token=token)
    assert refused.value.response.status_code == 401
    assert 'error="invalid_token"' in refused.value.response.headers["www-authenticate"]

    logout = await rp.create_logout_url(
        post_logout_redirect_uri=SIGNED_OUT_URI, id_token_hint=token["id_token"]
    )
    confirm = await browser.get(logout["url"])
    assert confirm.status_code == 200 and "Sign out" in confirm.text
    done = await browser.submit(confirm, decision="logout")
    assert done.status_code == 303
    assert done.headers["location"] == f"{SIGNED_OUT_URI}?state={logout['state']}"
    # The session is over: a new authorization request asks for the password again.
    again = await browser.get((await rp.create_authorization_url(redirect_uri=REDIRECT_URI))["url"])
    assert again.status_code == 200 and 'name="password"' in again.text


async def test_public_client_with_pkce_only(idp: IdP, browser: Browser) -> None:
    tenant = make_tenant(idp, "--type", "public")
    assert tenant.client_secret is None
    rp, token, id_claims = await _code_flow(idp, tenant, browser)
    assert (await rp.userinfo(token=token))["sub"] == id_claims["sub"]


async def test_discovery_and_jwks_over_https(idp: IdP, browser: Browser) -> None:
    tenant = make_tenant(idp, "--type", "public")
    issuer = idp.issuer(tenant.slug)
    host_metadata = await browser.http.get(
        f"{idp.server.base_url}/.well-known/oauth-authorization-server/o/{tenant.slug}"
    )
    oidc = await browser.http.get(f"{issuer}/.well-known/openid-configuration")
    assert host_metadata.json() == oidc.json() and oidc.json()["issuer"] == issuer
    jwks = await browser.http.get(oidc.json()["jwks_uri"])
    assert jwks.status_code == 200 and "max-age" in jwks.headers["cache-control"]
    assert all(not {"d", "p", "q"} & set(key) for key in jwks.json()["keys"])


def _run_worker_until_delivered(idp: IdP, rx: Receiver) -> None:
    """Production runs `namoid worker` (embedded mode also has the jobs in-server). Delivery is
    its first job; the rest of the pass (sealing a shared test database) need not finish."""
    worker = subprocess.Popen(  # stopped below
        [sys.executable, "-m", "namoid", "worker", "--once"],
        env=_env(NAMOID_BASE_URL=idp.server.base_url, **idp.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert rx.arrived.wait(30), "no SET arrived"
    finally:
        worker.terminate()
        worker.wait(timeout=30)


async def test_a_hundred_refreshes_then_a_replay_kills_the_chain_and_a_set_arrives(
    idp: IdP, browser: Browser
) -> None:
    """Issue 4's "done when": rotation 100 times, a replay revokes the chain, a signed SET is pushed.

    The replay comes seconds after the token's first use; without a reuse window (0) that is
    a replay at once (with one, it would be once the window had closed)."""
    tenant = make_tenant(idp, "--type", "confidential", "--grant-type", "authorization_code",
                         "--grant-type", "refresh_token", "--refresh-tokens",
                         "--refresh-reuse-window", "0")  # fmt: skip
    rp, token, id_claims = await _code_flow(idp, tenant, browser)
    metadata = await rp.load_server_metadata()
    with receiver(cert=idp.receiver_tls) as rx:
        idp.cli("webhooks", "add", "--org", tenant.slug, "--url", rx.url)
        chain = [token]
        async with AsyncOAuth2Client(
            tenant.client_id, tenant.client_secret, verify=idp.context, timeout=10
        ) as client:
            for _ in range(100):
                chain.append(
                    await client.refresh_token(
                        metadata["token_endpoint"], refresh_token=chain[-1]["refresh_token"]
                    )
                )
            assert len({step["refresh_token"] for step in chain}) == 101
            newest = chain[-1]
            assert (await rp.userinfo(token=newest))["sub"] == id_claims["sub"]

            with pytest.raises(OAuthError) as replayed:
                await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=chain[37]["refresh_token"]
                )
            assert replayed.value.error == "invalid_grant"
            with pytest.raises(OAuthError) as dead:
                await client.refresh_token(metadata["token_endpoint"], refresh_token=newest["refresh_token"])
            assert dead.value.error == "invalid_grant"
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await rp.userinfo(token=newest)
        assert refused.value.response.status_code == 401

        _run_worker_until_delivered(idp, rx)
        headers, set_token = rx.received[0]
    assert headers["content-type"] == "application/secevent+jwt"
    jwks = (await browser.http.get(metadata["jwks_uri"])).json()
    # RFC 8417: signed with the org's published key, explicitly typed, no exp.
    claims = jwt.verify(
        set_token,
        jwks["keys"],
        algorithms=("RS256",),
        issuer=idp.issuer(tenant.slug),
        audience=rx.url,
        typ="secevent+jwt",
        expires=False,
    )
    [(event_type, payload)] = claims["events"].items()
    assert event_type == "urn:namoid:event:refresh_token.replayed"
    assert payload["client_id"] == tenant.client_id
    assert claims["sub_id"] == {
        "format": "iss_sub",
        "iss": idp.issuer(tenant.slug),
        "sub": id_claims["sub"],
    }
