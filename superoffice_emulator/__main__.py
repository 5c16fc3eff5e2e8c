"""``python -m superoffice_emulator`` is the ``superoffice-emulator`` command."""

from superoffice_emulator.cli import main

main()
