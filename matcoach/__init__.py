"""MatCoach: the command line and what the station and the server share (`matcoach.wire`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("matcoach")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
