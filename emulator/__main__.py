"""``python -m emulator`` is the ``superoffice-emulator`` command."""

from emulator.cli import main

main()
