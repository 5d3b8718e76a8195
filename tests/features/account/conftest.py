"""The account console through the in-process app: a browser that signs in to it as a user does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update

from namoid.services import Services
from namoid.storage.models import BrowserSession, Organization, User, utcnow
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import PASSWORD, MakeUser


def console_cookie(http: httpx.AsyncClient, org: Organization) -> str | None:
    return http.cookies.get(f"__Host-namoid-console_{org.slug}")


@dataclass
class ConsoleBrowser:
    """One browser using ``org``'s account console as ``user``."""

    http: httpx.AsyncClient
    services: Services
    org: Organization
    user: User

    @property
    def base(self) -> str:
        return f"/o/{self.org.slug}/account"

    def path(self, location: str) -> str:
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def until_callback(self, path: str = "", password: str = PASSWORD) -> httpx.Response:
        """Open ``path`` of the console and follow redirects, signing in on the login page,
        up to (not including) the console's callback; returns the redirect to it."""
        response = await self.http.get(self.base + path)
        for _ in range(12):
            if response.status_code != 303:
                return response
            location = response.headers["location"]
            if urlsplit(location).path.endswith("/account/callback"):
                return response
            response = await self.http.get(self.path(location))
            if urlsplit(location).path.endswith("/login"):
                fields = form_inputs(response.text) | {"email": self.user.email, "password": password}
                response = await self.http.post(f"/o/{self.org.slug}/login", data=fields)
        raise AssertionError("too many redirects")

    async def open(self, path: str = "") -> httpx.Response:
        """``path`` of the console, signing in first when it asks to; the final answer."""
        response = await self.until_callback(path)
        while response.status_code == 303:
            response = await self.http.get(self.path(response.headers["location"]))
        return response

    async def form(self, path: str) -> dict[str, str]:
        page = await self.open(path)
        assert page.status_code == 200, page.text
        return form_inputs(page.text)

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(self.base + path, data=data)

    async def age_sign_in(self, seconds: int) -> None:
        """Move every session's sign-in of the user ``seconds`` into the past (a stale step-up)."""
        async with self.services.db.tenant(self.org.id) as session:
            await session.execute(
                update(BrowserSession)
                .where(BrowserSession.org_id == self.org.id, BrowserSession.user_id == self.user.id)
                .values(auth_time=utcnow() - timedelta(seconds=seconds))
            )


@pytest.fixture
async def console(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> ConsoleBrowser:
    """A browser signed in to the console of ``org``."""
    browser = ConsoleBrowser(http, services, org, await make_user())
    page = await browser.open()
    assert page.status_code == 200, page.text
    return browser
