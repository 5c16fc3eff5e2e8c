"""The REST twin: SuperOffice WebApi's Agents endpoints, a second thin codec around
:mod:`superoffice_emulator.calls.pipeline`."""
