"""Tenants as Online addresses them: ``/{tenant}/Remote/Services86/...`` with data of its own.

A tenant is created from the fixtures on first use; un-prefixed paths are the default tenant;
parallel clients, each on its own tenant, never see each other's changes.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zeep
from werkzeug.test import Client
from zeep.transports import Transport

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.activities import ActivityStatus
from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.database import database_url, read_row
from tests.support.soap import DEMO_TICKET, SOAP11_HEADERS, TOKEN, envelope, set_status

STATUSES = [s.name for s in ActivityStatus]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorApp, Path]]:
    db = tmp_path_factory.mktemp("tenants") / "crm.db"
    application = create_app(Settings(database_url=database_url(db), default_tenant="Main"))
    yield application, db
    application.runtime.database.dispose()


@pytest.fixture
def http(shared: tuple[EmulatorApp, Path]) -> Client:
    return Client(shared[0])


@pytest.fixture
def db(shared: tuple[EmulatorApp, Path]) -> Path:
    return shared[1]


def new_tenant() -> str:
    return f"Cust{uuid.uuid4().hex[:10]}"


def get(http: Client, path: str) -> Any:
    response = http.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def tenant_names(http: Client) -> list[str]:
    return [t["name"] for t in get(http, "/_emulator/tenants")]


def test_a_tenant_is_created_from_the_fixtures_on_first_use(http: Client, db: Path) -> None:
    tenant = new_tenant()
    assert tenant not in tenant_names(http)
    assert set_status(http, ["appointment_id=17"], "Completed", tenant=tenant).succeeded is True
    assert tenant in tenant_names(http)
    assert read_row(db, "appointment", 17, tenant=tenant)["status"] == ActivityStatus.Completed
    # the other fixture rows are there, untouched
    untouched = read_row(db, "appointment", 18, tenant=tenant)
    assert untouched["updatedCount"] == 0 and untouched["updated"] is None


def test_a_change_in_one_tenant_is_invisible_in_another_and_in_the_default(http: Client, db: Path) -> None:
    first, second = new_tenant(), new_tenant()
    baseline = get(http, f"/{second}/_emulator/activities/sale/4")
    assert set_status(http, ["sale_id=4"], "Completed", tenant=first).succeeded is True
    assert get(http, f"/{first}/_emulator/activities/sale/4")["updatedCount"] == 1
    assert get(http, f"/{second}/_emulator/activities/sale/4") == baseline
    assert get(http, "/_emulator/activities/sale/4")["updatedCount"] == 0
    assert [e["identifiers"] for e in get(http, f"/{second}/_emulator/journal")] == []


def test_unprefixed_paths_are_the_configured_default_tenant(http: Client, db: Path) -> None:
    get(http, "/_emulator/health")
    http.post("/_emulator/reset")
    assert set_status(http, ["todo_id=2"], "Completed").succeeded is True
    assert read_row(db, "todo", 2, tenant="Main")["updatedCount"] == 1
    assert get(http, "/Main/_emulator/activities/todo/2")["updatedCount"] == 1
    assert get(http, "/_emulator/activities/todo/2")["updatedCount"] == 1
    assert get(http, "/_emulator/health")["tenant"] == "Main"
    assert "default" not in tenant_names(http)


def test_reset_of_one_tenant_leaves_the_others_alone(http: Client) -> None:
    first, second = new_tenant(), new_tenant()
    for tenant in (first, second):
        set_status(http, ["appointment_id=2"], "Completed", tenant=tenant)
    assert http.post(f"/{first}/_emulator/reset").status_code == 200
    assert get(http, f"/{first}/_emulator/activities/appointment/2")["updatedCount"] == 0
    assert get(http, f"/{second}/_emulator/activities/appointment/2")["updatedCount"] == 1
    assert len(get(http, f"/{second}/_emulator/journal")) == 1


@pytest.mark.parametrize("name", ["a.b", "..", "-x", "_emulator", "x" * 65, "a%2Fb", "caf%C3%A9"])
def test_a_soap_call_to_an_invalid_tenant_is_refused_and_creates_nothing(http: Client, name: str) -> None:
    before = tenant_names(http)
    response = http.post(
        f"/{name}/Remote/Services86/Appointment.svc",
        data=envelope(["appointment_id=1"]),
        headers=SOAP11_HEADERS,
    )
    assert response.status_code == 404
    assert tenant_names(http) == before


def test_the_wsdl_of_a_tenant_points_at_the_tenant(http: Client) -> None:
    tenant = new_tenant()
    response = http.get(f"/{tenant}/Remote/Services86/Appointment.svc?wsdl")
    assert response.status_code == 200
    assert f"/{tenant}/Remote/Services86/Appointment.svc".encode() in response.data


# -- parallel clients ---------------------------------------------------------------------------
def test_parallel_clients_on_their_own_tenants_never_see_each_others_changes(tmp_path: Path) -> None:
    """4 threads, each a zeep client on its own tenant, set different statuses at the same time."""
    workers = 4
    rounds = 5
    tenants = [new_tenant() for _ in range(workers)]
    own_ids = {t: [f"appointment_id={i * 5 + n}" for n in range(1, 6)] for i, t in enumerate(tenants)}
    shared_id = "sale_id=7"  # every tenant changes this one, each to its own status
    wanted = {t: STATUSES[i] for i, t in enumerate(tenants)}
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(server: LiveServer, tenant: str) -> None:
        transport = Transport(timeout=30, operation_timeout=30)
        try:
            client = zeep.Client(
                server.url(f"/{tenant}/Remote/Services86/Appointment.svc?wsdl"), transport=transport
            )
            barrier.wait(timeout=60)
            for _ in range(rounds):
                for identifier in [*own_ids[tenant], shared_id]:
                    answer = client.service.SetActivityStatus(
                        ActivityIdentifier={"string": [identifier]},
                        ActivityStatus=wanted[tenant],
                        _soapheaders={"ApplicationToken": TOKEN, "Credentials": {"Ticket": DEMO_TICKET}},
                    )
                    assert answer.header.Succeeded is True, answer.header.ExceptionInfo
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            transport.session.close()

    with LiveServer(Settings(database_url=database_url(tmp_path / "crm.db"))) as server:
        threads = [threading.Thread(target=work, args=(server, t)) for t in tenants]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert not any(thread.is_alive() for thread in threads)

        def admin(tenant: str, path: str) -> Any:
            with urllib.request.urlopen(server.url(f"/{tenant}/_emulator/{path}"), timeout=30) as response:
                return json.load(response)

        calls = rounds * (len(own_ids[tenants[0]]) + 1)
        for tenant in tenants:
            changed = {
                a["identifier"]: a for a in admin(tenant, "activities?limit=1000") if a["updatedCount"]
            }
            assert set(changed) == {*own_ids[tenant], shared_id}, tenant
            assert {a["status"] for a in changed.values()} == {wanted[tenant]}
            assert {a["updatedCount"] for a in changed.values()} == {rounds}
            journal = admin(tenant, f"journal?limit={calls + 10}")
            assert len(journal) == calls and {e["tenant"] for e in journal} == {tenant}
            assert {e["status"] for e in journal} == {wanted[tenant]}
        assert set(tenants) <= {t["name"] for t in admin("default", "tenants")}
