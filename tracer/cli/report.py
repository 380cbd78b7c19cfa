"""``tracer report OUTDIR``: re-render the HTML report and the exports from a trace's outputs."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli._group import cli


@cli.command("report")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the page (default OUTDIR/report.html).",
)
@click.option("--title", default=None, help="Case title for the header (default: trace.json).")
@click.option(
    "--max-nodes",
    type=click.IntRange(min=10),
    default=250,
    show_default=True,
    help="Above this many addresses, keep the top paths and group the rest.",
)
def report_cmd(outdir: Path, html_path: Path | None, title: str | None, max_nodes: int) -> None:
    """Render OUTDIR/report.html, graph.json, graph.graphml, graph.gexf and stix.json.

    OUTDIR is the directory ``tracer trace --out`` wrote (flows.csv, nodes.csv, ...).
    """
    from tracer.report import render_report, write_exports  # pyvis loads only when needed

    page = render_report(outdir, title=title, html_path=html_path, max_nodes=max_nodes)
    for path in (page, *write_exports(outdir, title=title)):
        click.echo(str(path))
