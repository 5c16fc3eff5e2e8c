"""Fuzzing SetActivityStatus in-process: generated batches against a model, and mutated envelopes.

Two properties, each over a bounded number of hypothesis examples:

- *generated* requests (identifiers from a grammar that mixes valid and invalid ones, statuses,
  tickets, both SOAP versions) get exactly the answer and the write a small model of contract
  the identifier rules and Sentry predict;
- *mutated* envelopes (byte flips, truncation, insertions, renamed or duplicated elements, swapped
  namespaces, other encodings) never get a stack trace or an internal error, and the database
  is either unchanged or changed exactly as the call's own journal entry says: every record it
  names gets the status and the bookkeeping once, never a part of them.

The model (identifier grammar, Sentry, row checks) is in ``tests/support/model.py``; the
concurrency and crash tests use it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.settings import Settings
from tests.support.clock import FakeClock
from tests.support.database import database_url, query, query_dicts
from tests.support.model import (
    KINDS,
    STATUSES,
    XML_SPACE,
    Model,
    assert_change,
    parse_identifier,
    read_rows,
    stamp,
)
from tests.support.soap import (
    APPOINTMENT,
    DEMO_TICKET,
    RITA_TICKET,
    SAM_TICKET,
    SOAP11,
    SOAP12,
    TOKEN,
    Answer,
)

WCF_SENDER_CODES = ("a:DeserializationFailed", "a:ActionNotSupported")
"""WCF's dispatcher codes of a request the sender must fix (the SOAP 1.1 faultcode)."""
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
S86 = "http://www.superoffice.net/ws/crm/NetServer/Services86"
ACTION = f"{S86}/Appointment/SetActivityStatus"


# -- requests -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    identifiers: list[str | None] | None
    status: str | None
    ticket: str | None
    version: str = "1.1"
    in_header: bool = True

    def body(self) -> bytes:
        env = SOAP11 if self.version == "1.1" else SOAP12
        head = f"<t:ApplicationToken>{TOKEN}</t:ApplicationToken>"
        if self.ticket is not None:
            head += f"<t:Credentials><t:Ticket>{escape(self.ticket)}</t:Ticket></t:Credentials>"
        if self.in_header:
            head = f"<s:Header>{head}</s:Header>"
        array = ""
        if self.identifiers is not None:
            items = "".join(
                '<a:string xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
                if i is None
                else f"<a:string>{escape(i)}</a:string>"
                for i in self.identifiers
            )
            array = f"<t:ActivityIdentifier>{items}</t:ActivityIdentifier>"
        status = "" if self.status is None else f"<t:ActivityStatus>{escape(self.status)}</t:ActivityStatus>"
        return (
            f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{env}" xmlns:a="{ARRAYS}" '
            f'xmlns:t="{S86}">{head}<s:Body><t:SetActivityStatus>{array}{status}</t:SetActivityStatus>'
            "</s:Body></s:Envelope>"
        ).encode()

    def headers(self) -> dict[str, str]:
        if self.version == "1.1":
            return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}
        return {"Content-Type": "application/soap+xml; charset=utf-8"}


_xml_chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn"))
_space = st.text(alphabet=XML_SPACE, max_size=2)
_number = st.one_of(
    st.integers(-2, 70).map(str),
    st.integers(-2, 70).map(str),
    st.sampled_from(
        ["666", "99", "13", "2147483647", "2147483648", "-2147483648", "-2147483649", "+5", "-0", "007"]
    ),
    st.integers(0, 10**40).map(str),
    st.integers(4200, 4400).map(lambda n: "9" * n),  # around Python's int-from-string limit
    st.integers(4200, 4400).map(lambda n: "0" * n + "5"),
    st.text(alphabet="0123456789\u0661\uff11_.eEx-+ ", min_size=1, max_size=6),
)
_key = st.one_of(
    st.sampled_from([f"{k}_id" for k in KINDS]),
    st.sampled_from([f"{k}_id" for k in KINDS]),
    st.sampled_from(["Todo_id", "todo", "meeting_id", "", "sale_id_", "_id", "todo_ID", "todo\u00a0_id"]),
)
_separator = st.sampled_from(["=", "=", "=", "=", "==", ":", "\uff1d", ""])
_identifier_like = st.builds(
    lambda a, key, b, sep, c, number, d: f"{a}{key}{b}{sep}{c}{number}{d}",
    _space,
    _key,
    _space,
    _separator,
    _space,
    _number,
    _space,
)
identifiers = st.one_of(
    _identifier_like,
    _identifier_like,
    _identifier_like,
    st.none(),
    st.text(alphabet=_xml_chars, max_size=20),
    st.lists(_identifier_like, min_size=2, max_size=3).map(";".join),
)
statuses = st.one_of(
    st.none(),
    st.builds(lambda a, s, b: a + s + b, _space, st.sampled_from(STATUSES), _space),
    st.sampled_from(["completed", "3", "", "Complete", "COMPLETED", "Started Completed"]),
    st.text(alphabet=_xml_chars, max_size=12).filter(lambda s: s.strip() not in STATUSES),
)
tickets = st.sampled_from(
    [
        DEMO_TICKET,
        DEMO_TICKET,
        SAM_TICKET,
        RITA_TICKET,
        None,
        "",
        "7T:nope",
        DEMO_TICKET + "x",
        f" {DEMO_TICKET}\n",
    ]
)
cases = st.builds(
    Case,
    identifiers=st.one_of(st.none(), st.lists(identifiers, max_size=8)),
    status=statuses,
    ticket=tickets,
    version=st.sampled_from(["1.1", "1.2"]),
    in_header=st.booleans(),
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Fuzzed:
    """One emulator for a whole hypothesis run; the data carries over from example to example."""

    app: EmulatorApp
    client: Client
    db_path: Path
    clock: FakeClock
    model: Model

    def tick(self) -> str:
        self.clock.advance(seconds=1)
        return stamp(self.clock.now)

    def last_journal_id(self) -> int:
        return int(query(self.db_path, "SELECT coalesce(max(id), 0) FROM emulator_journal")[0][0])

    def journal_after(self, last_id: int) -> list[dict[str, Any]]:
        sql = "SELECT * FROM emulator_journal WHERE id > :last ORDER BY id"
        return query_dicts(self.db_path, sql, last=last_id)


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Fuzzed]:
    db_path = tmp_path / "fuzz.db"
    clock = FakeClock()
    app = create_app(Settings(database_url=database_url(db_path)), clock=clock)
    try:
        app.runtime.database.ensure_tenant("default")
        yield Fuzzed(app, Client(app), db_path, clock, Model(db_path))
    finally:
        app.runtime.database.dispose()


def assert_no_trace(data: bytes) -> None:
    assert b"Traceback" not in data and b'File "/' not in data, data[:500]


# -- generated requests against the model ---------------------------------------------------------
@FUZZ
@given(case=cases)
@example(case=Case(["todo_id=2", "todo_id=" + "9" * 5000], "Completed", DEMO_TICKET))
@example(case=Case(["todo_id=" + "0" * 5000 + "3"], "Started", DEMO_TICKET))
@example(case=Case(["sale_id=12", "sale_id=13"], "Completed", DEMO_TICKET))
@example(case=Case(["appointment_id=99"], "Completed", SAM_TICKET))
@example(case=Case(["todo_id=1"], "Completed", RITA_TICKET))
def test_generated_batches_do_what_the_model_says(fuzzed: Fuzzed, case: Case) -> None:
    at = fuzzed.tick()
    before = read_rows(fuzzed.db_path)
    expected = fuzzed.model.expect(before, case.ticket, case.identifiers, case.status)
    response = fuzzed.client.post(APPOINTMENT, data=case.body(), headers=case.headers())
    assert_no_trace(response.data)
    answer = Answer(response.status_code, response.data)
    after = read_rows(fuzzed.db_path)
    if expected.kind == "fault":
        assert answer.status == 500 and answer.fault is not None
        assert "ActivityStatus" in answer.fault_text
    elif expected.kind in ("session", "sentry"):
        assert (answer.status, answer.succeeded, answer.fault) == (200, False, None), response.data[:600]
        name = "SoSessionException" if expected.kind == "session" else "SoSentryException"
        assert answer.info["ExceptionType"] == f"SuperOffice.Exceptions.{name}"
    else:
        assert (answer.status, answer.succeeded, answer.fault) == (200, True, None), response.data[:600]
    if expected.kind == "apply":
        assert_change(before, after, expected.keys, expected.status, expected.user, at)
    else:
        assert after == before


# -- mutated envelopes ----------------------------------------------------------------------------
TAGS = [
    "s:Envelope",
    "s:Header",
    "s:Body",
    "t:SetActivityStatus",
    "t:ActivityIdentifier",
    "a:string",
    "t:ActivityStatus",
    "t:Credentials",
    "t:Ticket",
    "t:ApplicationToken",
]
NAMESPACES = [SOAP11, SOAP12, ARRAYS, S86, "urn:x"]


def _position(data: bytes, fraction: float) -> int:
    return min(len(data), int(fraction * (len(data) + 1)))


def _element_span(data: bytes, tag: str, nth: int) -> tuple[int, int] | None:
    pattern = re.compile(
        rb"<%s(?:\s[^>]*)?(?:/>|>.*?</%s>)" % (re.escape(tag.encode()), re.escape(tag.encode())), re.S
    )
    spans = [m.span() for m in pattern.finditer(data)]
    return spans[nth % len(spans)] if spans else None


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    kind = draw(
        st.sampled_from(
            ["flip", "truncate", "insert", "delete", "rename", "duplicate", "namespace", "recode"]
        )
    )
    fraction = st.floats(0, 1)
    if kind == "flip":
        return kind, (draw(fraction), draw(st.integers(1, 255)))
    if kind == "truncate":
        return kind, (draw(fraction),)
    if kind == "insert":
        junk = st.binary(max_size=6) | st.sampled_from(
            [
                b"<",
                b">",
                b"&",
                b"&amp;",
                b"]]>",
                b"<x>",
                b"</a:string>",
                b"\xff",
                b"\x00",
                b"<!--",
                b"<![CDATA[",
                b'"',
            ]
        )
        return kind, (draw(fraction), draw(junk))
    if kind == "delete":
        return kind, (draw(fraction), draw(st.integers(1, 40)))
    if kind == "rename":
        new = st.sampled_from(TAGS) | st.from_regex(r"[a-z]{1,3}:[A-Za-z]{1,12}", fullmatch=True)
        return kind, (draw(st.sampled_from(TAGS)), draw(st.integers(0, 20)), draw(new))
    if kind == "duplicate":
        return kind, (draw(st.sampled_from(TAGS)), draw(st.integers(0, 20)))
    if kind == "namespace":
        return kind, (draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(NAMESPACES)))
    return kind, (draw(st.sampled_from(["utf-16", "utf-16-be", "iso-8859-1", "utf-8-sig"])),)


def mutate(data: bytes, mutation: tuple[str, tuple[Any, ...]]) -> bytes:
    kind, args = mutation
    if kind == "flip":
        i = _position(data, args[0])
        return data[:i] + bytes([data[i] ^ args[1]]) + data[i + 1 :] if i < len(data) else data
    if kind == "truncate":
        return data[: _position(data, args[0])]
    if kind == "insert":
        i, inserted = _position(data, args[0]), bytes(args[1])
        return data[:i] + inserted + data[i:]
    if kind == "delete":
        i = _position(data, args[0])
        return data[:i] + data[i + args[1] :]
    if kind == "rename":
        tag, nth, new = str(args[0]), int(args[1]), str(args[2])
        places = [m.start() for m in re.finditer(re.escape(tag.encode()), data)]
        if not places:
            return data
        i = places[nth % len(places)]
        return data[:i] + new.encode() + data[i + len(tag) :]
    if kind == "duplicate":
        span = _element_span(data, args[0], args[1])
        return data if span is None else data[: span[1]] + data[span[0] : span[1]] + data[span[1] :]
    if kind == "namespace":
        return data.replace(args[0].encode(), args[1].encode(), 1)
    encoding = args[0]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    name = {"utf-8-sig": "utf-8", "utf-16-be": "utf-16"}.get(encoding, encoding)
    text = text.replace('encoding="utf-8"', f'encoding="{name}"', 1)
    try:
        encoded = text.encode(encoding)
    except UnicodeEncodeError:
        return data
    return (b"\xfe\xff" if encoding == "utf-16-be" else b"") + encoded


header_variants = st.sampled_from(
    [
        None,  # the case's own headers
        None,
        {"Content-Type": "text/xml; charset=utf-8"},
        {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:wrong"'},
        {"Content-Type": 'application/soap+xml; charset=utf-8; action="urn:wrong"'},
        {"Content-Type": "text/plain", "SOAPAction": f'"{ACTION}"'},
        {"SOAPAction": f'"{ACTION}"'},
        {"Content-Type": "text/xml; charset=utf-16", "SOAPAction": ""},
    ]
)


@FUZZ
@given(case=cases, changes=st.lists(mutations(), min_size=1, max_size=3), headers=header_variants)
def test_mutated_envelopes_never_crash_and_never_write_in_part(
    fuzzed: Fuzzed, case: Case, changes: list[tuple[str, tuple[Any, ...]]], headers: dict[str, str] | None
) -> None:
    body = case.body()
    for change in changes:
        body = mutate(body, change)
    at = fuzzed.tick()
    before = read_rows(fuzzed.db_path)
    last = fuzzed.last_journal_id()
    response = fuzzed.client.post(APPOINTMENT, data=body, headers=headers or case.headers())
    assert_no_trace(response.data)
    status = response.status_code
    assert status in (200, 400, 415, 500), (status, response.data[:300])
    answer = Answer(status, response.data)  # every answer is a SOAP envelope
    if status != 200:
        assert answer.fault is not None, response.data[:500]
    if answer.fault is not None:
        assert "Internal error" not in answer.fault_text, answer.fault_text
        # the sender's code: s:Client (SOAP 1.1; WCF's dispatcher codes a:... stand for it) or s:Sender (1.2)
        code = answer.fault.findtext("faultcode") or answer.fault.findtext(
            f"{{{SOAP12}}}Code/{{{SOAP12}}}Value"
        )
        assert code in ("s:Client", "s:Sender", *WCF_SENDER_CODES), answer.fault_text
    else:
        assert status == 200 and answer.succeeded is not None
    after = read_rows(fuzzed.db_path)
    journal = fuzzed.journal_after(last)
    assert len(journal) == 1, journal
    entry = journal[0]
    named = json.loads(entry["identifiers"])
    if answer.succeeded is True and entry["outcome"] == "ok" and named:
        keys = [parse_identifier(text) for text in named]
        assert None not in keys, f"the emulator applied identifiers the grammar refuses: {named!r}"
        assert all(key in before for key in keys)
        user = fuzzed.model.by_name[entry["user"]]
        assert_change(
            before, after, frozenset(k for k in keys if k), STATUSES.index(entry["status"]), user, at
        )
    else:
        assert after == before, f"changed without a successful call: {entry}"
