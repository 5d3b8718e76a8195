"""A user deletes their account from the console in Debian's chromium (Playwright) at phone width,
JavaScript off; the worker purges it; only the tombstone is left (issue 13).

The grace period is 0 here, so the real ``namoid worker --once`` purges at once; the grace
itself (time moved forward) is tested in tests/features/erasure/.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.test_browser_flow import CHROMIUM, CHROMIUM_ARGS, PHONE, _cli, _fits_the_screen
from tests.e2e.test_server import Server, start, stop

ORG = "erase"
EMAIL = "leaving-user@example.com"
PHONE_NUMBER = "+919876501234"
NAME = "Meera Leavesoon"
PASSWORD = "browser test password 1"  # pragma: allowlist secret


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    tmp_path = tmp_path_factory.mktemp("erasure")
    data_dir = tmp_path / "data"
    _cli(data_dir, "org", "create", ORG, "--name", "Erasure Org")
    _cli(data_dir, "org", "set-erasure-grace", ORG, "--days", "0")
    _cli(
        data_dir, "user", "create", "--org", ORG, "--email", EMAIL, "--phone", PHONE_NUMBER,
        "--name", NAME, "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    # No background jobs in the server: the test runs the worker's purge itself, when it chooses.
    running = start(tmp_path, NAMOID_WORKER_IN_SERVER="false")
    try:
        yield running, data_dir
    finally:
        stop(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _left_in(database: Path) -> list[str]:
    """Every table.column of the database file holding the user's email, phone or name."""
    found = set()
    with sqlite3.connect(database) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    text = str(value).casefold()
                    if any(needle.casefold() in text for needle in (EMAIL, PHONE_NUMBER, NAME)):
                        found.add(f"{table}.{column}")
    return sorted(found)


def test_delete_from_the_console_then_only_the_tombstone_is_left(
    server: tuple[Server, Path], browser: Browser
) -> None:
    deployment, data_dir = server
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{deployment.base_url}/o/{ORG}/account")
    page.wait_for_url("**/login?req=*")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/o/{ORG}/account")
    page.get_by_role("navigation", name="Your account").get_by_role("link", name="Delete account").click()
    page.wait_for_url("**/account/delete")
    assert "everything about you is erased" in page.content() and _fits_the_screen(page)
    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_role("heading", name="Your account is deleted").wait_for()
    page.goto(f"{deployment.base_url}/o/{ORG}/account")
    page.wait_for_url("**/login?req=*")  # signed out
    context.close()

    database = data_dir / "namoid.db"
    assert "users.email" in _left_in(database)  # the walk finds the closed account before the purge
    _cli(data_dir, "worker", "--once")
    assert _left_in(database) == []
    with sqlite3.connect(database) as conn:
        [(email_mac, phone_mac, legal_basis)] = conn.execute(
            "SELECT email_mac, phone_mac, legal_basis FROM tombstones"
        ).fetchall()
    assert len(email_mac) == len(phone_mac) == 64 and "DPDP" in legal_basis
