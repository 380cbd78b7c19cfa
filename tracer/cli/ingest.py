"""``tracer ingest files``, ``tracer seeds``, ``tracer labels``: bring data into a case."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._group import cli
from tracer.cli.params import DATA_OPTION
from tracer.ingest.files import FORMATS, ingest_files
from tracer.store import Store


def _print_added(added: dict[str, int]) -> None:
    for table, rows in sorted(added.items()):
        click.echo(f"{table}: {rows} new rows")


def _parse_map(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, str]:
    if not value:
        return {}
    pairs: dict[str, str] = {}
    for item in value.split(","):
        column, sep, source = item.partition("=")
        if not sep or not column.strip() or not source.strip():
            msg = f"{item!r} is not column=Header; write e.g. --map from=From,to=To,value=Value"
            raise click.BadParameter(msg, ctx, param)
        pairs[column.strip()] = source.strip()
    return pairs


@cli.group("ingest")
def ingest() -> None:
    """Ingest transaction data into a case data directory."""


@ingest.command("files")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", required=True, type=click.Choice(list(FORMATS)), help="The files' format."
)
@click.option(
    "--map",
    "column_map",
    callback=_parse_map,
    help="For --format mapped: table column=file header pairs, e.g. from=From,to=To,value=Value.",
)
@click.option("--chain", default="ethereum", show_default=True, help="Chain the files describe.")
@DATA_OPTION
def ingest_files_cmd(
    paths: tuple[Path, ...], fmt: str, column_map: dict[str, str], chain: str, data: Path
) -> None:
    """Ingest exported files (PATHS may be directories) into the data directory."""
    _print_added(ingest_files(Store(data), paths, fmt=fmt, chain=chain, options=column_map))


@cli.command("seeds")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "txt", "csv", "json", "ofac-xml", "ofac-advanced-xml", "ofac-csv"]),
)
@click.option(
    "--chain",
    default=None,
    help="Keep only this chain's addresses (lists without a chain column default to ethereum).",
)
@DATA_OPTION
def seeds_cmd(path: Path, fmt: str, chain: str | None, data: Path) -> None:
    """Load attributed addresses (seeds) from PATH."""
    from tracer.ingest.seeds import ingest_seeds

    _print_added(ingest_seeds(Store(data), path, fmt=fmt, chain=chain))


@cli.command("labels")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "csv", "tagpack"]),
)
@DATA_OPTION
def labels_cmd(path: Path, fmt: str, data: Path) -> None:
    """Load address labels from PATH (a CSV, a TagPack YAML, or a directory of them)."""
    from tracer.ingest.labels import ingest_labels

    _print_added(ingest_labels(Store(data), path, fmt=fmt))
