"""Which way a request takes: every SOAP POST one way (route, body, codec), the rest to the small apps."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from tests.support.soap import APPOINTMENT, SOAP11_HEADERS, envelope, post


@pytest.mark.parametrize("path", [APPOINTMENT + "/", "/Cust7" + APPOINTMENT + "/"])
def test_a_trailing_slash_names_the_same_endpoint(client: Client, path: str) -> None:
    response = post(client, envelope(["appointment_id=1"]), path=path)
    status, data = response.status_code, response.data
    assert status == 200 and b">true</Succeeded>" in data


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_get_and_post_of_a_path_that_names_no_service_get_the_same_404(client: Client, method: str) -> None:
    response = client.open("/Remote/Services86/Appointment", method=method, headers=SOAP11_HEADERS)
    assert response.status_code == 404
    assert "/Remote/Services86/Appointment.svc" in response.get_data(as_text=True)


def test_the_route_is_checked_before_the_body_is_read(client: Client) -> None:
    """An unknown service is 404 even when its body would be over the limit (no reading it first)."""
    response = client.post(
        "/Remote/Services86/Contact.svc", data=b"x" * (2 * 1024 * 1024), headers=SOAP11_HEADERS
    )
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE"])  # HEAD answers as GET (test_share.py)
def test_other_methods_on_a_service_are_405(client: Client, method: str) -> None:
    assert client.open(APPOINTMENT, method=method).status_code == 405


def test_a_post_under_the_admin_root_is_the_admin_apis_not_a_tenants(client: Client) -> None:
    response = client.post("/_emulator" + APPOINTMENT, data=b"<x/>", headers=SOAP11_HEADERS)
    assert response.status_code == 404
    assert response.is_json and "error" in response.get_json()
