"""The sections of ``python -m benchmarks``: each measures one thing and adds rows to the table."""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.bigdb import generated_ids, make_database
from benchmarks.common import ONE_ID, WSDL, InProcess, Server, Table, mib, ms, q, summary, timed

Section = Callable[[Table, Path], None]

CONNECTIONS = 4  # as benchmarks/peers/compare.sh


def _sqlite(work: Path, name: str) -> str:
    return f"sqlite:///{work / name}"


def _first_call(server: Server, wire: common.Wire = common.SOAP) -> None:
    request = urllib.request.Request(
        server.url(wire.path), data=wire.one_id, headers=wire.headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        status, data = answer.status, answer.read()
    if not wire.succeeded(status, data):
        raise RuntimeError(f"{server.kind}: the first {wire.name} call did not succeed: {data[:600]!r}")


def worker_kinds() -> list[str]:
    workers = max(2, os.cpu_count() or 1)
    return ["cli", "granian:1", f"granian:{workers}"]


# -- sections ------------------------------------------------------------------------------------
def throughput(table: Table, work: Path) -> None:
    """One-id calls over HTTP, SOAP and REST: ``serve`` with werkzeug, and granian on 1 and on N workers."""
    rounds, seconds = q(3, 1), q(5, 2)
    wires = [common.WIRES[name] for name in os.environ.get("BENCH_WIRES", "soap rest").split()]
    results: dict[tuple[str, str], list[common.Load]] = {
        (kind, wire.name): [] for kind in worker_kinds() for wire in wires
    }
    for round_number in range(rounds):  # servers take turns, so a burst of load elsewhere hits all alike
        for kind in worker_kinds():
            with Server(kind, _sqlite(work, f"throughput-{kind.replace(':', '-')}.db"), work) as server:
                server.wait("/")
                for wire in wires:
                    _first_call(server, wire)
                    common.load(server, wire.one_id, CONNECTIONS, 1, wire=wire)  # warm-up
                    measured = common.load(server, wire.one_id, CONNECTIONS, seconds, wire=wire)
                    results[kind, wire.name].append(measured)
                    common.progress(f"    round {round_number + 1}: {kind} {wire.name}: {measured.figure()}")
    for (kind, wire_name), loads in results.items():
        middle = sorted(loads, key=lambda load: load.requests_per_second)[len(loads) // 2]
        detail = middle.detail() + (f"; median of {rounds} runs of {seconds} s" if rounds > 1 else "")
        table.add("throughput", f"{wire_name} {common.describe(kind)}", middle.figure(), detail)


def wires(table: Table, work: Path) -> None:
    """The one-id call in-process on each wire, taking turns call by call: what a codec costs."""
    emulator = InProcess(_sqlite(work, "wires.db"))
    repeat = q(2000, 300)
    times: dict[str, list[float]] = {name: [] for name in common.WIRES}
    try:
        for wire in common.WIRES.values():
            for _ in range(50):
                emulator.call(wire.one_id, wire)
        for _ in range(repeat):
            for name, wire in common.WIRES.items():
                times[name] += timed(lambda wire=wire: emulator.call(wire.one_id, wire), 1)  # type: ignore[misc]
    finally:
        emulator.close()
    for name, measured in times.items():
        wire = common.WIRES[name]
        table.add(
            "wires", f"one id, in-process, {wire.name}", ms(statistics.median(measured)), summary(measured)
        )
    ratio = statistics.median(times["rest"]) / statistics.median(times["soap"])
    table.add("wires", "REST / SOAP", f"{ratio:.2f}x", "ratio of the medians, same process, same run")


def stalled(table: Table, work: Path) -> None:
    """Other clients' calls while clients that announced a body and stopped sending hold sockets.

    With one worker (the default) and two: four such sockets open, one client's one-id calls one
    after the other on a keep-alive connection; then how long the stalled clients waited for their
    answer (``--request-timeout 5``); the goal is a p99 under 50 ms. Then one call while
    more connections than granian holds are open and send nothing.
    """
    calls, timeout, held = q(500, 150), 5, 4
    for kind in ("granian:1", "granian:2"):
        name = f"stalled-{kind.replace(':', '-')}.db"
        options = ["--request-timeout", str(timeout)]
        with Server(kind, _sqlite(work, name), work, options) as server:
            server.wait("/")
            _first_call(server)
            sockets = [_stalled_socket(server.port) for _ in range(held)]
            opened = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            times = []
            try:
                for _ in range(calls):
                    started = time.perf_counter()
                    connection.request("POST", common.APPOINTMENT, body=ONE_ID, headers=common.HEADERS)
                    answer = connection.getresponse()
                    if common.SUCCEEDED not in answer.read():
                        raise RuntimeError(f"{kind}: a call failed with HTTP {answer.status}")
                    times.append(time.perf_counter() - started)
                statuses = [_answer_status(sock) for sock in sockets]
                waited = time.perf_counter() - opened
            finally:
                connection.close()
                for sock in sockets:
                    sock.close()
        table.add(
            "stalled",
            f"{common.describe(kind)}, {held} stalled bodies open",
            f"p99 {ms(common.percentile(times, 99))}",
            f"{calls} sequential one-id calls, median {ms(statistics.median(times))}; the stalled got "
            f"{', '.join(map(str, sorted(set(statuses))))} after {waited:.1f} s "
            f"(--request-timeout {timeout})",
        )
    _silent_connections(table, work)


SILENT = 1100
"""More connections than granian's 1,024 slots (``backpressure``) that send nothing."""


def _silent_connections(table: Table, work: Path) -> None:
    """A call while more connections than granian holds are open and silent: without the sweep of
    :mod:`superoffice_emulator.server.connections` it would wait until those clients went away."""
    import resource

    timeout = 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SILENT + 200
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            table.add("stalled", f"{SILENT:,} silent connections", "skipped", f"needs {wanted} descriptors")
            return
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # the server inherits it
    with Server("granian:1", _sqlite(work, "silent.db"), work, ["--request-timeout", str(timeout)]) as server:
        server.wait("/")
        _first_call(server)
        sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(SILENT)]
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            connection.request("POST", common.APPOINTMENT, body=ONE_ID, headers=common.HEADERS)
            answer = connection.getresponse()
            succeeded = common.SUCCEEDED in answer.read()
            answered = time.perf_counter() - started
            connection.close()
        finally:
            for sock in sockets:
                sock.close()
    if not succeeded:
        raise RuntimeError(f"the call beside the silent connections failed with HTTP {answer.status}")
    table.add(
        "stalled",
        f"{common.describe('granian:1')}, {SILENT:,} silent connections open",
        f"answered after {answered:.1f} s",
        "a one-id call on a new connection; granian holds 1,024 connections, and the silent ones are "
        f"shut down after --request-timeout {timeout}",
    )


def mixed_load(table: Table, work: Path) -> None:
    """The load figure: 50 clients for 20 s on the default server, valid and invalid batches.

    The bodies, in turn: one id; 100 ids; a read-only user's batch (a Sentry refusal); an unknown
    ticket (a session failure); ids that do not exist (the documented no-op). Every answer is
    HTTP 200; a 5xx or a socket error is a failure. Then the journal is counted: every answered
    call must have its entry (the journal keeps them all here), so none was lost.
    """
    if not common.has_wrk():
        table.add("load", "50 clients, mixed batches", "skipped", "needs wrk (apt-get install wrk)")
        return
    connections, seconds = 50, q(20, 5)
    rita = "7T:Uml0YVJlYWRvbmx5VGlja2V0"
    bodies = [
        ONE_ID,
        common.soap_request([f"sale_id={n}" for n in range(1, 101)]),
        ONE_ID.replace(common.TICKET.encode(), rita.encode()),
        ONE_ID.replace(common.TICKET.encode(), b"7T:NoSuchTicket"),
        common.soap_request(["appointment_id=999999", "todo_id=888888"]),
    ]
    files = []
    for index, body in enumerate(bodies, 1):
        path = work / f"mixed-{index}.xml"
        path.write_bytes(body)
        files.append(path)
    database = work / "mixed.db"
    options = ["--journal-size", "100000000"]
    with Server("granian:1", _sqlite(work, database.name), work, options) as server:
        server.wait("/")
        _first_call(server)
        env = {**os.environ, **{f"REQ{i}": str(path) for i, path in enumerate(files, 1)}}
        argv = [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(common.HERE / "mixed.lua"),
        ]
        out = subprocess.run(
            [*argv, server.url(common.APPOINTMENT)], env=env, capture_output=True, text=True, check=True
        ).stdout
        time.sleep(1)  # the calls in flight when wrk stopped finish and are journaled
    answered = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    with closing(sqlite3.connect(database)) as connection, connection:
        journaled = (
            connection.execute("SELECT count(*) FROM emulator_journal").fetchone()[0] - 1
        )  # less the first
    lost = max(0, answered - journaled)
    table.add(
        "load",
        f"{connections} clients, {seconds} s, mixed batches",
        f"{rps:,.0f} req/s",
        f"p99 {p99}, {answered:,} answered, non-2xx {int(bad.group(1)) if bad else 0}, "
        f"socket errors {socket_errors.group(1) if socket_errors else 'none'}, "
        f"journal entries {journaled:,} (lost {lost})",
    )


def _stalled_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(
        f"POST {common.APPOINTMENT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
        "Content-Length: 100000\r\n\r\n<?xml ver".encode()
    )
    return sock


def _answer_status(sock: socket.socket) -> int:
    """The status of the answer on ``sock`` (0 if the server closed it without one)."""
    head = sock.recv(64)
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0


def batch(table: Table, work: Path) -> None:
    """Batches of 1 to 10,000 ids in one call (in-process): the time per id must not grow."""
    sizes = {1: q(300, 50), 100: q(100, 20), 1000: q(20, 5), 10000: q(5, 2)}
    emulator = InProcess(make_database(work / "batch.db", 10_000))
    try:
        for size, repeat in sizes.items():
            body = common.soap_request(generated_ids(size))
            emulator.call(body)
            times = timed(lambda body=body: emulator.call(body), repeat)  # type: ignore[misc]
            median = statistics.median(times)
            table.add(
                "batch",
                f"{size:,} id{'s' if size > 1 else ''} per call",
                ms(median),
                f"{median / size * 1e6:,.1f} us per id; {summary(times)}; "
                f"{len(body) / 1024:,.0f} KiB request",
            )
    finally:
        emulator.close()


def rows(table: Table, work: Path) -> None:
    """The one-id call on a tenant of 1,000 and of 1,000,000 rows per activity table (in-process).

    The two emulators take turns call by call, so that a change of load elsewhere hits both alike.
    """
    big = q(1_000_000, 100_000)
    repeat = q(1000, 200)
    emulators: dict[int, InProcess] = {}
    built: dict[int, float] = {}
    times: dict[int, list[float]] = {1000: [], big: []}
    try:
        for count in times:
            started = time.perf_counter()
            emulators[count] = InProcess(make_database(work / f"rows-{count}.db", count))
            built[count] = time.perf_counter() - started
            for _ in range(20):
                emulators[count].call()
        for _ in range(repeat):
            for count, emulator in emulators.items():
                times[count] += timed(emulator.call, 1)
    finally:
        for emulator in emulators.values():
            emulator.close()
    for count, measured in times.items():
        table.add(
            "rows",
            f"one id, {count:,} rows per table",
            ms(statistics.median(measured)),
            f"{summary(measured)}; database built in {built[count]:.1f} s",
        )
    ratio = statistics.median(times[big]) / statistics.median(times[1000])
    table.add("rows", f"{big:,} / 1,000 rows", f"{ratio:.2f}x", "ratio of the medians (target: at most 1.2x)")


def _launches(
    work: Path, kind: str, state: str, repeat: int, first_answer: Callable[[Server], float]
) -> list[float]:
    """Seconds from launching ``kind`` to ``first_answer``, ``repeat`` times, each on a ``new database``
    (no file) or on an ``existing database`` (made, with its default tenant, by a first launch)."""
    name = f"launch-{kind.replace(':', '-')}.db"
    times = []
    for _ in range(repeat):
        if state == "new database":
            for suffix in ("", "-wal", "-shm"):
                Path(work / (name + suffix)).unlink(missing_ok=True)
        elif not (work / name).exists():
            with Server(kind, _sqlite(work, name), work) as warm:
                warm.wait(wire=common.SOAP)
        with Server(kind, _sqlite(work, name), work) as server:
            times.append(first_answer(server))
    return times


def _compile_bytecode() -> None:
    """The package's bytecode written, as ``pip install`` and ``make install`` leave it: a launch then
    reads it instead of compiling every module (where ``PYTHONDONTWRITEBYTECODE`` is set, as in the
    Docker image, Python would never write it itself)."""
    import compileall

    import superoffice_emulator

    compileall.compile_dir(Path(superoffice_emulator.__file__).parent, quiet=1)


def coldstart(table: Table, work: Path) -> None:
    """From starting the server to the first answered WSDL GET, on a new and on an existing database."""
    _compile_bytecode()
    cases = [
        ("cli", "new database"),
        ("cli", "existing database"),
        ("granian:1", "existing database"),
    ]
    for kind, state in cases:
        times = _launches(work, kind, state, q(3, 1), lambda server: server.wait(WSDL, interval=0.002))
        table.add(
            "cold start",
            f"{common.describe(kind)}, {state}",
            ms(statistics.median(times)),
            f"to the first WSDL answer; {summary(times)}",
        )


def _first_answered_call(cpu: list[float], server: Server) -> float:
    """Seconds to the server's first answered SOAP call; its CPU time by then appended to ``cpu``."""
    seconds = server.wait(wire=common.SOAP, interval=0.002)
    cpu.append(server.cpu_seconds())
    return seconds


def startup(table: Table, work: Path) -> None:
    """From typing ``superoffice-emulator serve`` to its first answered SOAP call, on a new and on an
    existing database (target: within 500 ms)."""
    _compile_bytecode()
    for kind in ("granian:1", "cli"):
        for state in ("new database", "existing database"):
            cpu: list[float] = []
            times = _launches(work, kind, state, q(7, 3), functools.partial(_first_answered_call, cpu))
            table.add(
                "start-up",
                f"{common.describe(kind)}, {state}",
                ms(statistics.median(times)),
                f"launch to the first answered SOAP call; {summary(times)};"
                f" the server's CPU time to then: median {ms(statistics.median(cpu))}",
            )


def reset(table: Table, work: Path) -> None:
    """``Database.reset`` of the default tenant to the default fixtures."""
    emulator = InProcess(_sqlite(work, "reset.db"))
    try:
        emulator.call()
        database = emulator.app.runtime.database
        times = timed(lambda: database.reset("default"), q(30, 5))
        emulator.call()  # the tenant works after the reset
    finally:
        emulator.close()
    table.add("reset", "default fixtures, default tenant", ms(statistics.median(times)), summary(times))


def tenant(table: Table, work: Path) -> None:
    """``Database.ensure_tenant`` of a new name: the tenant made from the fixtures."""
    emulator = InProcess(_sqlite(work, "tenant.db"))
    names = iter(range(1_000_000))
    try:
        database = emulator.app.runtime.database
        database.ensure_tenant("warm-up")
        times = timed(lambda: database.ensure_tenant(f"bench-{next(names)}"), q(30, 5))
    finally:
        emulator.close()
    table.add("tenant", "ensure_tenant of a new name", ms(statistics.median(times)), summary(times))


def memory(table: Table, work: Path) -> None:
    """RSS of ``superoffice-emulator serve`` at rest, after the first WSDL and after 100,000 calls."""
    calls = q(100_000, 10_000)
    with Server("cli", _sqlite(work, "memory.db"), work) as server:
        server.wait("/")
        time.sleep(0.5)
        pid = server.process.pid
        at_rest, start_peak = common.rss_kib(pid), common.rss_kib(pid, "VmHWM")
        server.wait(WSDL)
        after_wsdl = common.rss_kib(pid)
        _first_call(server)
        started = time.perf_counter()
        load = common.load(server, ONE_ID, CONNECTIONS, 0, limit=calls)
        elapsed = time.perf_counter() - started
        after, peak = common.rss_kib(pid), common.rss_kib(pid, "VmHWM")
    rest = f"VmRSS before any call; peak so far {mib(start_peak)}"
    table.add("memory", "serve (werkzeug) at rest", mib(at_rest), rest)
    wsdl_note = "the WSDL is a file spyne wrote ahead of time"
    table.add("memory", "after the first WSDL", mib(after_wsdl), wsdl_note)
    table.add(
        "memory",
        f"after {load.requests:,} calls",
        mib(after),
        f"peak (VmHWM) {mib(peak)}; {load.figure()} over {elapsed:.0f} s"
        + (f", {load.errors} FAILED" if load.errors else ""),
    )


def compare(table: Table, work: Path) -> None:
    """``benchmarks/peers/compare.sh`` with our server beside the raw, spyne and node peers, one process each.

    BENCH_COMPARE_SERVER picks ours: ``granian:1`` (the default: ``serve --workers 1``, granian as
    the Python peers have it) or ``cli`` (``serve``, werkzeug); BENCH_COMPARE_WIRES the wires
    (``soap rest`` by default): one run of the script per wire, since the script sends one request
    to every server (the peers answer SOAP; the wrk script sends a JSON request with the REST
    twin's headers). ROUNDS, DUR and CONNS pass through. The SOAP run also serves
    :mod:`benchmarks.sketch` as a second server of ours.
    """
    if not common.has_wrk():
        table.add("compare", "skipped", "-", "needs wrk (compare.sh drives every server with it)")
        return
    for name in os.environ.get("BENCH_COMPARE_WIRES", "soap rest").split():
        _compare_wire(table, work, common.PEERS / "compare.sh", common.WIRES[name])


def _sketch_command(work: Path) -> str:
    """The command that serves :mod:`benchmarks.sketch` (the floor of the design, every check in
    straight-line code on granian's RSGI interface) on a database the emulator made, at ``$PORT``."""
    from benchmarks import sketch

    database = work / "compare-sketch.db"
    sketch.make_database(str(database))
    server = common.shell_command(
        [sys.executable, "-m", "granian", "--interface", "rsgi", "--workers", "1", "--host", "127.0.0.1"]
    )
    options = common.shell_command(["--log-level", "warning", "benchmarks.sketch:rsgi"])
    root, path = shlex.quote(str(common.ROOT)), shlex.quote(str(database))
    return f"cd {root} && SKETCH_CHECKPOINTS=thread SKETCH_DB={path} exec {server} --port $PORT {options}"


def _compare_wire(table: Table, work: Path, script: Path, wire: common.Wire) -> None:
    kind = os.environ.get("BENCH_COMPARE_SERVER", "granian:1")
    database = work / f"compare-{wire.name.lower()}.db"
    command = "exec " + common.shell_command(common.server_argv(kind, "$PORT", f"sqlite:///{database}"))
    env = {**os.environ, "EMULATOR_CMD": f"cd {shlex.quote(str(common.ROOT))} && {command}"}
    if wire is common.REST:
        request = work / "rest-one-id.json"  # post.lua sends a .json file with the REST headers
        request.write_bytes(common.REST_ONE_ID)
        env.update(EMULATOR_URL=wire.path, EMULATOR_REQ=str(request))
    else:
        env.update(EMULATOR2_NAME="sketch", EMULATOR2_CMD=_sketch_command(work))
    if common.QUICK:
        env.setdefault("ROUNDS", "1")
        env.setdefault("DUR", "2")
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"compare.sh exited with {result.returncode}: {result.stderr[-1500:]}")
    figures: dict[str, tuple[float, str]] = {}
    for line in result.stdout.splitlines():
        match = re.fullmatch(r"(\S+)\s+([\d.]+)\s+(\S+)\s+([\d.]+)", line.strip())
        if match:
            figures[match.group(1)] = (float(match.group(2)), match.group(3))
    said = [
        line
        for line in result.stderr.splitlines()
        if line.strip()
        and "Location 'file:" not in line
        # the script's own first call is SOAP's, which the REST path refuses (415); wrk's are REST
        and not (wire is common.REST and line.startswith("emulator: first call answered HTTP 415"))
    ]
    warnings = " ".join(" ".join(said).split())[:300]
    rounds, seconds = env.get("ROUNDS", "3"), env.get("DUR", "4")
    section = f"compare {wire.name}"
    for name, (rps, p99) in figures.items():
        case = f"emulator {wire.name} ({common.describe(kind)})" if name == "emulator" else name
        table.add(section, case, f"{rps:,.0f} req/s", f"p99 {p99}; median of {rounds} x {seconds} s")
    ours = figures.get("emulator", (0.0, ""))[0]
    peers = (
        ("spyne", "target: at least 2x"),
        ("node", "target: at least 1x"),
        ("raw", "the floor of Python"),
        ("sketch", "every check in straight-line code: the floor of this design"),
    )
    for peer, meaning in peers:
        if peer in figures and ours:
            table.add(
                section, f"emulator / {peer}", f"{ours / figures[peer][0]:.2f}x", f"same run ({meaning})"
            )
    if "sketch" in figures and "node" in figures:
        ratio = figures["sketch"][0] / figures["node"][0]
        reached = "same run: the most a Python app with every check reached on this stack"
        table.add(section, "sketch / node", f"{ratio:.2f}x", reached)
    if warnings:
        table.add(section, "compare.sh said", "-", warnings)


def interfaces(table: Table, work: Path) -> None:
    """What granian's interface costs, beside what the app costs (the choice of server).

    The emulator under granian's WSGI interface with one thread (quick, but a client that stops
    sending its body stops it) and under ``serve`` (RSGI, each body read on the event loop first);
    then :mod:`benchmarks.standin`, the same fixed
    work per request under WSGI, bare RSGI and the emulator's RSGI adapter. Where ``taskset``
    exists every server runs on the last CPU and wrk on the first, so that where the scheduler
    puts the threads (it moves figures by a third between runs on two CPUs) is the same for all.
    """
    if not common.has_wrk():
        table.add("interfaces", "skipped", "-", "needs wrk (a Python client would share the server's CPU)")
        return
    from benchmarks import standin
    from superoffice_emulator.server.serving import event_loop

    rounds, seconds = q(3, 1), q(4, 2)
    cpus = os.cpu_count() or 1
    pinned = shutil.which("taskset") is not None and cpus > 1
    server_cpu = ["taskset", "-c", str(cpus - 1)] if pinned else []
    wrk_cpu = ["taskset", "-c", "0"] if pinned else []
    standin_db = work / "standin.db"
    standin.make_database(str(standin_db))
    standin_env = {"BENCH_STANDIN_DB": str(standin_db), "PYTHONPATH": str(common.ROOT)}
    emulator_env = {
        "EMULATOR_DATABASE_URL": _sqlite(work, "interfaces-wsgi.db"),
        "EMULATOR_MODE": "online",
        "EMULATOR_LOG_LEVEL": "warning",
    }
    loop = event_loop().value

    def granian(interface: str, target: str, *options: str) -> Callable[[int], list[str]]:
        return lambda port: [
            *server_cpu, sys.executable, "-m", "granian", "--interface", interface, "--workers", "1",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *options, target,
        ]  # fmt: skip

    def serve(port: int) -> list[str]:
        return [*server_cpu, *common.server_argv("granian:1", str(port), _sqlite(work, "interfaces-rsgi.db"))]

    emulator_wsgi, emulator_rsgi = "emulator, granian WSGI, 1 thread", "emulator, serve (RSGI, the default)"
    standin_wsgi, standin_rsgi = "stand-in, granian WSGI, 1 thread", "stand-in, granian RSGI, bare"
    standin_adapter = "stand-in, granian RSGI + superoffice_emulator.server.rsgi"
    one_thread = ("--blocking-threads", "1")
    servers: list[tuple[str, Callable[[int], Sequence[str]], dict[str, str], str]] = [
        (
            emulator_wsgi,
            granian("wsgi", "superoffice_emulator.server.wsgi:app", *one_thread),
            emulator_env,
            common.APPOINTMENT,
        ),
        (emulator_rsgi, serve, {}, common.APPOINTMENT),
        (standin_wsgi, granian("wsgi", "benchmarks.standin:wsgi", *one_thread), standin_env, "/"),
        (standin_rsgi, granian("rsgi", "benchmarks.standin:rsgi", "--loop", loop), standin_env, "/"),
        (standin_adapter, granian("rsgi", "benchmarks.standin:buffered", "--loop", loop), standin_env, "/"),
    ]
    results: dict[str, list[common.Load]] = {name: [] for name, *_ in servers}
    for round_number in range(rounds):  # taking turns, so a burst of load elsewhere hits all alike
        for name, argv, env, path in servers:
            with Server(name, "", work, argv=argv, env=env) as server:
                server.wait("/")
                if path == common.APPOINTMENT:
                    _first_call(server)
                url = server.url(path)
                common.wrk(url, ONE_ID, CONNECTIONS, 1, prefix=wrk_cpu)  # warm-up
                measured = common.wrk(url, ONE_ID, CONNECTIONS, seconds, prefix=wrk_cpu)
                if measured.errors:
                    raise RuntimeError(f"{name}: {measured.errors} calls failed; see {work}")
                results[name].append(measured)
                common.progress(f"    round {round_number + 1}: {name}: {measured.figure()}")
    placed = f"server on CPU {cpus - 1}, wrk on CPU 0" if pinned else "not pinned (no taskset)"
    micros: dict[str, float] = {}
    for name, loads in results.items():
        middle = sorted(loads, key=lambda load: load.requests_per_second)[len(loads) // 2]
        micros[name] = 1e6 / middle.requests_per_second
        detail = f"{micros[name]:.0f} us a request; {middle.detail()}; median of {rounds} x {seconds} s"
        table.add("interfaces", name, middle.figure(), f"{detail}; {placed}")
    for case, slower, faster in (
        ("RSGI beside WSGI (stand-in)", standin_rsgi, standin_wsgi),
        ("the emulator's adapter beside bare RSGI", standin_adapter, standin_rsgi),
        ("serve beside granian WSGI (emulator)", emulator_rsgi, emulator_wsgi),
    ):
        ratio = micros[faster] / micros[slower]
        extra = micros[slower] - micros[faster]
        table.add("interfaces", case, f"{extra:+.0f} us", f"a request; {ratio:.2f}x the throughput")


def profile(table: Table, work: Path) -> None:
    """Where a one-id call spends its time (in-process, cProfile; pyinstrument when installed),
    and the share of each stage of the call in cProfile's own time."""
    emulator = InProcess(_sqlite(work, "profile.db"))
    calls = q(3000, 500)
    try:
        for _ in range(50):
            emulator.call()
        plain = timed(emulator.call, calls)
        direct = timed(emulator.call_direct, calls)
        stages = _stages(emulator, calls)
        text, tool = _profiled(emulator, calls)
    finally:
        emulator.close()
    path = work / "profile.txt"
    path.write_text(text)
    common.progress(text)
    table.add(
        "profile",
        "one id, in-process, no profiler",
        ms(statistics.median(plain)),
        f"{summary(plain)}; {tool} output in {path}",
    )
    per_call = statistics.median(direct) * 1e6
    table.add(
        "profile",
        "one id, the WSGI app called directly",
        ms(statistics.median(direct)),
        f"{summary(direct)}; as a server calls it (no test client); the stages below are of this",
    )
    total = sum(stages.values())
    for stage, seconds in sorted(stages.items(), key=lambda item: -item[1]):
        share = seconds / total
        table.add("profile", stage, f"{share:.0%}", f"about {share * per_call:.0f} us of the unprofiled call")


_STAGES = (
    ("sqlite3: COMMIT (pages written to the WAL)", ("<method 'commit' of 'sqlite3",)),
    ("sqlite3: the statements", ("<method 'execute' of 'sqlite3", "<method 'fetch")),
    (
        "reading the envelope (lxml)",
        ("superoffice_emulator/soap/envelope", "superoffice_emulator/soap/operations", "lxml"),
    ),
    ("the log line", ("logging/", "superoffice_emulator/logs")),
    ("journal entry", ("superoffice_emulator/storage/journal", "superoffice_emulator/journal", "json/")),
    (
        "storage: parameters, locks, the file check",
        ("superoffice_emulator/storage/", "sqlalchemy/", "posix.stat"),
    ),
    (
        "the call: pipeline and domain rules",
        ("superoffice_emulator/calls", "superoffice_emulator/domain", "superoffice_emulator/faults"),
    ),
    (
        "the answer (replies, encoding)",
        (
            "superoffice_emulator/soap/replies",
            "superoffice_emulator/soap/endpoint",
            "superoffice_emulator/web",
        ),
    ),
    (
        "the WSGI app: routing, host check",
        ("superoffice_emulator/app", "superoffice_emulator/guard", "werkzeug/"),
    ),
)
"""Stages of a call, by where its functions live; the first that matches a function takes it."""


def _stages(emulator: InProcess, calls: int) -> dict[str, float]:
    """cProfile's own time (tottime) of ``calls`` calls, summed per stage of :data:`_STAGES`."""
    import cProfile
    import pstats

    cprofile = cProfile.Profile()
    cprofile.enable()
    for _ in range(calls):
        emulator.call_direct()
    cprofile.disable()
    stats: Any = getattr(pstats.Stats(cprofile), "stats")  # noqa: B009 (not in the stubs)
    stages: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        where = f"{filename}:{name}" if filename != "~" else name
        stage = next((label for label, marks in _STAGES if any(mark in where for mark in marks)), "other")
        stages[stage] = stages.get(stage, 0.0) + tottime
    return stages


def _profiled(emulator: InProcess, calls: int) -> tuple[str, str]:
    """The profile of ``calls`` calls as text, and the profiler's name."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import io
        import pstats

        cprofile = cProfile.Profile()
        cprofile.enable()
        for _ in range(calls):
            emulator.call()
        cprofile.disable()
        stream = io.StringIO()
        pstats.Stats(cprofile, stream=stream).sort_stats("tottime").print_stats(25)
        return stream.getvalue(), "cProfile"
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(calls):
        emulator.call()
    profiler.stop()
    return profiler.output_text(unicode=False, color=False), "pyinstrument"


def stress(table: Table, work: Path) -> None:
    """Acknowledged writes, the journal and the SQLite file against the answers, under load (not timed).

    :mod:`benchmarks.stress` (``python -m benchmarks.stress --help`` for its options): rounds of
    ``serve --workers N`` under 50 clients' hostile mix of calls, some with a CPU-hogging
    neighbour or an outside reader of the SQLite file; STRESS_ROUNDS, STRESS_WORKERS,
    STRESS_SECONDS, STRESS_CLIENTS, STRESS_REQUEST_TIMEOUT and STRESS_POSTGRES_URL set them. A
    round with a mismatch fails the section.
    """
    from benchmarks import stress as check

    check.section(table, work)


def webhooks(table: Table, work: Path) -> None:
    """Status changes with one webhook to a fast local receiver beside none, taking turns: what the outbox
    and the deliverer cost a call.

    ``serve --workers 1`` (granian) on a fresh SQLite file per run; the calls set appointment 17
    Completed and NotStarted in turn, so (nearly) every call really changes it and, with the webhook
    (defined in the fixtures), writes an event that the deliverer posts to a receiver in this
    process answering 200 at once. After the load, the outbox is waited for until it is empty;
    the detail says how many events were posted, how long the last ones took after the load, and
    how much CPU the receiver took (on a machine of few CPUs, from the server).
    """
    if not common.has_wrk():
        table.add("webhooks", "skipped", "-", "needs wrk (apt-get install wrk)")
        return
    import yaml

    from superoffice_emulator.settings import default_fixtures
    from superoffice_emulator.testing import WebhookReceiver

    rounds, seconds = q(3, 1), q(5, 2)
    bodies = [common.soap_request(["appointment_id=17"], status) for status in ("Completed", "NotStarted")]
    files = {f"REQ{i}": work / f"webhooks-{i}.xml" for i in (1, 2)}
    for (_, path), body in zip(files.items(), bodies, strict=True):
        path.write_bytes(body)
    env = {name: str(path) for name, path in files.items()}
    results: dict[str, list[common.Load]] = {"no webhook": [], "one webhook": []}
    posted: list[tuple[int, int, float]] = []  # written, posted, seconds after the load
    receiving: list[float] = []  # the receiver's CPU seconds per second of load
    with WebhookReceiver() as receiver:
        data = yaml.safe_load(default_fixtures().read_text(encoding="utf-8"))
        data["webhooks"] = [{"name": "bench", "events": ["activity.changed"], "target_url": receiver.url}]
        hooked = work / "webhooks-fixtures.json"
        hooked.write_text(json.dumps(data, default=str))
        for round_number in range(rounds):
            for case in results:
                database = work / f"webhooks-{round_number}-{case.split()[0]}.db"
                options = ["--fixtures", str(hooked)] if case == "one webhook" else []
                with Server("granian:1", _sqlite(work, database.name), work, options) as server:
                    server.wait("/")
                    _first_call(server)
                    url = server.url(common.APPOINTMENT)
                    script = common.HERE / "mixed.lua"
                    common.wrk(url, ONE_ID, CONNECTIONS, 1, script=script, env=env)  # warm-up
                    cpu = time.process_time()  # this process's: the receiver's
                    measured = common.wrk(url, ONE_ID, CONNECTIONS, seconds, script=script, env=env)
                    results[case].append(measured)
                    if case == "one webhook":
                        receiving.append((time.process_time() - cpu) / seconds)
                        posted.append(_outbox_emptied(database, receiver))
                common.progress(f"    round {round_number + 1}: {case}: {measured.figure()}")
    base = statistics.median(load.requests_per_second for load in results["no webhook"])
    for case, loads in results.items():
        middle = sorted(loads, key=lambda load: load.requests_per_second)[len(loads) // 2]
        detail = middle.detail() + (f"; median of {rounds} runs of {seconds} s" if rounds > 1 else "")
        if case == "one webhook":
            written, delivered, after = max(posted, key=lambda p: p[2])
            detail += (
                f"; {middle.requests_per_second / base:.2f} of no webhook's; {delivered:,} of"
                f" {written:,} events posted, the last {after:.1f} s after the load; the receiver"
                f" took {statistics.median(receiving):.0%} of a CPU"
            )
        table.add("webhooks", case, middle.figure(), detail)


def _outbox_emptied(database: Path, receiver: Any) -> tuple[int, int, float]:
    """Wait (60 s at most) until the outbox of ``database`` has no pending event: how many events were
    written, how many the receiver got, and the seconds the wait took."""
    started = time.perf_counter()
    with closing(sqlite3.connect(database, timeout=60)) as connection:
        while time.perf_counter() - started < 60:
            pending, written = connection.execute(  # ids are never reused: the highest is the count
                "SELECT sum(outcome = 'pending'), max(id) FROM emulator_webhook_event"
            ).fetchone()
            if not pending:
                break
            time.sleep(0.05)
    events = len(receiver.events())
    receiver.clear()
    return int(written or 0), events, time.perf_counter() - started


SECTIONS: dict[str, Section] = {
    "throughput": throughput,
    "stalled": stalled,
    "load": mixed_load,
    "batch": batch,
    "rows": rows,
    "coldstart": coldstart,
    "startup": startup,
    "reset": reset,
    "tenant": tenant,
    "memory": memory,
    "wires": wires,
    "compare": compare,
    "interfaces": interfaces,
    "profile": profile,
    "stress": stress,
    "webhooks": webhooks,
}
DEFAULT = [name for name in SECTIONS if name not in ("profile", "interfaces", "stress", "webhooks")]
