"""Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
metadata_router = APIRouter()
