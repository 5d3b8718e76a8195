"""The purge's plan, from the privacy registry: every section says how it is erased (issue 13)."""

from __future__ import annotations

import uuid

from namoid.privacy import purge
from namoid.privacy.sections import SECTIONS


def test_every_section_says_how_it_is_erased() -> None:
    undeclared = [section.name for section in SECTIONS if section.erasure is None]
    assert undeclared == []


def test_the_section_holding_users_runs_last_and_only_once() -> None:
    ordered = purge._users_last(SECTIONS)
    assert [s.name for s in ordered if "users" in s.tables] == [ordered[-1].name]
    assert {s.name for s in ordered} == {s.name for s in SECTIONS}


def test_what_is_kept_states_its_legal_basis() -> None:
    kept = purge.legal_basis(SECTIONS)
    assert kept and all(entry["basis"] and entry["action"] != "delete" for entry in kept)
    assert "users" not in {t for s in SECTIONS if s.name in {e["data"] for e in kept} for t in s.tables}


def test_identifier_hashes_are_keyed_per_org_and_kind() -> None:
    pepper, org, other = b"p" * 32, uuid.uuid4(), uuid.uuid4()
    mac = purge.identifier_mac(pepper, org, "email", "a@example.com")
    assert len(mac) == 64 and "a@example.com" not in mac
    assert mac == purge.identifier_mac(pepper, org, "email", "a@example.com")
    assert mac != purge.identifier_mac(pepper, other, "email", "a@example.com")
    assert mac != purge.identifier_mac(b"q" * 32, org, "email", "a@example.com")
    assert mac != purge.identifier_mac(pepper, org, "phone", "a@example.com")
