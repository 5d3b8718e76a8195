"""Driving the one-time-code pages through the in-process app; codes read from the dev mailbox."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from namoid.jose import jwt
from namoid.notify.delivery import MessageDelivery
from namoid.notify.dev import mailbox_dir, read_mailbox
from namoid.notify.messages import Message
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy import sign_in
from tests.audit_scan import log_findings
from tests.features.authorize.conftest import REDIRECT_URI, Flow, form_inputs, new_flow, query
from tests.features.conftest import ADMIN, MakeClient, MakeUser
from tests.features.notify.conftest import smtp_cert, smtp_server  # noqa: F401 (fixtures)
from tests.features.notify.test_aws import aws_credentials, ses  # noqa: F401 (fixtures; no real AWS account)
from tests.features.ratelimit.conftest import client_at, use_limits  # noqa: F401 (fixtures)

CODE = re.compile(r"\b([0-9]{6})\b")
#: The password the sign-up and reset tests choose.
NEW_PASSWORD = "a long new passphrase"  # pragma: allowlist secret


@pytest.fixture(autouse=True)
def no_codes_in_the_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every log record of the test (NamoID's at DEBUG, the libraries' at INFO, as production
    logs them) is scanned for the codes, message texts and secrets the suite issued."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="namoid")
    yield
    lines = [record.getMessage() for phase in ("setup", "call") for record in caplog.get_records(phase)]
    assert log_findings(lines) == []


async def set_policy(services: Services, org: Organization, **policy: Any) -> Organization:
    """Change the org's sign-in policy; this node sees it at once (others within the cache's TTL)."""
    changed = await sign_in.set_policy(services.db, org.slug, sign_in.SignInPolicy(**policy), ADMIN)
    services.orgs.invalidate(org.slug)
    return changed


async def delivered(services: Services, org: Organization, to: str) -> list[Message]:
    """Run the worker's message delivery once; the dev mailbox's messages to ``to``, newest first."""
    await MessageDelivery(services).run(org_ids=[org.id])
    return [
        item.message
        for item in read_mailbox(mailbox_dir(services.settings.data_dir))
        if item.message.to == to
    ]


def code_in(message: Message) -> str:
    found = CODE.search(message.text)
    assert found is not None, message.text
    return found.group(1)


@dataclass
class CodeFlow:
    """A ``Flow`` plus the code pages."""

    flow: Flow

    @property
    def http(self) -> httpx.AsyncClient:
        return self.flow.http

    async def login_page(self) -> httpx.Response:
        return await self.flow.follow(await self.flow.authorize())

    async def code_page(self, purpose: str, channel: str) -> httpx.Response:
        page = await self.login_page()
        req = form_inputs(page.text).get("req") or re.search(r"req=([A-Za-z0-9_-]+)", page.text).group(1)  # type: ignore[union-attr]
        return await self.http.get(
            f"{self.flow.base}/code", params={"req": req, "purpose": purpose, "channel": channel}
        )

    async def ask(self, purpose: str, channel: str, destination: str) -> httpx.Response:
        page = await self.code_page(purpose, channel)
        assert page.status_code == 200, page.text
        return await self.http.post(
            f"{self.flow.base}/code", data=form_inputs(page.text) | {"destination": destination}
        )

    async def enter(self, entry: httpx.Response, code: str, **extra: str) -> httpx.Response:
        fields = form_inputs(entry.text) | {"code": code, **extra}
        return await self.http.post(f"{self.flow.base}/code/verify", data=fields)

    async def finish(self, consent_redirect: httpx.Response) -> dict[str, str]:
        """From the redirect to consent: allow, then the callback's parameters."""
        consent = await self.flow.follow(consent_redirect)
        done = consent if consent.is_redirect else await self.flow.decide(consent, "allow")
        assert done.status_code == 303 and done.headers["location"].startswith(REDIRECT_URI), done.text
        return query(done.headers["location"])

    async def tokens(self, callback: dict[str, str]) -> dict[str, Any]:
        data = {
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": self.flow.verifier,
            "client_id": self.flow.rp.client_id,
            "client_secret": self.flow.rp.secret or "",
        }
        response = await self.http.post(f"{self.flow.base}/token", data=data)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def id_claims(self, callback: dict[str, str]) -> dict[str, Any]:
        tokens = await self.tokens(callback)
        return jwt.unverified_claims(tokens["id_token"])


@pytest.fixture
async def code_flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> CodeFlow:
    flow = await new_flow(
        http, services, org, make_client, make_user, auth_method="client_secret_post", refresh_tokens=True
    )
    return CodeFlow(flow)


def at(code_flow: CodeFlow, http: httpx.AsyncClient) -> CodeFlow:
    """The same relying party and user, driven from another browser (``http``)."""
    flow = code_flow.flow
    return CodeFlow(Flow(http, flow.services, flow.org, flow.rp, flow.user, flow.verifier, flow.challenge))
