"""Hostile input: entities, DTDs, bombs, size limits, nesting, bad XML, bad headers, bad encodings.

Every request here gets a proper SOAP Fault or HTTP error that says what is wrong, never a stack
trace; nothing is read from a file or the network; the data is unchanged; and the emulator
answers a good request afterwards.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import database_url, read_row, snapshot
from tests.support.http import chunked_post
from tests.support.http import free_port as closed_port
from tests.support.soap import (
    APPOINTMENT,
    DEMO_TICKET,
    SOAP11,
    SOAP11_HEADERS,
    SOAP12,
    SOAP12_HEADERS,
    Answer,
    envelope,
    post,
)

GOOD = envelope(["todo_id=1"], "Completed")
GOOD_WITHOUT_DECLARATION = GOOD.split(b"?>", 1)[1]
LIMIT = 4096
"""A small body limit for the size tests, so that they stay fast."""


def body_with(identifier: bytes) -> bytes:
    """The good envelope with ``identifier`` (raw bytes) in place of ``todo_id=1``."""
    return GOOD.replace(b"todo_id=1", identifier)


def with_doctype(doctype: bytes, identifier: bytes = b"todo_id=1") -> bytes:
    return b'<?xml version="1.0"?>' + doctype + GOOD_WITHOUT_DECLARATION.replace(b"todo_id=1", identifier)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database for the module: every test proves it left the data as it found it."""
    return tmp_path_factory.mktemp("hostile") / "crm.db"


@pytest.fixture(scope="module")
def app(db_path: Path) -> Iterator[EmulatorApp]:
    application = create_app(Settings(database_url=database_url(db_path)), clock=FakeClock())
    yield application
    application.runtime.database.dispose()


@pytest.fixture(scope="module")
def client(app: EmulatorApp) -> Client:
    return Client(app)


@pytest.fixture
def before(app: EmulatorApp, db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The default tenant created and its data taken, before any hostile request."""
    app.runtime.database.ensure_tenant("default")
    return snapshot(db_path)


def assert_no_trace(data: bytes) -> None:
    for leak in (b"Traceback", b'File "/', b'.py", line', b"lxml.etree", b"sqlalchemy"):
        assert leak not in data, f"{leak!r} leaked into the answer: {data[:500]!r}"


def assert_fault(
    status: int, data: bytes, expected_status: int, *words: str, version: str = "1.1", code: str | None = None
) -> Answer:
    """A SOAP Fault in ``version``, HTTP ``expected_status``, naming ``words``; client code or ``code``."""
    assert_no_trace(data)
    assert status == expected_status, data[:500]
    answer = Answer(status, data)
    assert answer.envelope_ns == (SOAP11 if version == "1.1" else SOAP12)
    assert answer.fault is not None, data[:500]
    text = answer.fault_text
    assert (code or ("s:Client" if version == "1.1" else "s:Sender")) in text, text
    for word in words:
        assert word.lower() in text.lower(), f"{word!r} not in fault {text!r}"
    return answer


def assert_unharmed(client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]]) -> None:
    """The data is as it was, and a good request is still answered and applied."""
    assert snapshot(db_path) == before
    count = read_row(db_path, "todo", 1)["updatedCount"]
    response = post(client, GOOD)
    answer = Answer(response.status_code, response.data)
    assert answer.status == 200 and answer.succeeded is True
    row = read_row(db_path, "todo", 1)
    assert row["status"] == 3 and row["updatedCount"] == count + 1


# -- external entities and DTDs ----------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket on loopback that notices any connection the emulator might make to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    yield sock
    sock.close()


def assert_nobody_connected(sock: socket.socket) -> None:
    try:
        connection, _ = sock.accept()
    except TimeoutError:
        return
    connection.close()
    pytest.fail("the emulator opened a network connection while parsing the request")


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("todo_id=2 TOP-SECRET-MARKER")
    return path


def file_payloads(secret: Path) -> dict[str, bytes]:
    url = secret.as_uri().encode()
    return {
        "general entity /etc/passwd": with_doctype(
            b'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;"
        ),
        "general entity secret file": with_doctype(
            b'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "' + url + b'">]>', b"&x;"
        ),
        "parameter entity secret file": with_doctype(
            b'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "' + url + b'"> %p;]>'
        ),
        "external DTD secret file": with_doctype(b'<!DOCTYPE s:Envelope SYSTEM "' + url + b'">'),
        "public id /etc/passwd": with_doctype(
            b'<!DOCTYPE s:Envelope PUBLIC "-//X//Y" "file:///etc/passwd">', b"x"
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "general entity /etc/passwd",
        "general entity secret file",
        "parameter entity secret file",
        "external DTD secret file",
        "public id /etc/passwd",
    ],
)
def test_external_entities_never_read_a_file(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], secret: Path, name: str
) -> None:
    response = post(client, file_payloads(secret)[name])
    assert_fault(response.status_code, response.data, 400, "DTD", "not allowed")
    assert b"root:" not in response.data and b"TOP-SECRET" not in response.data
    assert_unharmed(client, db_path, before)


def network_payloads(port: int) -> dict[str, bytes]:
    url = b"http://127.0.0.1:%d/evil" % port
    return {
        "general entity": with_doctype(b'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "' + url + b'">]>', b"&x;"),
        "parameter entity": with_doctype(b'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "' + url + b'"> %p;]>'),
        "external DTD": with_doctype(b'<!DOCTYPE s:Envelope SYSTEM "' + url + b'.dtd">'),
    }


@pytest.mark.parametrize("name", ["general entity", "parameter entity", "external DTD"])
@pytest.mark.parametrize("port_state", ["listening", "closed"])
def test_external_entities_never_touch_the_network(
    client: Client,
    db_path: Path,
    before: dict[str, list[tuple[object, ...]]],
    listener: socket.socket,
    name: str,
    port_state: str,
) -> None:
    port = int(listener.getsockname()[1]) if port_state == "listening" else closed_port()
    started = time.monotonic()
    response = post(client, network_payloads(port)[name])
    assert time.monotonic() - started < 10
    assert_fault(response.status_code, response.data, 400, "DTD", "not allowed")
    assert b"refused" not in response.data.lower() and b"127.0.0.1" not in response.data
    assert_nobody_connected(listener)
    assert_unharmed(client, db_path, before)


@pytest.mark.parametrize(
    "name, payload",
    [
        (
            "xinclude",
            b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
            b' href="http://127.0.0.1:%d/x" parse="text"/>',
        ),
        (
            "schema location",
            b'<x xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x http://127.0.0.1:%d/x.xsd"/>',
        ),
    ],
)
def test_xinclude_and_schema_locations_are_not_followed(
    client: Client,
    db_path: Path,
    before: dict[str, list[tuple[object, ...]]],
    listener: socket.socket,
    name: str,
    payload: bytes,
) -> None:
    port = int(listener.getsockname()[1])
    response = post(client, body_with(payload % port))
    assert_no_trace(response.data)
    answer = Answer(response.status_code, response.data)
    assert answer.status == 200 and answer.succeeded is True  # an element is not an identifier: no-op
    assert_nobody_connected(listener)
    assert_unharmed(client, db_path, before)


def billion_laughs() -> bytes:
    entities = b'<!ENTITY lol0 "lol">'
    for level in range(1, 10):
        entities += b'<!ENTITY lol%d "%s">' % (level, b"".join(b"&lol%d;" % (level - 1) for _ in range(10)))
    return with_doctype(b"<!DOCTYPE s:Envelope [" + entities + b"]>", b"&lol9;")


def quadratic_blowup() -> bytes:
    big = b"A" * 50_000
    return with_doctype(b'<!DOCTYPE s:Envelope [<!ENTITY a "' + big + b'">]>', b"&a;" * 20_000)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("bomb", [billion_laughs, quadratic_blowup], ids=["billion-laughs", "quadratic"])
def test_entity_expansion_bombs_are_refused_quickly(
    client: Client,
    db_path: Path,
    before: dict[str, list[tuple[object, ...]]],
    bomb: Callable[[], bytes],
    version: str,
) -> None:
    body = bomb()
    headers = SOAP11_HEADERS
    if version == "1.2":
        body = body.replace(SOAP11.encode(), SOAP12.encode())
        headers = SOAP12_HEADERS
    started = time.monotonic()
    response = post(client, body, headers)
    assert time.monotonic() - started < 10
    answer = assert_fault(response.status_code, response.data, 400, version=version)
    assert "DTD" in answer.fault_text or "entity" in answer.fault_text, answer.fault_text
    assert len(response.data) < 2000
    assert_unharmed(client, db_path, before)


@pytest.mark.parametrize(
    "doctype",
    [
        b"<!DOCTYPE s:Envelope>",
        b"<!DOCTYPE s:Envelope []>",
        b'<!DOCTYPE s:Envelope [<!ELEMENT s:Envelope ANY><!ATTLIST s:Envelope x CDATA "1">]>',
        b'<!DOCTYPE s:Envelope [<!ENTITY harmless "todo_id=2">]>',
    ],
    ids=["bare", "empty subset", "declarations", "harmless entity"],
)
def test_any_dtd_is_refused(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], doctype: bytes
) -> None:
    response = post(client, with_doctype(doctype, b"&harmless;" if b"harmless" in doctype else b"todo_id=2"))
    assert_fault(response.status_code, response.data, 400, "DTDs are not allowed")
    assert_unharmed(client, db_path, before)


# -- size limit -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("small") / "crm.db"


@pytest.fixture(scope="module")
def small_app(small_db: Path) -> Iterator[EmulatorApp]:
    settings = Settings(database_url=database_url(small_db), max_body_bytes=LIMIT)
    application = create_app(settings, clock=FakeClock())
    application.runtime.database.ensure_tenant("default")
    yield application
    application.runtime.database.dispose()


def padded(size: int, *, inside: bool = False) -> bytes:
    """The good envelope made exactly ``size`` bytes long with white space (before its end tag or after)."""
    pad = b" " * (size - len(GOOD))
    if inside:
        return GOOD.replace(b"</s:Envelope>", pad + b"</s:Envelope>")
    return GOOD + pad


def test_body_at_the_limit_is_served(small_app: EmulatorApp, small_db: Path) -> None:
    client = Client(small_app)
    count = read_row(small_db, "todo", 1)["updatedCount"]
    response = post(client, padded(LIMIT))
    assert response.status_code == 200 and Answer(200, response.data).succeeded is True
    assert read_row(small_db, "todo", 1)["updatedCount"] == count + 1


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT, 3 * 1024 * 1024])
def test_body_over_the_limit_is_413_with_content_length(
    small_app: EmulatorApp, small_db: Path, size: int
) -> None:
    client = Client(small_app)
    before = snapshot(small_db)
    response = post(client, padded(size))
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "larger than 4096 bytes" in text
    assert_no_trace(response.data)
    assert_unharmed(client, small_db, before)


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live") / "crm.db"


@pytest.fixture(scope="module")
def small_live(live_db: Path) -> Iterator[LiveServer]:
    settings = Settings(database_url=database_url(live_db), max_body_bytes=LIMIT)
    with LiveServer(settings, clock=FakeClock()) as server:
        server.app.runtime.database.ensure_tenant("default")
        yield server


def test_chunked_body_under_the_limit_is_served(small_live: LiveServer, live_db: Path) -> None:
    count = read_row(live_db, "todo", 1)["updatedCount"]
    status, data = chunked_post(small_live, APPOINTMENT, padded(LIMIT - 10), SOAP11_HEADERS)
    assert status == 200 and Answer(status, data).succeeded is True
    assert read_row(live_db, "todo", 1)["updatedCount"] == count + 1


@pytest.mark.parametrize("inside", [False, True], ids=["padding after the envelope", "padding inside"])
def test_chunked_body_over_the_limit_is_413(small_live: LiveServer, live_db: Path, inside: bool) -> None:
    """Without a Content-Length the limit must hold too; the body must not be cut and parsed."""
    before = snapshot(live_db)
    status, data = chunked_post(small_live, APPOINTMENT, padded(16 * LIMIT, inside=inside), SOAP11_HEADERS)
    assert_no_trace(data)
    assert snapshot(live_db) == before, "an oversized chunked request was cut to the limit and applied"
    assert status == 413, data[:300]
    assert b"larger than 4096 bytes" in data
    status, data = chunked_post(small_live, APPOINTMENT, GOOD, SOAP11_HEADERS)
    assert status == 200 and Answer(status, data).succeeded is True


def test_chunked_fixture_upload_over_the_limit_is_413_not_loaded_in_part(
    small_live: LiveServer, live_db: Path
) -> None:
    """An oversized chunked upload to the admin API must not be cut to the limit and loaded."""
    head = Path(__file__).parents[1].joinpath("fixtures", "default.yaml").read_text().split("activities:")[0]
    lines = "".join(f"  - {{id: {i}, title: t{i}, associate_id: 1}}\n" for i in range(1, 400))
    document = (head + "activities:\n  todo:\n" + lines).encode()
    cut = document[:LIMIT].rfind(b"\n") + 1
    gap = LIMIT - cut  # put the limit on a line end, so that the cut prefix is valid YAML
    document = (
        document[:cut] + (b"#" + b"x" * (gap - 2) + b"\n" if gap >= 2 else b"\n" * gap) + document[cut:]
    )
    before = snapshot(live_db)
    status, data = chunked_post(
        small_live, "/_emulator/fixtures", document, {"Content-Type": "application/yaml"}
    )
    assert_no_trace(data)
    assert snapshot(live_db) == before, f"the tenant was reset to a part of the upload: {data[:300]!r}"
    assert status == 413


def test_body_shorter_than_its_content_length_is_an_http_error(small_live: LiveServer, live_db: Path) -> None:
    before = snapshot(live_db)
    with socket.create_connection((small_live.host, small_live.port), timeout=10) as sock:
        head = (
            f"POST {APPOINTMENT} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {len(GOOD) + 500}\r\n\r\n"
        ).encode()
        sock.sendall(head + GOOD)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"400", answer[:300]
    assert_no_trace(answer)
    assert snapshot(live_db) == before
    status, data = chunked_post(small_live, APPOINTMENT, GOOD, SOAP11_HEADERS)
    assert status == 200 and Answer(status, data).succeeded is True


# -- nesting, malformed XML ----------------------------------------------------------------------
@pytest.mark.parametrize("depth", [300, 10_000, 100_000])
@pytest.mark.parametrize("where", ["operation", "header", "identifier"])
def test_deep_nesting_is_a_fault(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], depth: int, where: str
) -> None:
    nest = b"<x>" * depth + b"</x>" * depth
    anchor = {
        "operation": b"<t:SetActivityStatus>",
        "header": b"<s:Header>",
        "identifier": b"<a:string>",
    }[where]
    started = time.monotonic()
    response = post(client, GOOD.replace(anchor, anchor + nest, 1))
    assert time.monotonic() - started < 10
    assert_fault(response.status_code, response.data, 400, "not well-formed XML")
    assert_unharmed(client, db_path, before)


MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("empty", b"", 400, "empty"),
    ("white space", b"  \r\n\t ", 400, "empty"),
    ("json", b'{"ActivityIdentifier": ["todo_id=1"]}', 400, "not well-formed"),
    ("truncated", GOOD[: len(GOOD) // 2], 400, "not well-formed"),
    ("unclosed tag", GOOD.replace(b"</t:ActivityStatus>", b""), 400, "not well-formed"),
    ("mismatched tags", GOOD.replace(b"</s:Body>", b"</s:Bodie>"), 400, "not well-formed"),
    ("two roots", GOOD + b"<x/>", 400, "not well-formed"),
    ("undeclared prefix", GOOD.replace(b'xmlns:t="', b'xmlns:u="'), 400, "not well-formed"),
    ("undefined entity", body_with(b"&nope;"), 400, "not well-formed"),
    ("bare ampersand", body_with(b"todo_id=1&2"), 400, "not well-formed"),
    ("binary garbage", bytes(range(256)) * 4, 400, "not well-formed"),
    ("not an envelope", b"<foo/>", 400, "expected a SOAP 1.1 or 1.2 Envelope"),
    ("envelope in no namespace", b"<Envelope><Body/></Envelope>", 400, "Envelope"),
    (
        "no Body",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>',
        400,
        "no Body",
    ),
    (
        "empty Body",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
        500,
        "Body is empty",
    ),
    (
        "foreign operation",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<x:SetActivityStatus xmlns:x="urn:x"/></s:Body></s:Envelope>',
        500,
        "not in the Services86 namespace",
    ),
    ("unknown operation", GOOD.replace(b"t:SetActivityStatus", b"t:DeleteEverything"), 500, "not emulated"),
]


@pytest.mark.parametrize("body, status, words", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_requests_are_faults(
    client: Client,
    db_path: Path,
    before: dict[str, list[tuple[object, ...]]],
    body: bytes,
    status: int,
    words: str,
) -> None:
    response = post(client, body)
    assert_fault(response.status_code, response.data, status, words)
    assert_unharmed(client, db_path, before)


# -- content type and SOAPAction -----------------------------------------------------------------
ACTION = SOAP11_HEADERS["SOAPAction"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/xmlx",
        "xml",
    ],
)
def test_missing_or_wrong_content_type_is_415(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], content_type: str | None
) -> None:
    headers = {"SOAPAction": ACTION}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = post(client, GOOD, headers)
    assert_fault(response.status_code, response.data, 415, "is not SOAP", "text/xml", "application/soap+xml")
    assert_unharmed(client, db_path, before)


@pytest.mark.parametrize(
    "action",
    [
        '"urn:nonsense"',
        '"http://www.superoffice.net/ws/crm/NetServer/Services86/SoPrincipal/AuthenticateUsernamePassword"',
        '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/DeleteEverything"',
        '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/setactivitystatus"',
        '"' + "A" * 10_000 + '"',
    ],
    ids=["nonsense", "other service", "other operation", "wrong case", "10k chars"],
)
def test_wrong_soap_action_is_a_fault(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], action: str
) -> None:
    response = post(client, GOOD, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action})
    assert_fault(
        response.status_code, response.data, 500, "SOAPAction", "does not match", "SetActivityStatus"
    )
    assert_unharmed(client, db_path, before)


def test_wrong_soap12_action_parameter_is_a_fault(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]]
) -> None:
    body = envelope(["todo_id=1"], "Completed", version="1.2")
    headers = {"Content-Type": 'application/soap+xml; charset=utf-8; action="urn:nonsense"'}
    response = post(client, body, headers)
    assert_fault(response.status_code, response.data, 500, "does not match", version="1.2")
    assert_unharmed(client, db_path, before)


# -- encodings ------------------------------------------------------------------------------------
def recoded(encoding: str, *, bom: bytes = b"") -> bytes:
    text = GOOD.decode().replace('encoding="utf-8"', f'encoding="{encoding}"')
    return bom + text.encode(encoding)


@pytest.mark.parametrize(
    "body",
    [
        recoded("utf-16"),  # Python writes a BOM, little-endian here
        recoded("utf-16-be", bom=b"\xfe\xff"),
        recoded("utf-16-le", bom=b"\xff\xfe"),
        b"\xef\xbb\xbf" + GOOD,
        recoded("iso-8859-1"),
    ],
    ids=["utf-16", "utf-16-be+bom", "utf-16-le+bom", "utf-8+bom", "latin-1"],
)
def test_other_declared_encodings_with_matching_bytes_work(
    client: Client, db_path: Path, body: bytes
) -> None:
    post(client, envelope(["todo_id=1"], "NotStarted"))
    count = read_row(db_path, "todo", 1)["updatedCount"]
    response = post(client, body)
    answer = Answer(response.status_code, response.data)
    assert answer.status == 200 and answer.succeeded is True
    row = read_row(db_path, "todo", 1)
    assert row["status"] == 3 and row["updatedCount"] == count + 1


@pytest.mark.parametrize(
    "body",
    [
        body_with(b"todo_id=1\xff\xfe"),
        body_with(b"todo_id=1\xe9"),  # latin-1 bytes in a utf-8 document
        body_with(b"todo_id=1\xc0\xaf"),  # overlong
        body_with(b"todo_id=1\xed\xa0\x80"),  # an encoded surrogate
        body_with(b"todo_id=1\xf8\x88\x80\x80\x80"),  # five-byte form
        GOOD.replace(b'encoding="utf-8"', b'encoding="klingon-9"'),
        GOOD.replace(b'encoding="utf-8"', b'encoding="ebcdic-cp-us"'),
        GOOD.replace(b'encoding="utf-8"', b'encoding="utf-16"'),  # says 16, is 8
        recoded("utf-16")[:-1],  # an odd number of bytes
    ],
    ids=[
        "invalid utf-8",
        "latin-1 bytes as utf-8",
        "overlong utf-8",
        "surrogate in utf-8",
        "five-byte utf-8",
        "unknown encoding",
        "unsupported encoding",
        "declared utf-16, is utf-8",
        "truncated utf-16",
    ],
)
def test_bad_encodings_are_faults(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], body: bytes
) -> None:
    response = post(client, body)
    assert_fault(response.status_code, response.data, 400, "not well-formed XML")
    assert_unharmed(client, db_path, before)


def test_declared_latin1_with_utf8_bytes_is_read_as_latin1(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]]
) -> None:
    """A declaration that does not match the bytes yields other characters: an invalid id, a no-op."""
    body = GOOD.replace(b'encoding="utf-8"', b'encoding="iso-8859-1"').replace(
        b"todo_id=1", "todo_id=1é".encode()
    )
    response = post(client, body)
    answer = Answer(response.status_code, response.data)
    assert answer.status == 200 and answer.succeeded is True
    assert_unharmed(client, db_path, before)


# -- identifiers: huge numbers, long strings, control characters --------------------------------
@pytest.mark.parametrize(
    "identifier",
    [
        "todo_id=2147483648",
        "todo_id=-2147483649",
        "todo_id=99999999999999999999",
        "todo_id=" + "9" * 4300,
        "todo_id=" + "9" * 4301,
        "todo_id=" + "9" * 5000,
        "todo_id=" + "1" * 100_000,
        "todo_id=-" + "9" * 5000,
        "todo_id=" + "0" * 5000 + "1" + "0" * 5000,
        "todo_id=1e3",
        "todo_id=0x1",
        "todo_id=1_0",
        "todo_id=\u0661",  # an Arabic-Indic digit
        "todo_id=\uff11",  # a fullwidth digit
        "x" * 10_000,
        "todo_id=" + "1" * 10_000,
        "todo_id=1" + "x" * 10_000,
        ("todo_id=1;" * 1000)[:-1],
        "todo_id=1\x7f",
        "todo_id=1\u2028",
    ],
    ids=lambda s: s[:24] + (f"...({len(s)} chars)" if len(s) > 24 else ""),
)
def test_odd_identifiers_change_nothing_and_succeed(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], identifier: str
) -> None:
    """Anything not ``key=32-bit integer`` is an invalid id: the batch is a no-op."""
    body = envelope(["todo_id=2", identifier, "sale_id=3"], "Completed")
    response = post(client, body)
    assert_no_trace(response.data)
    answer = Answer(response.status_code, response.data)
    assert (answer.status, answer.succeeded, answer.fault) == (200, True, None), answer.fault_text
    assert_unharmed(client, db_path, before)


def test_leading_zeros_past_pythons_digit_limit_still_name_the_record(client: Client, db_path: Path) -> None:
    """``key=integer``: 5,000 leading zeros and a 4 is the integer 4, as .NET's int.Parse reads it."""
    post(client, envelope(["todo_id=4"], "NotStarted"))
    count = read_row(db_path, "todo", 4)["updatedCount"]
    response = post(client, envelope(["todo_id=" + "0" * 5000 + "4"], "Started"))
    assert_no_trace(response.data)
    answer = Answer(response.status_code, response.data)
    assert (answer.status, answer.succeeded, answer.fault) == (200, True, None), response.data[:400]
    row = read_row(db_path, "todo", 4)
    assert row["status"] == 2 and row["updatedCount"] == count + 1


def test_identifier_padded_with_10k_spaces_is_still_valid(client: Client, db_path: Path) -> None:
    post(client, envelope(["todo_id=4"], "NotStarted"))
    body = envelope([" " * 10_000 + "todo_id=4" + "\n\t " * 3000], "Started")
    response = post(client, body)
    answer = Answer(response.status_code, response.data)
    assert answer.status == 200 and answer.succeeded is True
    assert read_row(db_path, "todo", 4)["status"] == 2


@pytest.mark.parametrize(
    "ticket",
    ["7T:" + "A" * 10_000, DEMO_TICKET + "\u200b", DEMO_TICKET + " " * 5000 + "x", "\u202e" * 1000],
    ids=["10k chars", "zero-width space", "padded", "bidi overrides"],
)
def test_odd_tickets_fail_with_a_session_exception(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], ticket: str
) -> None:
    response = post(client, envelope(["todo_id=1"], "Completed", ticket=ticket))
    assert_no_trace(response.data)
    answer = Answer(response.status_code, response.data)
    assert answer.status == 200 and answer.succeeded is False
    assert answer.info["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    assert_unharmed(client, db_path, before)


def test_10k_char_status_and_element_names_are_faults(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]]
) -> None:
    response = post(client, envelope(["todo_id=1"], "S" * 10_000))
    assert_fault(
        response.status_code,
        response.data,
        500,
        "ActivityStatus",
        "is not valid",
        code="a:DeserializationFailed",
    )
    long_name = b"q" * 10_000
    response = post(client, GOOD.replace(b"t:SetActivityStatus", b"t:" + long_name))
    assert_fault(response.status_code, response.data, 500, "not emulated")
    assert_unharmed(client, db_path, before)


@pytest.mark.parametrize(
    "raw",
    [b"\x00", b"\x01", b"\x08", b"\x0b", b"\x1f", b"&#0;", b"&#1;", b"&#x1F;", b"&#xFFFE;", b"&#xD800;"],
    ids=["NUL", "SOH", "BS", "VT", "US", "ref NUL", "ref SOH", "ref US", "ref FFFE", "ref surrogate"],
)
@pytest.mark.parametrize("where", ["identifier", "ticket", "status"])
def test_nul_and_control_characters_are_faults(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]], raw: bytes, where: str
) -> None:
    target = {"identifier": b"todo_id=1", "ticket": DEMO_TICKET.encode(), "status": b">Completed<"}[where]
    replacement = target[:-1] + raw + target[-1:]
    response = post(client, GOOD.replace(target, replacement))
    assert_fault(response.status_code, response.data, 400, "not well-formed XML")
    assert_unharmed(client, db_path, before)


def test_xml_11_does_not_let_control_characters_in(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]]
) -> None:
    body = b'<?xml version="1.1" encoding="utf-8"?>' + GOOD_WITHOUT_DECLARATION.replace(
        b"todo_id=1", b"todo_id=1&#1;"
    )
    response = post(client, body)
    assert_fault(response.status_code, response.data, 400, "not well-formed XML")
    assert_unharmed(client, db_path, before)


def test_many_attributes_and_namespaces_are_answered(
    client: Client, db_path: Path, before: dict[str, list[tuple[object, ...]]]
) -> None:
    attributes = b" ".join(b'a%d="1"' % i for i in range(20_000))
    namespaces = b" ".join(b'xmlns:n%d="urn:n%d"' % (i, i) for i in range(20_000))
    for extra in (attributes, namespaces):
        started = time.monotonic()
        body = GOOD.replace(b"<t:SetActivityStatus>", b"<t:SetActivityStatus " + extra + b">")
        response = post(client, body.replace(b"todo_id=1", b"todo_id=999"))
        assert time.monotonic() - started < 10
        answer = Answer(response.status_code, response.data)
        assert answer.status == 200 and answer.succeeded is True  # todo_id=999 does not exist
    assert_unharmed(client, db_path, before)


def test_hostile_requests_leave_the_server_file_sound(client: Client, db_path: Path) -> None:
    """After a burst of every kind of bad request above, the SQLite file passes its integrity check."""
    for body in (billion_laughs(), GOOD[:100], body_with(b"todo_id=" + b"9" * 5000), body_with(b"\x00")):
        post(client, body)
    assert_unharmed(client, db_path, snapshot(db_path))
    with closing(sqlite3.connect(db_path)) as connection, connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
