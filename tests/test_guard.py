"""The cross-site and rebinding rules on their own (the live-server tests are in test_cross_site.py)."""

from __future__ import annotations

import pytest

from superoffice_emulator.server.guard import HostRules, check, host_name

LOCAL = HostRules.of()


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:8080", "127.0.0.1"), ("[::1]:8080", "::1"), ("LocalHost", "localhost"), ("a.b.:80", "a.b")],
)
def test_host_names_are_read_without_port_case_or_brackets(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.5.6.7", "app.localhost"]
)
def test_loopback_hosts_reach_the_admin_api(host: str) -> None:
    assert check(LOCAL, method="DELETE", host=host, origin=None, fetch_site=None, admin=True) is None


def test_a_rebinding_host_is_421_naming_the_option_and_soap_is_not_held_to_the_host() -> None:
    refusal = check(LOCAL, method="GET", host="evil.example:8080", origin=None, fetch_site=None, admin=True)
    assert refusal is not None and refusal.status == 421 and "--allowed-host evil.example" in refusal.message
    assert (
        check(LOCAL, method="POST", host="crm.internal:8080", origin=None, fetch_site=None, admin=False)
        is None
    )


def test_allowed_hosts_are_accepted_but_never_the_wildcard_address() -> None:
    rules = HostRules.of(["10.1.2.3", "crm.internal"])
    for host in ("10.1.2.3:8080", "crm.internal:8080", "CRM.internal"):
        assert check(rules, method="GET", host=host, origin=None, fetch_site=None, admin=True) is None
    anywhere = HostRules.of(["0.0.0.0"])
    refusal = check(anywhere, method="GET", host="0.0.0.0:8080", origin=None, fetch_site=None, admin=True)
    assert refusal is not None and refusal.status == 421


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        ("http://evil.example", None),
        ("null", None),
        (None, "cross-site"),
        ("https://attacker.test:443", "cross-site"),
    ],
)
def test_a_state_change_from_another_site_is_403_on_every_route(
    origin: str | None, fetch_site: str | None
) -> None:
    for admin in (True, False):
        refusal = check(
            LOCAL, method="POST", host="127.0.0.1:8080", origin=origin, fetch_site=fetch_site, admin=admin
        )
        assert refusal is not None and refusal.status == 403


def test_reads_and_same_machine_pages_and_clients_without_origin_go_through() -> None:
    hostile = "http://evil.example"
    assert (
        check(LOCAL, method="GET", host="127.0.0.1", origin=hostile, fetch_site="cross-site", admin=True)
        is None
    )
    for origin in (None, "", "http://127.0.0.1:8080", "http://localhost:3000"):
        assert (
            check(LOCAL, method="POST", host="127.0.0.1:8080", origin=origin, fetch_site=None, admin=True)
            is None
        )
    assert (
        check(LOCAL, method="POST", host="127.0.0.1", origin=None, fetch_site="same-origin", admin=True)
        is None
    )


def test_the_wildcard_allows_every_host_and_same_origin_pages_only() -> None:
    rules = HostRules.of(["0.0.0.0", "*"])
    assert check(rules, method="GET", host="anything:8080", origin=None, fetch_site=None, admin=True) is None
    same = check(rules, method="POST", host="crm:8080", origin="http://crm:8080", fetch_site=None, admin=True)
    assert same is None
    other = check(
        rules, method="POST", host="crm:8080", origin="http://evil.example", fetch_site=None, admin=True
    )
    assert other is not None and other.status == 403
