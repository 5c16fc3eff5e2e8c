"""SQLite's WAL checkpoints on a thread of their own, never inside a call's commit.

In WAL mode a commit appends the pages it changed to the ``-wal`` file, and now and then the
pages are copied back into the database file (a checkpoint, with an ``fsync``). By default the
commit that takes the WAL past 1,000 pages runs the checkpoint itself, and that call waits for the
copy and the ``fsync``. The calls' connections therefore never checkpoint
(``PRAGMA wal_autocheckpoint=0``, :data:`NO_AUTOCHECKPOINT`); a :class:`Checkpointer` thread of
each process runs a ``PASSIVE`` checkpoint (which never waits for a writer nor makes one wait)
every :data:`INTERVAL` seconds after commits, on a connection of its own, while the calls go on:
the driver lets go of Python's lock while SQLite copies and syncs.
SQLite starts the WAL again from its beginning only after a checkpoint that copied all of it, which
one made beside calls that keep writing never does; so once the WAL is longer than
:data:`MAX_WAL_FRAMES` pages the thread holds the process's writers back and finishes a ``RESTART``
checkpoint (the pages written since the last one), and the next commit starts the WAL again.

A checkpoint changes nothing a call can see and nothing that survives a crash differently: a
committed transaction is in the WAL until it is copied, and SQLite reads it from there. Should
the thread stop checkpointing (it logs why), the WAL only grows; the last connection to close
checkpoints it as usual.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from contextlib import AbstractContextManager
from typing import Any

from superoffice_emulator.storage.sqlite import driver

log = logging.getLogger("superoffice_emulator.storage")

NO_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint=0"
INTERVAL = 0.1
"""Seconds between checkpoints while there are commits (at most one checkpoint per interval)."""
MAX_WAL_FRAMES = 1000
"""A WAL of more pages than this (SQLite's own checkpoint threshold, about 4 MiB) is checkpointed
to its end with the writers held back (RESTART), so that it starts again."""
CACHE_KIB = 64
"""The checkpointing connection's page cache (SQLite's default is 2 MiB per connection)."""


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
        connection: Any = None  # the driver's Connection
        try:
            while not self._stop.wait(self.interval):
                connection = connection or self._connect()
                if connection is not None:
                    self._checkpoint(connection)
            if connection is not None:
                self._checkpoint(connection)
        except Exception:  # never expected; said once, since the WAL now only grows
            log.exception("WAL checkpoints of %s stopped: the WAL grows until the emulator stops", self.path)
        finally:
            if connection is not None:
                connection.close()

    def _connect(self) -> Any:
        """The thread's own connection; ``None`` (tried again at the next interval) when it fails."""
        connection: Any = None
        try:
            connection = driver.connect(  # mode=rw: never a new, empty file where the database was
                f"file:{urllib.parse.quote(self.path)}?mode=rw", uri=True, timeout=1, isolation_level=None
            )
            connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # it copies pages, it keeps none
        except driver.Error as exc:
            if connection is not None:
                connection.close()
            log.debug("WAL checkpoints of %s wait: %s", self.path, exc)
            return None
        return connection

    def _checkpoint(self, connection: Any) -> None:
        commits = self._commits
        if commits == self._done:
            return
        self._done = commits  # after a failure, the next commits try again
        try:
            _busy, frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames > MAX_WAL_FRAMES:
                # the calls went on writing while it copied, so SQLite did not start the WAL again
                # from its beginning: copy the rest with the process's writers held back (a few
                # pages: the bulk is copied already); the next commit starts the WAL again
                with self._writers:
                    connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except driver.Error as exc:  # busy (another process writes), or the file is gone
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)

    def close(self) -> None:
        """Stop the thread after a last checkpoint (waits for it)."""
        with self._start_lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join()
