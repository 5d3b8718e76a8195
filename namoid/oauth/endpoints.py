"""JSON protocol endpoints under ``/o/{org}``: token, revocation, introspection, userinfo."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
