"""``tracer ingest rpc``: a block range from a node into the data directory (resumable)."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli.ingest import ingest
from tracer.cli.params import DATA_OPTION
from tracer.ingest.rpc import DEV_CHAIN_IDS, MAINNET_CONFIRMATIONS, ingest_rpc
from tracer.redact import redact_url
from tracer.store import Store


@ingest.command("rpc")
@click.option(
    "--rpc-url",
    envvar="TRACER_RPC_URL",
    required=True,
    help="The node's HTTP JSON-RPC URL (also TRACER_RPC_URL); never printed unredacted.",
)
@click.option("--from-block", type=click.IntRange(min=0), required=True, help="First block.")
@click.option(
    "--to-block",
    type=click.IntRange(min=0),
    default=None,
    help="Last block (inclusive); default: the newest confirmed block.",
)
@click.option(
    "--confirmations",
    type=click.IntRange(min=0),
    default=None,
    help=(
        "Take only blocks this far behind the head; default "
        f"{MAINNET_CONFIRMATIONS}, or 0 on a dev chain (chain id "
        f"{', '.join(str(c) for c in sorted(DEV_CHAIN_IDS))})."
    ),
)
@click.option("--chain", default="ethereum", show_default=True, help="Chain name for the rows.")
@click.option(
    "--traces",
    type=click.Choice(["auto", "trace_block", "debug_traceBlockByNumber", "none"]),
    default="auto",
    show_default=True,
    help="Trace method for internal transfers; none skips them.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Blocks per commit (the unit of resume).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=25,
    show_default=True,
    help="JSON-RPC calls per batch request.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=4,
    show_default=True,
    help="Batch requests in flight at once.",
)
@click.option(
    "--transport",
    type=click.Choice(["raw", "web3"]),
    default="raw",
    show_default=True,
    help="raw: standard-library JSON-RPC batches (fast); web3: web3.py's HTTPProvider.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=6,
    show_default=True,
    help="Retries after a transient failure (backoff doubles each time).",
)
@DATA_OPTION
def ingest_rpc_cmd(
    rpc_url: str,
    from_block: int,
    to_block: int | None,
    confirmations: int | None,
    chain: str,
    traces: str,
    chunk_size: int,
    batch_size: int,
    workers: int,
    transport: str,
    timeout: float,
    retries: int,
    data: Path,
) -> None:
    """Ingest blocks, transactions, receipts, traces and token events from a node.

    Resumable: work is committed in chunks, a re-run fetches only what is missing.
    """
    report = ingest_rpc(
        Store(data),
        rpc_url,
        from_block=from_block,
        to_block=to_block,
        chain=chain,
        confirmations=confirmations,
        chunk_size=chunk_size,
        batch_size=batch_size,
        workers=workers,
        traces=traces,  # type: ignore[arg-type]
        transport=transport,  # type: ignore[arg-type]
        timeout=timeout,
        retries=retries,
    )
    node = redact_url(rpc_url)
    if report.fetched_blocks == 0:
        click.echo(
            f"blocks {report.from_block}..{report.to_block}: already ingested, nothing fetched"
        )
    else:
        rate = report.fetched_blocks / report.seconds if report.seconds else 0.0
        click.echo(
            f"fetched {report.fetched_blocks} blocks from {node} in {report.seconds:.1f} s "
            f"({rate:,.0f} blocks/s, {report.calls} calls)"
        )
    for table, rows in sorted(report.added.items()):
        click.echo(f"{table}: {rows} new rows")
    for reason, n in sorted(report.skipped.items()):
        click.echo(f"skipped {reason}: {n}")
    if report.unconfirmed is not None:
        lo, hi = report.unconfirmed
        click.echo(
            f"blocks {lo}..{hi} are not yet confirmed (head {report.head}); run again later",
            err=True,
        )
