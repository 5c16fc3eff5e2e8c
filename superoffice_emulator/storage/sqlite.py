"""The one SQLite library the emulator's process opens database files with.

SQLite 3.7.0 to 3.51.2 have the "WAL-reset bug": a checkpoint that starts just as another
connection commits and restarts the WAL can leave pages uncopied, which loses committed writes and
corrupts the file. It is fixed in 3.51.3 (and in the 3.44.6 and 3.50.7 backports). The emulator
checkpoints on a thread of its own while calls commit, and serves from several processes, so it
runs on the SQLite that the ``pysqlite3`` wheel bundles (a current release) wherever such a wheel
exists, and on Python's own ``sqlite3`` elsewhere, with a warning at start-up when that library
has the bug.

Every connection of the process to a database file goes through :data:`driver`: two copies of
SQLite in one process do not see each other's locks, so a connection of the one closing could
release the locks of the other's (SQLite's "How To Corrupt An SQLite Database File", 2.2.1).
"""

from __future__ import annotations

import importlib
import types


def _load() -> types.ModuleType:
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:  # no wheel for this platform: Python's own, checked by has_wal_reset_bug
        return importlib.import_module("sqlite3")


driver = _load()
"""The DB-API module: ``pysqlite3.dbapi2`` where installed, else ``sqlite3``."""

FIXED = (3, 51, 3)
BACKPORTS = ((3, 44, 6), (3, 50, 7))
"""Releases of older lines that have the WAL-reset fix (each fixes its own line from there on)."""


def version() -> tuple[int, int, int]:
    """The version of the SQLite library :data:`driver` runs on."""
    major, minor, patch = (int(part) for part in driver.sqlite_version.split(".")[:3])
    return major, minor, patch


def has_wal_reset_bug(release: tuple[int, int, int] | None = None) -> bool:
    """Whether SQLite ``release`` (the driver's by default) has the WAL-reset bug."""
    release = release or version()
    if release >= FIXED or release < (3, 7, 0):
        return False
    return not any(release[:2] == fixed[:2] and release >= fixed for fixed in BACKPORTS)


def warning() -> str | None:
    """What to tell the user at start-up when the driver's SQLite has the bug, or ``None``."""
    if not has_wal_reset_bug():
        return None
    return (
        f"SQLite {driver.sqlite_version} has the WAL-reset bug, which can corrupt a database file that"
        " several connections write (fixed in SQLite 3.51.3). Install the pysqlite3 package, which"
        " bundles a current SQLite, or use a Python built with SQLite 3.51.3 or newer."
    )
