"""Browser-facing protocol routes under ``/o/{org}``: authorize, login, consent, logout."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
