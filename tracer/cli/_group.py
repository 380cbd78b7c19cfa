"""The root click group and the one place where errors become exit codes."""

from __future__ import annotations

from typing import Any

import click

from tracer import __version__
from tracer.errors import InputError, TracerError


class InputException(click.ClickException):
    """Malformed input: ``Error: ...`` on stderr and exit code 2 (click's usage-error code)."""

    exit_code = 2


class TracerGroup(click.Group):
    """Translate tracer's errors once: malformed input exits 2, a failure of the world 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as e:
            raise InputException(str(e)) from e
        except TracerError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=TracerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Follow stolen cryptocurrency from attributed addresses to exchanges, mixers and bridges.

    Ingest transactions (files or a node), load seeds and labels, cluster addresses with
    explainable heuristics, trace the flow hop by hop, and render an offline HTML report.
    """
