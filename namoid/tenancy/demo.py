"""The demo organization of the embedded dev mode: a public client and a user to try a sign-in.

Created on the first dev start, left alone on later starts (DESIGN.md §1: what a newcomer
gets with no configuration). The demo user's password is random, returned once to be
printed on the console, and stored only as its Argon2id hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from namoid import audit
from namoid.accounts import users
from namoid.crypto.secrets import new_token
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services, build_services
from namoid.settings import Settings
from namoid.storage.models import Client, Organization
from namoid.tenancy import organizations

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_CLIENT_NAME = "NamoID demo app"
DEMO_SCOPES = ("openid", "profile", "email")
ACTOR = audit.Actor("system", "demo")


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """The demo user; ``password`` is set only when it was created now (shown once)."""

    email: str
    password: str | None


def callback_uri(base_url: str) -> str:
    return f"{base_url}/demo/callback"


def start_uri(base_url: str) -> str:
    return f"{base_url}/demo"


async def demo_client(services: Services, org: Organization) -> Client | None:
    """The active demo client registered for this base URL, if any."""
    callback = callback_uri(services.settings.base_url)
    for client in await client_registry.list_all(services.db, org.id):
        if client.status == "active" and client.name == DEMO_CLIENT_NAME and callback in client.redirect_uris:
            return client
    return None


async def _ensure_org(services: Services) -> Organization:
    try:
        return await organizations.create(services.db, services.keyring, DEMO_SLUG, "Demo", ACTOR)
    except organizations.OrganizationExists:
        return await organizations.require(services.db, DEMO_SLUG)


async def _ensure_client(services: Services, org: Organization) -> None:
    """A public client (PKCE, no secret) that is not first-party, so the consent page shows."""
    if await demo_client(services, org) is not None:
        return
    base_url = services.settings.base_url
    meta = client_metadata.validate(
        name=DEMO_CLIENT_NAME,
        client_type="public",
        redirect_uris=[callback_uri(base_url)],
        post_logout_redirect_uris=[start_uri(base_url)],
        scopes=list(DEMO_SCOPES),
        first_party=False,
    )
    await client_registry.register(services.db, services.keyring, org.id, meta, ACTOR)


async def _ensure_user(services: Services, org: Organization) -> DemoAccount:
    password = new_token(18)
    try:
        await users.create(
            services.db,
            org.id,
            email=DEMO_EMAIL,
            password=password,
            phone=None,
            name="Demo User",
            actor=ACTOR,
        )
    except users.UserExists:
        return DemoAccount(email=DEMO_EMAIL, password=None)
    return DemoAccount(email=DEMO_EMAIL, password=password)


async def ensure_demo(services: Services) -> DemoAccount:
    """Create whatever part of the demo (org, client, user) is missing; idempotent."""
    org = await _ensure_org(services)
    await _ensure_client(services, org)
    return await _ensure_user(services, org)


async def bootstrap(config: Settings) -> DemoAccount:
    """``ensure_demo`` with services of its own (closed again before the server starts)."""
    services = build_services(config)
    try:
        return await ensure_demo(services)
    finally:
        await services.close()


def console_message(account: DemoAccount, base_url: str) -> str:
    """What the dev server prints (on stdout, not through logging: the password must show)."""
    if account.password is None:
        return (
            f"Demo: sign in at {start_uri(base_url)} as {account.email} (password shown at the first "
            f"start; set a new one with `namoid user set-password --org {DEMO_SLUG} "
            f"--email {account.email} --password-stdin`)"
        )
    return (
        f"Demo organization created. Try a sign-in at {start_uri(base_url)}\n"
        f"    email:    {account.email}\n"
        f"    password: {account.password}\n"
        "(shown only now; it is stored only as a hash)"
    )
