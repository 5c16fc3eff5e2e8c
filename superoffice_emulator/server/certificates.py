"""The local certificate authority behind ``--tls``, and the server certificate it signs.

    from superoffice_emulator.server.certificates import prepare

    files = prepare(settings, "127.0.0.1")   # the CA made once, the server certificate when needed
    files.certificate, files.key             # what the HTTPS server presents
    files.authority                          # the one file a client trusts

Two public PEM files live in one directory (:func:`directory`: ``--tls-dir``, or the SQLite file's),
and their two keys in its subfolder ``private/`` (mode 0700), apart from what clients are given:

- ``superoffice-emulator-ca.pem`` and ``private/superoffice-emulator-ca-key.pem``: the certificate
  authority, made on first use and kept, so that a client trusts it once. Its key never leaves
  ``private/``: whoever holds it can impersonate any site to a machine that trusts the authority (it
  has no name constraints).
- ``superoffice-emulator-server.pem`` and ``private/superoffice-emulator-server-key.pem``: the server's
  certificate for :func:`certificate_names`, issued again when the names change, the authority
  changes, or it has less than :data:`RENEW_BEFORE` left.

Keys found beside the certificates (where they were once kept) are moved into ``private/``, so an
authority already trusted stays. Keys are EC P-256 (every runtime a client is written in accepts
them), written with mode 0600 and replaced whole through a fresh temporary file (a reader never sees
half a file). The X.509 work is ``cryptography``'s builder.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from superoffice_emulator.domain.hosts import SUPEROFFICE_HOSTS
from superoffice_emulator.files import write_whole
from superoffice_emulator.server.guard import WILDCARD_ADDRESSES
from superoffice_emulator.server.preflight import StartupError, sqlite_path
from superoffice_emulator.settings import Settings

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

AUTHORITY = "superoffice-emulator-ca.pem"
AUTHORITY_KEY = "superoffice-emulator-ca-key.pem"
CERTIFICATE = "superoffice-emulator-server.pem"
CERTIFICATE_KEY = "superoffice-emulator-server-key.pem"
PRIVATE = "private"
"""The subfolder of the keys, never given to a client."""

STANDARD_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", *SUPEROFFICE_HOSTS)
"""What every server certificate covers; ``--tls-name`` adds more."""
AUTHORITY_LIFETIME = timedelta(days=3650)
CERTIFICATE_LIFETIME = timedelta(days=365)
"""Under the 398 days that browsers and Apple's clients accept for a server certificate."""
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class ServerFiles:
    """The PEM files an HTTPS server needs, and the authority a client trusts."""

    certificate: Path
    key: Path
    authority: Path

    def context(self) -> ssl.SSLContext:
        """A server-side :class:`ssl.SSLContext` that presents the certificate (werkzeug's servers)."""
        context = _HandshakeOnRead(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        return context


class _HandshakeOnRead(ssl.SSLContext):
    """Sockets that shake hands on their first read, in the connection's own thread: werkzeug accepts
    in one thread, where a client that connects and sends nothing would hold up every other."""

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(sock, server_side, False, suppress_ragged_eofs, server_hostname, session)


def directory(settings: Settings) -> Path:
    """Where the authority and the certificate live: ``--tls-dir``, else the SQLite file's directory.

    :class:`~superoffice_emulator.server.preflight.StartupError` for PostgreSQL without ``--tls-dir``.
    """
    if settings.tls_dir is not None:
        return settings.tls_dir.absolute()
    database = sqlite_path(settings.database_url)
    if database is None:
        raise StartupError(
            "With a database that is not a SQLite file, name the directory of the certificate authority"
            " with --tls-dir (a volume that outlives the server, so that clients trust it once)."
        )
    return database.parent


def certificate_names(settings: Settings, host: str = "127.0.0.1") -> tuple[str, ...]:
    """The names the server certificate covers: :data:`STANDARD_NAMES`, the bound ``host`` (unless
    it is a wildcard address) and ``--tls-name``, each once."""
    names = [*STANDARD_NAMES, *([] if host in WILDCARD_ADDRESSES else [host]), *settings.tls_names]
    return tuple(dict.fromkeys(_normal(name) for name in names))


def authority(folder: Path, *, now: datetime | None = None) -> Path:
    """The authority's certificate in ``folder``, made first when it is missing; a StartupError
    when it cannot be written or read."""
    _authority(folder, now or datetime.now(UTC))
    return folder / AUTHORITY


def prepare(settings: Settings, host: str = "127.0.0.1", *, now: datetime | None = None) -> ServerFiles:
    """The authority (made once) and a current server certificate for ``host`` and ``settings``."""
    folder = directory(settings)
    moment = now or datetime.now(UTC)
    names = certificate_names(settings, host)
    authority_certificate, authority_key = _authority(folder, moment)
    files = ServerFiles(folder / CERTIFICATE, folder / PRIVATE / CERTIFICATE_KEY, folder / AUTHORITY)
    if not _is_current(files, authority_certificate, names, moment):
        with _writing(folder):
            _issue(files, authority_certificate, authority_key, names, moment)
    return files


# -- the authority ------------------------------------------------------------------------------
def _authority(folder: Path, now: datetime) -> tuple[x509.Certificate, EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    certificate_file, key_file = folder / AUTHORITY, folder / PRIVATE / AUTHORITY_KEY
    _move_keys(folder)
    if not certificate_file.exists():  # a key alone was never trusted by anyone: made again
        with _writing(folder):
            return _make_authority(folder, now)
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise StartupError(
            f"The certificate authority in {folder} cannot be read ({type(exc).__name__}). Delete"
            f" {AUTHORITY} and {PRIVATE}/{AUTHORITY_KEY} there to make a new one (clients must then trust"
            " the new one), or name another directory with --tls-dir."
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or _public(key) != _public(certificate):
        raise StartupError(
            f"{key_file} is not the key of {certificate_file}. Delete both to make a new certificate"
            " authority (clients must then trust the new one), or name another directory with --tls-dir."
        )
    return certificate, key


def _make_authority(folder: Path, now: datetime) -> tuple[x509.Certificate, EllipticCurvePrivateKey]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    # a name of its own per authority, so that trust stores holding several never confuse them
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "superoffice-emulator"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, socket.gethostname()[:64] or "localhost"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"superoffice-emulator local CA {now:%Y-%m-%d %H:%M:%S}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + AUTHORITY_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # the key first: a certificate never stands alone
    write_whole(folder / PRIVATE / AUTHORITY_KEY, _private_pem(key), private=True)
    write_whole(folder / AUTHORITY, _certificate_pem(certificate), private=False)
    return certificate, key


# -- the server certificate ---------------------------------------------------------------------
def _is_current(
    files: ServerFiles, authority_certificate: x509.Certificate, names: tuple[str, ...], now: datetime
) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        certificate.verify_directly_issued_by(authority_certificate)
        covered = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        _public(key) == _public(certificate)
        and set(_names_of(covered)) == set(names)
        and certificate.not_valid_after_utc - now > RENEW_BEFORE
    )


def _issue(
    files: ServerFiles,
    authority_certificate: x509.Certificate,
    authority_key: EllipticCurvePrivateKey,
    names: tuple[str, ...],
    now: datetime,
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    authority_identifier = authority_certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(authority_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(min(now + CERTIFICATE_LIFETIME, authority_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_identifier),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    write_whole(files.key, _private_pem(key), private=True)
    write_whole(files.certificate, _certificate_pem(certificate), private=False)


# -- helpers ------------------------------------------------------------------------------------
def _normal(name: str) -> str:
    name = name.strip().strip("[]").lower()
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _general_name(name: str) -> x509.GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _names_of(covered: x509.SubjectAlternativeName) -> list[str]:
    from cryptography import x509

    dns: list[str] = covered.get_values_for_type(x509.DNSName)
    return [*(name.lower() for name in dns), *(str(ip) for ip in covered.get_values_for_type(x509.IPAddress))]


def _public(holder: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = holder.public_key()  # type: ignore[attr-defined]
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _private_pem(key: EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate_pem(certificate: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


@contextlib.contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """Makes ``folder`` and its ``private/``; an ``OSError`` inside becomes a StartupError that names it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _private_folder(folder)
        yield
    except OSError as exc:
        raise StartupError(
            f"Cannot write the certificates in {folder}: {exc.strerror or exc}. Name a directory this"
            " user may write with --tls-dir."
        ) from exc


def _private_folder(folder: Path) -> Path:
    """``folder``'s ``private/``, made if missing, open to its owner only."""
    private = folder / PRIVATE
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_mode & 0o077:  # whatever the umask, or a folder made by hand, left open
        os.chmod(private, 0o700)
    return private


def _move_keys(folder: Path) -> None:
    """Keys kept beside the certificates, where clients may read them, moved into ``private/``."""
    stray = [name for name in (AUTHORITY_KEY, CERTIFICATE_KEY) if (folder / name).exists()]
    if stray:
        with _writing(folder):
            for name in stray:
                os.replace(folder / name, folder / PRIVATE / name)


def instructions(authority: Path) -> str:
    """How a developer makes each client runtime trust ``authority``, and reach the emulator by
    SuperOffice's host names (what ``superoffice-emulator ca`` prints)."""
    pem = str(authority)
    quoted = f'"{pem}"' if " " in pem else pem
    hosts = " ".join(SUPEROFFICE_HOSTS)
    return f"""\
The certificate authority of superoffice-emulator --tls:
  {pem}
Give clients this file alone. Its key ({PRIVATE}/{AUTHORITY_KEY}) never leaves this directory:
whoever holds the key can impersonate any site to a machine that trusts this authority (it has no
name constraints), so trust it only on machines and containers you develop on.

Trust it in a client:
  Node.js        NODE_EXTRA_CA_CERTS={quoted} node app.js
  Python         SSL_CERT_FILE={quoted} python app.py   (ssl, urllib, httpx, aiohttp)
                 REQUESTS_CA_BUNDLE={quoted} python app.py   (requests, zeep)
  curl           curl --cacert {quoted} https://sod.superoffice.com/login/.well-known/openid-configuration
  Java           keytool -importcert -noprompt -cacerts -storepass changeit \\
                   -alias superoffice-emulator -file {quoted}
  .NET, Linux    sudo cp {quoted} /usr/local/share/ca-certificates/superoffice-emulator.crt
                 sudo update-ca-certificates
  .NET, Windows  certutil -addstore -f Root {quoted}   (an administrator's prompt), or in PowerShell:
                 Import-Certificate -FilePath {quoted} -CertStoreLocation Cert:\\LocalMachine\\Root
  (SSL_CERT_FILE and REQUESTS_CA_BUNDLE replace the usual authorities for that process.)

Reach it as SuperOffice: serve on port 443 (superoffice-emulator serve --tls --port 443) and make
the names resolve to it, e.g. in /etc/hosts (Windows: C:\\Windows\\System32\\drivers\\etc\\hosts):
  127.0.0.1 {hosts}
or, in Docker Compose, as network aliases of the emulator's service (docker/compose.yaml)."""
