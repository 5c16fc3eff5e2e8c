"""The sign-in with a second OpenID Connect client written elsewhere: ``openid-client`` from npm.

``tests/node/sign_in.mjs`` drives it, unchanged: discovery from the document's URL, the
authorization code flow with PKCE (and the hybrid ``code id_token``, whose ``c_hash`` it checks),
the id_tokens checked against the JWKS, a refresh, then SetActivityStatus through SuperOffice's own
``@superoffice/webapi`` with the minted Bearer token, and the token's revocation. The modules come
from ``tests/node/package-lock.json`` (``npm ci``); without node or them the tests skip, except
under CI, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.database import read_row
from tests.test_rest_node import NODE_PROJECT, _node

SCRIPT = NODE_PROJECT / "sign_in.mjs"
CLAIMS = "http://schemes.superoffice.net/identity/"
TENANT = "Cust777"


@pytest.fixture(scope="module")
def node() -> str:
    binary = _node()
    if not (NODE_PROJECT / "node_modules" / "openid-client" / "package.json").exists():
        missing = f"openid-client is not installed: make test installs it (npm ci in {NODE_PROJECT})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so the openid-client tests must run, but {missing}", pytrace=False)
        pytest.skip(missing)
    return binary


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """Online, signing the login_hint in without a page; the real clock (the client checks times)."""
    with LiveServer(settings.replace(mode="online", sign_in_as="demo")) as live:
        yield live


def sign_in(node: str, server: LiveServer, **options: Any) -> dict[str, Any]:
    arguments = {
        "discovery": server.url("/login/.well-known/openid-configuration"),
        "clientId": "demo-app",
        "clientSecret": "demo-app-secret",
        "redirectUri": "http://127.0.0.1:3000/callback",
        "tenant": TENANT,
        "user": "sam",
        "ids": ["todo_id=7"],
        "status": "Started",
        **options,
    }
    done = subprocess.run(
        [node, str(SCRIPT), json.dumps(arguments)],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("hybrid", [False, True], ids=["code", "code id_token"])
def test_openid_client_signs_in_refreshes_calls_and_revokes(
    node: str, server: LiveServer, db_path: Path, hybrid: bool
) -> None:
    result = sign_in(node, server, hybrid=hybrid)
    assert result["ok"] is True, result
    assert result["issuer"] == server.url()
    claims = result["claims"]
    assert (claims[CLAIMS + "ctx"], claims[CLAIMS + "associateid"], claims["aud"]) == (
        TENANT,
        "2",
        "demo-app",
    )
    assert result["refreshedClaims"][CLAIMS + "associateid"] == "2"
    assert result["refreshedAccessToken"].startswith(f"8A:{TENANT}.")

    row = read_row(db_path, "todo", 7, tenant=TENANT)
    assert row["status"] == 2 and row["updated_associate_id"] == 2

    principal = server.url(f"/{TENANT}/api/v1/User/currentPrincipal")
    for token, status in ((result["accessToken"], 200), (result["refreshedAccessToken"], 401)):  # revoked
        answer = requests.get(principal, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == status
    journal = requests.get(server.url(f"/{TENANT}/_emulator/journal"), timeout=10).json()
    seen = [(e["operation"], e["outcome"], e["user"]) for e in reversed(journal)]
    assert seen == [
        ("SignIn", "approved", "sam"),
        ("Token", "granted", "sam"),
        ("Token", "granted", "sam"),
        ("SetActivityStatus", "ok", "sam"),
        ("Revoke", "revoked", "sam"),
    ]


def test_openid_client_refuses_a_sign_in_the_emulator_refuses(node: str, server: LiveServer) -> None:
    result = sign_in(node, server, user="nobody")
    assert result["ok"] is False and result["step"] == "sign-in"
    assert result["code"] == "OAUTH_AUTHORIZATION_RESPONSE_ERROR"
