"""Click parameter types shared by the commands: malformed values fail with exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tracer.addresses import normalize
from tracer.errors import InputError

__all__ = ["ADDRESS", "DATA_OPTION", "AddressType"]


class AddressType(click.ParamType):  # type: ignore[type-arg]
    """An address, normalised for the chain given by ``--chain`` (default ethereum)."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Normalise ``value`` or fail with exit code 2."""
        chain = "ethereum"
        if ctx is not None and ctx.params.get("chain"):
            chain = str(ctx.params["chain"])
        try:
            return normalize(str(value), chain)
        except InputError as e:
            self.fail(str(e), param, ctx)


ADDRESS = AddressType()

DATA_OPTION = click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The case data directory (Parquet tables; created if missing).",
)
