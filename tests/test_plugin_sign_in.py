"""The pytest plugin's sign-in helper, tested the way a user meets it: through ``pytester``."""

from __future__ import annotations

import warnings

# as in tests/test_plugin.py: pytester's inline runs share the modules imported here (the sign-in's
# key is made with cryptography's classes, whose second copy fails its isinstance checks)
import cryptography.hazmat.primitives.asymmetric.rsa
import cryptography.hazmat.primitives.serialization  # noqa: F401
import jwt  # noqa: F401
import pytest
import requests  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # spyne's `import cgi`
    import superoffice_emulator.testing  # noqa: F401

pytest_plugins = ["pytester"]

STRICT_INI = """\
[pytest]
filterwarnings =
    error
superoffice_mode = online
"""


def test_an_online_app_signs_in_without_a_browser_and_calls_with_the_token(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(
        """
        import requests

        CALL = "v1/Agents/Appointment/SetActivityStatus"

        def test_sign_in(superoffice_sign_in, superoffice_app, superoffice_tenant):
            signed_in = superoffice_sign_in("sam")
            assert signed_in.access_token.startswith(f"8A:{superoffice_tenant.name}.")
            assert signed_in.claim("ctx") == superoffice_tenant.name
            assert signed_in.claim("associateid") == "2"
            assert signed_in.claims["aud"] == superoffice_app.client_id == "demo-app"
            assert signed_in.webapi_url == superoffice_tenant.url + "/api/"
            answer = requests.post(
                signed_in.webapi_url + CALL,
                json={"ActivityIdentifier": ["sale_id=2"], "ActivityStatus": "Completed"},
                headers={**signed_in.bearer, "SO-AppToken": superoffice_app.client_secret},
            )
            assert answer.status_code == 204
            calls = superoffice_tenant.assert_called("SetActivityStatus", outcome="ok", times=1)
            assert calls[0]["user"] == "sam"

        def test_refresh(superoffice_sign_in):
            first = superoffice_sign_in()
            again = superoffice_sign_in.refresh(first)
            assert again.access_token != first.access_token
            assert again.claim("associateid") == first.claim("associateid") == "1"

        def test_an_unknown_user_fails_the_test_plainly(superoffice_sign_in):
            superoffice_sign_in("nobody")
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*superoffice_sign_in: the sign-in of 'nobody' was refused*access_denied*"])


def test_the_helper_signs_in_as_the_login_hint_when_the_emulator_signs_in_without_a_page(
    pytester: pytest.Pytester,
) -> None:
    """With ``--sign-in-as`` the authorize request redirects at once; ``login_hint`` names the user."""
    pytester.makeini(STRICT_INI)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def superoffice_settings(superoffice_settings):
            return superoffice_settings.replace(sign_in_as="demo")
        """
    )
    pytester.makepyfile(
        """
        def test_sign_in(superoffice_sign_in):
            assert superoffice_sign_in("olav").claim("associateid") == "4"
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
