"""Personal data has an owner (DESIGN.md §8): every table holding it is in an export section."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, MetaData, String, Table, Uuid

from namoid.privacy.registry import (
    NOT_PERSONAL,
    Erasure,
    Section,
    check_sections,
    personal_tables,
    uncovered_tables,
)
from namoid.privacy.sections import SECTIONS
from namoid.storage.models import Base


def _copy_with(*tables: tuple[str, Column[object]]) -> MetaData:
    """The real metadata plus tables made up here (production code never sees them)."""
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    for name, column in tables:
        Table(name, metadata, Column("id", Uuid, primary_key=True), column)
    return metadata


def test_every_personal_table_is_in_a_section() -> None:
    assert uncovered_tables(Base.metadata, SECTIONS) == []


def test_the_rule_sees_the_known_personal_tables() -> None:
    """The test above cannot pass by finding nothing: these hold personal data by the rule."""
    found = personal_tables(Base.metadata)
    for table in (
        "users",
        "browser_sessions",
        "audit_log",
        "consent_records",
        "kyc_records",
        "provider_connections",
        "security_events",
        "access_tokens",
    ):
        assert table in found


@pytest.mark.parametrize(
    "column",
    [
        Column("owner", Uuid, ForeignKey("users.id")),  # a reference to users, whatever its name
        Column("user_id", Uuid),  # a user id without a foreign key (like the consent ledger)
        Column("email", String(320)),
        Column("ip", String(45)),
    ],
    ids=["reference", "user_id", "email", "ip"],
)
def test_a_new_table_with_personal_data_and_no_section_fails(column: Column[object]) -> None:
    metadata = _copy_with(("pet_owners", column))
    assert uncovered_tables(metadata, SECTIONS) == ["pet_owners"]


def test_a_new_table_without_personal_data_passes() -> None:
    metadata = _copy_with(("pet_kinds", Column("label", String(20))))
    assert uncovered_tables(metadata, SECTIONS) == []


def test_excuses_name_real_tables_that_no_section_covers() -> None:
    covered = {t for s in SECTIONS for t in s.tables}
    for table, reason in NOT_PERSONAL.items():
        assert table in Base.metadata.tables and table not in covered and reason


def test_sections_are_checked() -> None:
    section = SECTIONS[0]
    with pytest.raises(ValueError, match="two sections"):
        check_sections([section, section], Base.metadata)
    bogus = Section(name="x", title="x", tables=("no_such_table",), schema={}, export=section.export)
    with pytest.raises(ValueError, match="unknown tables"):
        check_sections([bogus], Base.metadata)


def test_an_erasure_states_what_it_does() -> None:
    async def erase(*_: object) -> None:
        return None

    assert Erasure("delete", erase).legal_basis is None
    with pytest.raises(ValueError, match="legal basis"):
        Erasure("retain")
    with pytest.raises(ValueError, match="exactly when"):
        Erasure("retain", erase, legal_basis="DPDP s.8(7)")
    with pytest.raises(ValueError, match="exactly when"):
        Erasure("delete")
    assert Erasure("retain", legal_basis="audit log, DPDP Rules 2025 r.8(3)").run is None
