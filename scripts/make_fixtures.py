"""Write fixtures/default.yaml: the default demo data, deterministic, several hundred activities.

Run ``python scripts/make_fixtures.py`` after changing it; the YAML file is what ships.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import yaml
from argon2.low_level import Type, hash_secret

from superoffice_emulator.domain.sessions import PASSWORD_HASHER

HEADER = """\
# The default demo data of superoffice-emulator. Every tenant starts from it and `reset` returns to it.
# Written by scripts/make_fixtures.py; the format is described in fixtures/README.md.
# Each user's password is the user's name; the file holds its Argon2id hash, made here once so that
# the emulator does not spend a few hundred milliseconds of every start hashing demo passwords.
"""

USERS = [
    # name, full name, group, role, fixed tickets
    ("demo", "Demo Administrator", 1, 1, ["7T:1234abcxyzExample=="]),
    ("sam", "Sam Salesrep", 2, 2, ["7T:U2FtU2FsZXNyZXBUaWNrZXQ="]),
    ("rita", "Rita Readonly", 1, 3, ["7T:Uml0YVJlYWRvbmx5VGlja2V0"]),
    ("olav", "Olav Colleague", 2, 2, []),
    ("ingrid", "Ingrid Othergroup", 3, 2, []),
]
ACCESS_TOKENS = {  # Bearer tokens for the REST twin in online mode, shaped like SuperID's
    "demo": ["8A:Cust12345.DemoAdministratorAccessToken"],
    "sam": ["8A:Cust12345.SamSalesrepAccessToken"],
    "rita": ["8A:Cust12345.RitaReadonlyAccessToken"],
}
DEMO_APPLICATION = {  # the Online front door's ready demo app (docs/online.md)
    "client_id": "demo-app",
    "client_secret": "demo-app-secret",
    "name": "Demo Online App",
    "redirect_uris": [
        "http://localhost:3000/callback",
        "http://127.0.0.1:3000/callback",
        "http://localhost:8000/callback",
        "http://127.0.0.1:8000/callback",
    ],
    "allowed_origins": ["http://localhost:3000", "http://127.0.0.1:3000"],
    "system_user": True,
}
DEMO_PRIVATE_KEY = Path(__file__).resolve().parent.parent / "fixtures" / "demo-app-private-key.pem"
"""The demo app's private key (demo data, published): its public half is registered in the fixtures."""
DEMO_CONSENT = {"client_id": "demo-app", "user": "demo", "system_token": "Demo Online App-DemoSystemToken"}
"""The demo app's system-user consent: its system token, and the user the system user acts as."""
ROLES = [
    {"role_id": 1, "name": "Administrator", "rights": {"all": "update"}},
    {
        "role_id": 2,
        "name": "Sales rep",
        "rights": {"all": {"own": "update", "group": "update", "other": "read"}},
    },
    {"role_id": 3, "name": "Read-only", "rights": {"all": "read"}},
]
TITLES = {
    "appointment": ["Meeting with", "Phone call with", "Lunch with", "Demo for", "Follow-up with"],
    "sale": ["Licence deal with", "Renewal for", "Upsell to", "Consulting for"],
    "document": ["Offer to", "Contract for", "Minutes from meeting with", "Letter to"],
    "todo": ["Send brochure to", "Call back", "Prepare quote for", "Update details of"],
}
COMPANIES = [
    "Nordic Fjord AS",
    "Acme Corp",
    "Tulip Trading BV",
    "Bergen Bryggeri",
    "Oslo Data",
    "Helsinki Hub Oy",
    "Stockholm Steel AB",
    "Aarhus Design ApS",
    "Utrecht Tiles",
]
COUNTS = {"appointment": 200, "sale": 100, "document": 80, "todo": 60}
STATUSES = ["NotStarted", "Started", "Completed", "NotStarted", "Unknown"]


def demo_password_hash(name: str) -> str:
    """The Argon2id hash of ``name`` as a password, as the emulator makes it, with a salt derived
    from the name, so that writing the file again gives the same file."""
    hasher = PASSWORD_HASHER
    salt = hashlib.sha256(f"superoffice-emulator demo user {name}".encode()).digest()[: hasher.salt_len]
    return hash_secret(
        name.encode(),
        salt,
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
        hash_len=hasher.hash_len,
        type=Type.ID,
    ).decode("ascii")


def demo_public_key() -> str:
    """The PEM public key of :data:`DEMO_PRIVATE_KEY`."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(DEMO_PRIVATE_KEY.read_bytes(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode("ascii")


def build() -> dict[str, object]:
    users = [
        {
            "associate_id": i,
            "name": name,
            "password_hash": demo_password_hash(name),
            "full_name": full,
            "email": f"{name}@example.com",
            "group_id": group,
            "role_id": role,
            "tickets": tickets,
            "access_tokens": ACCESS_TOKENS.get(name, []),
        }
        for i, (name, full, group, role, tickets) in enumerate(USERS, start=1)
    ]
    for user in users:
        for key in ("tickets", "access_tokens"):
            if not user[key]:
                del user[key]
    owners = itertools.cycle(range(1, len(USERS) + 1))
    statuses = itertools.cycle(STATUSES)
    activities: dict[str, list[dict[str, object]]] = {}
    for kind, count in COUNTS.items():
        rows = activities[kind] = []
        for n in range(1, count + 1):
            status = next(statuses)
            row: dict[str, object] = {
                "id": n,
                "title": f"{TITLES[kind][n % len(TITLES[kind])]} {COMPANIES[n % len(COMPANIES)]}",
                "status": status,
                "associate_id": next(owners),
                "registered": f"2025-{(n % 12) + 1:02d}-{(n % 28) + 1:02d}T09:00:00",
            }
            if status == "Completed":
                row["done"] = f"2025-{(n % 12) + 1:02d}-{(n % 28) + 1:02d}T15:30:00"
            rows.append(row)
    activities["appointment"].append(
        {
            "id": 666,
            "title": "Lunch with the SuperOffice documentation team",
            "status": "NotStarted",
            "associate_id": 1,
            "registered": "2025-06-06T11:00:00",
        }
    )
    return {
        "roles": ROLES,
        "users": users,
        "application_tokens": ["1234567-1234-9876"],
        "activities": activities,
        "denials": [
            {"activity": "sale_id=13", "note": "locked deal: nobody may change it"},
            {"activity": "appointment_id=99", "user": "sam"},
        ],
        "applications": [{**DEMO_APPLICATION, "public_key": demo_public_key()}],
        "tenant_state": "Running",
        "consents": [DEMO_CONSENT],
    }


class _Dumper(yaml.SafeDumper):
    """Writes a text of several lines (a PEM key) as a literal block."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def main() -> None:
    target = Path(__file__).resolve().parent.parent / "fixtures" / "default.yaml"
    text = yaml.dump(build(), Dumper=_Dumper, sort_keys=False, width=110, default_flow_style=None)
    target.write_text(HEADER + text, encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
