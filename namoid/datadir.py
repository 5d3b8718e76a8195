"""The embedded-mode data directory (``NAMOID_DATA_DIR``): its owner's alone.

It holds the SQLite database (password hashes, personal data, the audit log), the dev
keyring and the dev TLS key. ``prepare`` creates it 0700 and NamoID's files in it 0600,
the database included: SQLite would create that file itself, 0644 under the usual umask,
so an empty one is created first (its ``-wal`` and ``-shm`` files take its mode). A data
directory or one of NamoID's files in it that others may read (made by an older version,
or by hand) is tightened at start, with a warning naming it. Nothing else in the directory
is touched: a 0700 directory already keeps others out of it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
DATABASE_FILE: Final = "namoid.db"
#: NamoID's own entries in the data directory (SQLite's companion files included).
_OWN_DIRS: Final = ("tls",)
_OWN_FILES: Final = (
    DATABASE_FILE,
    f"{DATABASE_FILE}-wal",
    f"{DATABASE_FILE}-shm",
    f"{DATABASE_FILE}-journal",
    "keyring.json",
    "tls/cert.pem",
    "tls/key.pem",
)


def _tighten(path: Path, mode: int) -> bool:
    """Take group and other permissions away from ``path`` if it has any; True if it had."""
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return False
    if not current & 0o077 or path.is_symlink():
        return False
    path.chmod(current & mode)
    log.warning("%s was open to other users (mode %03o): now %03o", path, current, current & mode)
    return True


def _create_private(path: Path) -> None:
    """Create ``path`` empty with FILE_MODE unless it exists (an empty file is an empty SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def prepare(data_dir: Path, *, embedded_database: bool) -> list[Path]:
    """Create ``data_dir`` (0700) and, for the embedded database, its SQLite file (0600).

    Returns what had to be tightened.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tightened = [path for path in (data_dir, *(data_dir / d for d in _OWN_DIRS)) if _tighten(path, DIR_MODE)]
    tightened += [data_dir / name for name in _OWN_FILES if _tighten(data_dir / name, FILE_MODE)]
    if embedded_database:
        _create_private(data_dir / DATABASE_FILE)
    return tightened
