"""The command line: thin click commands, each one library call (see docs/cli.md)."""

# Each module registers its commands on ``cli`` when imported.
from tracer.cli import case as _case  # noqa: F401  (registers `investigate`, `verify`)
from tracer.cli import cluster as _cluster  # noqa: F401  (registers `cluster`, `explain`)
from tracer.cli import ingest as _ingest  # noqa: F401  (registers commands)
from tracer.cli import report as _report  # noqa: F401  (registers `report`)
from tracer.cli import rpc as _rpc  # noqa: F401  (registers `ingest rpc`)
from tracer.cli import trace as _trace  # noqa: F401  (registers `trace`)
from tracer.cli._group import cli

__all__ = ["cli"]
