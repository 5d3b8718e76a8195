"""/security promises only what the running server does, and each promise names its proof."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import escape

from namoid.settings import Settings
from namoid.web import security_claims
from namoid.web.pages import router
from namoid.web.security_claims import CAPABILITIES, CLAIMS, PLANNED, SUB_PROCESSORS
from tests.unit.web.test_pages import BASE, StandInServices

REPO = Path(__file__).resolve().parents[3]
EMBEDDED = Settings(base_url=BASE, dev_mode=False)
CLUSTER = Settings(
    base_url=BASE, database_url="postgresql+asyncpg://app@db/namoid", redis_url="redis://cache"
)
#: What the seed page promised that these two configurations do not run (no SES or SMS sender
#: configured): none of it may show.
UNBUILT = (
    "Amazon SES",
    "End User Messaging",
)


async def _page(settings: Settings) -> str:
    app = FastAPI()
    app.include_router(router)
    app.state.services = StandInServices(settings=settings, db=object())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as client:
        response = await client.get("/security")
    assert response.status_code == 200
    return response.text


def test_every_capability_is_built_or_planned_never_both() -> None:
    assert not PLANNED & set(CAPABILITIES)
    named = {claim.capability for claim in CLAIMS} | {entry.capability for entry in SUB_PROCESSORS}
    assert named <= PLANNED | set(CAPABILITIES), named - PLANNED - set(CAPABILITIES)
    assert named >= PLANNED  # a planned capability nothing waits for is dead weight


def test_a_claim_can_be_shown_only_with_a_proof() -> None:
    for claim in CLAIMS:
        if claim.capability in PLANNED:
            assert not claim.proofs, claim.text  # nothing built, nothing to prove
        else:
            assert claim.proofs, claim.text


def test_every_proof_is_a_test_that_exists() -> None:
    """Collected by pytest itself: a renamed or deleted test fails here, not silently on the page."""
    wanted = sorted({proof for claim in CLAIMS for proof in claim.proofs})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *wanted],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = result.stdout.splitlines()
    missing = [proof for proof in wanted if not any(line.split("[")[0] == proof for line in collected)]
    assert missing == []


@pytest.mark.parametrize("settings", [EMBEDDED, CLUSTER], ids=["embedded", "cluster"])
async def test_the_page_shows_exactly_what_this_server_keeps(settings: Settings) -> None:
    page = await _page(settings)
    for claim in CLAIMS:
        keeps = security_claims.has(settings, claim.capability)
        assert (str(escape(claim.text)) in page) == keeps, claim.text
        for proof in claim.proofs:
            assert (f"<code>{proof}</code>" in page) == keeps, proof
    for entry in SUB_PROCESSORS:
        row = f'<tr><th scope="row">{entry.name}</th><td>{entry.purpose}</td><td>{entry.region}</td></tr>'
        assert (row in page) == security_claims.has(settings, entry.capability), entry.name
    for text in UNBUILT:
        assert text not in page, text


async def test_redis_and_row_level_security_claims_follow_the_configuration() -> None:
    embedded, cluster = await _page(EMBEDDED), await _page(CLUSTER)
    for text in ("Redis-backed", "row-level security"):
        assert text not in embedded and text in cluster, text
