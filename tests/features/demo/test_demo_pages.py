"""The /demo relying party: dev mode only; state, iss and nonce checked; the full flow in-process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from namoid.app import create_public_app
from namoid.jose.jwt import sign
from namoid.jose.keys import NewSigningKey, generate_signing_key, load_private_key
from namoid.oauth.pkce import s256
from namoid.oauth.tokens import at_hash
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.db import Database
from namoid.tenancy.demo import DemoAccount, ensure_demo
from namoid.web import demo
from tests.e2e.test_oidc_client import Browser, query
from tests.features.demo.test_demo_bootstrap import move_demo_org_away

BASE = "https://localhost:8443"
ISSUER = f"{BASE}/o/demo"


@pytest.fixture
def dev_services(services: Services) -> Services:
    services.settings = Settings(**(services.settings.model_dump() | {"dev_mode": True}))
    return services


@pytest.fixture
def dev_transport(dev_services: Services) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_public_app(dev_services), client=("203.0.113.7", 50000))


@pytest.fixture
async def dev_http(dev_transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=dev_transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def account(dev_services: Services, owner_db: Database) -> DemoAccount:
    await move_demo_org_away(owner_db)
    return await ensure_demo(dev_services)


@pytest.mark.parametrize("path", ["/demo", "/demo/start", "/demo/callback?code=x&state=y"])
async def test_demo_is_404_outside_dev_mode(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path, headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "set-cookie" not in response.headers


async def test_landing_has_no_demo_link_in_production(http: httpx.AsyncClient) -> None:
    production = await http.get("/")
    assert 'href="/demo"' not in production.text and "Try signing in" not in production.text


async def test_landing_links_to_the_demo_in_dev_mode(dev_http: httpx.AsyncClient) -> None:
    dev = await dev_http.get("/")
    assert 'href="/demo"' in dev.text and "Try signing in" in dev.text


async def test_demo_page_without_the_demo_org(dev_http: httpx.AsyncClient, owner_db: Database) -> None:
    await move_demo_org_away(owner_db)
    page = await dev_http.get("/demo")
    assert page.status_code == 200 and "not set up" in page.text
    start = await dev_http.get("/demo/start", headers={"accept": "text/html"})
    assert start.status_code == 404 and "set-cookie" not in start.headers


async def test_start_redirects_to_authorize_with_pkce_state_and_nonce(
    dev_http: httpx.AsyncClient, account: DemoAccount
) -> None:
    page = await dev_http.get("/demo")
    assert page.status_code == 200 and account.email in page.text and 'href="/demo/start"' in page.text
    response = await dev_http.get("/demo/start")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{ISSUER}/authorize?")
    params = query(location)
    assert params["response_type"] == "code" and params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == f"{BASE}/demo/callback" and params["scope"] == "openid profile email"
    assert len(params["state"]) >= 22 and len(params["nonce"]) >= 22 and len(params["code_challenge"]) == 43
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{demo.COOKIE}=")
    for flag in ("Secure", "HttpOnly", "SameSite=lax", "Path=/", "Max-Age=600"):
        assert flag.lower() in cookie.lower()
    assert "domain" not in cookie.lower()  # __Host- cookies carry no Domain (RFC 6265bis §4.1.3.2)
    login = demo.pending.pop(dev_http.cookies[demo.COOKIE])
    assert login is not None and s256(login.verifier) == params["code_challenge"]
    assert login.state == params["state"] and login.nonce == params["nonce"]


async def _started(dev_http: httpx.AsyncClient) -> dict[str, str]:
    return query((await dev_http.get("/demo/start")).headers["location"])


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"state": "forged"}, "state does not match"),
        ({"iss": "https://evil.example/o/demo"}, "iss, RFC 9207"),
        ({"iss": None}, "iss, RFC 9207"),
        ({"code": None, "error": "access_denied", "error_description": "the user said no"}, "access_denied"),
        ({"code": None}, "no authorization code"),
    ],
)
@pytest.mark.usefixtures("account")
async def test_callback_refuses_bad_responses(
    dev_http: httpx.AsyncClient, tamper: dict[str, str | None], message: str
) -> None:
    sent = await _started(dev_http)
    params = {"code": "some-code", "state": sent["state"], "iss": ISSUER} | tamper
    response = await dev_http.get("/demo/callback", params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 400 and message in response.text
    assert f'{demo.COOKIE}=""' in response.headers["set-cookie"]  # the pending sign-in is gone
    again = await dev_http.get("/demo/callback", params={"code": "x", "state": sent["state"], "iss": ISSUER})
    assert again.status_code == 400 and "not started here" in again.text


@pytest.mark.usefixtures("account")
async def test_callback_without_a_started_sign_in(dev_http: httpx.AsyncClient) -> None:
    response = await dev_http.get("/demo/callback", params={"code": "x", "state": "y", "iss": ISSUER})
    assert response.status_code == 400 and "not started here" in response.text


@pytest.mark.usefixtures("account")
async def test_callback_refuses_repeated_parameters(dev_http: httpx.AsyncClient) -> None:
    state = (await _started(dev_http))["state"]
    response = await dev_http.get(
        "/demo/callback", params=[("code", "x"), ("state", state), ("state", state), ("iss", ISSUER)]
    )
    assert response.status_code == 400 and "repeats the state parameter" in response.text


def test_pending_sign_ins_expire_and_are_bounded() -> None:
    now = [0.0]
    logins = demo.PendingLogins(ttl=10, limit=3, clock=lambda: now[0])
    keys = [logins.start("client", "RS256")[0] for _ in range(4)]
    assert logins.pop(keys[0]) is None  # the oldest made room
    assert logins.pop(keys[1]) is not None and logins.pop(keys[1]) is None  # single use
    now[0] = 11
    assert logins.pop(keys[2]) is None and logins.pop(None) is None


async def test_full_flow_in_process(
    dev_http: httpx.AsyncClient,
    dev_transport: httpx.ASGITransport,
    account: DemoAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """start → authorize → login → consent → callback → code exchange → verified ID token."""

    def outbound(settings: Settings) -> httpx.AsyncClient:  # the same app answers the demo's calls
        return httpx.AsyncClient(transport=dev_transport, timeout=10)

    monkeypatch.setattr(demo, "outbound_client", outbound)
    browser = Browser(dev_http, stop_at=(f"{BASE}/demo/callback",))
    callback = await browser.sign_in(f"{BASE}/demo/start", account.email, account.password or "")
    assert query(callback)["iss"] == ISSUER

    result = await dev_http.get(callback)

    assert result.status_code == 200, result.text
    assert "Signed in" in result.text and "&#34;iss&#34;: &#34;" + ISSUER in result.text
    assert account.email in result.text and "at+jwt" in result.text
    assert "access_token" not in result.text.split("Token response")[1]  # never the raw tokens
    assert demo.COOKIE not in dev_http.cookies


@pytest.fixture(scope="module")
def signing_key() -> NewSigningKey:
    return generate_signing_key("RS256")


def _id_token(key: NewSigningKey, **claims: object) -> str:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": "client", "sub": "u", "iat": now, "exp": now + 60, "nonce": "expected"}
    payload = {k: v for k, v in (base | claims).items() if v is not None}
    return sign(payload, load_private_key(key.kid, key.alg, key.private_pem))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({}, None),
        ({"at_hash": at_hash("the-access-token")}, None),
        ({"nonce": "other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"azp": "someone-else"}, "azp"),
        ({"at_hash": at_hash("another-token")}, "at_hash"),
        ({"aud": "another-client"}, "failed verification"),
        ({"iss": "https://evil.example/o/demo"}, "failed verification"),
        ({"exp": 1}, "failed verification"),
    ],
)
def test_id_token_validation(
    signing_key: NewSigningKey, claims: dict[str, object], message: str | None
) -> None:
    """OIDC Core §3.1.3.7: what the demo relying party checks before showing a token."""
    login = demo.PendingLogin("s", "expected", "v" * 43, "client", "RS256", expires=0)
    token = _id_token(signing_key, **claims)
    jwks = [signing_key.public_jwk]
    if message is None:
        assert demo.validate_id_token(token, jwks, ISSUER, login, "the-access-token")["sub"] == "u"
    else:
        with pytest.raises(demo.DemoError, match=message):
            demo.validate_id_token(token, jwks, ISSUER, login, "the-access-token")


def test_id_token_of_another_algorithm_is_refused(signing_key: NewSigningKey) -> None:
    login = demo.PendingLogin("s", "expected", "v" * 43, "client", "ES256", expires=0)
    with pytest.raises(demo.DemoError, match="failed verification"):
        demo.validate_id_token(_id_token(signing_key), [signing_key.public_jwk], ISSUER, login, "at")
