"""Who owns which personal data (DESIGN.md §8): sections of the export, and how each is erased.

Each room that stores personal data declares one or more :class:`Section`: the tables it
covers, the JSON Schema (Draft 2020-12) of its part of the export, an async ``export``
function and its :class:`Erasure` (what the purge does to its rows). ``privacy/`` assembles
the export (``privacy/sections.py`` lists every room's sections) and runs erasure from them.

A table holds personal data when a column refers to ``users`` or is named in
:data:`PERSONAL_COLUMNS`; :func:`uncovered_tables` names each such table that is neither in a
section nor in :data:`NOT_PERSONAL` (with the reason), and a test keeps that list empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

#: A value ``json.dumps`` accepts as is (datetimes already ISO 8601 strings, UUIDs strings).
Json = dict[str, Any] | list[Any] | str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class DataPrincipal:
    """The person whose data is exported or erased (DPDP Act s.2(j)), at one instant.

    ``now`` is the operation's clock (the export's ``generated_at``; the purge's time), so a
    section that keeps a window ("one year of audit events") and the tests agree on it.
    """

    org_id: uuid.UUID
    user_id: uuid.UUID
    now: datetime


#: Reads the principal's rows of a section, inside the caller's tenant session; returns JSON.
ExportFn = Callable[[AsyncSession, DataPrincipal], Awaitable[Json]]
#: Erases the principal's rows of a section at purge, inside the caller's transaction.
EraseFn = Callable[[AsyncSession, DataPrincipal], Awaitable[None]]

#: ``delete``: the rows go. ``anonymise``: the rows stay with their personal columns cleared
#: or replaced. ``retain``: the rows stay as they are, for the stated legal basis only (e.g. the
#: append-only audit log and consent ledger, which hold an opaque user id and nothing readable).
ErasureAction = Literal["delete", "anonymise", "retain"]


@dataclass(frozen=True, slots=True)
class Erasure:
    """What the purge does to a section's rows, and why rows that stay may stay."""

    action: ErasureAction
    #: Runs the deletion or anonymisation; None only for ``retain``.
    run: EraseFn | None = None
    #: Required for ``retain`` and ``anonymise``: the law or purpose that lets rows remain.
    legal_basis: str | None = None

    def __post_init__(self) -> None:
        if (self.run is None) != (self.action == "retain"):
            raise ValueError("an erasure runs a function exactly when it does not retain")
        if self.action != "delete" and not self.legal_basis:
            raise ValueError(f"an erasure that {self.action}s rows states its legal basis")


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the export document: ``document[name]`` holds what ``export`` returns."""

    #: The key in the export document (snake_case), unique across sections.
    name: str
    #: Shown on the human-readable summary page.
    title: str
    #: The tables whose personal data this section exports (and erases).
    tables: tuple[str, ...]
    #: JSON Schema (Draft 2020-12) of ``export``'s value; part of the published export schema.
    schema: Mapping[str, Any]
    export: ExportFn
    #: None until the room declares it; the erasure test requires one on every section.
    erasure: Erasure | None = field(default=None)


#: Why security logs outlive an erased account: they are kept at least a year for security, then
#: removed by the org's audit retention; they name the user by opaque id only (never email,
#: phone or name), which nothing links to a person once the account row is gone.
SECURITY_LOG_BASIS: Final = (
    "security logs (DPDP Act 2023 s.8(5); DPDP Rules 2025 r.6: logs kept at least one year "
    "for security), opaque user id only; removed by the organization's audit retention"
)


#: Columns that hold personal data wherever they appear (besides any reference to ``users``).
PERSONAL_COLUMNS: Final = frozenset(
    {"user_id", "email", "phone", "name", "ip", "user_agent", "subject", "actor_id", "target_id"}
)

#: Tables with a column that looks personal but is not, and why.
NOT_PERSONAL: Final[Mapping[str, str]] = {
    "organizations": "name is the organization's name, not a person's",
    "clients": "name is a relying party's name, not a person's",
    "upstream_providers": "name is the provider's name in the callback URL, not a person's",
}


def personal_tables(metadata: MetaData) -> list[str]:
    """Tables that hold personal data by the rule above, sorted."""
    found = []
    for table in metadata.tables.values():
        refers_to_users = any(fk.column.table.name == "users" for fk in table.foreign_keys)
        if refers_to_users or table.name == "users" or PERSONAL_COLUMNS & set(table.columns.keys()):
            found.append(table.name)
    return sorted(found)


def uncovered_tables(metadata: MetaData, sections: Iterable[Section]) -> list[str]:
    """Personal-data tables no section covers and :data:`NOT_PERSONAL` does not excuse."""
    covered = {table for section in sections for table in section.tables}
    return [t for t in personal_tables(metadata) if t not in covered and t not in NOT_PERSONAL]


def check_sections(sections: Iterable[Section], metadata: MetaData) -> None:
    """Refuse duplicate section names and sections naming a table that does not exist."""
    names: set[str] = set()
    for section in sections:
        if section.name in names:
            raise ValueError(f"two sections are named {section.name!r}")
        names.add(section.name)
        unknown = [t for t in section.tables if t not in metadata.tables]
        if unknown:
            raise ValueError(f"section {section.name!r} names unknown tables {unknown}")


# --- Small JSON Schema (Draft 2020-12) builders, so section fragments stay short and strict ---

STRING: Final[Mapping[str, Any]] = {"type": "string"}
BOOLEAN: Final[Mapping[str, Any]] = {"type": "boolean"}
INTEGER: Final[Mapping[str, Any]] = {"type": "integer"}
UUID: Final[Mapping[str, Any]] = {"type": "string", "format": "uuid"}
TIME: Final[Mapping[str, Any]] = {"type": "string", "format": "date-time"}
STRINGS: Final[Mapping[str, Any]] = {"type": "array", "items": {"type": "string"}}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [dict(schema), {"type": "null"}]}


def array_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(schema)}


def obj(**properties: Mapping[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties, all required: an unexpected field fails validation."""
    return {
        "type": "object",
        "properties": {key: dict(value) for key, value in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }


def iso(moment: datetime | None) -> str | None:
    """A UTC time as RFC 3339 (the ``date-time`` format), or None."""
    return moment.isoformat() if moment is not None else None
