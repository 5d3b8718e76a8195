"""The 7-day cool-off: no lock is made with a release younger than a week."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_lock_honours_the_cool_off() -> None:
    """pyproject.toml sets it for the main lock; the tool locks carry it on their command line."""
    uv = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]
    assert uv["exclude-newer"] == "7 days"
    for lock in ("tools/bootstrap.lock.txt", "tools/semgrep/requirements.lock.txt"):
        command = (REPO / lock).read_text().splitlines()[1]
        assert command.startswith("#    uv pip compile ") and "--exclude-newer 7 days" in command, lock
    makefile = (REPO / "Makefile").read_text()
    assert makefile.count('--exclude-newer "7 days"') == 2
