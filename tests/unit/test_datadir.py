"""The embedded data directory is its owner's alone: 0700, NamoID's files 0600."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from namoid import datadir
from namoid.crypto.keyring import create_keyring_file
from namoid.crypto.tls import ensure_dev_certificate


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what a developer's shell usually has: 0644 files, 0755 directories
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_data_directory_is_private_and_sqlite_keeps_it_so(tmp_path: Path) -> None:
    data = tmp_path / "nested" / ".namoid"
    assert datadir.prepare(data, embedded_database=True) == []
    assert _mode(data) == 0o700
    database = data / datadir.DATABASE_FILE
    assert _mode(database) == 0o600
    with sqlite3.connect(database) as conn:  # the library aiosqlite drives
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE users (email TEXT)")
        conn.execute("INSERT INTO users VALUES ('asha@acme.example')")
        assert {_mode(data / f"{datadir.DATABASE_FILE}-{part}") for part in ("wal", "shm")} == {0o600}
    create_keyring_file(data / "keyring.json")
    cert, key = ensure_dev_certificate(data / "tls")
    for path in (database, data / "keyring.json", cert, key):
        assert _mode(path) == 0o600, path
    assert _mode(data / "tls") == 0o700


def test_without_the_embedded_database_no_file_is_made(tmp_path: Path) -> None:
    datadir.prepare(tmp_path / "data", embedded_database=False)
    assert list((tmp_path / "data").iterdir()) == []


def test_an_open_data_directory_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / ".namoid"
    (data / "tls").mkdir(parents=True)
    data.chmod(0o755)
    (data / "tls").chmod(0o777)
    own = [data / "namoid.db", data / "namoid.db-wal", data / "keyring.json", data / "tls" / "key.pem"]
    for path in own:
        path.write_bytes(b"")
        path.chmod(0o644)
    (data / "tls" / "cert.pem").write_bytes(b"")
    (data / "tls" / "cert.pem").chmod(0o604)
    (data / "notes.txt").write_text("not ours")
    (data / "notes.txt").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="namoid.datadir"):
        tightened = datadir.prepare(data, embedded_database=True)
    assert set(tightened) == {data, data / "tls", data / "tls" / "cert.pem", *own}
    assert _mode(data) == 0o700 and _mode(data / "tls") == 0o700
    assert {_mode(path) for path in own} == {0o600}
    assert _mode(data / "tls" / "cert.pem") == 0o600
    assert _mode(data / "notes.txt") == 0o644  # not NamoID's; the 0700 directory guards it
    assert f"{data} was open to other users (mode 755): now 700" in caplog.text
    assert datadir.prepare(data, embedded_database=True) == []  # nothing left to do


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.db"
    outside.write_bytes(b"")
    outside.chmod(0o644)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "namoid.db").symlink_to(outside)
    datadir.prepare(data, embedded_database=True)
    assert _mode(outside) == 0o644
