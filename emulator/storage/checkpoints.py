"""SQLite's WAL checkpoints on a thread of their own, never in a call.

In WAL mode a commit appends the pages it changed to the ``-wal`` file, and now and then the
pages are copied back into the database file (a checkpoint, with an ``fsync``). By default the
commit that takes the WAL past 1,000 pages runs the checkpoint itself: one call in a couple of
hundred waited some 10 to 30 ms, a quarter of all the time calls took. The calls' connections
therefore never checkpoint (``PRAGMA wal_autocheckpoint=0``, :data:`NO_AUTOCHECKPOINT`); a
:class:`Checkpointer` thread of each process runs a ``PASSIVE`` checkpoint (which never waits for
a writer nor makes one wait) every :data:`INTERVAL` seconds after commits, on a connection of its
own, while the calls go on: the driver lets go of Python's lock while SQLite copies and syncs.
SQLite starts the WAL again from its beginning only after a checkpoint that copied all of it, which
one made beside calls that keep writing never does; so once the WAL is longer than
:data:`MAX_WAL_BYTES` the thread holds the process's writers back and finishes a ``RESTART``
checkpoint (the pages written since the last one), and the next commit starts the WAL again.

A checkpoint changes nothing a call can see and nothing that survives a crash differently: a
committed transaction is in the WAL until it is copied, and SQLite reads it from there. Should
the thread stop checkpointing (it logs why), the WAL only grows; the last connection to close
checkpoints it as usual.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import urllib.parse
from contextlib import AbstractContextManager
from typing import Any

log = logging.getLogger("emulator.storage")

NO_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint=0"
INTERVAL = 0.1
MAX_WAL_BYTES = 4 << 20
"""A WAL longer than this is checkpointed to its end (RESTART), so that it starts again."""
CACHE_KIB = 64
"""The checkpointing connection's page cache (SQLite's default is 2 MiB per connection)."""
"""Seconds between checkpoints while there are commits (at most one checkpoint per interval)."""


class Checkpointer:
    """Checkpoints the WAL of the SQLite file ``path`` on a daemon thread, after commits.

    :meth:`committed` is called after every commit of the process's calls (an increment);
    :meth:`close` runs a last checkpoint and stops the thread.
    """

    def __init__(self, path: str, writers: AbstractContextManager[Any], interval: float = INTERVAL) -> None:
        """``writers`` is the lock this process's write transactions hold (taken to finish a WAL)."""
        self.path = path
        self._writers = writers
        self.interval = interval
        self._commits = 0
        self._done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def committed(self) -> None:
        """Note a commit; the first one starts the thread (never before: a server forks first)."""
        self._commits += 1
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="emulator-checkpoint", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(  # mode=rw: never a new, empty file where the database was
                f"file:{urllib.parse.quote(self.path)}?mode=rw", uri=True, timeout=1, isolation_level=None
            )
        except sqlite3.Error:
            log.exception("WAL checkpoints stopped: %s could not be opened", self.path)
            return
        try:
            connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # it copies pages, it keeps none
            while not self._stop.wait(self.interval):
                self._checkpoint(connection)
            self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        commits = self._commits
        if commits == self._done:
            return
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            if os.path.getsize(self.path + "-wal") > MAX_WAL_BYTES:
                # the calls went on writing while it copied, so SQLite never starts the WAL
                # again from its beginning: once it is this long, copy the rest with the
                # process's writers held back (a few pages: the bulk is copied already)
                with self._writers:
                    connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        except (sqlite3.Error, OSError) as exc:  # busy (another process writes), or the file is gone
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
            return
        self._done = commits

    def close(self) -> None:
        """Stop the thread after a last checkpoint (waits for it)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join()
