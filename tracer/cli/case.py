"""``tracer investigate`` and ``tracer verify``: reproducible investigations."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.case import investigate, verify
from tracer.cli._group import cli


@cli.command("investigate")
@click.argument("case_file", metavar="CASE.toml", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (default: [output] dir of the case, relative to the case file).",
)
def investigate_cmd(case_file: Path, out: Path | None) -> None:
    """Run CASE.toml end to end: ingest, seeds, labels, cluster, trace, report, manifest."""
    result = investigate(case_file, out=out)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"outputs: {result.out_dir}")
    click.echo(f"report: {result.report}")


@cli.command("verify")
@click.argument("out_dir", metavar="OUTDIR", type=click.Path(path_type=Path))
@click.option(
    "--case",
    "case_file",
    metavar="CASE.toml",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run's case file, when OUTDIR has moved since the run (default: from the manifest).",
)
def verify_cmd(out_dir: Path, case_file: Path | None) -> None:
    """Re-run OUTDIR's case from its manifest and compare every input and output hash.

    Exits 1 when anything differs, naming each changed input or output.
    """
    report = verify(out_dir, case_file=case_file)
    problems = [
        *(f"changed input: {p}" for p in report.changed_inputs),
        *(f"missing input: {p}" for p in report.missing_inputs),
        *(f"changed output: {p}" for p in report.changed_outputs),
        *(f"re-run differs: {p}" for p in report.rerun_differs),
        *(f"not on chain as recorded: {p}" for p in report.chain_mismatches),
    ]
    for line in problems:
        click.echo(line)
    if problems:
        raise click.exceptions.Exit(1)
    click.echo("verified: every input and output matches the manifest, and the re-run agrees")
