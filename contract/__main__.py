"""``python -m contract``: write the WSDL documents spyne generates from :mod:`contract.services86`
into ``superoffice_emulator/soap/wsdl/``, which the emulator serves; ``tests/test_wsdl.py`` fails
while they differ from what the declaration generates now.
"""

from __future__ import annotations

from contract.services86 import generate
from superoffice_emulator.soap.documents import SERVICE_NAMES, document_path


def main() -> None:
    for service in SERVICE_NAMES:
        path = document_path(service)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generate(service))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
