"""The stress check's short form: ``serve --workers 2`` under a hostile mix of calls loses no
acknowledged write, journals every answered call once, and keeps its SQLite file whole.

Two rounds of 4 s with 20 clients on SQLite (the second with an outside reader opening and closing
the file all along), and one on PostgreSQL when ``EMULATOR_TEST_POSTGRES_URL`` names a server. The
full check, with more rounds, longer ones and a CPU-hogging neighbour, is ``python -m
benchmarks.stress`` (:mod:`benchmarks.stress` says what a round does and compares). Nothing here
is timed: a slow machine sends fewer calls, and every one of them is checked.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.stress import RoundConfig, RoundResult, run_round
from tests.support.database import POSTGRES_URL

SHORT = RoundConfig(workers=2, clients=20, seconds=4)
AT_LEAST = 100
"""Acknowledged updates a round must reach, so that "no mismatches" is not about nothing (a round
acknowledges thousands on a laptop)."""


def _assert_clean(result: RoundResult) -> None:
    told = [result.line(1), *result.mismatches, f"server log {result.server_log}:", *result.server_errors]
    assert not result.mismatches, "\n".join(told)
    assert result.acknowledged >= AT_LEAST, result.line(1)
    assert result.updated_ids >= 20, result.line(1)  # many rows, not one hot row


@pytest.mark.sqlite_only("the outside reader opens the SQLite file; PostgreSQL has its own round")
@pytest.mark.parametrize("reader", [False, True], ids=["load", "outside-reader"])
def test_sqlite_loses_nothing_under_load(tmp_path: Path, reader: bool) -> None:
    result = run_round(replace(SHORT, reader=reader), tmp_path)
    _assert_clean(result)
    if reader:
        assert result.outside_reads > 0, "the outside reader never read"


@pytest.mark.skipif(POSTGRES_URL is None, reason="set EMULATOR_TEST_POSTGRES_URL for a PostgreSQL round")
def test_postgresql_loses_nothing_under_load(tmp_path: Path) -> None:
    result = run_round(replace(SHORT, postgres=POSTGRES_URL), tmp_path)
    assert result.backend == "postgresql"
    _assert_clean(result)
