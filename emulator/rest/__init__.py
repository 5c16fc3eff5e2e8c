"""The REST twin: SuperOffice WebApi's Agents endpoints, a second thin codec around :mod:`emulator.calls`."""
