"""The dev-mode demo: a relying party inside NamoID that runs code + PKCE against the demo org."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
