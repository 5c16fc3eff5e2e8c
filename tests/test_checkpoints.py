"""WAL checkpoints run on a thread of their own (superoffice_emulator.storage.checkpoints), never in a
call: the calls' changes still reach the database file, and the thread starts only with the first commit
(a server forks its workers after its start-up checks, and a thread must not be copied into them)."""

from __future__ import annotations

import shutil
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import create_app
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from tests.support.soap import set_status

PATIENCE = 30.0


def checkpoint_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "emulator-checkpoint"]


def status_in_file_alone(db_path: Path, copy: Path, appointment_id: int) -> int | None:
    """The appointment's status as the database file holds it without its WAL (what was
    checkpointed); ``None`` while the file holds no such row yet."""
    shutil.copyfile(db_path, copy)
    with closing(sqlite3.connect(copy)) as connection:
        try:
            row = connection.execute(
                "SELECT status FROM appointment WHERE tenant = 'default' AND appointment_id = ?",
                (appointment_id,),
            ).fetchone()
        except sqlite3.DatabaseError:  # no such table yet (the schema is in the WAL only), or a
            return None  # copy taken while a checkpoint was writing (the file alone is not consistent)
    return None if row is None else int(row[0])


def test_calls_changes_reach_the_database_file_without_a_call_checkpointing(tmp_path: Path) -> None:
    db_path = tmp_path / "crm.db"
    before = checkpoint_threads()  # of apps other tests left undisposed
    app = create_app(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        assert checkpoint_threads() == before  # nothing started by making the app and its schema
        client = Client(app)
        assert set_status(client, ["appointment_id=6"], "Completed").succeeded is True
        (thread,) = [thread for thread in checkpoint_threads() if thread not in before]
        with closing(sqlite3.connect(db_path)) as connection:  # the calls' connections never checkpoint
            assert connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)  # a new one does
        deadline = time.monotonic() + PATIENCE
        while status_in_file_alone(db_path, tmp_path / "copy.db", 6) != 3:
            if time.monotonic() > deadline:
                pytest.fail("the change never reached the database file")
            time.sleep(0.05)
    finally:
        app.runtime.database.dispose()
    assert not thread.is_alive()  # dispose stops it


def test_the_calls_connections_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    db_path = tmp_path / "crm.db"
    app = create_app(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        assert set_status(Client(app), ["appointment_id=6"]).succeeded is True
        transactions = app.runtime.database._transactions
        connection = transactions.connect()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 0
        finally:
            transactions.give_back(connection, broken=False)
    finally:
        app.runtime.database.dispose()


def test_the_wal_starts_again_while_calls_keep_writing(tmp_path: Path) -> None:
    """Calls that never pause would keep SQLite from starting the WAL again after a checkpoint
    made beside them; the thread then finishes one with the writers held back, so the WAL stays
    near its bound instead of growing by every page every call writes (here 20,000 pages)."""
    db_path = tmp_path / "crm.db"
    app = create_app(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        client = Client(app)
        for _ in range(4000):
            assert set_status(client, ["appointment_id=6"]).succeeded is True
        wal = db_path.with_name(db_path.name + "-wal").stat().st_size
    finally:
        app.runtime.database.dispose()
    assert wal < 40 << 20, f"the WAL grew to {wal / (1 << 20):.0f} MiB"


def test_a_sqlite_with_the_wal_reset_bug_checkpoints_as_sqlite_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No thread checkpoints beside the calls' commits (the race that bug needs): the calls'
    connections checkpoint at SQLite's default threshold instead."""
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.40.1")
    before = checkpoint_threads()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}"))
    try:
        assert set_status(Client(app), ["appointment_id=6"]).succeeded is True
        assert checkpoint_threads() == before
        transactions = app.runtime.database._transactions
        connection = transactions.connect()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 1000
        finally:
            transactions.give_back(connection, broken=False)
    finally:
        app.runtime.database.dispose()
