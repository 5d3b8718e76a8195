"""The export schema, and the strict validator the tests check documents with, can fail."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from namoid.privacy import export
from tests.json_schema_subset import errors

SCHEMA = export.schema()
NOW = "2026-12-07T10:00:00+00:00"


def example(schema: dict[str, Any]) -> Any:
    """A value of ``schema`` with one item in every list: new sections are covered by themselves."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example(schema["anyOf"][0])
    if "examples" in schema:
        return schema["examples"][0]
    kind = schema["type"]
    if kind == "object":
        return {key: example(value) for key, value in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema["items"])]
    formats = {"date-time": NOW, "uuid": str(uuid.uuid4())}
    return {"string": formats.get(schema.get("format", ""), "text"), "boolean": True, "integer": 0}[kind]


def _minimal() -> dict[str, Any]:
    return example(SCHEMA)  # type: ignore[no-any-return]


def test_a_minimal_document_is_valid() -> None:
    assert errors(_minimal(), SCHEMA) == []


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    target: Any = changed
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("version", 2),
        ("version", True),
        ("format", "other"),
        ("generated_at", "yesterday"),
        ("generated_at", "2026-12-07T10:00:00"),  # no offset: not RFC 3339
        ("org.id", "not-a-uuid"),
        ("sections.sessions", KeyError),  # a section missing
        ("sections.extra", []),  # a section nobody declared
        ("sections.account.contacts.0.password_hash", "x"),  # a field no section declared
        ("sections.account.contacts.0.type", "fax"),
        ("sections.account.profile.name", 5),
        ("sections.identity_verification", {"method": "aadhaar_offline_ekyc"}),
        ("sections.identity_verification.aadhaar_last4", "123456789012"),  # never a full number
    ],
)
def test_a_wrong_document_is_refused(path: str, value: Any) -> None:
    assert errors(_set(_minimal(), path, value), SCHEMA) != []


def test_the_validator_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="not implemented"):
        errors({}, {"type": "object", "minProperties": 1})


def test_every_section_has_a_titled_fragment() -> None:
    sections = SCHEMA["properties"]["sections"]
    assert sections["required"] == list(sections["properties"]) and sections["additionalProperties"] is False
    assert all(fragment["title"] for fragment in sections["properties"].values())
