"""HTTPS with a local certificate authority, and SuperOffice's host names (``--tls``).

The authority and the server certificate are checked as files (names, issuer, key modes, reuse,
renewal); the emulator answers as ``https://sod.superoffice.com`` when a request names that host;
and real clients (Python's ``ssl`` trusting the authority through ``SSL_CERT_FILE``, Node through
``NODE_EXTRA_CA_CERTS``) reach a served emulator over a real socket. The unchanged-client test
makes ``sod.superoffice.com`` resolve to the emulator in a mount namespace of its own (root only).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.cli import main
from superoffice_emulator.domain.hosts import SUPEROFFICE_HOSTS, superoffice_root
from superoffice_emulator.server import certificates
from superoffice_emulator.server.preflight import StartupError
from superoffice_emulator.settings import CertificateNames, SettingError, Settings
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.servers import ServerProcess

CLAIMS = "http://schemes.superoffice.net/identity/"
DISCOVERY = "/login/.well-known/openid-configuration"
AUTHORIZE = "/login/common/oauth/authorize"
TOKENS = "/login/common/oauth/tokens"
CLIENT_ID, SECRET, REDIRECT = "demo-app", "demo-app-secret", "http://127.0.0.1:3000/callback"
SOD = "https://sod.superoffice.com"


@pytest.fixture
def tls(settings: Settings, tmp_path: Path) -> Settings:
    return settings.replace(tls=True, tls_dir=tmp_path / "tls", mode="online", sign_in_as="demo")


@pytest.fixture
def emulator(tls: Settings, clock: FakeClock) -> Iterator[EmulatorApp]:
    application = create_app(tls, clock=clock)
    yield application
    application.runtime.database.dispose()


def sqlite_settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}", tls=True, **changes)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def names_of(certificate: x509.Certificate) -> tuple[set[str], set[str]]:
    covered = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(covered.get_values_for_type(x509.DNSName)), {
        str(ip) for ip in covered.get_values_for_type(x509.IPAddress)
    }


# -- the authority and the certificate ----------------------------------------------------------
def test_the_certificate_covers_loopback_superoffices_hosts_and_the_extra_names(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, tls_names=("crm.test", "10.1.2.3"))

    files = certificates.prepare(settings, "127.0.0.1")

    assert files.authority.parent == tmp_path, "the authority lives beside the SQLite file"
    server, authority = load(files.certificate), load(files.authority)
    dns, ips = names_of(server)
    assert dns == {"localhost", *SUPEROFFICE_HOSTS, "crm.test"}
    assert ips == {"127.0.0.1", "::1", "10.1.2.3"}
    server.verify_directly_issued_by(authority)
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages


def test_a_specific_bound_address_is_covered_a_wildcard_one_is_not(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)

    _, bound = names_of(load(certificates.prepare(settings, "192.0.2.7").certificate))
    _, everywhere = names_of(load(certificates.prepare(settings, "0.0.0.0").certificate))

    assert "192.0.2.7" in bound
    assert everywhere == {"127.0.0.1", "::1"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0)  # even with a umask that would leave them open to all
    try:
        certificates.prepare(sqlite_settings(tmp_path))
    finally:
        os.umask(previous)

    private = tmp_path / certificates.PRIVATE
    assert private.stat().st_mode & 0o777 == 0o700
    for key in (certificates.AUTHORITY_KEY, certificates.CERTIFICATE_KEY):
        assert (private / key).stat().st_mode & 0o777 == 0o600, key
        assert not (tmp_path / key).exists(), f"{key} is not beside the certificates clients are given"
    assert (tmp_path / certificates.AUTHORITY).stat().st_mode & 0o077 == 0o044  # public, read-only
    assert not [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symbolic links")
def test_a_link_planted_at_a_temporary_name_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    for pid in range(os.getpid() - 5, os.getpid() + 5):  # the names a predictable scheme would use
        for name in (certificates.AUTHORITY, certificates.CERTIFICATE):
            (tmp_path / f".{name}.{pid}.tmp").symlink_to(victim)

    files = certificates.prepare(sqlite_settings(tmp_path))

    assert victim.read_bytes() == b"untouched"
    assert not files.authority.is_symlink() and load(files.authority)


def test_keys_kept_beside_the_certificates_move_to_private_and_the_authority_stays(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    files = certificates.prepare(settings)
    trusted = files.authority.read_bytes()
    for key in (certificates.AUTHORITY_KEY, certificates.CERTIFICATE_KEY):  # the layout of before
        os.replace(tmp_path / certificates.PRIVATE / key, tmp_path / key)
    (tmp_path / certificates.PRIVATE).rmdir()

    again = certificates.prepare(settings)

    assert again.authority.read_bytes() == trusted, "a client that trusts the authority still does"
    for key in (certificates.AUTHORITY_KEY, certificates.CERTIFICATE_KEY):
        assert not (tmp_path / key).exists() and (tmp_path / certificates.PRIVATE / key).exists(), key
    assert again.key.parent == tmp_path / certificates.PRIVATE
    load(again.certificate).verify_directly_issued_by(load(again.authority))


def test_the_authority_is_kept_and_the_certificate_renewed_only_when_due(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    settings = sqlite_settings(tmp_path)
    files = certificates.prepare(settings, now=start)
    authority, issued = files.authority.read_bytes(), files.certificate.read_bytes()

    certificates.prepare(settings, now=start + timedelta(days=1))  # a restart
    assert (files.authority.read_bytes(), files.certificate.read_bytes()) == (authority, issued)

    certificates.prepare(settings.replace(tls_names=("crm.test",)), now=start + timedelta(days=2))
    renamed = files.certificate.read_bytes()
    assert renamed != issued and "crm.test" in names_of(load(files.certificate))[0]

    certificates.prepare(settings.replace(tls_names=("crm.test",)), now=start + timedelta(days=340))
    renewed = load(files.certificate)
    assert files.certificate.read_bytes() != renamed
    assert renewed.not_valid_after_utc > start + timedelta(days=340 + 300)

    assert files.authority.read_bytes() == authority, "clients trust the authority once"
    renewed.verify_directly_issued_by(load(files.authority))


def test_a_damaged_authority_stops_the_start_and_is_never_replaced(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    certificates.prepare(settings)
    key = tmp_path / certificates.PRIVATE / certificates.AUTHORITY_KEY
    key.write_bytes(b"not a key")

    with pytest.raises(StartupError, match=certificates.AUTHORITY_KEY):
        certificates.prepare(settings)
    assert key.read_bytes() == b"not a key"


def test_a_postgresql_database_needs_a_directory_for_the_authority(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql+psycopg://emulator@db.test/crm", tls=True)

    with pytest.raises(StartupError, match="--tls-dir"):
        certificates.directory(settings)
    assert certificates.directory(settings.replace(tls_dir=tmp_path / "ca")) == tmp_path / "ca"


@pytest.mark.parametrize("text", ["*", "bad name", "crm.test,-", "a..b"])
def test_a_certificate_name_must_be_a_host_name_or_address(text: str) -> None:
    with pytest.raises(SettingError):
        CertificateNames().parse(text)


def test_certificate_names_are_read_and_normalised() -> None:
    assert CertificateNames().parse("CRM.test, [::1] ,10.0.0.1") == ("crm.test", "::1", "10.0.0.1")


# -- the CLI's ca command -----------------------------------------------------------------------
def test_the_ca_command_makes_the_authority_once_and_says_how_to_trust_it(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    authority = tmp_path / certificates.AUTHORITY

    first = runner.invoke(main, ["ca", "--database-url", url])
    made = authority.read_bytes()
    again = runner.invoke(main, ["ca", "--database-url", url, "--path"])

    assert first.exit_code == 0, first.output
    for advice in (
        "NODE_EXTRA_CA_CERTS=",
        "SSL_CERT_FILE=",
        "REQUESTS_CA_BUNDLE=",
        "keytool -importcert",
        "update-ca-certificates",
        "certutil -addstore",
        "Import-Certificate",
        "--cacert",
    ):
        assert advice in first.output and str(authority) in first.output, advice
    assert again.exit_code == 0 and again.output == f"{authority}\n"
    assert authority.read_bytes() == made
    assert not (tmp_path / "crm.db").exists(), "the ca command opens no database"


def test_the_ca_command_with_postgresql_and_no_directory_says_what_to_do() -> None:
    result = CliRunner().invoke(main, ["ca", "--database-url", "postgresql+psycopg://emulator@db.test/crm"])

    assert result.exit_code == 1
    assert "--tls-dir" in result.output


# -- SuperOffice's host names -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "root"),
    [
        ("sod.superoffice.com", SOD),
        ("SOD.SuperOffice.com.", SOD),
        ("online.superoffice.com:443", "https://online.superoffice.com"),
        ("qaonline.superoffice.com:8443", "https://qaonline.superoffice.com:8443"),
        ("stage.superoffice.com", "https://stage.superoffice.com"),
        ("sod2.superoffice.com", None),
        ("evil.superoffice.com", None),
        ("sod.superoffice.com.evil.test", None),
        ("127.0.0.1:8080", None),
        ("[::1]:8080", None),
        ("sod.superoffice.com:x", None),
    ],
)
def test_superoffices_root_is_named_by_its_hosts_only(host: str, root: str | None) -> None:
    assert superoffice_root(host) == root


def sign_in(client: Client, base_url: str, tenant: str = "Cust777") -> dict[str, Any]:
    authorize = client.get(
        AUTHORIZE,
        base_url=base_url,
        query_string={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "acr_values": f"tenant:{tenant}",
        },
    )
    assert authorize.status_code == 302, authorize.get_data(as_text=True)
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    answer = client.post(
        TOKENS, base_url=base_url, data={**form, "client_id": CLIENT_ID, "client_secret": SECRET}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    claims: dict[str, Any] = jwt.decode(answer.get_json()["id_token"], options={"verify_signature": False})
    return claims


@pytest.mark.parametrize("host", SUPEROFFICE_HOSTS)
def test_the_emulator_answers_as_the_superoffice_host_a_request_names(
    emulator: EmulatorApp, host: str
) -> None:
    client = Client(emulator)
    root = f"https://{host}"

    discovery = client.get(DISCOVERY, base_url=root).get_json()
    claims = sign_in(client, root)
    state = client.get("/api/state/Cust777", base_url=root).get_json()

    assert discovery["issuer"] == root
    assert discovery["token_endpoint"] == f"{root}{TOKENS}"
    assert discovery["jwks_uri"] == f"{root}/login/.well-known/jwks"
    assert claims["iss"] == root
    assert claims[CLAIMS + "netserver_url"] == f"{root}/Cust777/Remote/Services86/"
    assert claims[CLAIMS + "webapi_url"] == f"{root}/Cust777/api/"
    assert (state["Endpoint"], state["Api"]) == (f"{root}/Cust777", f"{root}/Cust777/api")


def test_behind_a_tls_proxy_the_superoffice_host_is_still_https(emulator: EmulatorApp) -> None:
    discovery = Client(emulator).get(DISCOVERY, base_url="http://sod.superoffice.com").get_json()

    assert discovery["issuer"] == SOD


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "https://crm.test:8443", "https://sod2.superoffice.com"]
)
def test_other_hosts_are_answered_under_their_own_url(emulator: EmulatorApp, base_url: str) -> None:
    client = Client(emulator)

    assert client.get(DISCOVERY, base_url=base_url).get_json()["issuer"] == base_url
    assert sign_in(client, base_url)["iss"] == base_url


# -- the guard ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tls_on", "host", "status"),
    [
        (True, "sod.superoffice.com", 200),
        (True, "online.superoffice.com:443", 200),
        (True, "evil.superoffice.com", 421),
        (True, "superoffice.com", 421),
        (True, "rebind.example", 421),
        (False, "sod.superoffice.com", 421),
    ],
)
def test_with_tls_the_admin_api_answers_under_superoffices_hosts_only(
    tls: Settings, tls_on: bool, host: str, status: int
) -> None:
    app = create_app(tls.replace(tls=tls_on))
    try:
        answer = Client(app).get("/_emulator/health", headers={"Host": host})
    finally:
        app.runtime.database.dispose()

    assert answer.status_code == status


@pytest.mark.parametrize(
    ("tls_on", "origin", "status"),
    [
        (True, SOD, 302),
        (True, "https://evil.superoffice.com", 403),
        (False, SOD, 403),
    ],
)
def test_the_sign_in_page_served_as_sod_may_post_its_approval(
    tls: Settings, tls_on: bool, origin: str, status: int
) -> None:
    app = create_app(tls.replace(tls=tls_on))
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "user": "demo",
        "decision": "approve",
    }
    try:
        answer = Client(app).post(AUTHORIZE, base_url=SOD, data=form, headers={"Origin": origin})
    finally:
        app.runtime.database.dispose()

    assert answer.status_code == status
    if status == 302:
        assert "code" in parse_qs(urlsplit(answer.headers["Location"]).query)


# -- real sockets -------------------------------------------------------------------------------
def test_plain_http_is_the_default_and_makes_no_certificate(settings: Settings, tmp_path: Path) -> None:
    assert Settings().tls is False
    with (
        LiveServer(settings.replace(tls_dir=tmp_path / "tls")) as server,
        urllib.request.urlopen(server.url("/_emulator/health"), timeout=30) as answer,
    ):
        assert answer.status == 200
    assert server.url().startswith("http://")
    assert not (tmp_path / "tls").exists()


def test_the_live_server_serves_https_trusted_through_the_authority(tls: Settings) -> None:
    with LiveServer(tls) as server:
        assert server.url().startswith("https://")
        authority = certificates.directory(tls) / certificates.AUTHORITY
        trusting = ssl.create_default_context(cafile=str(authority))
        with urllib.request.urlopen(server.url("/_emulator/health"), timeout=30, context=trusting) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.URLError):  # a client that does not trust it is refused
            urllib.request.urlopen(
                server.url("/_emulator/health"),
                timeout=30,
                context=ssl.create_default_context(cafile=None, cadata=_other_authority()),
            )


def test_a_client_that_never_shakes_hands_holds_up_no_other(tls: Settings) -> None:
    with LiveServer(tls) as server, socket.create_connection(("127.0.0.1", server.port)):  # sends nothing
        authority = certificates.directory(tls) / certificates.AUTHORITY
        trusting = ssl.create_default_context(cafile=str(authority))
        with urllib.request.urlopen(server.url("/_emulator/health"), timeout=30, context=trusting) as answer:
            assert answer.status == 200


def _other_authority() -> str:
    """A certificate authority of another emulator, which signed nothing this one serves."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = certificates.authority(Path(folder))
        return path.read_text()


RESOLVING_CLIENT = """
import json, socket, sys, urllib.request
port = sys.argv[1]
real = socket.getaddrinfo
def resolve(host, *args, **kwargs):  # what a hosts-file line does
    return real("127.0.0.1" if host == "sod.superoffice.com" else host, *args, **kwargs)
socket.getaddrinfo = resolve
url = f"https://sod.superoffice.com:{port}/login/.well-known/openid-configuration"
with urllib.request.urlopen(url, timeout=30) as answer:
    print(json.dumps(json.load(answer)))
"""


def served(tmp_path: Path, *options: str) -> ServerProcess:
    command = [
        sys.executable,
        "-m",
        "superoffice_emulator",
        "serve",
        "--tls",
        "--host",
        "127.0.0.1",
        *options,
    ]
    env = {"EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}", "EMULATOR_LOG_LEVEL": "info"}
    return ServerProcess(command, env={**{k: "" for k in os.environ if k.startswith("EMULATOR_")}, **env})


def client_env(**variables: str) -> dict[str, str]:
    """This environment without any other trust setting, with ``variables``."""
    cleared = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
    return {**{k: v for k, v in os.environ.items() if k not in cleared}, **variables}


@pytest.mark.parametrize("workers", ["1", "0"], ids=["granian", "werkzeug"])
def test_a_python_client_trusting_the_authority_by_ssl_cert_file_reaches_sod(
    tmp_path: Path, workers: str
) -> None:
    server = served(tmp_path, "--port", "0", "--workers", workers)
    try:
        authority = str(tmp_path / certificates.AUTHORITY)
        _accepting(server.port)
        trusted = subprocess.run(
            [sys.executable, "-c", RESOLVING_CLIENT, str(server.port)],
            env=client_env(SSL_CERT_FILE=authority),
            capture_output=True,
            text=True,
            timeout=60,
        )
        distrusted = subprocess.run(
            [sys.executable, "-c", RESOLVING_CLIENT, str(server.port)],
            env=client_env(SSL_CERT_FILE=str(tmp_path / "none.pem")),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        status = server.stop()

    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["issuer"] == f"{SOD}:{server.port}"
    assert distrusted.returncode != 0
    assert status == 0, "".join(server.output)
    banner = "".join(server.output)
    assert f"listening on https://127.0.0.1:{server.port}/" in banner and authority in banner


def _accepting(port: int) -> None:
    """Returns once ``port`` accepts connections (granian's worker starts just after the banner)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


PYTHON_CLIENT = """
import json, urllib.request
def get(url):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)
print(json.dumps([get("https://sod.superoffice.com/login/.well-known/openid-configuration"),
                  get("https://sod.superoffice.com/api/state/Cust777")]))
"""

NODE_CLIENT = """
const https = require("https");
const get = (url) => new Promise((resolve, reject) => https.get(url, (answer) => {
  let text = "";
  answer.on("data", (part) => (text += part));
  answer.on("end", () => resolve(JSON.parse(text)));
}).on("error", reject));
Promise.all([get("https://sod.superoffice.com/login/.well-known/openid-configuration"),
             get("https://sod.superoffice.com/api/state/Cust777")])
  .then((answers) => console.log(JSON.stringify(answers)))
  .catch((error) => { console.error(String(error)); process.exit(1); });
"""


def _namespaces_permitted() -> str | None:
    """Why an unchanged client cannot be pointed at the emulator here, or ``None`` when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "making sod.superoffice.com resolve here takes root (unshare --mount, mount --bind /etc/hosts)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return f"unshare --mount is not permitted here: {probe.stderr.decode(errors='replace').strip()}"
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 443))
        except OSError as exc:
            return f"port 443 on 127.0.0.1 is not free: {exc}"
    return None


def as_superoffice(tmp_path: Path, client: list[str], env: dict[str, str], *options: str) -> str:
    """``client``'s output, run unchanged while ``serve --tls --port 443`` runs and SuperOffice's
    host names resolve to it: ``/etc/hosts`` differs in a mount namespace of the client's own."""
    reason = _namespaces_permitted()
    if reason:
        pytest.skip(reason)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 " + " ".join(SUPEROFFICE_HOSTS) + "\n")
    command = [
        "unshare",
        "--mount",
        "sh",
        "-c",
        'mount --bind "$0" /etc/hosts && exec "$@"',
        str(hosts),
        *client,
    ]

    server = served(tmp_path, "--port", "443", *options)
    try:
        _accepting(443)
        ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    finally:
        status = server.stop()

    assert ran.returncode == 0, ran.stderr
    assert status == 0, "".join(server.output)
    return ran.stdout


@pytest.mark.parametrize("runtime", ["python", "node"])
def test_an_unchanged_client_reaches_https_sod_superoffice_com(tmp_path: Path, runtime: str) -> None:
    if runtime == "node" and shutil.which("node") is None:
        pytest.skip("node is not installed")
    authority = str(tmp_path / certificates.AUTHORITY)
    if runtime == "python":
        client, env = [sys.executable, "-c", PYTHON_CLIENT], client_env(SSL_CERT_FILE=authority)
    else:
        client, env = ["node", "-e", NODE_CLIENT], client_env(NODE_EXTRA_CA_CERTS=authority)

    discovery, state = json.loads(as_superoffice(tmp_path, client, env))

    assert discovery["issuer"] == SOD
    assert discovery["authorization_endpoint"] == f"{SOD}{AUTHORIZE}"
    assert (state["Endpoint"], state["Api"]) == (f"{SOD}/Cust777", f"{SOD}/Cust777/api")


SIGN_IN_CLIENT = """
import json, jwt, requests
from urllib.parse import parse_qs, urlsplit
CLIENT_ID, SECRET, REDIRECT = "demo-app", "demo-app-secret", "http://127.0.0.1:3000/callback"
found = requests.get("https://sod.superoffice.com/login/.well-known/openid-configuration", timeout=30).json()
answer = requests.get(found["authorization_endpoint"], allow_redirects=False, timeout=30, params={
    "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
    "nonce": "n-1", "acr_values": "tenant:Cust777"})
code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
tokens = requests.post(found["token_endpoint"], timeout=30, data={
    "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
    "client_id": CLIENT_ID, "client_secret": SECRET}).json()
keys = requests.get(found["jwks_uri"], timeout=30).json()["keys"]
claims = jwt.decode(tokens["id_token"], jwt.PyJWK(keys[0]).key, algorithms=["RS256"],
                    audience=CLIENT_ID, issuer="https://sod.superoffice.com")
webapi = claims["http://schemes.superoffice.net/identity/webapi_url"]
me = requests.get(webapi + "v1/User/currentPrincipal", timeout=30,
                  headers={"Authorization": "Bearer " + tokens["access_token"], "SO-AppToken": SECRET})
print(json.dumps({"webapi": webapi, "status": me.status_code, "me": me.json()}))
"""


def test_an_oidc_client_signs_in_at_sod_and_calls_its_tenant(tmp_path: Path) -> None:
    """requests trusting the authority by REQUESTS_CA_BUNDLE, the id_token checked by PyJWT."""
    env = client_env(REQUESTS_CA_BUNDLE=str(tmp_path / certificates.AUTHORITY))
    client = [sys.executable, "-c", SIGN_IN_CLIENT]

    answer = json.loads(as_superoffice(tmp_path, client, env, "--mode", "online", "--sign-in-as", "demo"))

    assert answer["webapi"] == f"{SOD}/Cust777/api/"
    assert answer["status"] == 200
    assert (answer["me"]["Associate"], answer["me"]["ContextIdentifier"]) == ("demo", "Cust777")
