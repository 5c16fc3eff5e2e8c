"""A measuring stick, not a second implementation: the floor of the emulator's design on this stack.

One straight-line RSGI app (``benchmarks.sketch:rsgi`` under ``granian --interface rsgi``) that
does, for a successful ``SetActivityStatus``, every check and every write the emulator's call does,
on the emulator's own database (``SKETCH_DB``, a SQLite file the emulator made), with no framework
in between: lxml parse, ``BEGIN IMMEDIATE``, the tenant's generation, the application token and
the ticket (held in dicts while the generation holds), one SELECT per kind for owner, group and
explicit denial, Sentry, one UPDATE per kind, the journal row, COMMIT, canned answer bytes.

Around the call it does what the emulator's server does for every request: the body read under a
timeout (408), a ``Content-Length`` over the cap refused (413), the cross-site checks of a POST
(``Sec-Fetch-Site``, ``Origin``) and the journal's check of its text columns for NUL characters and
length. What it leaves out is what a failed call needs (any refusal is a bare HTTP 500 naming it,
with no journal row and no ExceptionInfo), fault injection (a tenant with fault rules is refused),
other tenants and the path's routing, SOAP 1.2, the ``netserver`` contract and contract
warnings, access tokens and passwords, and the emulator's logging. ``SKETCH_CHECKPOINTS`` says
how the WAL is checkpointed: ``sqlite`` (the default: SQLite's own autocheckpoint, now and then
inside a commit), ``thread`` (a thread, as the emulator's) or ``off`` (never: for counting a
call's instructions alone). The ``# -- stage:`` comments mark the stages a timing script can split
the call into. Nothing here is used by the emulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from lxml import etree

from superoffice_emulator.soap import envelope

DB = os.environ.get("SKETCH_DB", "superoffice-emulator.db")
"""A database the emulator made (:func:`make_database`); read when granian imports this module."""
CHECKPOINTS = os.environ.get("SKETCH_CHECKPOINTS", "sqlite")
"""``sqlite``: SQLite's autocheckpoint, inside a commit now and then; ``thread``: the emulator's way;
``off``: none (the WAL only grows)."""
REQUEST_TIMEOUT, MAX_BODY_BYTES = 30.0, 1 << 20
"""The emulator's defaults for ``--request-timeout`` and ``--max-body-bytes``."""
TENANT = "default"
LIFETIME = timedelta(seconds=int(os.environ.get("SKETCH_TICKET_LIFETIME", "21600")))
TOUCH = timedelta(seconds=1)
JOURNAL_SIZE, TRIM_EVERY, BODY_BYTES = 1000, 50, 65536
STATUSES = {"Unknown": 0, "NotStarted": 1, "Started": 2, "Completed": 3}
KINDS = {f"{kind}_id": kind for kind in ("appointment", "sale", "document", "todo")}
S86 = "{http://www.superoffice.net/ws/crm/NetServer/Services86}"
ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
ITEM = "{http://schemas.microsoft.com/2003/10/Serialization/Arrays}string"
NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
ACTION = "http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"
_NS = 'xmlns="http://www.superoffice.net/ws/crm/NetServer/Services86"'
_NS_I = _NS + ' xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
ANSWER = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
    f"<ExceptionInfo {_NS_I}<ExtraInfo {_NS_I}<Succeeded {_NS}>true</Succeeded><TimeZone {_NS_I}"
    f"</s:Header><s:Body><SetActivityStatusResponse {_NS}/></s:Body></s:Envelope>"
).encode()
ANSWER_TEXT = ANSWER.decode()
HEADERS = [("content-type", "text/xml; charset=utf-8")]
TEXT = [("content-type", "text/plain; charset=utf-8")]
IDENTIFIER = re.compile(r"\s*([a-z_]+)\s*=\s*([+-]?\d+)\s*", re.ASCII)
USERS = (
    "SELECT ticket.ticket, associate.associate_id, associate.name, associate.group_id, role.rights,"
    " ticket.last_used, ticket.fixed FROM ticket JOIN (associate JOIN role"
    " ON role.tenant = associate.tenant AND role.role_id = associate.role_id)"
    " ON associate.tenant = ticket.tenant AND associate.associate_id = ticket.associate_id"
    " WHERE ticket.tenant = ?"
)
SELECT = (
    "SELECT {k}_id, associate_id, group_idx, EXISTS (SELECT * FROM sentry_denial WHERE"
    " sentry_denial.tenant = {k}.tenant AND sentry_denial.kind = ? AND sentry_denial.record_id = {k}_id"
    " AND (sentry_denial.associate_id IS NULL OR sentry_denial.associate_id = ?))"
    " FROM {k} WHERE {k}.tenant = ? AND {k}_id IN ({q})"
)
UPDATE = (
    'UPDATE {k} SET status=?, done=?, updated=?, updated_associate_id=?, "updatedCount"="updatedCount" + 1'
    " WHERE tenant = ? AND {k}_id IN ({q})"
)
JOURNAL = (
    "INSERT INTO emulator_journal (tenant, at, wire, service, operation, user, identifiers, status,"
    " outcome, exception_type, message, duration_ms, contract_warnings, request_body, response_body)"
    " VALUES (?, ?, 'soap', 'Appointment', 'SetActivityStatus', ?, ?, ?, ?, NULL, NULL, ?, '[]', ?, ?)"
)


class User(NamedTuple):
    associate_id: int
    name: str
    group_id: int
    rights: dict[str, list[int]]  # table -> [own, group, other], 2 = update


@dataclass
class Facts:
    """What is trusted while the tenant's generation holds: tokens, fixed tickets, no fault rules."""

    generation: int | None = None
    tokens: frozenset[str] = frozenset()
    tickets: dict[str, User] = field(default_factory=dict)
    faults: bool = False


def make_database(path: str) -> None:
    """Make the emulator's database at ``path``: its schema and the default tenant from the fixtures."""
    from superoffice_emulator.app import create_app
    from superoffice_emulator.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{path}", mode="online"))
    try:
        app.runtime.database.ensure_tenant(TENANT)
    finally:
        app.runtime.database.dispose()


class Refused(Exception):
    """A call the sketch does not carry through (the emulator would answer a failure)."""


facts = Facts()
_db: sqlite3.Connection | None = None
"""The calls' connection, opened by the first call rather than at import."""
identity = (0, 0)
writers = threading.Lock()
commits = 0
checkpointer: threading.Thread | None = None
parser = envelope._parser()  # the emulator's own settings: the same parse, not a copy of it
writes = 0


def open_database() -> sqlite3.Connection:
    """The calls' connection to ``SKETCH_DB``, with the emulator's PRAGMAs."""
    global _db, identity
    _db = db = sqlite3.connect(DB, isolation_level=None)
    for pragma in ("busy_timeout=30000", "journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    if CHECKPOINTS != "sqlite":
        db.execute("PRAGMA wal_autocheckpoint=0")
    stat = os.stat(DB)
    identity = (stat.st_dev, stat.st_ino)
    return db


def load(db: sqlite3.Connection, generation: int) -> None:
    """Read the tenant's tokens, fixed tickets and fault plan (inside the call's transaction)."""
    facts.generation = generation
    facts.tokens = frozenset(
        r[0] for r in db.execute("SELECT token FROM application_token WHERE tenant = ?", (TENANT,))
    )
    rows = db.execute(USERS + " AND ticket.fixed = 1", (TENANT,))
    facts.tickets = {r[0]: User(r[1], r[2], r[3], json.loads(r[4])) for r in rows}
    facts.faults = (
        db.execute("SELECT 1 FROM emulator_fault WHERE tenant = ?", (TENANT,)).fetchone() is not None
    )


def checkpoint() -> None:
    """As superoffice_emulator.storage.checkpoints: PASSIVE every 0.1 s after commits, RESTART past 1000
    frames."""
    connection = sqlite3.connect(f"file:{DB}?mode=rw", uri=True, isolation_level=None, timeout=1)
    connection.execute("PRAGMA cache_size=-64")
    done = 0
    while True:
        time.sleep(0.1)
        if commits != done:
            done = commits
            try:
                if connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1] > 1000:
                    with writers:
                        connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.Error as exc:  # said, not hidden: without checkpoints the figures change
                print(f"sketch: checkpoint failed: {exc}", file=sys.stderr)


def storable(value: str, limit: int | None) -> str:
    """As the journal's text columns take it: no NUL, at most ``limit`` characters."""
    if "\x00" in value or (limit is not None and len(value) > limit):
        value = value.replace("\x00", "")
        return value if limit is None else value[:limit]
    return value


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime text


def handle(body: bytes, content_type: str, action: str) -> bytes:
    """One SetActivityStatus call: the answer's bytes, or :class:`Refused`."""
    global writes, commits, checkpointer
    started = time.perf_counter()
    db = _db if _db is not None else open_database()
    # -- stage: parse
    if content_type.partition(";")[0].strip().lower() != "text/xml":
        raise Refused("content type")
    action = action.strip().strip('"')
    if action and action != ACTION:
        raise Refused("SOAPAction")
    root = etree.fromstring(body, parser)
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or root.tag != ENV + "Envelope":
        raise Refused("not a SOAP 1.1 envelope")
    header = envelope_body = None
    for child in root:
        if child.tag == ENV + "Body" and envelope_body is None:
            envelope_body = child
        elif child.tag == ENV + "Header" and header is None:
            header = child
    operation = (
        next((c for c in envelope_body if isinstance(c.tag, str)), None)
        if envelope_body is not None
        else None
    )
    if operation is None or operation.tag != S86 + "SetActivityStatus":
        raise Refused("no SetActivityStatus")
    token = ticket = None
    for child in header if header is not None else ():
        if child.tag == S86 + "ApplicationToken":
            token = (child.text or "").strip()
        elif child.tag == S86 + "Credentials":
            found = next(child.iterchildren(S86 + "Ticket"), None)
            ticket = None if found is None else (found.text or "").strip()
    array = next(operation.iterchildren(S86 + "ActivityIdentifier"), None)
    texts = [] if array is None or array.get(NIL) in ("true", "1") else list(array.iterchildren(ITEM))
    identifiers = [None if e.get(NIL) in ("true", "1") else (e.text or "") for e in texts]
    element = next(operation.iterchildren(S86 + "ActivityStatus"), None)
    status_name = "Unknown" if element is None else (element.text or "").strip()
    status = STATUSES.get(status_name)
    if status is None:
        raise Refused("ActivityStatus")
    # -- stage: begin
    stat = os.stat(DB)
    if (stat.st_dev, stat.st_ino) != identity:
        raise Refused("the database file was replaced")
    now = datetime.now(UTC).replace(tzinfo=None)
    at = stamp(now)
    writers.acquire()
    try:
        db.execute("BEGIN IMMEDIATE")
        # -- stage: generation
        row = db.execute("SELECT generation FROM emulator_tenant WHERE tenant = ?", (TENANT,)).fetchone()
        if row is None:
            raise Refused("no tenant")
        if row[0] != facts.generation:
            load(db, row[0])
        if facts.faults:
            raise Refused("fault rules")
        # -- stage: token and ticket
        if not token or token not in facts.tokens:
            raise Refused("application token")
        if not ticket:
            raise Refused("no ticket")
        user = facts.tickets.get(ticket)
        if user is None:  # a login's ticket: read each time, expires, touched once a second at most
            found = db.execute(USERS + " AND ticket.ticket = ?", (TENANT, ticket)).fetchone()
            if found is None:
                raise Refused("unknown ticket")
            user = User(found[1], found[2], found[3], json.loads(found[4]))
            if not found[6]:
                idle = now - datetime.fromisoformat(found[5])
                if idle > LIFETIME:
                    raise Refused("expired ticket")
                if idle >= TOUCH:
                    db.execute(
                        "UPDATE ticket SET last_used=? WHERE tenant = ? AND ticket = ?",
                        (at, TENANT, ticket),
                    )
        # -- stage: select
        parsed: list[tuple[str, int] | None] = []
        wanted: dict[str, dict[int, None]] = {}
        for text in identifiers:
            match = None if text is None else IDENTIFIER.fullmatch(text)
            kind = None if match is None else KINDS.get(match.group(1))
            if match is None or kind is None or len(digits := match.group(2).lstrip("+-").lstrip("0")) > 10:
                parsed.append(None)
                continue
            number = -int(digits or "0") if match.group(2).startswith("-") else int(digits or "0")
            if not -(2**31) <= number < 2**31:
                parsed.append(None)
                continue
            parsed.append((kind, number))
            wanted.setdefault(kind, {})[number] = None  # a dict: the ids in order, once each
        records: dict[tuple[str, int], tuple[int, int, int]] = {}
        for kind, ids in wanted.items():
            sql = SELECT.format(k=kind, q=", ".join("?" * len(ids)))
            for rid, owner, group, denied in db.execute(sql, (kind, user.associate_id, TENANT, *ids)):
                records[kind, rid] = (owner, group, denied)
        outcome = "ok"
        for activity in parsed:
            if activity is None or (record := records.get(activity)) is None:
                outcome = "no change"  # invalid or missing: NetServer changes nothing and succeeds
                break
            owner, group, denied = record
            rights = user.rights.get(activity[0])
            relation = 0 if owner == user.associate_id else 1 if group == user.group_id else 2
            if denied or rights is None or rights[relation] < 2:
                raise Refused(f"Sentry denies {activity}")
        # -- stage: update
        if outcome == "ok":
            done = at if status == 3 else None
            for kind, ids in wanted.items():
                sql = UPDATE.format(k=kind, q=", ".join("?" * len(ids)))
                db.execute(sql, (status, done, at, user.associate_id, TENANT, *ids))
        # -- stage: journal
        request_text = body[:BODY_BYTES].decode("utf-8", "replace")
        if len(body) > BODY_BYTES:
            request_text += f"\n[cut: {len(body)} bytes in all]"
        duration_ms = (time.perf_counter() - started) * 1000
        texts = [storable(user.name, 100), storable(status_name, 20), storable(outcome, 40)]
        db.execute(
            JOURNAL,
            (TENANT, at, texts[0], json.dumps(identifiers), texts[1], texts[2], duration_ms,
             storable(request_text, None), storable(ANSWER_TEXT, None)),
        )  # fmt: skip
        writes += 1
        if writes % TRIM_EVERY == 0:
            floor = db.execute(
                "SELECT id FROM emulator_journal WHERE tenant = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                (TENANT, JOURNAL_SIZE),
            ).fetchone()
            if floor is not None:
                db.execute("DELETE FROM emulator_journal WHERE tenant = ? AND id <= ?", (TENANT, floor[0]))
        # -- stage: commit
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        writers.release()
    commits += 1
    if checkpointer is None and CHECKPOINTS == "thread":
        checkpointer = threading.Thread(target=checkpoint, daemon=True)
        checkpointer.start()
    # -- stage: end
    return ANSWER


async def rsgi(scope: Any, proto: Any) -> None:
    """granian's RSGI entry: POST anywhere is the call; GET answers that the sketch is up."""
    if scope.proto != "http":
        return
    if scope.method != "POST":
        proto.response_bytes(200, TEXT, b"sketch: POST a SetActivityStatus\n")
        return
    headers = scope.headers
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        proto.response_bytes(413, TEXT, b"The request body is too large.\n")
        return
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site" or headers.get("origin"):
        proto.response_bytes(403, TEXT, b"Refused: a page on another site.\n")  # the emulator asks more
        return
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            body = await proto()
    except TimeoutError:
        proto.response_bytes(408, TEXT, b"The request body did not arrive in time.\n")
        return
    try:
        answer = handle(body, headers.get("content-type", ""), headers.get("soapaction", ""))
    except Exception as exc:  # a refusal, unreadable XML, a database error: 500 naming it
        proto.response_bytes(500, TEXT, f"sketch refuses: {type(exc).__name__}: {exc}\n".encode())
        return
    proto.response_bytes(200, HEADERS, answer)
