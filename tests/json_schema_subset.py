"""A strict validator for the JSON Schema (Draft 2020-12) keywords the data-export schema uses.

The ``jsonschema`` library is not a dependency; until it is, this checks a document against
the published schema file. It refuses any keyword it does not implement (so a schema change
cannot be silently ignored), and its own tests show it rejects what it should.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

ANNOTATIONS = {"$schema", "$id", "title", "description", "examples"}
TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def _format_ok(value: str, name: str) -> bool:
    try:
        if name == "date-time":
            return datetime.fromisoformat(value).tzinfo is not None and "T" in value
        if name == "uuid":
            return str(uuid.UUID(value)) == value
    except ValueError:
        return False
    raise ValueError(f"format {name!r} not implemented")


def errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:  # noqa: PLR0912
    """Every violation of ``schema`` by ``value`` (empty: valid)."""
    found: list[str] = []
    unknown = set(schema) - ANNOTATIONS - {
        "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
        "pattern", "format",
    }  # fmt: skip
    if unknown:
        raise ValueError(f"keywords not implemented at {path}: {sorted(unknown)}")
    if "type" in schema and not _is_type(value, schema["type"]):
        return [f"{path}: not of type {schema['type']}"]
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        found.append(f"{path}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(value, schema["format"]):
            found.append(f"{path}: not a {schema['format']}")
    if "anyOf" in schema and all(errors(value, option, path) for option in schema["anyOf"]):
        found.append(f"{path}: matches none of anyOf")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [f"{path}: missing {key}" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key in properties:
                found += errors(item, properties[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}: unexpected {key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += errors(item, schema["items"], f"{path}[{index}]")
    return found
