"""Clustering a case's data: read the tables, run the heuristics, cluster, write the results.

The one entry point that ``tracer cluster`` and the case code share; the rules themselves live
in :mod:`heuristics` (pure functions) and the union in :mod:`heuristics.cluster`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from heuristics import REGISTRY, applicable_heuristics, finish_links, run_heuristics
from heuristics._frames import address_keys, dense_names
from heuristics.cluster import cluster_addresses, explain_link
from heuristics.deposit_address_reuse import (
    deposit_wallet_labels,
    matched_deposits,
    sender_links,
)
from heuristics.peel_chain import peel_chain
from tracer.schema import ADDRESS_IDS, LABELS, LINKS, PEEL_CHAIN_TAGS, TRANSFERS, conform
from tracer.store import Store

__all__ = [
    "INPUT_TABLES",
    "TRANSFER_COLUMNS",
    "ClusterRun",
    "cluster_store",
    "cluster_tables",
    "deposit_addresses",
    "explain_store",
    "peel_chain_tags",
]

#: The tables the heuristics read.
INPUT_TABLES = ("transfers", "approvals", "contracts", "labels", "utxo_inputs", "utxo_outputs")
#: The columns of ``transfers`` the heuristics read (the others are not loaded).
TRANSFER_COLUMNS = (
    "chain",
    "block_number",
    "transaction_hash",
    "transaction_index",
    "kind",
    "idx",
    "from_address",
    "to_address",
    "asset",
    "value",
    "decimals",
)


@dataclass(frozen=True)
class ClusterRun:
    """What a clustering produced (all eager, sorted)."""

    heuristics: tuple[str, ...]
    """The heuristics run, by name."""
    versions: dict[str, int]
    """Each heuristic's version, for a manifest."""
    links: pl.DataFrame
    """``schema.LINKS`` rows the clusters were built from."""
    clusters: pl.DataFrame
    """``schema.CLUSTERS`` rows."""
    cuts: pl.DataFrame
    """What the guards cut (:data:`heuristics.cluster.CUTS`)."""
    deposit_labels: pl.DataFrame
    """``schema.LABELS`` rows (category ``deposit_wallet``) for deposit addresses found."""


def cluster_tables(
    tables: Mapping[str, pl.LazyFrame],
    *,
    heuristics: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    size_caps: Mapping[str, int | None] | None = None,
    addresses: pl.LazyFrame | None = None,
) -> ClusterRun:
    """Run heuristics over in-memory tables and cluster their links.

    Parameters
    ----------
    tables
        LazyFrames by table name (any of :data:`INPUT_TABLES`; missing ones are empty).
    heuristics
        Heuristic names; ``None`` runs every non-advisory heuristic whose required tables
        hold rows (advisory ones, such as ``one_time_change``, run only when named).
    params
        Keyword parameters per heuristic, e.g. ``{"gas_funding": {"max_fan_out": 10}}``.
    size_caps
        Per-heuristic size caps overriding the registered defaults.
    addresses
        The store's ``addresses`` table, when every transfer carries its address ids: the
        transfers' address strings are then not read, but looked up by id where a heuristic
        needs them (most of a clustering's memory is those strings).

    Returns
    -------
    ClusterRun
        Links, clusters, the guards' cut report and deposit-wallet labels.
    """
    if heuristics is None:
        present = [t for t, lf in tables.items() if lf.select(pl.len()).collect().item() > 0]
        names = applicable_heuristics(present)
    else:
        names = sorted(dict.fromkeys(heuristics))
    labels = tables.get("labels", pl.LazyFrame(schema=LABELS))
    tables = {t: lf for t, lf in tables.items() if t != "addresses"}
    if "transfers" in tables:
        # Read once and keyed once (by the store's address ids when it has them): every
        # heuristic groups and joins on the same integers.
        table = _address_table(addresses) if addresses is not None else None
        by_id = None if table is None else table.get_column("address")
        tables["transfers"] = _keyed_transfers(tables["transfers"], by_id)
        if table is not None:  # the heuristics name addresses from it (in memory, read once)
            tables["addresses"] = table.lazy()
    found = pl.DataFrame(schema=LABELS)
    # One heuristic at a time: peak memory is the largest one's, not their sum. Deposit
    # matching goes first: the deposit wallets it finds are services, which the other
    # heuristics must not link (a deposit's first funder is the depositor, not its owner).
    frames: list[pl.DataFrame] = []
    if "deposit_address_reuse" in names:
        name = "deposit_address_reuse"
        empty_contracts = pl.LazyFrame(schema={"chain": pl.String, "address": pl.String})
        deposits = matched_deposits(
            tables.get("transfers", pl.LazyFrame(schema=TRANSFERS)),
            labels,
            tables.get("contracts", empty_contracts),
            tables.get("addresses"),
            **(params or {}).get(name, {}),
        ).collect()
        found = conform(deposit_wallet_labels(deposits.lazy()), LABELS).collect()
        h = REGISTRY[name]
        links = finish_links(
            sender_links(deposits.lazy()), name=name, version=h.version, sort=False
        )
        frames.append(links.collect())
        labels = pl.concat([conform(labels, LABELS), found.lazy()], how="vertical")
    known = {**tables, "labels": labels}
    frames += [
        run_heuristics(known, [name], params=params, sort=False).collect()
        for name in names
        if name != "deposit_address_reuse"
    ]
    del tables, known  # the transfers read above: the union does not need them
    # Links with their addresses' keys (LINK_KEYS) spare the union from numbering the
    # addresses; links without them (the UTXO rules') leave theirs null, and the union then
    # numbers every address itself.
    links_df = (
        pl.concat(frames, how="diagonal_relaxed", rechunk=True)  # gathered from by row
        if frames
        else pl.DataFrame(schema=LINKS)
    )
    del frames
    result = cluster_addresses(links_df.lazy(), labels, size_caps=size_caps)
    return ClusterRun(
        heuristics=tuple(names),
        versions={n: REGISTRY[n].version for n in names},
        links=result.links.collect(),
        clusters=result.clusters.collect(),
        cuts=result.cuts,
        deposit_labels=found,
    )


def _keyed_transfers(transfers: pl.LazyFrame, names: pl.Series | None) -> pl.LazyFrame:
    """The transfers' :data:`TRANSFER_COLUMNS`, keyed, read into memory once.

    With ``names``, each address by its store id, the address columns are not read: they are
    expressions that look each id up in ``names``, computed only where a heuristic selects
    them (airdrop detection, on token rows).
    """
    if names is None:
        ids = [c for c in ADDRESS_IDS if c in transfers.collect_schema()]
        return address_keys(transfers.select(*TRANSFER_COLUMNS, *ids).collect()).lazy()
    strings = {"from_address", "to_address"}
    read = transfers.select(*(c for c in TRANSFER_COLUMNS if c not in strings), *ADDRESS_IDS)
    keys = (pl.col(f"{side}_id").alias(f"{side}_key") for side in ("from", "to"))
    return (
        read.collect()
        .with_columns(keys)  # the ids stay beside the keys: they mark keys the table names
        .lazy()
        .with_columns(
            pl.lit(names).gather(pl.col("from_key")).alias("from_address"),
            pl.lit(names).gather(pl.col("to_key")).alias("to_address"),
        )
    )


def _address_table(addresses: pl.LazyFrame) -> pl.DataFrame | None:
    """The ``addresses`` table in id order (row i is id i), or ``None`` if ids have gaps.

    In one chunk: the heuristics name addresses by gathering from it, which from the many
    chunks of a scan took several times as long.
    """
    table = addresses.collect()
    if not table.get_column("address_id").is_sorted():
        table = table.sort("address_id")
    return None if dense_names(table) is None else table.rechunk()


def cluster_store(
    store: Store,
    *,
    heuristics: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    size_caps: Mapping[str, int | None] | None = None,
    write: bool = True,
) -> ClusterRun:
    """Cluster the addresses of a case data directory and (by default) store the result.

    Reads :data:`INPUT_TABLES` from ``store``, runs :func:`cluster_tables`, then commits in one
    atomic step: ``links`` and ``clusters`` are replaced, the deposit-wallet labels appended.

    Parameters
    ----------
    store
        The case data directory.
    heuristics, params, size_caps
        As for :func:`cluster_tables`.
    write
        ``False`` computes without writing.
    """
    tables = {t: store.scan(t) for t in INPUT_TABLES if store.has(t)}
    addresses = store.scan("addresses") if store.has_address_ids() else None
    run = cluster_tables(
        tables, heuristics=heuristics, params=params, size_caps=size_caps, addresses=addresses
    )
    if write:
        store.commit(
            {"labels": run.deposit_labels},
            replace={"links": run.links, "clusters": run.clusters},
        )
    return run


def explain_store(
    store: Store, address_a: str, address_b: str, *, chain: str
) -> pl.DataFrame | None:
    """:func:`heuristics.cluster.explain_link` over a data directory, with what each step went via.

    Returns the explanation's rows with ``via_address`` and ``via_label``: for a
    ``deposit_address_reuse`` step, the deposit address both senders paid (the address its
    evidence transaction paid, from one of the step's two addresses, that is labelled
    ``deposit_wallet``) and that label; null for the other heuristics, whose evidence
    transaction links the two addresses directly. ``None`` when the two are not linked.
    """
    steps = explain_link(store.require("links"), address_a, address_b, chain=chain)
    if steps is None:
        return None
    return deposit_addresses(steps, store.scan("transfers"), store.scan("labels"), chain=chain)


def deposit_addresses(
    steps: pl.DataFrame, transfers: pl.LazyFrame, labels: pl.LazyFrame, *, chain: str
) -> pl.DataFrame:
    """``steps`` with ``via_address``, ``via_label``: the deposit behind each deposit link.

    The evidence transaction of a ``deposit_address_reuse`` link is one sender's deposit: a
    transfer from one of the link's two addresses to an address labelled ``deposit_wallet``.
    If a transaction paid several, the smallest address is named.
    """
    deposit_steps = steps.filter(pl.col("heuristic") == "deposit_address_reuse")
    evidence = deposit_steps.get_column("evidence_transaction_hash").unique().implode()
    wallets = (
        labels.filter((pl.col("chain") == chain) & (pl.col("category") == "deposit_wallet"))
        .group_by("address")
        .agg(pl.col("label").sort().first())
    )
    paid = (
        transfers.filter((pl.col("chain") == chain) & pl.col("transaction_hash").is_in(evidence))
        .select(
            pl.col("transaction_hash").alias("evidence_transaction_hash"),
            "from_address",
            pl.col("to_address").alias("address"),
        )
        .join(wallets, on="address", how="inner")
        .collect()
    )
    via = (
        deposit_steps.select("step", "evidence_transaction_hash", "from_address", "to_address")
        .join(paid.rename({"from_address": "sender"}), on="evidence_transaction_hash")
        .filter(
            (pl.col("sender") == pl.col("from_address"))
            | (pl.col("sender") == pl.col("to_address"))
        )
        .sort("step", "address")
        .unique(subset=["step"], keep="first", maintain_order=True)
        .select("step", pl.col("address").alias("via_address"), pl.col("label").alias("via_label"))
    )
    return steps.join(via, on="step", how="left", maintain_order="left")


def peel_chain_tags(store: Store) -> pl.LazyFrame:
    """:func:`heuristics.peel_chain.peel_chain` over the store's UTXO tables, for the trace.

    No rows when the store holds no UTXO data (an EVM case): the trace then counts every hop.
    """
    if not (store.has("utxo_inputs") and store.has("utxo_outputs")):
        return pl.LazyFrame(schema=PEEL_CHAIN_TAGS)
    return peel_chain(store.scan("utxo_inputs"), store.scan("utxo_outputs"))
