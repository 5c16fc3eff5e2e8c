"""superoffice-emulator: a local, faithful stand-in for a SuperOffice NetServer (Services86)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("superoffice-emulator")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
