"""The admin API's OpenAPI 3.1 document: served, and checked in as docs/admin-openapi.json."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from namoid.admin.app import published_document

CHECKED_IN = Path(__file__).resolve().parents[3] / "docs" / "admin-openapi.json"


def test_the_checked_in_document_is_up_to_date() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == published_document(), (
        "docs/admin-openapi.json is out of date: run `namoid admin openapi > docs/admin-openapi.json`"
    )


async def test_the_served_document_is_openapi_3_1_with_problem_errors(admin_http: httpx.AsyncClient) -> None:
    response = await admin_http.get("/admin/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document == json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            for status in ("401", "403", "404", "422"):
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
