"""Jinja2 rendering for the HTML pages: autoescaped, strict about undefined names (DESIGN.md §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(disabled_extensions=("txt",), default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=environment)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render template ``name`` with ``context`` (``request`` is added) as an HTML response."""
    return templates.TemplateResponse(request, name, dict(context or {}), status_code=status_code)


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    """A human error page, used where RFC 6749 §4.1.2.1 forbids redirecting back to the client."""
    context = {"title": title, "message": message, "status_code": status_code}
    return render(request, "error.html", context, status_code=status_code)
