"""The data export document (issue 13, DPDP Act s.11): one versioned JSON document, one JSON Schema.

The document is ``{"format": "namoid-export", "version": 1, "generated_at", "org", "subject",
"sections": {name: value}}``, one entry per registered section (``privacy/sections.py``).
Its JSON Schema (Draft 2020-12) is assembled from the sections' fragments, checked into the
repository as ``schema/export-v1.json`` (``python -m namoid.privacy.export`` rewrites it; a
test fails while it is out of date) and served at ``/schemas/namoid-export-v1.json``.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import STRING, TIME, UUID, DataPrincipal, iso, obj
from namoid.privacy.sections import SECTIONS
from namoid.storage.db import Database
from namoid.storage.models import Organization

FORMAT: Final = "namoid-export"
VERSION: Final = 1
SCHEMA_ID: Final = "urn:namoid:schema:export:v1"
SCHEMA_FILE: Final = Path(__file__).parent / "schema" / "export-v1.json"
#: Where the public app serves the schema (site-wide: it is the same for every org).
SCHEMA_PATH: Final = "/schemas/namoid-export-v1.json"


def schema() -> dict[str, Any]:
    """The export's JSON Schema (Draft 2020-12): the envelope, and each section's fragment."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "NamoID personal data export",
        "description": "Everything NamoID stores about one person in one organization (DPDP Act s.11).",
        **obj(
            format={"const": FORMAT},
            version={"const": VERSION},
            generated_at=TIME,
            org=obj(id=UUID, slug=STRING, name=STRING),
            subject=obj(user_id=UUID),
            sections=obj(**{s.name: {"title": s.title, **s.schema} for s in SECTIONS}),
        ),
    }


def schema_text() -> str:
    """The schema file's exact text."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


async def build(session: AsyncSession, org: Organization, who: DataPrincipal) -> dict[str, Any]:
    """The document for ``who``, every section read in the caller's tenant transaction."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": iso(who.now),
        "org": {"id": str(org.id), "slug": org.slug, "name": org.name},
        "subject": {"user_id": str(who.user_id)},
        "sections": {s.name: await s.export(session, who) for s in SECTIONS},
    }


async def read(db: Database, org: Organization, user_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The document as of ``now``, read in one tenant transaction (the summary page; nothing stored)."""
    async with db.tenant(org.id) as session:
        return await build(session, org, DataPrincipal(org.id, user_id, now))


def encode(document: dict[str, Any]) -> bytes:
    """The document as the file the user downloads (UTF-8 JSON, readable)."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


if __name__ == "__main__":  # python -m namoid.privacy.export: rewrite the checked-in schema
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
