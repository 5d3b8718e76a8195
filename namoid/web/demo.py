"""The dev-mode demo: a relying party built into NamoID that runs code + PKCE against the demo org.

Development mode only (404 otherwise). ``/demo/start`` makes state, nonce and a PKCE
verifier, keeps them server-side under a random id in a short-lived ``__Host-`` cookie, and
sends the browser to ``/o/demo/authorize``. ``/demo/callback`` checks state and ``iss``
(RFC 9207), redeems the code at the token endpoint, verifies the ID token against the JWKS,
calls userinfo with the access token and shows what it received.

This is the one module of ``web/`` that makes outbound HTTP calls (DESIGN.md §6 rule 4
otherwise keeps them to notify/, providers/, kyc/, events/): as a real relying party it
talks to this server over HTTPS (discovery, token, JWKS, userinfo), trusting the dev
certificate, always with a timeout. It exists only in the embedded dev mode.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from namoid.crypto.secrets import constant_time_equals, new_token
from namoid.jose import jwt
from namoid.jose.keys import SIGNING_ALGORITHMS
from namoid.oauth.pkce import s256
from namoid.oauth.tokens import at_hash
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Client
from namoid.tenancy.demo import DEMO_EMAIL, DEMO_SCOPES, DEMO_SLUG, callback_uri, demo_client, start_uri
from namoid.tenancy.resolve import issuer_for
from namoid.web.templates import error_page, render

#: Not ``__Host-namoid-{slug}`` (the org session cookies): ``_`` never occurs in a slug.
COOKIE = "__Host-namoid_demo_rp"
PENDING_TTL = 600
OUTBOUND_TIMEOUT = 10.0


class DemoError(Exception):
    """The sign-in could not be completed; the message is shown to the user."""


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _dev_only(request: Request) -> None:
    if not _services(request).settings.is_dev:
        raise HTTPException(status_code=404, detail="Not Found")


router = APIRouter(prefix="/demo", dependencies=[Depends(_dev_only)], include_in_schema=False)


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the demo relying party remembers between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str
    client_id: str
    id_token_alg: str
    expires: float


@dataclass
class PendingLogins:
    """Started sign-ins by random cookie id, single use, expiring (dev mode: one process)."""

    ttl: float = PENDING_TTL
    limit: int = 1000
    clock: Callable[[], float] = time.monotonic
    _items: dict[str, PendingLogin] = field(default_factory=dict)

    def start(self, client_id: str, id_token_alg: str) -> tuple[str, PendingLogin]:
        now = self.clock()
        self._items = {k: v for k, v in self._items.items() if v.expires > now}
        while len(self._items) >= self.limit:
            del self._items[next(iter(self._items))]
        login = PendingLogin(
            state=new_token(16),
            nonce=new_token(16),
            verifier=new_token(32),
            client_id=client_id,
            id_token_alg=id_token_alg,
            expires=now + self.ttl,
        )
        key = new_token(16)
        self._items[key] = login
        return key, login

    def pop(self, key: str | None) -> PendingLogin | None:
        login = self._items.pop(key, None) if key else None
        return login if login is not None and login.expires > self.clock() else None


pending = PendingLogins()


def _settings(request: Request) -> Settings:
    return _services(request).settings


def _issuer(settings: Settings) -> str:
    return issuer_for(settings.base_url, DEMO_SLUG)


async def _client(request: Request) -> Client | None:
    services = _services(request)
    org = await services.orgs.get(DEMO_SLUG)
    return None if org is None else await demo_client(services, org)


@router.get("")
async def demo_page(request: Request) -> Response:
    """What the demo does, and the button that starts it."""
    context = {
        "ready": await _client(request) is not None,
        "email": DEMO_EMAIL,
        "issuer": _issuer(_settings(request)),
    }
    return render(request, "demo.html", context)


@router.get("/start")
async def start(request: Request) -> Response:
    """Send the browser to the authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC nonce)."""
    client = await _client(request)
    if client is None:
        return error_page(request, 404, "Demo not set up", "Start NamoID in development mode to create it.")
    key, login = pending.start(client.client_id, client.id_token_signed_response_alg)
    settings = _settings(request)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": login.client_id,
            "redirect_uri": callback_uri(settings.base_url),
            "scope": " ".join(DEMO_SCOPES),
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": s256(login.verifier),
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{_issuer(settings)}/authorize?{query}", status_code=303)
    response.set_cookie(
        COOKIE, key, max_age=PENDING_TTL, path="/", secure=True, httponly=True, samesite="lax"
    )
    return response


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise DemoError(f"the response repeats the {name} parameter")
    return values[0] if values else None


def _check_response(request: Request, login: PendingLogin, issuer: str) -> str:
    """RFC 6749 §10.12 (state), RFC 9207 §2.4 (iss, also on errors), then the code."""
    if not constant_time_equals(_single(request, "state") or "", login.state):
        raise DemoError("the state does not match the sign-in this browser started")
    if _single(request, "iss") != issuer:
        raise DemoError("the response does not come from the demo issuer (iss, RFC 9207)")
    error = _single(request, "error")
    if error is not None:
        description = _single(request, "error_description") or ""
        raise DemoError(f"the authorization server answered {error}. {description}".strip())
    code = _single(request, "code")
    if not code:
        raise DemoError("the response carries no authorization code")
    return code


@router.get("/callback")
async def callback(request: Request) -> Response:
    """The redirect URI: check the response, redeem the code, verify and show the tokens."""
    login = pending.pop(request.cookies.get(COOKIE))
    response: Response
    if login is None:
        message = "This sign-in was not started here or has expired. Start again at /demo."
        response = error_page(request, 400, "Sign-in not recognised", message)
    else:
        response = await _finish(request, login)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


async def _finish(request: Request, login: PendingLogin) -> Response:
    settings = _settings(request)
    issuer = _issuer(settings)
    try:
        code = _check_response(request, login, issuer)
        async with outbound_client(settings) as client:
            context = await redeem(client, issuer, login, code, callback_uri(settings.base_url))
    except DemoError as exc:
        return error_page(request, 400, "Demo sign-in failed", f"{exc}. Start again at /demo.")
    logout = urlencode(
        {"client_id": login.client_id, "post_logout_redirect_uri": start_uri(settings.base_url)}
    )
    context |= {"issuer": issuer, "logout_url": f"{issuer}/logout?{logout}"}  # RP-Initiated Logout §2
    return render(request, "demo_result.html", context)


def outbound_client(settings: Settings) -> httpx.AsyncClient:
    """HTTPS to this server, trusting the dev certificate (or the configured one) and system CAs."""
    context = ssl.create_default_context()
    cert = settings.tls_cert_file or settings.data_dir / "tls" / "cert.pem"
    try:
        context.load_verify_locations(cafile=cert)
    except (OSError, ssl.SSLError) as exc:
        raise DemoError(f"cannot load the server certificate {cert}") from exc
    return httpx.AsyncClient(verify=context, timeout=OUTBOUND_TIMEOUT, follow_redirects=False)


async def _get_json(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = await client.request(method, url, **kwargs)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DemoError(f"no usable answer from {url}") from exc
    if not isinstance(body, dict):
        raise DemoError(f"no JSON object from {url}")
    if response.status_code != 200:
        raise DemoError(f"{url} answered {response.status_code} {body.get('error', '')}".strip())
    return body


async def redeem(
    client: httpx.AsyncClient, issuer: str, login: PendingLogin, code: str, redirect_uri: str
) -> dict[str, Any]:
    """Discovery, code exchange (RFC 6749 §4.1.3 + RFC 7636 §4.5), ID token validation, userinfo."""
    metadata = await _get_json(client, "GET", f"{issuer}/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise DemoError("the discovery document names another issuer")
    tokens = await _get_json(
        client,
        "POST",
        _endpoint(metadata, "token_endpoint", issuer),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": login.client_id,
            "code_verifier": login.verifier,
        },
    )
    jwks = await _get_json(client, "GET", _endpoint(metadata, "jwks_uri", issuer))
    id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
    if not isinstance(id_token, str) or not isinstance(access_token, str):
        raise DemoError("the token response lacks an ID token or access token")
    listed = jwks.get("keys")
    keys = [k for k in listed if isinstance(k, dict)] if isinstance(listed, list) else []
    id_claims = validate_id_token(id_token, keys, issuer, login, access_token)
    userinfo = await _get_json(
        client,
        "GET",
        _endpoint(metadata, "userinfo_endpoint", issuer),
        headers={"Authorization": f"Bearer {access_token}"},
    )
    if userinfo.get("sub") != id_claims["sub"]:  # OIDC Core §5.3.4
        raise DemoError("the userinfo response is about another user")
    return {
        "id_token": _shown(id_token, id_claims),
        "access_token": _shown(
            access_token, _verify(access_token, keys, issuer=issuer, audience=None, typ="at+jwt")
        ),
        "userinfo": json.dumps(userinfo, indent=2, sort_keys=True),
        "response": {k: v for k, v in tokens.items() if k in ("token_type", "expires_in", "scope")},
    }


def _endpoint(metadata: dict[str, Any], name: str, issuer: str) -> str:
    url = metadata.get(name)
    if not isinstance(url, str) or not url.startswith(f"{issuer}/"):
        raise DemoError(f"the discovery document has no usable {name}")
    return url


def _verify(
    token: str,
    keys: list[dict[str, Any]],
    *,
    issuer: str,
    audience: str | None,
    algorithms: Collection[str] = SIGNING_ALGORITHMS,
    typ: str | None = None,
) -> dict[str, Any]:
    try:
        return jwt.verify(token, keys, algorithms=algorithms, issuer=issuer, audience=audience, typ=typ)
    except jwt.JWTError as exc:
        raise DemoError(f"a token failed verification: {exc}") from exc


def validate_id_token(
    token: str, keys: list[dict[str, Any]], issuer: str, login: PendingLogin, access_token: str
) -> dict[str, Any]:
    """OIDC Core §3.1.3.7 (signature, alg, iss, aud, azp, exp, nonce) and §3.1.3.8 (at_hash)."""
    claims = _verify(token, keys, algorithms=(login.id_token_alg,), issuer=issuer, audience=login.client_id)
    if claims.get("azp", login.client_id) != login.client_id:
        raise DemoError("the ID token was issued to another party (azp)")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not constant_time_equals(nonce, login.nonce):
        raise DemoError("the ID token's nonce is not the one this sign-in sent")
    if "at_hash" in claims and not constant_time_equals(str(claims["at_hash"]), at_hash(access_token)):
        raise DemoError("the ID token's at_hash does not match the access token")
    return claims


def _shown(token: str, claims: dict[str, Any]) -> dict[str, str]:
    return {
        "header": json.dumps(jwt.unverified_header(token), indent=2, sort_keys=True),
        "claims": json.dumps(claims, indent=2, sort_keys=True),
    }
