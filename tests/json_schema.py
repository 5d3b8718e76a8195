"""Validating documents against their published JSON Schema (Draft 2020-12) with ``jsonschema``.

Formats are asserted (``uuid``, and ``date-time`` through ``rfc3339-validator``), not just
annotated as the draft's default would have it.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value`` (empty: valid), each as ``path: message``."""
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message}"
        for error in validator.iter_errors(value)
    ]
