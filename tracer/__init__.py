"""tracer: follow stolen cryptocurrency from attributed addresses to exchanges and mixers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
