"""The stress check: ``serve --workers N`` under a hostile mix of calls, then what the clients were
told compared with what the database holds.

    python -m benchmarks.stress --rounds 50 --workers 2 --seconds 8
    python -m benchmarks.stress --workers 1 2 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
    python -m benchmarks stress        # the same as a section of the table (STRESS_* variables below)

One round starts ``superoffice-emulator serve --workers N --journal-size 10000000
--request-timeout 1`` on a new SQLite file (or a new database on a PostgreSQL server, dropped
after) and lets ``--clients`` clients (50), each on its own keep-alive connection, send for
``--seconds`` (20) a random mix of SOAP requests (:data:`MIX`): valid ``SetActivityStatus``
batches of 1, 2, 5 or 20 fixture ids, and truncated XML, unknown tickets, a read-only user's
batch (a Sentry refusal), an unknown status, ids that do not exist beside ids that do (the
documented no-op), a wrong content type, and logins with good and bad passwords. The short
request timeout makes each worker's sweep of silent connections, which looks through the
process's file descriptors, run every quarter second (a sweep that closed a duplicate of the
database's descriptor once dropped the worker's SQLite locks: two workers then wrote at once).
Some rounds add a CPU-hogging neighbour (a busy loop per CPU) and, on SQLite, an outside reader:
a process that at random moments (about 20 times a second) opens the database file with an
ordinary read-write connection of Python's own ``sqlite3``, counts the journal and closes it
(which, without the server's locks, checkpointed and reset the WAL under the server's feet).

Every client counts its answers (any HTTP status) and, per id, the answers that said a valid
batch naming it succeeded (``<Succeeded>true</Succeeded>``). After the load the calls in flight
finish, the server stops, and the round compares:

(a) per id, the acknowledged updates with the row's ``updatedCount`` (every successful batch adds
    one to each id it names, once however often it names it; nothing else changes it);
(b) the answers with the tenant's rows in ``emulator_journal`` (every call, logins and refusals
    too, has exactly one, in the tenant its path names; nothing is trimmed at this journal size);
(c) SQLite: ``PRAGMA integrity_check`` is ``ok``;

and reports, as mismatches too, answers that are not what their request must get (a valid batch
that failed, a refusal that succeeded), requests that got no answer at all (their connection
broke: a worker died, say), connections refused (the server went away) and errors of the
outside reader. A request without an answer may or may not have been carried out, so it widens
what (a) and (b) accept by one for its ids and its journal row. The server's output from its
first error on is printed below a round's mismatches.

Options default to environment variables, which are also what ``python -m benchmarks stress``
reads: STRESS_ROUNDS (10), STRESS_WORKERS (``2``; a list such as ``1 2`` takes turns),
STRESS_SECONDS (20), STRESS_CLIENTS (50), STRESS_REQUEST_TIMEOUT (1), STRESS_POSTGRES_URL
(PostgreSQL instead of SQLite; ``--postgres`` alone takes EMULATOR_TEST_POSTGRES_URL),
STRESS_EMULATOR_SOURCE (serve the package of another source tree, e.g. an older commit's
worktree, with ``python -P -m <package>``; this tree's fixtures and schema check it).
Round ``i`` (from 0) has the outside reader when ``i`` is odd (SQLite) and the neighbour when
``i % 4`` is 2 or 3. The exit status is 1 when any round had a mismatch; the work folder
(databases, server logs) is then kept.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import common

TENANT = "default"
"""The tenant every request goes to (no tenant in the path)."""
SOPRINCIPAL = "/Remote/Services86/SoPrincipal.svc"
LOGIN_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": "http://www.superoffice.net/ws/crm/NetServer/Services86/SoPrincipal/AuthenticateUsernamePassword",
}
RITA_TICKET = "7T:Uml0YVJlYWRvbmx5VGlja2V0"
"""The read-only user's fixed ticket in the default fixtures: every update is a Sentry refusal."""
STATUSES = ("Unknown", "NotStarted", "Started", "Completed")
BATCH_SIZES = (1, 2, 5, 20)
SERVER_OPTIONS = ("--journal-size", "10000000")
CLIENT_TIMEOUT = 60.0
"""Seconds a client waits for an answer before it counts the request as unanswered."""


# -- the requests ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """One request of the mix, and the answer it must get."""

    kind: str
    path: str
    body: bytes
    headers: Mapping[str, str]
    status: int
    """The HTTP status the answer must have."""
    marker: bytes | None = None
    """Bytes the answer must contain, if any."""
    updates: frozenset[str] = frozenset()
    """The ids a success changes (a valid batch's); empty for every other request."""

    def answered_right(self, status: int, data: bytes) -> bool:
        return status == self.status and (self.marker is None or self.marker in data)


Build = Callable[[random.Random, Sequence[str]], Request]


def _batch(rng: random.Random, ids: Sequence[str]) -> list[str]:
    """1, 2, 5 or 20 ids drawn with replacement (a repeated id counts once)."""
    return rng.choices(ids, k=rng.choice(BATCH_SIZES))


def _with_ticket(identifiers: Sequence[str], ticket: str) -> bytes:
    """A batch of ``identifiers`` sent with ``ticket`` instead of the demo user's."""
    return common.soap_request(identifiers).replace(common.TICKET.encode(), ticket.encode())


def valid_batch(rng: random.Random, ids: Sequence[str]) -> Request:
    """The demo user (an administrator) sets one of the four statuses on fixture ids. Every success
    writes each id named, its old status the same or not: ``updatedCount = updatedCount + 1``."""
    identifiers = _batch(rng, ids)
    body = common.soap_request(identifiers, rng.choice(STATUSES))
    return Request(
        "valid batch",
        common.APPOINTMENT,
        body,
        common.HEADERS,
        200,
        common.SUCCEEDED,
        frozenset(identifiers),
    )


def truncated_xml(rng: random.Random, ids: Sequence[str]) -> Request:
    """A batch cut short: not well-formed XML, an HTTP 400 fault."""
    body = common.soap_request(_batch(rng, ids))
    cut = body[: rng.randint(10, len(body) - 20)]  # the envelope never closes
    return Request("truncated XML", common.APPOINTMENT, cut, common.HEADERS, 400, b"<faultcode>s:Client<")


def bogus_ticket(rng: random.Random, ids: Sequence[str]) -> Request:
    """A batch with a ticket nobody was given: ``SoSessionException``."""
    ticket = f"7T:NoSuchTicket{rng.getrandbits(48):x}"
    body = _with_ticket(_batch(rng, ids), ticket)
    return Request("bogus ticket", common.APPOINTMENT, body, common.HEADERS, 200, b"SoSessionException")


def read_only_user(rng: random.Random, ids: Sequence[str]) -> Request:
    """A batch of the read-only user rita: ``SoSentryException``, nothing changed."""
    body = _with_ticket(_batch(rng, ids), RITA_TICKET)
    return Request("read-only user", common.APPOINTMENT, body, common.HEADERS, 200, b"SoSentryException")


def unknown_status(rng: random.Random, ids: Sequence[str]) -> Request:
    """A batch with a status that is none of the four: WCF's ``DeserializationFailed`` (HTTP 500)."""
    body = common.soap_request(_batch(rng, ids), rng.choice(("Finished", "completed", "4", "")))
    return Request("unknown status", common.APPOINTMENT, body, common.HEADERS, 500, b"DeserializationFailed")


def nonexistent_ids(rng: random.Random, ids: Sequence[str]) -> Request:
    """Ids that exist beside one that does not: the call succeeds and changes none of them."""
    kind = rng.choice(("appointment_id", "sale_id", "document_id", "todo_id"))
    identifiers = [*rng.choices(ids, k=rng.choice((0, 1, 4))), f"{kind}={rng.randint(100_000, 2**31 - 1)}"]
    rng.shuffle(identifiers)
    body = common.soap_request(identifiers)
    return Request("nonexistent ids", common.APPOINTMENT, body, common.HEADERS, 200, common.SUCCEEDED)


def wrong_content_type(rng: random.Random, ids: Sequence[str]) -> Request:
    """A valid batch sent as something other than SOAP: HTTP 415."""
    content_type = rng.choice(("application/json", "text/plain", "application/octet-stream"))
    headers = {**common.HEADERS, "Content-Type": content_type}
    body = common.soap_request(_batch(rng, ids))
    return Request("wrong content type", common.APPOINTMENT, body, headers, 415)


def _login_body(user: str, password: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86">'
        f"<s:Header><t:ApplicationToken>{common.TOKEN}</t:ApplicationToken></s:Header>"
        f"<s:Body><t:AuthenticateUsernamePassword><t:UserName>{user}</t:UserName>"
        f"<t:Password>{password}</t:Password></t:AuthenticateUsernamePassword></s:Body></s:Envelope>"
    ).encode()


def login(rng: random.Random, ids: Sequence[str]) -> Request:
    """``AuthenticateUsernamePassword`` as demo/demo: a new ticket (a write)."""
    body = _login_body("demo", "demo")
    marker = b"<AuthenticationSucceeded>true<"
    return Request("login", SOPRINCIPAL, body, LOGIN_HEADERS, 200, marker)


def bad_login(rng: random.Random, ids: Sequence[str]) -> Request:
    """A wrong password, or a user that does not exist: ``AuthenticationSucceeded`` false."""
    user, password = rng.choice((("demo", "wrong"), ("sam", "demo"), ("nobody", "nobody")))
    marker = b"<AuthenticationSucceeded>false<"
    return Request("bad login", SOPRINCIPAL, _login_body(user, password), LOGIN_HEADERS, 200, marker)


MIX: tuple[tuple[Build, int], ...] = (
    (valid_batch, 57),
    (truncated_xml, 6),
    (bogus_ticket, 7),
    (read_only_user, 7),
    (unknown_status, 5),
    (nonexistent_ids, 7),
    (wrong_content_type, 6),
    (login, 2),  # a login verifies an Argon2 hash (about 20 ms of a CPU): a few go a long way
    (bad_login, 3),
)
"""Each kind of request and its weight (percent)."""


def fixture_ids() -> list[str]:
    """Every activity of the default fixtures that the demo user may update (``appointment_id=17``)."""
    from superoffice_emulator.settings import default_fixtures
    from superoffice_emulator.storage.fixtures import load_fixtures

    fixtures = load_fixtures(default_fixtures())
    denied = {(denial.kind, denial.record_id) for denial in fixtures.denials}
    return [
        f"{activity.kind.key}={activity.id}"
        for activity in fixtures.activities
        if (activity.kind, activity.id) not in denied
    ]


# -- the clients -----------------------------------------------------------------------------------
@dataclass
class Tally:
    """What clients were told."""

    answers: int = 0
    """Answers of any HTTP status."""
    unanswered: int = 0
    """Requests whose connection broke before a whole answer came (carried out or not)."""
    refused: int = 0
    """Connections refused (no server listening): their requests were never sent."""
    not_journaled: int = 0
    """Answers the HTTP server gave itself (408), which never reached the emulator."""
    acknowledged: Counter[str] = field(default_factory=Counter)
    """Per id: answers that said a batch naming it succeeded."""
    uncertain: Counter[str] = field(default_factory=Counter)
    """Per id: unanswered valid batches naming it."""
    sent: Counter[str] = field(default_factory=Counter)
    """Requests per kind."""
    wrong: Counter[str] = field(default_factory=Counter)
    """Per kind: answers that were not what the request must get."""
    examples: dict[str, str] = field(default_factory=dict)
    """Per kind: the first wrong answer (status and the end of its body)."""

    def record(self, request: Request, status: int, data: bytes) -> None:
        self.answers += 1
        if status == 408:
            self.not_journaled += 1
        if request.updates and common.SUCCEEDED in data:
            self.acknowledged.update(request.updates)
        if not request.answered_right(status, data):
            self.wrong[request.kind] += 1
            self.examples.setdefault(request.kind, f"HTTP {status}: {_gist(data)}")

    def add(self, other: Tally) -> None:
        self.answers += other.answers
        self.unanswered += other.unanswered
        self.refused += other.refused
        self.not_journaled += other.not_journaled
        self.acknowledged.update(other.acknowledged)
        self.uncertain.update(other.uncertain)
        self.sent.update(other.sent)
        self.wrong.update(other.wrong)
        for kind, example in other.examples.items():
            self.examples.setdefault(kind, example)


_GIST = re.compile(rb"<(ExceptionType|Message|faultstring|Succeeded)\b[^>]*>([^<]*)<")


def _gist(data: bytes) -> str:
    """What an answer says: its exception type and message, its fault string, or its end."""
    found = [f"{name.decode()}={text.decode(errors='replace')!r}" for name, text in _GIST.findall(data)]
    return "; ".join(found)[:600] if found else repr(data[-300:])


def _draw(rng: random.Random, ids: Sequence[str]) -> Request:
    builds, weights = zip(*MIX, strict=True)
    build: Build = rng.choices(builds, weights)[0]
    return build(rng, ids)


def client(port: int, until: float, rng: random.Random, ids: Sequence[str], tally: Tally) -> None:
    """Send requests of the mix on one keep-alive connection until ``until`` (``time.monotonic()``);
    the request in flight then is finished, its answer counted."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        while time.monotonic() < until:
            request = _draw(rng, ids)
            tally.sent[request.kind] += 1
            try:
                connection.request("POST", request.path, body=request.body, headers=dict(request.headers))
                answer = connection.getresponse()
                data = answer.read()
            except ConnectionRefusedError:  # nothing was sent: the server is down
                tally.refused += 1
                connection.close()
                time.sleep(0.01)
                continue
            except (OSError, http.client.HTTPException):
                tally.unanswered += 1
                tally.uncertain.update(request.updates)
                connection.close()  # the next request opens a new connection
                continue
            tally.record(request, answer.status, data)
            if answer.will_close:
                connection.close()
    finally:
        connection.close()


def load(port: int, clients: int, seconds: float, seed: int) -> tuple[Tally, float]:
    """``clients`` threads of :func:`client` for ``seconds``; their tally and the seconds it took."""
    ids = fixture_ids()
    tallies = [Tally() for _ in range(clients)]
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client, args=(port, until, random.Random(seed * 1000 + i), ids, tallies[i]))
        for i in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total, elapsed


# -- the neighbours -----------------------------------------------------------------------------
def _cpus() -> int:
    with contextlib.suppress(AttributeError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def cpu_hog(on: bool) -> Iterator[None]:
    """With ``on``, a busy loop in a process of its own on every CPU while the block runs."""
    processes = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(_cpus() if on else 0)
    ]
    try:
        yield
    finally:
        for process in processes:
            process.kill()
            process.wait()


READER = """
import random, select, sqlite3, sys
path, rng = sys.argv[1], random.Random(int(sys.argv[2]))
reads, errors = 0, []
while not select.select([sys.stdin], [], [], rng.uniform(0.005, 0.1))[0]:
    try:
        connection = sqlite3.connect(path, timeout=10)  # an ordinary read-write connection
        try:
            connection.execute("select count(*) from emulator_journal").fetchone()
        finally:
            connection.close()
        reads += 1
    except sqlite3.Error as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(reads)
for error in errors:
    print(error)
"""
"""The outside reader: until a line arrives on its stdin, opens the file, counts, closes, sleeps."""


@dataclass
class Reads:
    """What the outside reader did: how often it read, and the errors it got."""

    count: int = 0
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def outside_reader(database: Path | None, seed: int) -> Iterator[Reads]:
    """With a ``database`` file, the outside reader while the block runs; its :class:`Reads` are
    filled in when the block ends."""
    reads = Reads()
    if database is None:
        yield reads
        return
    process = subprocess.Popen(
        [sys.executable, "-c", READER, str(database), str(seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield reads
    finally:
        out, _ = process.communicate("stop\n", timeout=60)
        lines = out.splitlines()
        reads.count = int(lines[0]) if lines else 0
        reads.errors = lines[1:] if lines else [f"the outside reader exited with {process.returncode}"]


# -- the database ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """The round's database: its URL, and the SQLite file (``None`` on PostgreSQL)."""

    url: str
    file: Path | None

    @property
    def backend(self) -> str:
        return "sqlite" if self.file is not None else "postgresql"


@contextlib.contextmanager
def new_database(work: Path, name: str, postgres: str | None) -> Iterator[Target]:
    """A new SQLite file in ``work``; or, given a PostgreSQL server's URL (a user who may create
    databases), a new database there, dropped at the end (as ``tests/support/database.py`` does)."""
    if postgres is None:
        file = work / f"{name}.db"
        yield Target(f"sqlite:///{file}", file)
        return
    from sqlalchemy import create_engine

    from superoffice_emulator.storage.database import postgres_url

    admin = create_engine(postgres_url(postgres), isolation_level="AUTOCOMMIT")
    database = f"emulator_stress_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
        try:
            url = postgres_url(postgres).set(database=database).render_as_string(hide_password=False)
            yield Target(url, None)
        finally:
            with admin.connect() as connection:  # FORCE: whatever is still connected goes too
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        admin.dispose()


@dataclass
class Stored:
    """What the database holds after the round."""

    counters: dict[str, int]
    """Per id (``appointment_id=17``): the row's ``updatedCount``."""
    journal: dict[str, int]
    """Per tenant: its rows in ``emulator_journal``."""


def read_database(url: str) -> Stored:
    """The tenant's update counters and the journal's rows per tenant, read straight from the database."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.pool import NullPool

    from superoffice_emulator.storage import schema
    from superoffice_emulator.storage.sqlite import driver

    # SQLite through the emulator's own library: two copies of SQLite in a process miss each other's locks
    sqlite = {"module": driver} if url.startswith("sqlite:") else {}
    engine = create_engine(url, poolclass=NullPool, **sqlite)
    try:
        with engine.connect() as connection:
            counters: dict[str, int] = {}
            for kind, table in schema.activity_tables.items():
                query = select(table.c[kind.key], table.c.updatedCount).where(table.c.tenant == TENANT)
                counters.update({f"{kind.key}={row[0]}": int(row[1]) for row in connection.execute(query)})
            journal = schema.journal
            per_tenant = select(journal.c.tenant, func.count()).group_by(journal.c.tenant)
            rows = {str(row[0]): int(row[1]) for row in connection.execute(per_tenant)}
    finally:
        engine.dispose()
    return Stored(counters, rows)


def integrity(file: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file: ``ok``, or what is wrong."""
    from superoffice_emulator.storage.sqlite import driver

    connection = driver.connect(str(file))
    try:
        return "; ".join(str(row[0]) for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


# -- the comparisons ----------------------------------------------------------------------------
def compare_updates(tally: Tally, counters: Mapping[str, int]) -> list[str]:
    """(a) Per id: acknowledged updates against ``updatedCount`` (unanswered batches may have counted)."""
    mismatches = []
    for identifier in sorted(set(counters) | set(tally.acknowledged), key=_id_order):
        told, maybe = tally.acknowledged[identifier], tally.uncertain[identifier]
        stored = counters.get(identifier)
        if stored is None:
            mismatches.append(f"{identifier}: {told} acknowledged updates, but no row in the database")
        elif not told <= stored <= told + maybe:
            unanswered = f" (and {maybe} unanswered)" if maybe else ""
            what = "lost" if stored < told else "unacknowledged"
            mismatches.append(
                f"{identifier}: {told} acknowledged updates{unanswered}, updatedCount {stored} ({what})"
            )
    return mismatches


def _id_order(identifier: str) -> tuple[str, int]:
    key, _, number = identifier.partition("=")
    return key, int(number)


def compare_journal(tally: Tally, journal: Mapping[str, int]) -> list[str]:
    """(b) The tenant's journal rows against the answers (one each; unanswered requests may have one)."""
    expected = tally.answers - tally.not_journaled
    rows = journal.get(TENANT, 0)
    mismatches = []
    if not expected <= rows <= expected + tally.unanswered:
        unanswered = f" (and {tally.unanswered} unanswered requests)" if tally.unanswered else ""
        mismatches.append(f"journal: {rows} rows of tenant {TENANT}, {expected} answered calls{unanswered}")
    for tenant, count in sorted(journal.items()):
        if tenant != TENANT:
            mismatches.append(f"journal: {count} rows of tenant {tenant!r}, to which nothing was sent")
    return mismatches


def wrong_answers(tally: Tally) -> list[str]:
    """Answers that were not what their request must get (a valid batch that failed, and the like)."""
    return [
        f"{count} wrong answers to {kind}; the first: {tally.examples[kind]}"
        for kind, count in sorted(tally.wrong.items())
    ]


# -- a round ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundConfig:
    """How one round runs."""

    workers: int = 2
    clients: int = 50
    seconds: float = 20.0
    neighbour: bool = False
    """A busy loop on every CPU during the load."""
    reader: bool = False
    """The outside reader during the load (SQLite only)."""
    postgres: str | None = None
    """A PostgreSQL server's URL: the round's database is made there instead of a SQLite file."""
    request_timeout: float = 1.0
    """``serve --request-timeout``: each worker sweeps its descriptors every quarter of it (0.25 s
    at least). The clients never idle that long on a connection."""
    source: Path | None = None
    """Serve the package of this source tree instead of the installed one."""
    seed: int = 0


@dataclass
class RoundResult:
    """What a round did and found."""

    config: RoundConfig
    backend: str
    seconds: float
    """How long the load ran, from the first client's start to the last one's end."""
    answers: int
    unanswered: int
    acknowledged: int
    """Acknowledged updates (an id per successful batch naming it)."""
    updated_ids: int
    """Ids with at least one acknowledged update."""
    outside_reads: int
    mismatches: list[str]
    server_log: str
    """The server's output (a file in the work folder)."""
    server_errors: list[str] = field(default_factory=list)
    """The server's output from its first error or traceback on (some lines), if any."""

    @property
    def requests_per_second(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    def line(self, number: int) -> str:
        """One line of figures, as ``python -m benchmarks.stress`` prints it."""
        config = self.config
        reader = "-" if self.backend != "sqlite" else "y" if config.reader else "n"
        return (
            f"round {number:>3}  workers {config.workers}  {self.backend:<10}  "
            f"neighbour {'y' if config.neighbour else 'n'}  reader {reader}  "
            f"answers {self.answers:>7,}  {self.requests_per_second:>6,.0f} req/s  "
            f"updates {self.acknowledged:>7,}  unanswered {self.unanswered}  "
            f"mismatches {len(self.mismatches)}"
        )


def _serve_command(config: RoundConfig, url: str) -> Callable[[int], list[str]]:
    """``serve`` on the given port; from :attr:`RoundConfig.source` when set (``python -P``: the
    current folder is not put first on the path, so PYTHONPATH decides)."""
    cli = common.cli_command()
    prefix = [sys.executable, "-P", "-m", _package_in(config.source)] if config.source else cli
    options = [*SERVER_OPTIONS, "--request-timeout", f"{config.request_timeout:g}"]

    def command(port: int) -> list[str]:
        serve = common.server_argv(f"granian:{config.workers}", str(port), url)[len(cli) :]
        return [*prefix, *serve, *options]

    return command


def run_round(config: RoundConfig, work: Path, name: str = "stress") -> RoundResult:
    """One round: the server, the load (with the neighbour and the outside reader when asked),
    then the comparisons; files (the database, the server's log) go to ``work``."""
    env = {"PYTHONPATH": str(config.source)} if config.source else {}
    with new_database(work, name, config.postgres) as target:
        reader_file = target.file if config.reader else None
        server = common.Server(
            f"stress-{name}", target.url, work, argv=_serve_command(config, target.url), env=env
        )
        with server:
            server.wait("/")
            with cpu_hog(config.neighbour), outside_reader(reader_file, config.seed) as reads:
                tally, elapsed = load(server.port, config.clients, config.seconds, config.seed)
        mismatches = [*wrong_answers(tally), *(f"outside reader: {error}" for error in reads.errors)]
        if tally.unanswered:  # a worker that died, or shut a connection with a request on it
            mismatches.append(f"{tally.unanswered} requests got no answer (the connection broke)")
        if tally.refused:
            mismatches.append(f"{tally.refused} connections refused (the server stopped listening)")
        mismatches += _check_database(target, tally)
    return RoundResult(
        config,
        target.backend,
        elapsed,
        tally.answers,
        tally.unanswered,
        sum(tally.acknowledged.values()),
        len(tally.acknowledged),
        reads.count,
        mismatches,
        server._log.name,
        server_errors(Path(server._log.name)),
    )


_ERROR = re.compile(r"\bERROR\b|\bCRITICAL\b|^Traceback")
"""A line of the server's output that tells of a failure (granian's ``[ERROR] Unexpected exit
from worker-1`` among them)."""


def server_errors(log: Path, lines: int = 40) -> list[str]:
    """The server's output from its first ``ERROR`` line or traceback on, at most ``lines`` lines."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    first = next((i for i, line in enumerate(text) if _ERROR.search(line)), None)
    return [] if first is None else text[first : first + lines]


def _check_database(target: Target, tally: Tally) -> list[str]:
    """Comparisons (a), (b) and (c) on the stopped server's database."""
    from sqlalchemy.exc import SQLAlchemyError

    mismatches = []
    if target.file is not None:
        try:
            checked = integrity(target.file)
        except Exception as exc:  # the driver's DatabaseError: not a database, malformed
            checked = f"{type(exc).__name__}: {exc}"
        if checked != "ok":
            mismatches.append(f"integrity_check: {checked[:2000]}")
    try:
        stored = read_database(target.url)
    except SQLAlchemyError as exc:
        return [*mismatches, f"the database cannot be read: {exc}"]
    return [*compare_updates(tally, stored.counters), *compare_journal(tally, stored.journal), *mismatches]


# -- many rounds -----------------------------------------------------------------------------------
def plan(
    rounds: int,
    workers: Sequence[int],
    *,
    clients: int,
    seconds: float,
    postgres: str | None = None,
    source: Path | None = None,
    seed: int = 0,
    request_timeout: float = RoundConfig.request_timeout,
) -> list[RoundConfig]:
    """The rounds: the worker counts take turns; round ``i`` has the outside reader when ``i`` is
    odd (SQLite) and the CPU-hogging neighbour when ``i % 4`` is 2 or 3."""
    return [
        RoundConfig(
            workers=workers[index % len(workers)],
            clients=clients,
            seconds=seconds,
            neighbour=index % 4 >= 2,
            reader=index % 2 == 1 and postgres is None,
            postgres=postgres,
            source=source,
            seed=seed + index,
            request_timeout=request_timeout,
        )
        for index in range(rounds)
    ]


def run_rounds(configs: Sequence[RoundConfig], work: Path) -> list[RoundResult]:
    """Every round in turn, its line (and each mismatch) printed as it ends."""
    results = []
    for number, config in enumerate(configs, 1):
        result = run_round(config, work, f"round-{number}")
        results.append(result)
        print(result.line(number), flush=True)
        for mismatch in result.mismatches:
            print(f"    {mismatch}", flush=True)
        for line in result.server_errors:
            print(f"    server: {line}", flush=True)
    return results


def summary(results: Sequence[RoundResult]) -> str:
    bad = [number for number, result in enumerate(results, 1) if result.mismatches]
    answers = sum(result.answers for result in results)
    updates = sum(result.acknowledged for result in results)
    found = f"MISMATCHES in round {', '.join(map(str, bad))}" if bad else "no mismatches"
    return (
        f"{len(results)} rounds: {answers:,} answers, {updates:,} acknowledged updates, "
        f"{sum(result.outside_reads for result in results):,} outside reads; {found}"
    )


def section(table: common.Table, work: Path) -> None:
    """``python -m benchmarks stress``: the rounds the STRESS_* variables ask for, a row each."""
    configs = plan(
        int(os.environ.get("STRESS_ROUNDS", "10")),
        _workers(os.environ.get("STRESS_WORKERS", "2")),
        clients=int(os.environ.get("STRESS_CLIENTS", "50")),
        seconds=float(os.environ.get("STRESS_SECONDS", "20")),
        postgres=os.environ.get("STRESS_POSTGRES_URL") or None,
        source=_source(os.environ.get("STRESS_EMULATOR_SOURCE")),
        request_timeout=float(os.environ.get("STRESS_REQUEST_TIMEOUT", str(RoundConfig.request_timeout))),
    )
    results = []
    for number, config in enumerate(configs, 1):
        result = run_round(config, work, f"round-{number}")
        results.append(result)
        figures = result.line(number).split("  ", 1)[1]
        table.add("stress", f"round {number}", f"{len(result.mismatches)} mismatches", figures)
        for mismatch in result.mismatches:
            common.progress(f"    {mismatch}")
        for line in result.server_errors:
            common.progress(f"    server: {line}")
    table.add("stress", "summary", "", summary(results))
    if any(result.mismatches for result in results):
        raise RuntimeError(summary(results))


def _workers(text: str) -> list[int]:
    return [int(part) for part in text.replace(",", " ").split()]


def _package_in(source: Path) -> str:
    """The emulator's import package in ``source``: older trees call it ``emulator``."""
    return "superoffice_emulator" if (source / "superoffice_emulator").is_dir() else "emulator"


def _source(text: str | None) -> Path | None:
    return Path(text).resolve() if text else None


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stress",
        description="Acknowledged writes, the journal and the SQLite file against the answers, under load.",
    )
    parser.add_argument("--rounds", type=int, default=int(env("STRESS_ROUNDS", "10")))
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=_workers(env("STRESS_WORKERS", "2")),
        help="serve --workers of each round, taking turns (default: 2)",
    )
    parser.add_argument("--seconds", type=float, default=float(env("STRESS_SECONDS", "20")))
    parser.add_argument("--clients", type=int, default=int(env("STRESS_CLIENTS", "50")))
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=float(env("STRESS_REQUEST_TIMEOUT", str(RoundConfig.request_timeout))),
        help="serve --request-timeout (each worker sweeps its descriptors every quarter of it; default 1)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        default=env("STRESS_POSTGRES_URL") or None,
        metavar="URL",
        help="a PostgreSQL server (postgresql+psycopg://user@host/db); alone: $EMULATOR_TEST_POSTGRES_URL",
    )
    parser.add_argument(
        "--emulator-source",
        type=_source,
        default=_source(env("STRESS_EMULATOR_SOURCE")),
        metavar="DIR",
        help="serve the package of this source tree (an older commit's worktree)",
    )
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    parser.add_argument("--keep", action="store_true", help="keep the work folder whatever happens")
    options = parser.parse_args(argv)
    if options.postgres == "":  # --postgres without a URL
        options.postgres = env("EMULATOR_TEST_POSTGRES_URL") or parser.error(
            "--postgres without a URL needs EMULATOR_TEST_POSTGRES_URL"
        )
    configs = plan(
        options.rounds,
        options.workers,
        clients=options.clients,
        seconds=options.seconds,
        postgres=options.postgres,
        source=options.emulator_source,
        seed=options.seed,
        request_timeout=options.request_timeout,
    )
    work = common.work_dir()
    print(f"seed {options.seed}; work folder {work}", flush=True)
    results = run_rounds(configs, work)
    print(summary(results))
    failed = any(result.mismatches for result in results)
    if options.keep or failed:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
