"""Write emulator/wsdl/<service>.wsdl: the WSDL documents spyne generates from emulator.soap.wsdl.

Run ``python scripts/make_wsdl.py`` after changing the declaration; the written files are what
the emulator serves, and tests/test_wsdl.py fails while they differ from what spyne generates.
"""

from __future__ import annotations

from emulator.soap.documents import SERVICE_NAMES, document_path
from emulator.soap.wsdl import generate


def main() -> None:
    for service in SERVICE_NAMES:
        path = document_path(service)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generate(service))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
