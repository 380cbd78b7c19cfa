"""``tracer trace``: follow the seeds' funds hop by hop and write the trace's tables."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import click
import polars as pl

from tracer.amounts import format_units
from tracer.cli._group import cli
from tracer.cli.params import ADDRESS
from tracer.clustering import peel_chain_tags
from tracer.report.graph import asset_names
from tracer.schema import CATEGORIES
from tracer.store import Store
from tracer.text import printable
from tracer.trace import (
    DEFAULT_STOP_AT,
    DIRECTIONS,
    TAINT_MODEL_NAMES,
    TraceResult,
    TraceSpec,
    crawl_limits,
    load_trace_inputs,
    run_trace,
    write_trace_outputs,
)

_TOP_EXITS = 10


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _summary(result: TraceResult, out: Path) -> list[str]:
    lines = []
    seeds = result.seeds["address"].n_unique()
    lines.append(
        f"Traced {result.spec.direction} from {seeds} seed(s) on {result.chain}, "
        f"up to {result.spec.max_hops} hops, taint model {result.spec.taint}."
    )
    main = result.totals.get(result.spec.taint, {})
    assets = sorted(set(result.decimals) | set(result.exposure.get_column("asset").to_list()))
    names, _ = asset_names(assets, result.symbols)  # a token: "VUSD (0x0bae...)"
    for key, dec in result.decimals.items():
        asset = names.get(key, key)
        seeded = main.get(key, {}).get("seeded", result.seeded.get(key, "0"))
        swapped = main.get(key, {}).get("swapped_in", "0")
        if swapped == "0":
            lines.append(f"Seeded {format_units(seeded, dec)} {asset}.")
        elif seeded == "0":
            lines.append(f"Swapped in {format_units(swapped, dec)} {asset} ({result.spec.taint}).")
        else:
            lines.append(
                f"Seeded {format_units(seeded, dec)} {asset}, swapped in "
                f"{format_units(swapped, dec)} ({result.spec.taint})."
            )
        for model, per_asset in result.totals.items():
            t = per_asset.get(key)
            if t is None:
                continue
            swapped_out = t.get("swapped_out", "0")
            lines.append(
                f"  {model:8} endpoints {format_units(t['endpoints'], dec)}"
                f" | held {format_units(t['held'], dec)}"
                f" | fees {format_units(t['fees'], dec)}"
                f" | below min-value {format_units(t['below_min_value'], dec)}"
                + (f" | swapped out {format_units(swapped_out, dec)}" if swapped_out != "0" else "")
            )
    exposure = result.exposure.sort(
        ["share_of_seed_value", "asset", "address"], descending=[True, False, False]
    ).head(_TOP_EXITS)
    if exposure.height:
        lines.append(f"Top exits ({result.spec.taint}):")
        for row in exposure.iter_rows(named=True):
            name = printable(row["label"] or row["category"] or "unlabelled")
            amount = format_units(row["tainted_value"], row["decimals"])
            share = row["share_of_seed_value"]
            shown = f"{share:7.2%}" if share is not None else "      -"
            asset = names.get(row["asset"], row["asset"])
            lines.append(
                f"  {shown}  {amount} {asset}  {row['address']}  {name}  (hop {row['min_hop']})"
            )
    else:
        lines.append("No endpoint reached.")
    lines.append(
        f"{_count(result.flows.height, 'tainted flow')}, "
        f"{_count(result.held.height, 'address', 'addresses')} still holding "
        f"taint. Tables written to {out}/."
    )
    return lines


@cli.command("trace")
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The case data directory; with --rpc-url, where fetched rows are cached "
    "(default: OUT/data).",
)
@click.option(
    "--chain",
    default=None,
    is_eager=True,  # before --seed, whose addresses are checked for this chain
    help="Chain to trace (default: the seeds' chain).",
)
@click.option("--seed", "seed", multiple=True, type=ADDRESS, help="A seed address (repeatable).")
@click.option(
    "--seeds",
    "seeds_file",
    type=click.Path(exists=True, path_type=Path),
    help="A seed file (any format `tracer seeds` reads); its transaction hashes are kept.",
)
@click.option(
    "--direction",
    type=click.Choice(DIRECTIONS),
    default="forward",
    show_default=True,
    help="forward: where did it go; backward: where did it come from.",
)
@click.option(
    "--max-hops",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Addresses first reached at this hop are endpoints.",
)
@click.option(
    "--min-value",
    default=None,
    help="Do not follow transfers below this amount, in whole units of each asset (0.01).",
)
@click.option(
    "--taint",
    type=click.Choice(TAINT_MODEL_NAMES),
    default="haircut",
    show_default=True,
    help="Taint model of the tables (see docs/tracing.md).",
)
@click.option("--compare", is_flag=True, help="Also run the other models; write compare.csv.")
@click.option(
    "--stop-at",
    multiple=True,
    type=click.Choice([*CATEGORIES, "none"]),
    help=(
        f"Stop at this label category (repeatable; default: {', '.join(DEFAULT_STOP_AT)}; "
        "'none': stop at no category)."
    ),
)
@click.option("--since", type=click.DateTime(), default=None, help="Ignore movements before (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Ignore movements after (UTC).")
@click.option(
    "--max-degree",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Stop at addresses with more transfers than this (a likely service).",
)
@click.option("--no-max-degree", is_flag=True, help="Never stop because of an address's degree.")
@click.option(
    "--top-k",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Paths kept per endpoint and asset in paths.csv.",
)
@click.option("--no-clusters", is_flag=True, help="Ignore the clusters table.")
@click.option(
    "--follow-swaps/--no-follow-swaps",
    default=True,
    show_default=True,
    help="Follow taint through swaps at defi_dex/defi venues into the asset paid out.",
)
@click.option(
    "--follow-peel-chains/--no-follow-peel-chains",
    default=True,
    show_default=True,
    help="Keep a Bitcoin peel chain's change with its spender: only peeled outputs count hops.",
)
@click.option(
    "--rpc-url",
    envvar="TRACER_RPC_URL",
    default=None,
    help=(
        "Fetch what the trace reaches from this node first (ots_ search, or a block scan), "
        "cached in --data; also TRACER_RPC_URL. Never printed unredacted."
    ),
)
@click.option("--from-block", type=click.IntRange(min=0), default=None, help="Crawl from block.")
@click.option(
    "--to-block",
    type=click.IntRange(min=0),
    default=None,
    help="Crawl to block (pin it: a re-run is then answered from --data alone).",
)
@click.option(
    "--confirmations",
    type=click.IntRange(min=0),
    default=None,
    help="Crawl only blocks this far behind the head (default: 64, or 0 on a dev chain).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for flows, exposure, paths, held, nodes (.csv) and trace.json.",
)
def trace_cmd(
    *,
    data: Path | None,
    chain: str | None,
    seed: tuple[str, ...],
    seeds_file: Path | None,
    direction: str,
    max_hops: int,
    min_value: str | None,
    taint: str,
    compare: bool,
    stop_at: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    max_degree: int,
    no_max_degree: bool,
    top_k: int,
    no_clusters: bool,
    follow_swaps: bool,
    follow_peel_chains: bool,
    rpc_url: str | None,
    from_block: int | None,
    to_block: int | None,
    confirmations: int | None,
    out: Path,
) -> None:
    """Trace funds from the seeds (--seed, --seeds, or the data's seeds table); write --out.

    Python: tracer.trace.run_trace and tracer.trace.write_trace_outputs.
    """
    if seed and seeds_file:
        msg = "pass either --seed or --seeds, not both"
        raise click.UsageError(msg)
    spec = TraceSpec(
        seeds=seed,
        direction=direction,
        max_hops=max_hops,
        min_value=min_value,
        taint=taint,
        compare=compare,
        stop_at=tuple(c for c in stop_at if c != "none") if stop_at else DEFAULT_STOP_AT,
        since=_utc(since),
        until=_utc(until),
        max_degree=None if no_max_degree else max_degree,
        top_k_paths=top_k,
        chain=chain,
        use_clusters=not no_clusters,
        follow_swaps=follow_swaps,
        follow_peel_chains=follow_peel_chains,
    )
    if data is None:
        if not rpc_url:
            msg = "pass --data DIR (a case data directory) or --rpc-url URL"
            raise click.UsageError(msg)
        data = out / "data"
    store = Store(data)
    seeds: pl.DataFrame | None = None
    if seeds_file is not None:
        from tracer.ingest.seeds import read_seeds

        seeds = read_seeds(seeds_file, chain=chain)
    if rpc_url:
        from tracer.ingest.crawl import crawl
        from tracer.redact import redact_url

        if seed:
            starts = list(seed)
        elif seeds is not None:
            starts = seeds["address"].to_list()
        else:
            starts = store.scan("seeds").select("address").collect()["address"].to_list()
        labels = store.scan("labels").filter(pl.col("chain") == (chain or "ethereum"))
        limits = crawl_limits(
            labels.collect(), seeds=starts, stop_at=spec.stop_at, follow_swaps=follow_swaps
        )
        report = crawl(
            store,
            rpc_url,
            starts,
            direction=direction,  # type: ignore[arg-type]
            max_hops=max_hops,
            since_block=from_block,
            until_block=to_block,
            chain=chain or "ethereum",
            confirmations=confirmations,
            venues=limits.venues,
            stops=limits.stops,
        )
        click.echo(
            f"Crawled {redact_url(rpc_url)} ({report.method}): {report.addresses} addresses, "
            f"blocks {report.since_block}-{report.until_block}, {report.calls} RPC calls.",
            err=True,
        )
    inputs = dataclasses.replace(load_trace_inputs(store), peel_chains=peel_chain_tags(store))
    if seeds is not None:
        inputs = dataclasses.replace(inputs, seeds=seeds.lazy())
    result = run_trace(inputs, spec)
    write_trace_outputs(result, out)
    for line in _summary(result, out):
        click.echo(line)
