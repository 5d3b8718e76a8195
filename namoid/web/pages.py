"""Public pages: the landing page, the security policy and ``security.txt`` (RFC 9116)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from namoid.privacy import export
from namoid.settings import Settings
from namoid.tenancy import organizations
from namoid.web import security_claims
from namoid.web.templates import render

SECURITY_CONTACT = "security@namoid.in"
FALLBACK_CONTACT = "hello@namoid.in"
# RFC 9116 §2.5.5: Expires SHOULD be less than a year ahead, so the file is kept fresh.
SECURITY_TXT_LIFETIME = timedelta(days=180)
STATIC_DIR = Path(__file__).parent / "static"

FIX_TARGETS: tuple[tuple[str, str], ...] = (
    ("Critical (auth bypass, RCE, token leak)", "7 days"),
    ("High (privilege escalation, PII exposure)", "30 days"),
    ("Medium (CSRF, info disclosure)", "60 days"),
    ("Low / informational", "Best effort"),
)

router = APIRouter()
static_app = StaticFiles(directory=STATIC_DIR)


def _services(request: Request) -> Any:
    return request.app.state.services


def _settings(request: Request) -> Settings:
    settings: Settings = _services(request).settings
    return settings


def security_txt(base_url: str, now: datetime) -> str:
    """The RFC 9116 §2.5 fields; Contact lines in order of preference (§2.5.3)."""
    expires = (now + SECURITY_TXT_LIFETIME).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"Contact: mailto:{SECURITY_CONTACT}",
        f"Contact: mailto:{FALLBACK_CONTACT}",
        f"Expires: {expires}",
        f"Acknowledgments: {base_url}/security#hall-of-fame",
        f"Policy: {base_url}/security",
        "Preferred-Languages: en, hi",
        f"Canonical: {base_url}/.well-known/security.txt",
    ]
    return "\n".join(lines) + "\n"


async def _dev_organizations(request: Request) -> list[dict[str, str]]:
    """Each organization with its OIDC discovery URL (OpenID Connect Discovery 1.0 §4)."""
    services = _services(request)
    base_url = _settings(request).base_url
    return [
        {
            "slug": org.slug,
            "name": org.name,
            "discovery_url": f"{base_url}/o/{org.slug}/.well-known/openid-configuration",
        }
        for org in await organizations.list_all(services.db)
    ]


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def landing(request: Request) -> HTMLResponse:
    """What this server is; in development mode also the hosted organizations."""
    orgs = await _dev_organizations(request) if _settings(request).is_dev else None
    return render(request, "landing.html", {"organizations": orgs})


@router.get("/.well-known/security.txt", response_class=PlainTextResponse, include_in_schema=False)
async def security_txt_file(request: Request) -> PlainTextResponse:
    """RFC 9116 §3: served as ``text/plain; charset=utf-8`` at the well-known path."""
    body = security_txt(_settings(request).base_url, datetime.now(UTC))
    return PlainTextResponse(body, media_type="text/plain; charset=utf-8")


@router.get(export.SCHEMA_PATH, include_in_schema=False)
async def export_schema() -> Response:
    """The data export's JSON Schema (Draft 2020-12): the file checked into the repository."""
    return Response(export.SCHEMA_FILE.read_bytes(), media_type="application/schema+json")


@router.get("/security", response_class=HTMLResponse, include_in_schema=False)
async def security_page(request: Request) -> HTMLResponse:
    """The vulnerability-disclosure policy and the data-protection promises this server keeps."""
    settings = _settings(request)
    context = {
        "security_contact": SECURITY_CONTACT,
        "fallback_contact": FALLBACK_CONTACT,
        "fix_targets": FIX_TARGETS,
        "protect_claims": security_claims.shown(settings, "protect"),
        "privacy_claims": security_claims.shown(settings, "privacy"),
        "sub_processors": security_claims.shown_sub_processors(settings),
    }
    return render(request, "security.html", context)
