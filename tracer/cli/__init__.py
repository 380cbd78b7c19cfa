"""The command line: thin click commands, each one library call (see docs/cli.md)."""

# Each module registers its commands on ``cli`` when imported.
from tracer.cli import ingest as _ingest  # noqa: F401  (registers commands)
from tracer.cli._group import cli

__all__ = ["cli"]
