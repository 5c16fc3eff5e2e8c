"""The sign-in's RSA signing key: made once per database, kept across restarts (and every reset).

    key = SigningKeys(engine).current()     # made on first use, then read once per process
    key.kid, key.private_pem, key.public_jwk()

The key is made lazily (RSA 2048 costs a fraction of a second), by the first process that needs it,
in a write transaction of its own (on PostgreSQL under the schema's advisory lock); a process racing
it stores nothing and uses the first one's key, as does any process, read back after its own insert.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from superoffice_emulator.domain.clock import utcnow
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.transactions import ADVISORY_LOCK, SCHEMA_LOCK_KEY

KEY_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JSON Web Key (RFC 7517), as the JWKS lists it."""
        # imported here: the sign-in is not on a call's path, and the libraries take a while to load
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        key = serialization.load_pem_private_key(self.private_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "use": "sig", "alg": "RS256", "kid": self.kid}


def _new_key() -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(hashlib.sha256(public).hexdigest()[:16], pem)


class SigningKeys:
    """The database's signing key, read (or made) once per process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._key: SigningKey | None = None

    def current(self) -> SigningKey:
        key = self._key
        if key is None:
            with self._lock:
                key = self._key = self._key or self._read_or_make()
        return key

    def _read_or_make(self) -> SigningKey:
        with self._engine.connect() as connection:
            key = _stored(connection)
        if key is None:
            self._add(_new_key())
            with self._engine.connect() as connection:
                key = _stored(connection)  # the first key made: another process's, when one raced this
            assert key is not None
        return key

    def _add(self, key: SigningKey) -> None:
        """Store ``key`` unless the database holds one: made by another process meanwhile."""
        k = schema.signing_key
        try:
            with self._engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE, one writer at a time
                if connection.dialect.name == "postgresql":  # READ COMMITTED: two checks could both miss
                    connection.execute(ADVISORY_LOCK, {"key": SCHEMA_LOCK_KEY})
                if _stored(connection) is None:
                    connection.execute(
                        insert(k).values(
                            kid=key.kid, private_key=key.private_pem.decode("ascii"), created=utcnow()
                        )
                    )
        except IntegrityError:
            pass  # the same key stored meanwhile


def _stored(connection: Connection) -> SigningKey | None:
    """The database's first key made, if any."""
    k = schema.signing_key
    query = select(k.c.kid, k.c.private_key).order_by(k.c.created, k.c.kid).limit(1)
    row = connection.execute(query).first()
    return None if row is None else SigningKey(row.kid, row.private_key.encode("ascii"))
