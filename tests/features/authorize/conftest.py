"""Helpers for driving the browser side of the code flow through the in-process app."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from namoid.services import Services
from namoid.storage.models import AuditEntry, AuthorizationCode, BrowserSession, Organization, User
from namoid.tenancy.resolve import issuer_for
from tests.features.conftest import PASSWORD, MakeClient, MakeUser, RegisteredClient

REDIRECT_URI = "https://rp.example/callback"
STATE = "af0ifjsldkj-state"
NONCE = "n-0S6_WzA2Mj"


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1-4.2: a verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, str] = {}
        self.actions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "input" and "name" in values:
            self.inputs[values["name"]] = values.get("value", "")
        if tag == "form":
            self.actions.append(values.get("action", ""))


def form_inputs(html: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    return parser.inputs


def form_action(html: str) -> str:
    parser = _Forms()
    parser.feed(html)
    return parser.actions[0]


def query(location: str) -> dict[str, str]:
    """The query parameters of a redirect, each exactly once."""
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


@dataclass
class Flow:
    """One relying party of one org, driving requests through ``http``."""

    http: httpx.AsyncClient
    services: Services
    org: Organization
    rp: RegisteredClient
    user: User
    verifier: str
    challenge: str

    @property
    def issuer(self) -> str:
        return issuer_for(self.services.settings.base_url, self.org.slug)

    @property
    def base(self) -> str:
        return f"/o/{self.org.slug}"

    def params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.rp.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email",
            "state": STATE,
            "nonce": NONCE,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        params |= overrides
        return {k: v for k, v in params.items() if v is not None}

    async def authorize(self, **overrides: str | None) -> httpx.Response:
        return await self.http.get(f"{self.base}/authorize", params=self.params(**overrides))

    async def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text
        return await self.http.get(response.headers["location"])

    async def login(
        self, page: httpx.Response, email: str | None = None, password: str = PASSWORD, **extra: str
    ) -> httpx.Response:
        fields = form_inputs(page.text) | {"email": email or self.user.email, "password": password} | extra
        return await self.http.post(f"{self.base}/login", data=fields)

    async def decide(self, page: httpx.Response, decision: str, **extra: str) -> httpx.Response:
        fields = form_inputs(page.text) | {"decision": decision} | extra
        return await self.http.post(f"{self.base}/consent", data=fields)

    async def sign_in_and_allow(self, **overrides: str | None) -> dict[str, str]:
        """The whole happy path (consent only if not yet given); returns the redirect's parameters."""
        login_page = await self.follow(await self.authorize(**overrides))
        consent_page = await self.follow(await self.login(login_page))
        done = consent_page if consent_page.is_redirect else await self.decide(consent_page, "allow")
        assert done.status_code == 303, done.text
        assert done.headers["location"].startswith(REDIRECT_URI + "?")
        return query(done.headers["location"])

    async def code_row(self, code: str) -> AuthorizationCode | None:
        from namoid.crypto.secrets import sha256_hex

        async with self.services.db.tenant(self.org.id) as session:
            return await session.scalar(
                select(AuthorizationCode).where(
                    AuthorizationCode.org_id == self.org.id, AuthorizationCode.code_hash == sha256_hex(code)
                )
            )

    async def count(self, model: Any, **where: Any) -> int:
        async with self.services.db.tenant(self.org.id) as session:
            query = select(func.count()).select_from(model).where(model.org_id == self.org.id)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return int(await session.scalar(query) or 0)

    async def codes(self) -> int:
        return await self.count(AuthorizationCode)

    async def signed_in_sessions(self) -> int:
        async with self.services.db.tenant(self.org.id) as session:
            query = select(func.count()).where(
                BrowserSession.org_id == self.org.id,
                BrowserSession.user_id.is_not(None),
                BrowserSession.ended_at.is_(None),
            )
            return int(await session.scalar(query) or 0)

    async def audit_actions(self) -> list[str]:
        async with self.services.db.tenant(self.org.id) as session:
            rows = await session.scalars(
                select(AuditEntry.action).where(AuditEntry.org_id == self.org.id).order_by(AuditEntry.seq)
            )
            return list(rows)

    def cookie(self) -> str | None:
        return self.http.cookies.get(f"__Host-namoid-{self.org.slug}")


async def new_flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
    **client_fields: Any,
) -> Flow:
    """A relying party (``client_fields`` added to its registration) and a user of ``org``."""
    rp = await make_client(
        redirect_uris=[REDIRECT_URI, "https://rp.example/other"],
        post_logout_redirect_uris=["https://rp.example/signed-out"],
        scopes=["openid", "profile", "email", "offline_access"],
        **client_fields,
    )
    verifier, challenge = pkce_pair()
    return Flow(http, services, org, rp, await make_user(), verifier, challenge)


@pytest.fixture
async def flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:
    return await new_flow(http, services, org, make_client, make_user)
