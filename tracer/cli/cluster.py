"""``tracer cluster`` and ``tracer explain``: cluster a case's addresses, explain a link."""

from __future__ import annotations

from pathlib import Path

import click

from heuristics import REGISTRY
from tracer.addresses import normalize
from tracer.cli._group import cli
from tracer.cli.params import DATA_OPTION
from tracer.clustering import cluster_store, explain_store
from tracer.store import Store
from tracer.text import printable


@cli.command("cluster")
@DATA_OPTION
@click.option(
    "--heuristic",
    "names",
    multiple=True,
    type=click.Choice(sorted(REGISTRY)),
    help="Run this heuristic (repeatable). Default: every non-advisory one the data allows.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the clusters as CSV to this file.",
)
def cluster_cmd(data: Path, names: tuple[str, ...], out: Path | None) -> None:
    """Cluster addresses with the heuristics; store links and clusters in the data directory.

    Python: tracer.clustering.cluster_store.
    """
    run = cluster_store(Store(data), heuristics=list(names) or None)
    if out is not None:
        tmp = out.with_name(f".{out.name}.tmp")
        run.clusters.write_csv(tmp)
        tmp.replace(out)
    used = ", ".join(f"{n} v{run.versions[n]}" for n in run.heuristics) or "none"
    click.echo(f"heuristics: {used}")
    per = run.links.group_by("heuristic").len().sort("heuristic")
    for name, count in per.iter_rows():
        click.echo(f"links {name}: {count}")
    n_clusters = run.clusters.get_column("cluster_id").n_unique()
    click.echo(f"clusters: {n_clusters} ({run.clusters.height} addresses)")
    click.echo(f"deposit wallets found: {run.deposit_labels.height}")
    for row in run.cuts.iter_rows(named=True):
        size = "" if row["component_size"] is None else f" (component of {row['component_size']})"
        click.echo(
            f"cut {row['heuristic']}: {row['links_cut']} links at {row['address']}, "
            f"{row['reason']}{size}"
        )


@cli.command("explain")
@click.argument("address_a")
@click.argument("address_b")
@DATA_OPTION
@click.option("--chain", default="ethereum", show_default=True, help="Chain of the addresses.")
def explain_cmd(address_a: str, address_b: str, data: Path, chain: str) -> None:
    """Print the shortest chain of evidence linking ADDRESS_A and ADDRESS_B.

    Python: tracer.clustering.explain_store (heuristics.cluster.explain_link over links).
    """
    a = normalize(address_a, chain)
    b = normalize(address_b, chain)
    steps = explain_store(Store(data), a, b, chain=chain)
    if steps is None:
        click.echo(f"{a} and {b} are not linked.")
        return
    click.echo(f"{a} and {b} are linked in {steps.height} step(s):")
    for row in steps.iter_rows(named=True):
        via = ""
        if row["via_address"] is not None:
            via = (
                f", both paid deposit address {row['via_address']}, "
                f"which forwards to {printable(row['via_label'] or 'an exchange')}"
            )
        click.echo(
            f"{row['step']}. {row['from_address']} - {row['to_address']}: "
            f"{row['heuristic']} v{row['heuristic_version']}, "
            f"tx {row['evidence_transaction_hash']}, block {row['block_number']}, "
            f"confidence {row['confidence']}{via}"
        )
