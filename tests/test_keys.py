"""The sign-in's signing key: one per database, whichever process made it."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from superoffice_emulator.storage import keys
from superoffice_emulator.storage.engine import make_engine
from superoffice_emulator.storage.keys import SigningKey, SigningKeys
from superoffice_emulator.storage.transactions import create_schema


def test_two_processes_that_both_found_no_key_use_the_same_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    create_schema(engine)
    stored = keys._stored
    calls = itertools.count(1)

    def racing(connection: Connection) -> SigningKey | None:
        # each process's first read and its check before its insert (calls 1, 2 and 4, 5; 3 and 6
        # read back after the insert) find no key, as two PostgreSQL transactions can when the
        # other's insert has not committed yet
        if next(calls) in (1, 2, 4, 5):
            return None
        return stored(connection)

    monkeypatch.setattr(keys, "_stored", racing)
    first, second = SigningKeys(engine), SigningKeys(engine)
    one, other = first.current(), second.current()
    assert one.kid == other.kid
    assert SigningKeys(engine).current().kid == one.kid
    engine.dispose()


def test_a_key_is_made_once_and_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    engine = make_engine(url)
    create_schema(engine)
    made = SigningKeys(engine).current()
    engine.dispose()
    again = make_engine(url)
    kept: Any = SigningKeys(again).current()
    assert kept.kid == made.kid and kept.public_jwk()["kid"] == made.kid
    again.dispose()
