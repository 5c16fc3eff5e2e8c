"""superoffice-emulator: a local, faithful stand-in for a SuperOffice NetServer (Services86)."""

__version__ = "0.1.0"
"""The one place the version is written; pyproject.toml reads it from here (and the package
metadata from that). Not looked up with importlib.metadata: that costs 50 ms of every start."""
