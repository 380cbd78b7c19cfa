"""``run_trace``: seeds -> hop expansion -> replay under each taint model -> output tables.

The engine does no I/O of its own: it takes LazyFrames (:class:`~tracer.trace.spec.TraceInputs`)
and returns eager DataFrames (:class:`~tracer.trace.outputs.TraceResult`). Reading a data
directory is :func:`tracer.trace.load.load_trace_inputs`.

Cost: one read of the chain's transfers inside the time window into memory (about 400 bytes
a transfer with 0x addresses: 8 GiB for 20M), a projection of it to hashed ids, one vectorised
``is_in`` round over that projection per hop (more when an earlier arrival is found later),
then a Python replay of the transfers touching followed addresses only: O(replayed transfers)
ledger operations per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from tracer.errors import DataMissing, InputError, InvalidAmount
from tracer.trace.expand import (
    KIND_ADDRESS,
    KIND_DEGREE,
    KIND_STOP,
    KIND_TX,
    KIND_VENUE,
    Reach,
    cluster_hashes,
    compact_transfers,
    expand,
    hashes_of,
    node_hash,
    peel_legs,
    time_key,
    windowed_transfers,
)
from tracer.trace.labelled import labelled_stops
from tracer.trace.models import TAINT_MODELS, Taint, TaintPlan
from tracer.trace.outputs import TraceResult, build_result
from tracer.trace.spec import TraceInputs, TraceSpec
from tracer.trace.swaps import SwapTable, find_swaps, swap_venues

__all__ = ["run_trace", "seed_rows"]

_NATIVE = {
    "ethereum": ("ETH", 18),
    "arbitrum": ("ETH", 18),
    "optimism": ("ETH", 18),
    "base": ("ETH", 18),
    "bsc": ("BNB", 18),
    "polygon": ("POL", 18),
    "avalanche": ("AVAX", 18),
    "tron": ("TRX", 6),
}
_KIND_RANK = {"fee": 0, "native": 1, "internal": 2, "token": 3, "utxo": 4}
_MIN_T = -(2**62)


def seed_rows(inputs: TraceInputs, spec: TraceSpec) -> tuple[str, pl.DataFrame]:
    """The chain and the seeds of a trace: ``address`` and ``transaction_hash`` (may be null).

    Seeds named in the spec are traced as whole addresses; otherwise the ``seeds`` table's
    rows are used, with their seeding transaction when they name one.
    """
    table = inputs.seeds.select("chain", "address", "transaction_hash").collect()
    if spec.seeds:
        chain = spec.chain
        if chain is None:
            known = table.filter(pl.col("address").is_in(list(spec.seeds)))["chain"].unique()
            chain = known[0] if known.len() == 1 else None
        if chain is None:
            chains = inputs.transfers.select(pl.col("chain").unique()).collect()["chain"]
            if chains.len() != 1:
                msg = "cannot tell which chain to trace"
                raise InputError(
                    msg,
                    field="chain",
                    value=sorted(c for c in chains.to_list() if c is not None),
                    fix="Name the chain of the seeds (--chain)",
                )
            chain = str(chains[0])
        seeds = pl.DataFrame(
            {"address": list(dict.fromkeys(spec.seeds)), "transaction_hash": None},
            schema={"address": pl.String, "transaction_hash": pl.String},
        )
        return chain, seeds
    if spec.chain is not None:
        table = table.filter(pl.col("chain") == spec.chain)
    chains = table["chain"].unique()
    if table.height == 0:
        msg = "no seeds: pass --seed ADDR or --seeds FILE, or load seeds with `tracer seeds`"
        raise DataMissing(msg)
    if chains.len() != 1:
        msg = "the seeds table holds several chains"
        raise InputError(
            msg, field="chain", value=sorted(chains.to_list()), fix="Name one chain (--chain)"
        )
    seeds = (
        table.select("address", "transaction_hash")
        .unique(maintain_order=True)
        .sort("address", "transaction_hash", nulls_last=True)
    )
    # An address listed once without a transaction is traced as a whole address.
    whole = seeds.filter(pl.col("transaction_hash").is_null())["address"]
    seeds = seeds.filter(
        pl.col("transaction_hash").is_null() | ~pl.col("address").is_in(whole.implode())
    )
    return str(chains[0]), seeds


def _stop_addresses(
    labels: pl.DataFrame, clusters: pl.DataFrame | None, spec: TraceSpec, seeds: Sequence[str]
) -> list[str]:
    """The chain's stops: by their own label, or (``clusters``) by their cluster's category."""
    stop = set(labelled_stops(labels, seeds=seeds, stop_at=spec.stop_at))
    if clusters is not None and clusters.height:
        stop |= set(clusters.filter(pl.col("category").is_in(list(spec.stop_at)))["address"])
    return sorted(stop - set(seeds))


def _seed_starts(
    windowed: pl.LazyFrame, compact: pl.DataFrame, seeds: pl.DataFrame, spec: TraceSpec
) -> pl.DataFrame:
    """``_node``, ``_t``: when each seed starts to be tainted, as a time key."""
    whole = seeds.filter(pl.col("transaction_hash").is_null())["address"].to_list()
    frames = []
    if whole and spec.direction == "backward":
        # Backward, everything a whole-address seed ever held is asked about, from the end
        # of the data on: no start.
        frames.append(pl.DataFrame({"_node": hashes_of(whole), "_t": _MIN_T}))
    elif whole:
        ids = hashes_of(whole)
        first_in = (
            compact.filter(pl.col("_dst").is_in(ids.implode()))
            .group_by("_dst")
            .agg(pl.col("_t").min())
            .rename({"_dst": "_node"})
        )
        frames.append(
            pl.DataFrame({"_node": ids})
            .join(first_in, on="_node", how="left")
            .with_columns(pl.col("_t").fill_null(_MIN_T))
        )
    by_tx = seeds.filter(pl.col("transaction_hash").is_not_null())
    if by_tx.height:
        sign = 1 if spec.direction == "forward" else -1
        keys = (
            windowed.select("transaction_hash", (time_key() * sign).alias("_t"))
            .filter(pl.col("transaction_hash").is_in(by_tx["transaction_hash"].unique().implode()))
            .unique()
            .collect()
        )
        missing = set(by_tx["transaction_hash"].to_list()) - set(keys["transaction_hash"].to_list())
        if missing:
            msg = f"no transfers of the seeding transaction(s) in the data: {sorted(missing)[:3]}"
            raise DataMissing(msg)
        frames.append(
            by_tx.join(keys, on="transaction_hash")
            .group_by("address")
            .agg(pl.col("_t").min())
            .select(node_hash("address").alias("_node"), "_t")
        )
    return pl.concat(frames, how="vertical_relaxed").group_by("_node").agg(pl.col("_t").min())


def _hop_frame(
    transfers: pl.DataFrame,
    reach: Reach,
    inputs: TraceInputs,
    spec: TraceSpec,
    chain: str,
    clusters: dict[str, str],
    swap_out: pl.Series,
    peel: pl.DataFrame | None,
) -> pl.DataFrame:
    """The reached transfers (and, forward, the gas fees of followed senders), in replay order.

    ``swap_out`` holds the positions of the out-legs of the swaps followed: they are replayed
    after every other transfer of their transaction, once all the swap's in-legs are known.
    """
    # The followed nodes' whole history, by position: the expansion's compact projection is
    # aligned row for row with the transfers held in memory.
    rows = (
        transfers.select(pl.all().gather(reach.rows))
        .with_columns(reach.rows.is_in(swap_out.implode()).alias("_swap_out"))
        .with_row_index("_row")
    )
    bad = rows.filter(~pl.col("value").str.contains(r"^[0-9]+$") | pl.col("value").is_null())
    if bad.height:
        row = bad.row(0, named=True)
        msg = "transfer value is not a non-negative integer in base units"
        raise InvalidAmount(
            msg,
            source=f"transfers, transaction {row['transaction_hash']}",
            field="value",
            value=row["value"],
            fix="Re-ingest the data: amounts are exact decimal strings of base units",
        )
    failed = (
        inputs.transactions.filter(
            (pl.col("chain") == chain)
            & (pl.col("receipt_status") == 0)
            & pl.col("transaction_hash").is_in(rows["transaction_hash"].unique().implode())
        )
        .select("transaction_hash")
        .collect()["transaction_hash"]
    )
    rows = rows.filter(~pl.col("transaction_hash").is_in(failed.implode()))
    flags = compact_transfers(
        rows.lazy(), direction=spec.direction, min_value=spec.min_value, peel=peel
    )
    rows = pl.concat([rows, flags.select("_from_tx", "_big", "_w").collect()], how="horizontal")
    src, dst = ("from_address", "to_address")
    if spec.direction == "backward":
        src, dst = dst, src
    rows = rows.with_columns(
        pl.col(src).alias("_src_address"),
        pl.col(dst).alias("_dst_address"),
        pl.lit(value=False).alias("_fee"),
        (
            pl.when(pl.col("_swap_out"))
            .then(3 if spec.direction == "forward" else -1)
            .when(pl.col("kind") == "utxo")
            .then(pl.when(pl.col("to_address") == pl.col("transaction_hash")).then(1).otherwise(2))
            .otherwise(2)
        ).alias("_phase"),
    ).drop("_row", "_swap_out")
    fees = _fee_rows(rows, reach, inputs, spec, chain)
    if spec.direction == "backward":
        # Reversed, a fee is value appearing at the payer from nowhere: clean, and it keeps
        # the reversed balances equal to the real ones.
        fees = fees.with_columns(
            pl.col("_src_address").alias("_dst_address"),
            pl.lit(None, dtype=pl.String).alias("_src_address"),
            pl.lit(value=False).alias("_fee"),
        )
    rows = pl.concat([rows, fees], how="diagonal")
    if clusters:
        same = pl.Series(
            [
                clusters.get(s) is not None and clusters.get(s) == clusters.get(d)
                for s, d in zip(
                    rows["_src_address"].to_list(), rows["_dst_address"].to_list(), strict=True
                )
            ],
            dtype=pl.Boolean,
        )
    else:
        same = pl.repeat(False, rows.height, dtype=pl.Boolean, eager=True)
    rows = rows.with_columns(
        pl.when(same).then(0).otherwise(pl.col("_w")).cast(pl.Int32).alias("_w"),
        pl.col("kind").replace_strict(_KIND_RANK, default=9, return_dtype=pl.Int8).alias("_kr"),
    )
    order = [
        "block_number",
        "block_timestamp",
        "transaction_index",
        "_phase",
        "_kr",
        "idx",
        "from_address",
        "to_address",
        "asset",
        "value",
    ]
    descending = spec.direction == "backward"
    return rows.sort(order, descending=descending, nulls_last=True, maintain_order=True).drop(
        "_kr", "_phase"
    )


def _fee_rows(
    rows: pl.DataFrame, reach: Reach, inputs: TraceInputs, spec: TraceSpec, chain: str
) -> pl.DataFrame:
    """Gas fees paid by followed senders: native asset leaving the sender, to nobody."""
    natives = rows.filter(pl.col("kind").is_in(["native", "internal"]))
    if natives.height:
        asset, decimals = natives["asset"][0], natives["decimals"][0]
    else:
        asset, decimals = _NATIVE.get(chain, ("ETH", 18))
    senders = set(rows["from_address"].to_list()) | set(rows["to_address"].to_list())
    senders.discard(None)
    names = pl.DataFrame({"address": sorted(senders)}).filter(
        node_hash("address").is_in(reach.followed().implode())
    )["address"]
    lf = inputs.transactions.filter(
        (pl.col("chain") == chain) & pl.col("from_address").is_in(names.implode())
    )
    if spec.since is not None:
        lf = lf.filter(pl.col("block_timestamp") >= spec.since)
    if spec.until is not None:
        lf = lf.filter(pl.col("block_timestamp") <= spec.until)
    txs = lf.collect()
    fees: list[str] = []
    for used, effective, price in zip(
        txs["gas_used"].to_list(),
        txs["effective_gas_price"].to_list(),
        txs["gas_price"].to_list(),
        strict=True,
    ):
        unit = effective if effective is not None else price
        fees.append(str(int(used) * int(unit)) if used is not None and unit is not None else "0")
    return (
        txs.select(
            "chain",
            "block_number",
            "block_timestamp",
            "transaction_hash",
            "transaction_index",
            pl.lit("fee").alias("kind"),
            pl.lit(-1, dtype=pl.Int64).alias("idx"),
            "from_address",
            pl.lit(None, dtype=pl.String).alias("to_address"),
            pl.lit(asset).alias("asset"),
            pl.Series("value", fees, dtype=pl.String),
            pl.lit(decimals, dtype=pl.Int32).alias("decimals"),
            pl.col("from_address").alias("_src_address"),
            pl.lit(None, dtype=pl.String).alias("_dst_address"),
            pl.lit(value=True).alias("_fee"),
            pl.lit(value=False).alias("_from_tx"),
            pl.lit(value=True).alias("_big"),
            pl.lit(1, dtype=pl.Int32).alias("_w"),
            pl.lit(0).alias("_phase"),
        )
        .filter(pl.col("value") != "0")
        .cast({"transaction_index": pl.Int64})
    )


def _plan(
    events: pl.DataFrame,
    reach: Reach,
    seeds: pl.DataFrame,
    spec: TraceSpec,
    swaps: dict[tuple[str, str], tuple[str, int]],
) -> TaintPlan:
    names = pl.concat(
        [
            events.select(a=pl.col("_src_address")),
            events.select(a=pl.col("_dst_address")),
            seeds.select(a=pl.col("address")),
        ]
    ).filter(pl.col("a").is_not_null())
    names = names.unique(maintain_order=True).with_columns(_node=node_hash("a"))
    nodes = reach.nodes.join(names, on="_node", how="inner")
    collision = nodes.group_by("_node").len().filter(pl.col("len") > 1)
    if collision.height:  # pragma: no cover - a 64-bit collision among the reached addresses
        msg = "two reached addresses share a 64-bit key; report this input"
        raise DataMissing(msg)
    hops = dict(zip(nodes["a"].to_list(), nodes["hop"].to_list(), strict=True))
    kinds = dict(zip(nodes["a"].to_list(), nodes["kind"].to_list(), strict=True))
    followed = frozenset(nodes.filter(pl.col("followed"))["a"].to_list())
    endpoints = frozenset(
        a
        for a, k in kinds.items()
        if k in (KIND_STOP, KIND_DEGREE) or (k == KIND_ADDRESS and hops[a] >= spec.max_hops)
    )
    tx_nodes = frozenset(a for a, k in kinds.items() if k == KIND_TX)
    venues = frozenset(a for a, k in kinds.items() if k == KIND_VENUE)
    src_l = events["_src_address"].to_list()
    dst_l = events["_dst_address"].to_list()
    fee_l = events["_fee"].to_list()
    tx_l = events["transaction_hash"].to_list()
    whole_set = set(seeds.filter(pl.col("transaction_hash").is_null())["address"].to_list())
    whole: dict[str, int] = {}
    opening: dict[tuple[str, str], tuple[int, int]] = {}
    if spec.direction == "forward":
        for i, (dst, fee) in enumerate(zip(dst_l, fee_l, strict=True)):
            if dst in whole_set and not fee and dst not in whole:
                whole[dst] = i
    else:
        opening = _final_balances(events, followed, whole_set)
    for address in whole_set:
        whole.setdefault(address, 0)
    seed_txs: dict[str, set[str]] = {}
    for address, tx in seeds.filter(pl.col("transaction_hash").is_not_null()).iter_rows():
        seed_txs.setdefault(tx, set()).add(address)
    seed_in: set[int] = set()
    outs: dict[tuple[str, str], list[int]] = {}
    received_in_tx: set[tuple[str, str]] = set()
    for i, (src, dst, fee, tx) in enumerate(zip(src_l, dst_l, fee_l, tx_l, strict=True)):
        holders = seed_txs.get(tx)
        if not holders or fee:
            continue
        if dst in holders:
            seed_in.add(i)
            received_in_tx.add((tx, dst))
        if src in holders:
            outs.setdefault((tx, src), []).append(i)
    seed_out = {i for key, idx in outs.items() if key not in received_in_tx for i in idx}
    plan = TaintPlan(
        hops=hops,
        followed=followed,
        endpoints=endpoints,
        tx_nodes=tx_nodes,
        whole_seeds=whole,
        seed_inflows=frozenset(seed_in),
        seed_outflows=frozenset(seed_out),
        opening=opening,
        venues=venues,
        swaps={key: value for key, value in swaps.items() if key[1] in venues},
    )
    return plan


def _final_balances(
    events: pl.DataFrame, followed: frozenset[str], whole: set[str]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Backward: each followed address's balance at the end of the data (0 if negative).

    In the reversed frame ``_src`` is where value came *to* and ``_dst`` where it left; fees
    (``_src`` null) left the payer. The final balance of a whole-address seed is tainted.
    """
    balance: dict[tuple[str, str], int] = {}
    for src, dst, asset, value in events.select(
        "_src_address", "_dst_address", "asset", "value"
    ).iter_rows():
        amount = int(value)
        if src in followed:
            balance[(src, asset)] = balance.get((src, asset), 0) + amount
        if dst in followed:
            balance[(dst, asset)] = balance.get((dst, asset), 0) - amount
    return {
        key: (amount, amount if key[0] in whole else 0)
        for key, amount in sorted(balance.items())
        if amount > 0
    }


def _read_transfers(transfers: pl.LazyFrame, *, chain: str, spec: TraceSpec) -> pl.DataFrame:
    """The chain's transfers inside the window, read once.

    Filtering copies every column of the kept rows, so it is done in memory and only when some
    row is outside the chain or the window (a case directory usually holds one chain).
    """
    frame = transfers.collect()
    outside = pl.col("chain") != chain
    if spec.since is not None:
        outside |= pl.col("block_timestamp") < spec.since
    if spec.until is not None:
        outside |= pl.col("block_timestamp") > spec.until
    if frame.select(outside.any()).item():
        frame = windowed_transfers(
            frame.lazy(), chain=chain, since=spec.since, until=spec.until
        ).collect()
    return frame


def _swap_table(
    transfers: pl.DataFrame, inputs: TraceInputs, chain: str, venues: list[str], spec: TraceSpec
) -> SwapTable:
    """The swaps at ``venues`` in the transfers held in memory, failed transactions left out."""
    table = find_swaps(transfers, venues, direction=spec.direction)
    if table.swaps.height == 0:
        return table
    failed = (
        inputs.transactions.filter(
            (pl.col("chain") == chain)
            & (pl.col("receipt_status") == 0)
            & pl.col("transaction_hash").is_in(table.swaps["transaction_hash"].implode())
        )
        .select("transaction_hash")
        .collect()["transaction_hash"]
        .implode()
    )
    return SwapTable(
        swaps=table.swaps.filter(~pl.col("transaction_hash").is_in(failed)),
        legs=table.legs.filter(~pl.col("transaction_hash").is_in(failed)),
    )


def _swap_edges(compact: pl.DataFrame, swaps: SwapTable) -> pl.DataFrame:
    """Expansion edges through each swap's node: in-leg sender -> swap -> out-leg receiver.

    Each edge copies its leg's time key and ``min_value`` flag, so a swap is crossed only
    after the sender was reached and only over legs that are followed.
    """
    legs = swaps.legs
    edges = pl.concat(
        [compact.select(pl.all().gather(legs["_pos"])), legs.select("_pos", "_in", "_node")],
        how="horizontal",
    )
    # A leg out of one swap into the next venue (a route through several pools) links the
    # two swap nodes, so the second is crossed too.
    chained = (
        edges.filter(~pl.col("_in"))
        .join(legs.filter(pl.col("_in")).select("_pos", _next="_node"), on="_pos")
        .with_columns(pl.col("_node").alias("_src"), pl.col("_next").alias("_dst"))
    )
    return pl.concat(
        [
            edges.with_columns(
                pl.when(pl.col("_in"))
                .then(pl.col("_src"))
                .otherwise(pl.col("_node"))
                .alias("_src"),
                pl.when(pl.col("_in"))
                .then(pl.col("_node"))
                .otherwise(pl.col("_dst"))
                .alias("_dst"),
            ).select(compact.columns),
            chained.select(compact.columns),
        ]
    )


def run_trace(inputs: TraceInputs, spec: TraceSpec) -> TraceResult:
    """Trace from the seeds under ``spec`` and build the output tables.

    Parameters
    ----------
    inputs
        The tables to read (LazyFrames; only ``transfers`` is required).
    spec
        The parameters.

    Returns
    -------
    TraceResult
        Flows, exposure, paths, held and nodes (main model), per-asset seeded totals, and the
        endpoint x model comparison when ``spec.compare``.
    """
    chain, seeds = seed_rows(inputs, spec)
    # The one read of the transfers: every later step works on this frame and on its compact
    # projection (same rows, same order), so no transfer is read from storage twice.
    transfers = _read_transfers(inputs.transfers, chain=chain, spec=spec)
    peel = peel_legs(inputs.peel_chains.collect(), chain) if spec.follow_peel_chains else None
    compact = compact_transfers(
        transfers.lazy(), direction=spec.direction, min_value=spec.min_value, peel=peel
    ).collect()
    starts = _seed_starts(transfers.lazy(), compact, seeds, spec)
    seed_addresses = seeds["address"].unique().sort().to_list()
    cluster_table = (
        inputs.clusters.filter(pl.col("chain") == chain).collect()
        if spec.use_clusters
        else pl.DataFrame(schema={"address": pl.String, "cluster_id": pl.String})
    )
    labels = inputs.labels.filter(pl.col("chain") == chain).collect()
    stops = _stop_addresses(
        labels, cluster_table if spec.use_clusters else None, spec, seed_addresses
    )
    stop = hashes_of(stops)
    swaps, venues = SwapTable.empty(), []
    if spec.follow_swaps:
        venues = swap_venues(
            labels,
            cluster_table if spec.use_clusters else None,
            exclude={*seed_addresses, *stops},
        )
        swaps = _swap_table(transfers, inputs, chain, venues, spec)
    reach = expand(
        pl.concat([compact, _swap_edges(compact, swaps)]) if swaps.swaps.height else compact,
        starts,
        max_hops=spec.max_hops,
        stop=stop,
        clusters=cluster_hashes(cluster_table) if cluster_table.height else None,
        max_degree=spec.max_degree,
        venues=hashes_of(venues),
    )
    # Only the swaps whose node the expansion followed are crossed; their out-legs are
    # replayed even when the receiver is an endpoint (it is then not followed).
    crossed = swaps.swaps.filter(pl.col("_node").is_in(reach.followed().implode()))
    swap_out = swaps.legs.filter(
        ~pl.col("_in") & pl.col("_node").is_in(crossed["_node"].implode())
    )["_pos"]
    rows = pl.concat([reach.rows.filter(reach.rows < transfers.height), swap_out.alias("_row")])
    reach = replace(reach, rows=rows.unique().sort())
    clusters = dict(
        zip(cluster_table["address"].to_list(), cluster_table["cluster_id"].to_list(), strict=True)
    )
    events = _hop_frame(transfers, reach, inputs, spec, chain, clusters, swap_out, peel)
    del transfers, compact
    plan = _plan(events, reach, seeds, spec, SwapTable(crossed, swaps.legs).lookup())
    taints: dict[str, Taint] = {m: TAINT_MODELS[m](events, plan=plan) for m in spec.models}
    return build_result(
        spec=spec,
        chain=chain,
        seeds=seeds,
        events=events,
        plan=plan,
        taints=taints,
        labels=labels,
        clusters=cluster_table,
        tokens=inputs.tokens.filter(pl.col("chain") == chain).collect(),
        stats={
            "expansion_rounds": reach.rounds,
            "expansion_touched": reach.touched,
            "replayed_transfers": events.height,
        },
    )
