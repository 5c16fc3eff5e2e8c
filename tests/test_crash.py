"""Crash safety: SIGKILL the real server process in the middle of load, restart it on the same file.

After every restart: SQLite's integrity check passes, every batch the server acknowledged is in
the data whole, no batch is there in part (each batch names three records of its own, in three
tables: all three changed or none), and the data is a serial replay of the batches that made it
(the check of :mod:`tests.test_concurrency`). Killing the server while it creates a tenant from
the fixtures, or while it resets one, leaves the old state or the new one, never a mixture.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from tests.support.batches import (
    Batch,
    assert_answers,
    create_tenant,
    drive,
    integrity,
    plan_batches,
    verify_serial_replay,
)
from tests.support.http import free_port
from tests.support.model import KINDS, Key, Model, Row, read_rows
from tests.support.paths import ROOT
from tests.support.servers import kill_hard, server_process
from tests.support.soap import APPOINTMENT, SOAP11_HEADERS, envelope

EXTRA = 600
"""Records added to each table of the default fixtures, so that every batch can own three."""
CLIENTS, CALLS, MARKERS = 8, 30, 3


def write_fixtures(path: Path, extra: int = EXTRA) -> tuple[Path, int]:
    """The default fixtures plus ``extra`` records per table, owned by the five users in turn, as JSON
    (quick to read at every start); and how many activities that makes."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "fixtures" / "default.yaml").read_text())
    for kind in KINDS:
        data["activities"][kind].extend(
            {"id": 1000 + n, "title": f"crash {kind} {n}", "status": "NotStarted", "associate_id": n % 5 + 1}
            for n in range(extra)
        )
    path.write_text(json.dumps(data, default=str))
    return path, sum(len(records) for records in data["activities"].values())


def answered(batches: list[Batch]) -> int:
    return sum(1 for b in batches if b.answer is not None)


@pytest.mark.parametrize("workers, rounds", [(None, 2), (2, 1)], ids=["cli", "2 workers"])
def test_sigkill_under_load_keeps_every_acknowledged_batch_whole(
    tmp_path: Path, workers: int | None, rounds: int
) -> None:
    fixtures, _ = write_fixtures(tmp_path / "fixtures.json")
    database, log, port = tmp_path / "crm.db", tmp_path / "server.log", free_port()
    rng = random.Random(20260105)
    batches: list[Batch] = []
    initial: dict[Key, Row] = {}
    model: Model | None = None
    killed_mid_load = 0
    for round_number in range(rounds + 1):
        with server_process(database, port, fixtures=fixtures, log=log, workers=workers) as process:
            if model is None:
                create_tenant("127.0.0.1", port)
                initial, model = read_rows(database), Model(database)
            else:  # a restart after a kill: check everything before the next round of load
                assert integrity(database) == "ok"
                verify_serial_replay(initial, read_rows(database), batches)
                create_tenant("127.0.0.1", port)  # and it serves
            if round_number == rounds:
                break
            plan = plan_batches(
                model,
                initial,
                clients=CLIENTS,
                calls=CALLS,
                seed=rng.randrange(2**32),
                markers_per_batch=MARKERS,
                start=len(batches),
                round_number=round_number,
                exclude={m for b in batches for m in b.markers},
            )
            this_round = [b for client in plan for b in client]
            batches.extend(this_round)
            load = threading.Thread(
                target=drive, args=("127.0.0.1", port, plan), kwargs={"deadline": time.monotonic() + 30}
            )
            load.start()
            target = int(len(this_round) * rng.uniform(0.2, 0.6))
            deadline = time.monotonic() + 30
            while answered(this_round) < target and load.is_alive() and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
            kill_hard(process)
            load.join(timeout=90)
            assert not load.is_alive()
            unanswered = [b for b in this_round if b.answer is None and b.reached_server]
            killed_mid_load += bool(unanswered) or answered(this_round) < len(this_round)
            assert answered(this_round) >= target
    assert killed_mid_load == rounds, "a round finished before the kill: the test did not test a crash"
    assert_answers(batches)
    replay = verify_serial_replay(initial, read_rows(database), batches)
    acknowledged = [b for b in batches if b.answer == "ok" and b.expected.kind == "apply"]
    assert acknowledged and all(b.number in replay.stamps for b in acknowledged)
    assert integrity(database) == "ok"


def activity_count(database: Path, tenant: str = "default") -> int:
    with closing(sqlite3.connect(database)) as connection, connection:
        return sum(
            connection.execute(f"SELECT count(*) FROM {kind} WHERE tenant = ?", (tenant,)).fetchone()[0]
            for kind in KINDS
        )


def tenant_exists(database: Path, tenant: str = "default") -> bool:
    with closing(sqlite3.connect(database)) as connection, connection:
        return (
            connection.execute("SELECT 1 FROM emulator_tenant WHERE tenant = ?", (tenant,)).fetchone()
            is not None
        )


def post_in_background(port: int, path: str, body: bytes, headers: dict[str, str]) -> threading.Thread:
    def send() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("POST", path, body=body, headers=headers)
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass  # the server was killed: that is the point
        finally:
            connection.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def call_sync(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_sigkill_while_creating_or_resetting_a_tenant_leaves_old_or_new(tmp_path: Path) -> None:
    """Creating a tenant from the fixtures and resetting one are single transactions: a kill at any
    moment of either leaves the state before or the state after (the moment is random each run)."""
    fixtures, complete = write_fixtures(tmp_path / "fixtures.json", extra=2000)
    database, log, port = tmp_path / "crm.db", tmp_path / "server.log", free_port()
    rng = random.Random()
    change = envelope([f"todo_id={n}" for n in range(1000, 1400)], "Completed")
    with server_process(database, port, fixtures=fixtures, log=log) as process:
        sender = post_in_background(port, APPOINTMENT, change, SOAP11_HEADERS)  # creates the tenant first
        time.sleep(rng.uniform(0, 0.3))
        kill_hard(process)
        sender.join(timeout=60)
    with server_process(database, port, fixtures=fixtures, log=log) as process:
        assert integrity(database) == "ok"
        count = activity_count(database)
        assert (tenant_exists(database), count) in ((False, 0), (True, complete)), count
        assert call_sync(port, "/_emulator/reset", b"", {}) == 200
        pristine = read_rows(database)
        assert len(pristine) == complete
        assert call_sync(port, APPOINTMENT, change, SOAP11_HEADERS) == 200
        changed = read_rows(database)
        assert changed != pristine
        reset = post_in_background(port, "/_emulator/reset", b"", {})
        time.sleep(rng.uniform(0, 0.2))
        kill_hard(process)
        reset.join(timeout=60)
    with server_process(database, port, fixtures=fixtures, log=log):
        assert integrity(database) == "ok"
        assert read_rows(database) in (pristine, changed), "a reset cut short left a mixture"
        create_tenant("127.0.0.1", port)
