"""The pytest plugin (entry point ``pytest11``), tested the way a user meets it: through ``pytester``."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

# pytester's inline runs forget the modules they imported, and the next run imports them again: a second
# copy of requests' classes breaks its isinstance checks. Imported here once, every run shares them.
import requests  # noqa: F401
import zeep  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # spyne's `import cgi`
    import superoffice_emulator.testing  # noqa: F401
from tests.support.fixtures import SMALL_FIXTURES

pytest_plugins = ["pytester"]


def _readme_example() -> str:
    """The complete test file the README shows under "Testing your client with pytest"."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your client with pytest", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


README_EXAMPLE = _readme_example()

STRICT_INI = """\
[pytest]
filterwarnings =
    error
"""


def test_the_readme_example_passes_as_a_user_runs_it(pytester: pytest.Pytester) -> None:
    """A separate process, warnings as errors, only the installed package: what a user has."""
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(test_appointments=README_EXAMPLE)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)


def test_each_test_gets_a_fresh_tenant_that_is_dropped_afterwards(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(
        """
        import re
        import urllib.request

        NAMES = []
        IDS = {"ActivityIdentifier": {"string": ["appointment_id=1"]}, "ActivityStatus": "Completed"}

        def test_first(superoffice_tenant, superoffice_client):
            NAMES.append(superoffice_tenant.name)
            assert re.fullmatch(r"t-[0-9a-f]{8}", superoffice_tenant.name)
            superoffice_client("Appointment").service.SetActivityStatus(**IDS)
            assert superoffice_tenant.admin("activities/appointment/1")["status"] == "Completed"

        def test_second_sees_the_fixtures_again(superoffice_tenant, superoffice_emulator):
            NAMES.append(superoffice_tenant.name)
            assert superoffice_tenant.admin("activities/appointment/1")["status"] == "NotStarted"
            assert NAMES[0] not in superoffice_emulator.app.runtime.database.tenants()
            assert superoffice_tenant.name in superoffice_emulator.app.runtime.database.tenants()

        def test_urls(superoffice_tenant, superoffice_emulator):
            base = f"http://127.0.0.1:{superoffice_emulator.port}/{superoffice_tenant.name}"
            assert superoffice_tenant.url == base
            service = superoffice_tenant.service_url("Appointment")
            assert service == base + "/Remote/Services86/Appointment.svc"
            assert superoffice_tenant.admin_url("journal") == base + "/_emulator/journal"
            with urllib.request.urlopen(superoffice_tenant.wsdl_url("Appointment")) as answer:
                assert base.encode() + b"/Remote/Services86/Appointment.svc" in answer.read()

        def test_the_client_talks_to_the_tenant_only(superoffice_tenant, superoffice_client):
            superoffice_client("Appointment").service.SetActivityStatus(**IDS)
            journal = superoffice_tenant.admin("journal")
            assert [(e["tenant"], e["operation"], e["user"]) for e in journal] == [
                (superoffice_tenant.name, "SetActivityStatus", "demo")
            ]
            default = superoffice_tenant.server.url("/_emulator/activities/appointment/1")
            with urllib.request.urlopen(default) as answer:
                assert b'"NotStarted"' in answer.read()

        def test_reset_and_faults_are_per_tenant(superoffice_tenant, superoffice_client):
            superoffice_client("Appointment").service.SetActivityStatus(**IDS)
            superoffice_tenant.reset()
            assert superoffice_tenant.admin("activities/appointment/1")["status"] == "NotStarted"
            assert superoffice_tenant.admin("journal") == []
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=5)


def test_the_client_factory_sets_the_headers_the_wsdl_declares(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI + "superoffice_mode = online\n")
    pytester.makepyfile(
        """
        IDS = {"ActivityIdentifier": {"string": ["appointment_id=1"]}, "ActivityStatus": "Completed"}

        def test_login_takes_only_the_application_token(superoffice_client):
            principal = superoffice_client("SoPrincipal")
            answer = principal.service.AuthenticateUsernamePassword(UserName="demo", Password="demo")
            assert answer.header.Succeeded is True
            assert answer.body.AuthenticationSucceeded is True
            assert answer.body.Credentials.Ticket.startswith("7T:")

        def test_a_ticket_from_login_works(superoffice_client, superoffice_tenant):
            login = superoffice_client("SoPrincipal").service.AuthenticateUsernamePassword
            ticket = login(UserName="sam", Password="sam").body.Credentials.Ticket
            answer = superoffice_client("Appointment", ticket=ticket).service.SetActivityStatus(**IDS)
            assert answer.header.Succeeded is False  # sam may only read appointment 1 of demo's group
            assert superoffice_tenant.admin("journal")[0]["user"] == "sam"

        def test_without_the_application_token_online_mode_refuses(superoffice_client):
            client = superoffice_client("Appointment", application_token=None)
            answer = client.service.SetActivityStatus(**IDS)
            assert answer.header.Succeeded is False
            assert answer.header.ExceptionInfo.ExceptionType.endswith("SoSessionException")

        def test_without_a_ticket_the_call_is_refused(superoffice_client):
            answer = superoffice_client("Appointment", ticket=None).service.SetActivityStatus(**IDS)
            assert answer.header.Succeeded is False
            assert answer.header.ExceptionInfo.ExceptionType.endswith("SoSessionException")
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=4)


def test_options_pick_the_fixtures_file_and_the_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.path.joinpath("small.yaml").write_text(SMALL_FIXTURES)
    pytester.makepyfile(
        """
        def test_settings(superoffice_emulator, superoffice_tenant):
            assert superoffice_emulator.app.runtime.settings.mode == "online"
            assert [a["id"] for a in superoffice_tenant.admin("activities")] == [41]
        """
    )

    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--superoffice-fixtures", "small.yaml", "--superoffice-mode", "online"
    )

    result.assert_outcomes(passed=1)


def test_ini_values_pick_the_fixtures_the_ticket_and_the_token(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        STRICT_INI
        + "superoffice_fixtures = data/small.yaml\n"
        + "superoffice_ticket = 7T:wrong\n"
        + "superoffice_application_token = not-registered\n"
    )
    pytester.mkdir("data").joinpath("small.yaml").write_text(SMALL_FIXTURES)
    pytester.mkdir("tests").joinpath("test_ini.py").write_text(
        "def test_ini(superoffice_client, superoffice_tenant):\n"
        "    client = superoffice_client('Appointment')\n"
        "    answer = client.service.SetActivityStatus(ActivityStatus='Completed')\n"
        "    assert answer.header.Succeeded is False\n"
        "    assert superoffice_tenant.admin('journal')[0]['exception_type'].endswith('SoSessionException')\n"
        "    assert [a['id'] for a in superoffice_tenant.admin('activities')] == [41]\n"
    )

    result = pytester.runpytest("-p", "no:cacheprovider", "tests")

    result.assert_outcomes(passed=1)


def test_a_marker_starts_one_test_from_its_own_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.mkdir("data").joinpath("small.yaml").write_text(SMALL_FIXTURES)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.superoffice_fixtures("data/small.yaml")
        def test_small(superoffice_tenant):
            assert [a["id"] for a in superoffice_tenant.admin("activities")] == [41]

        def test_default(superoffice_tenant):
            assert len(superoffice_tenant.admin("activities")) > 1
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")

    result.assert_outcomes(passed=2)


SEED_EXAMPLE_TEST = """
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SEED = Path(r"{seed}").read_bytes()


def post_seed(tenant):
    request = urllib.request.Request(
        tenant.service_url("Appointment"),
        data=SEED,
        headers={{"Content-Type": "application/soap+xml; charset=utf-8"}},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def test_refused_as_netserver_refuses_it(superoffice_tenant):
    assert post_seed(superoffice_tenant) == 415
    assert superoffice_tenant.admin("journal")[0]["outcome"] == "fault"


@pytest.mark.superoffice_contract("lenient")
def test_read_leniently_with_the_marker(superoffice_tenant):
    assert post_seed(superoffice_tenant) == 200
    warnings = superoffice_tenant.admin("journal")[0]["contract_warnings"]
    assert any("HTTP 415" in w for w in warnings), warnings


def test_the_marker_holds_for_its_own_test_only(superoffice_tenant):
    assert post_seed(superoffice_tenant) == 415
"""


def test_the_contract_is_netserver_unless_a_marker_says_lenient(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    seed = Path(__file__).parent / "data" / "seed_request.xml"
    pytester.makepyfile(SEED_EXAMPLE_TEST.format(seed=seed))

    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")

    result.assert_outcomes(passed=3)


@pytest.mark.parametrize("how", ["ini", "option"])
def test_the_ini_value_or_the_option_picks_lenient(pytester: pytest.Pytester, how: str) -> None:
    pytester.makeini(STRICT_INI + ("superoffice_contract = lenient\n" if how == "ini" else ""))
    pytester.makepyfile(
        """
        def test_settings(superoffice_emulator):
            assert superoffice_emulator.app.runtime.settings.contract == "lenient"
        """
    )

    options = ["--superoffice-contract", "lenient"] if how == "option" else []
    result = pytester.runpytest("-p", "no:cacheprovider", *options)

    result.assert_outcomes(passed=1)


def test_the_admin_helper_sends_the_admin_token_and_reports_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def superoffice_settings(superoffice_settings):
            return superoffice_settings.replace(admin_token="s3cret")
        """
    )
    pytester.makepyfile(
        """
        import urllib.error
        import urllib.request

        import pytest

        from superoffice_emulator.pytest_plugin import AdminAPIError

        def test_token(superoffice_tenant):
            assert superoffice_tenant.admin("activities/appointment/1")["id"] == 1
            with pytest.raises(urllib.error.HTTPError) as raised:
                urllib.request.urlopen(superoffice_tenant.admin_url("activities"))
            raised.value.close()
            assert raised.value.code == 401

        def test_errors(superoffice_tenant):
            with pytest.raises(AdminAPIError) as raised:
                superoffice_tenant.admin("activities/appointment/999999")
            assert raised.value.status == 404
            assert "does not exist" in str(raised.value)

        def test_post(superoffice_tenant):
            assert superoffice_tenant.admin("journal", method="DELETE")["deleted"] == 0
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)


def test_each_fixture_needs_only_its_own_client_and_names_the_extra_that_brings_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_client_without_zeep(superoffice_client, monkeypatch):
            monkeypatch.setitem(sys.modules, "zeep", None)
            superoffice_client("Appointment")

        def test_rest_without_zeep(monkeypatch, request):
            monkeypatch.setitem(sys.modules, "zeep", None)
            rest = request.getfixturevalue("superoffice_rest")
            answer = rest.post(
                "Agents/Appointment/SetActivityStatus",
                json={"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"},
            )
            assert answer.status_code == 204

        def test_rest_without_requests(monkeypatch, request):
            monkeypatch.setitem(sys.modules, "requests", None)
            request.getfixturevalue("superoffice_rest")
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=2)
    extra = "pip install 'superoffice-emulator[[]pytest[]]'"  # fnmatch: [[] is a literal [
    result.stdout.fnmatch_lines([f"*superoffice_client needs zeep, which is not installed*{extra}*"])
    result.stdout.fnmatch_lines([f"*superoffice_rest needs requests, which is not installed*{extra}*"])


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("superoffice_mode = cloud\n", "*superoffice_mode = 'cloud': use one of onsite, online*"),
        ("superoffice_contract = loose\n", "*superoffice_contract = 'loose': use one of lenient, netserver*"),
        ("superoffice_fixtures = bad.yaml\n", "*superoffice_fixtures: *bad.yaml: roles: expected a list*"),
    ],
)
def test_bad_configuration_is_reported_plainly(pytester: pytest.Pytester, ini: str, message: str) -> None:
    pytester.makeini(STRICT_INI + ini)
    pytester.path.joinpath("bad.yaml").write_text("roles: 3\n")
    pytester.makepyfile("def test_x(superoffice_tenant):\n    pass\n")

    result = pytester.runpytest("-p", "no:cacheprovider")

    assert result.ret != 0
    result.stdout.fnmatch_lines([message])


def test_the_rest_fixture_hands_out_a_ready_session_and_the_base_url(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI + "superoffice_mode = online\n")
    pytester.makepyfile(
        """
        import urllib.request, json

        CALL = "Agents/Appointment/SetActivityStatus"

        def test_the_session_has_the_ticket_and_the_application_token(superoffice_rest, superoffice_tenant):
            ids = {"ActivityIdentifier": ["sale_id=1"], "ActivityStatus": 3}
            answer = superoffice_rest.post(CALL, json=ids)
            assert answer.status_code == 204
            assert superoffice_tenant.admin("activities/sale/1")["status"] == "Completed"
            assert superoffice_tenant.admin("journal")[0]["wire"] == "rest"
            assert superoffice_rest.base_url == superoffice_tenant.url + "/api/v1"

        def test_the_headers_serve_any_other_client(superoffice_rest, superoffice_tenant):
            body = json.dumps({"activityIdentifier": ["todo_id=1"], "activityStatus": "Started"}).encode()
            headers = {**superoffice_rest.headers, "Content-Type": "application/json"}
            request = urllib.request.Request(superoffice_rest.url(CALL), data=body, headers=headers)
            with urllib.request.urlopen(request) as answer:
                assert answer.status == 204
            assert superoffice_tenant.admin("activities/todo/1")["status"] == "Started"

        def test_another_caller(superoffice_rest):
            rita = superoffice_rest.as_user(ticket="7T:Uml0YVJlYWRvbmx5VGlja2V0")
            answer = rita.post(CALL, json={"ActivityIdentifier": ["sale_id=1"], "ActivityStatus": 3})
            assert answer.status_code == 403
            assert answer.json()["ExceptionType"] == "SuperOffice.Exceptions.SoSentryException"
            nobody = superoffice_rest.as_user(ticket=None)
            assert nobody.post(CALL, json={}).status_code == 401
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)


def test_the_tenant_verifies_its_calls_and_a_failure_lists_the_calls_seen(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(
        """
        import pytest

        IDS = dict(ActivityIdentifier={"string": ["appointment_id=1"]}, ActivityStatus="Completed")

        def test_calls_and_assert_called(superoffice_tenant, superoffice_client, superoffice_rest):
            superoffice_client("Appointment").service.SetActivityStatus(**IDS)
            superoffice_client("Appointment", ticket="no-such-ticket").service.SetActivityStatus(**IDS)
            answer = superoffice_rest.post(
                "Agents/Appointment/SetActivityStatus",
                json={"ActivityIdentifier": ["appointment_id=2"], "ActivityStatus": "Completed"},
            )
            assert answer.status_code == 204
            calls = superoffice_tenant.calls(operation="SetActivityStatus")
            assert [(c["wire"], c["outcome"]) for c in calls] == [
                ("soap", "ok"), ("soap", "failed"), ("rest", "ok")
            ]  # oldest first
            assert "Envelope" in calls[0]["request_body"] and "appointment_id=1" in calls[0]["request_body"]
            assert "SetActivityStatusResponse" in calls[0]["response_body"]
            assert [c["wire"] for c in superoffice_tenant.calls(outcome="ok")] == ["soap", "rest"]
            assert len(superoffice_tenant.calls(wire="rest")) == 1
            assert len(superoffice_tenant.assert_called("SetActivityStatus", times=3)) == 3
            superoffice_tenant.assert_called("SetActivityStatus", outcome="failed", wire="soap", times=1)
            superoffice_tenant.assert_called(user="demo")

        def test_a_failed_verification_says_what_was_seen(superoffice_tenant, superoffice_client):
            superoffice_client("Appointment").service.SetActivityStatus(**IDS)
            superoffice_tenant.assert_called("SetActivityStatus", outcome="failed")

        def test_no_calls_at_all(superoffice_tenant):
            superoffice_tenant.assert_called("SetActivityStatus", times=0)
            superoffice_tenant.assert_called("SetActivityStatus")
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=2)
    result.stdout.re_match_lines(
        [
            r".*AssertionError: expected calls with operation='SetActivityStatus', outcome='failed' "
            r"at least once, found 0; tenant t-[0-9a-f]{8} saw 1 call:",
            r".*#\d+ soap Appointment\.SetActivityStatus user=demo ids=\['appointment_id=1'\] outcome=ok",
        ]
    )
    result.stdout.re_match_lines(
        [
            r".*AssertionError: expected calls with operation='SetActivityStatus' at least once, found 0; "
            r"tenant t-[0-9a-f]{8} saw 0 calls:",
            r".*\(none\)",
        ]
    )
    assert "__tracebackhide__" not in result.stdout.str()  # the helper's own source is not shown
    assert "matching = self.calls(" not in result.stdout.str()


def test_the_system_user_fixture_signs_and_exchanges_for_a_working_ticket(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI + "superoffice_mode = online\n")
    pytester.makepyfile(
        """
        from superoffice_emulator.pytest_plugin import demo_private_key, sign_system_token

        IDS = {"ActivityIdentifier": {"string": ["appointment_id=1"]}, "ActivityStatus": "Completed"}

        def test_a_system_user_ticket_calls_soap(superoffice_system_user, superoffice_client):
            assert superoffice_system_user.private_key == demo_private_key()
            assert superoffice_system_user.sign().startswith("Demo Online App-DemoSystemToken.")
            ticket = superoffice_system_user.ticket()
            client = superoffice_client("Appointment", ticket=ticket, application_token="demo-app-secret")
            assert client.service.SetActivityStatus(**IDS).header.Succeeded is True

        def test_a_token_signed_with_another_key_is_refused(superoffice_system_user):
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            signed = sign_system_token(superoffice_system_user.system_token, pem)
            answer = superoffice_system_user.authenticate(signed)
            assert answer["IsSuccessful"] is False
            assert answer["ErrorMessage"].startswith("InvalidSignature (7)")
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)


def test_a_webhook_receiver_gets_the_signed_events_of_the_tenants_calls(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(
        """
        import pytest

        IDS = {"ActivityIdentifier": ["appointment_id=666", "sale_id=4"], "ActivityStatus": "Completed"}

        def test_the_events_arrive_signed(superoffice_rest, superoffice_webhooks):
            saved = superoffice_webhooks.register(["activity.changed", "sale.completed"], secret="s")
            assert saved["State"] == "Active"
            assert superoffice_rest.post("Agents/Appointment/SetActivityStatus", json=IDS).status_code == 204
            [posted] = superoffice_webhooks.assert_posted("activity.changed", primary_key=666, times=1)
            assert posted.signed_with("s") and posted.json["WebhookName"] == "pytest"
            superoffice_webhooks.assert_posted("sale.completed", primary_key=4, times=1)
            assert len(superoffice_webhooks.events()) == 2  # sale.changed: not registered for

        def test_a_missing_event_fails_listing_what_came(superoffice_rest, superoffice_webhooks):
            superoffice_webhooks.register()
            assert superoffice_rest.post("Agents/Appointment/SetActivityStatus", json=IDS).status_code == 204
            with pytest.raises(AssertionError, match="activity.changed PrimaryKey=666 retry=0"):
                superoffice_webhooks.assert_posted("document.changed")

        def test_a_failing_receiver_gets_three_tries_quickly(superoffice_rest, superoffice_webhooks):
            superoffice_webhooks.register()
            superoffice_webhooks.receiver.answer = lambda posted: 500
            assert superoffice_rest.post("Agents/Appointment/SetActivityStatus", json=IDS).status_code == 204
            posts = superoffice_webhooks.assert_posted("activity.changed", times=3)
            assert [p.retry for p in posts] == [0, 1, 2]
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)
