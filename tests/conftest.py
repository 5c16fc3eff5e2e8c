"""Shared fixtures: a fresh SQLite file per test, the app in-process, a live server, a movable clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from emulator.app import EmulatorApp, create_app
from emulator.settings import Settings
from emulator.testing import LiveServer

DATA = Path(__file__).parent / "data"
APPOINTMENT = "/Remote/Services86/Appointment.svc"
SOPRINCIPAL = "/Remote/Services86/SoPrincipal.svc"
DEMO_TICKET = "7T:1234abcxyzExample=="
SAM_TICKET = "7T:U2FtU2FsZXNyZXBUaWNrZXQ="
RITA_TICKET = "7T:Uml0YVJlYWRvbmx5VGlja2V0"
TOKEN = "1234567-1234-9876"


class FakeClock:
    """A clock the test moves by hand: never sleep to test expiry."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{db_path}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[EmulatorApp]:
    application = create_app(settings, clock=clock)
    yield application
    application.runtime.database.dispose()


@pytest.fixture
def client(app: EmulatorApp) -> Client:
    return Client(app)


@pytest.fixture
def live(settings: Settings, clock: FakeClock) -> Iterator[LiveServer]:
    with LiveServer(settings, clock=clock) as server:
        yield server


def read_row(db_path: Path, kind: str, activity_id: int, tenant: str = "default") -> dict[str, Any]:
    """One activity row, read straight from the SQLite file (not through the emulator)."""
    with sqlite3.connect(db_path) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            f"SELECT * FROM {kind} WHERE tenant = ? AND {kind}_id = ?", (tenant, activity_id)
        ).fetchone()
    assert row is not None, f"{kind}_id={activity_id} is not in {db_path}"
    return dict(row)


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every activity row of the file, to prove that nothing changed."""
    with sqlite3.connect(db_path) as connection:
        return {
            kind: connection.execute(f"SELECT * FROM {kind} ORDER BY tenant, {kind}_id").fetchall()
            for kind in ("appointment", "sale", "document", "todo")
        }


def envelope(
    identifiers: list[str | None] | None,
    status: str | None = "Completed",
    *,
    ticket: str | None = DEMO_TICKET,
    token: str | None = TOKEN,
    version: str = "1.1",
    headers_in_header: bool = True,
) -> bytes:
    """A SetActivityStatus request, written by hand as a client would send it."""
    env = (
        "http://schemas.xmlsoap.org/soap/envelope/"
        if version == "1.1"
        else "http://www.w3.org/2003/05/soap-envelope"
    )
    head = ""
    if token is not None:
        head += f"<t:ApplicationToken>{token}</t:ApplicationToken>"
    if ticket is not None:
        head += f"<t:Credentials><t:Ticket>{ticket}</t:Ticket></t:Credentials>"
    if headers_in_header:
        head = f"<s:Header>{head}</s:Header>"
    array = ""
    if identifiers is not None:
        items = "".join(
            '<a:string xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
            if i is None
            else f"<a:string>{i}</a:string>"
            for i in identifiers
        )
        array = f"<t:ActivityIdentifier>{items}</t:ActivityIdentifier>"
    status_xml = "" if status is None else f"<t:ActivityStatus>{status}</t:ActivityStatus>"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{env}" '
        'xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86">'
        f"{head}<s:Body><t:SetActivityStatus>{array}{status_xml}</t:SetActivityStatus></s:Body>"
        "</s:Envelope>"
    ).encode()


SOAP11_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"',
}
SOAP12_HEADERS = {"Content-Type": "application/soap+xml; charset=utf-8"}

S86 = "{http://www.superoffice.net/ws/crm/NetServer/Services86}"


class Answer:
    """A SOAP answer taken apart: ``Succeeded``, ``ExceptionInfo`` fields, Body, Fault."""

    def __init__(self, status: int, body: bytes) -> None:
        from lxml import etree

        self.status = status
        self.root = etree.fromstring(body)
        self.envelope_ns = etree.QName(self.root).namespace
        env = "{" + str(self.envelope_ns) + "}"
        succeeded = self.root.find(f"{env}Header/{S86}Succeeded")
        self.succeeded = None if succeeded is None else succeeded.text == "true"
        info = self.root.find(f"{env}Header/{S86}ExceptionInfo")
        if info is None:
            info = self.root.find(f".//{S86}ExceptionInfo")
        self.info: dict[str, str | None] = {}
        self.parameters: dict[str, str | None] = {}
        if info is not None:
            self.info = {etree.QName(c).localname: c.text for c in info if c.tag != f"{S86}Parameters"}
            for pair in info.iterfind(f"{S86}Parameters/{S86}SoExceptionInfoParametersKeyValuePair"):
                self.parameters[pair.findtext(f"{S86}Key") or ""] = pair.findtext(f"{S86}Value")
        body = self.root.find(f"{env}Body")
        assert body is not None
        self.body = body[0] if len(body) else None
        self.fault = self.root.find(f"{env}Body/{env}Fault")

    @property
    def fault_text(self) -> str:
        assert self.fault is not None, "expected a SOAP Fault"
        return " ".join(t.strip() for t in self.fault.itertext() if t.strip())
