"""Integer address keys: exact, shared by the heuristics, and never a change in their output."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from bench.gen_transfers import generate_labels, generate_transfers
from heuristics import run_heuristics
from heuristics._frames import _SEEDS, KEYS, address_keys
from heuristics.deposit_address_reuse import matched_deposits
from tracer.clustering import TRANSFER_COLUMNS
from tracer.schema import CONTRACTS

N = 6_000


def world() -> tuple[pl.DataFrame, pl.LazyFrame]:
    transfers = generate_transfers(N, seed=3).select(TRANSFER_COLUMNS).collect()
    # A second chain with the same addresses: a key must tell the chains apart.
    other = transfers.head(N // 3).with_columns(pl.lit("polygon").alias("chain"))
    return pl.concat([transfers, other]), generate_labels(N, seed=3)


def test_equal_keys_exactly_for_equal_chain_and_address() -> None:
    transfers, _ = world()
    keys = address_keys(transfers)
    pairs = pl.concat(
        [
            keys.select("chain", pl.col(column).alias("address"), pl.col(key).alias("key"))
            for column, key in KEYS.items()
        ]
    ).unique()
    assert keys.get_column("from_key").dtype == pl.UInt32
    assert pairs.get_column("key").n_unique() == pairs.height  # one key per distinct pair
    assert pairs.select("chain", "address").n_unique() == pairs.height


def test_null_address_gets_null_key() -> None:
    tr = pl.DataFrame(
        {"chain": ["ethereum"] * 2, "from_address": ["0xa", None], "to_address": [None, "0xa"]}
    )
    (a, none_a), (none_b, b) = address_keys(tr).select(*KEYS.values()).rows()
    assert a == b
    assert none_a is None
    assert none_b is None
    assert address_keys(tr.clear()).height == 0


def _links(transfers: pl.DataFrame, labels: pl.LazyFrame) -> list[pl.DataFrame]:
    names = ["airdrop_multi_participation", "deposit_address_reuse", "gas_funding"]
    contracts = pl.LazyFrame(schema=CONTRACTS)
    out = [
        run_heuristics({"transfers": transfers.lazy(), "labels": labels}, [name]).collect()
        for name in names
    ]
    deposits = matched_deposits(transfers.lazy(), labels, contracts).collect()
    # Rows come in key order, and keys number addresses differently on the two paths.
    in_strings = deposits.drop("deposit_key", "sender_key").sort(pl.all())
    return [*out, in_strings]


def _collide_first_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every address gets the same first hash (seed ``_SEEDS[0]``); the second is real."""
    series_hash, rows_hash = pl.Series.hash, pl.DataFrame.hash_rows

    def series(self: pl.Series, seed: int = 0) -> pl.Series:
        if seed == _SEEDS[0]:
            return pl.Series(np.zeros(len(self), dtype=np.uint64))
        return series_hash(self, seed=seed)

    def rows(self: pl.DataFrame, seed: int = 0) -> pl.Series:
        if seed == _SEEDS[0]:
            return pl.Series(np.zeros(self.height, dtype=np.uint64))
        return rows_hash(self, seed=seed)

    monkeypatch.setattr(pl.Series, "hash", series)
    monkeypatch.setattr(pl.DataFrame, "hash_rows", rows)


def test_heuristics_compute_the_keys_when_not_given() -> None:
    transfers, labels = world()
    given = address_keys(transfers)
    for with_keys, without in zip(_links(given, labels), _links(transfers, labels), strict=True):
        assert_frame_equal(with_keys, without)


@pytest.mark.parametrize("chains", [1, 2])
def test_hash_collision_falls_back_to_exact_string_keys(
    monkeypatch: pytest.MonkeyPatch, chains: int
) -> None:
    transfers, labels = world()
    if chains == 1:
        transfers = transfers.filter(pl.col("chain") == "ethereum")
    hashed = address_keys(transfers)
    _collide_first_hash(monkeypatch)
    exact = address_keys(transfers)  # one first hash for all: the second hash sees it
    monkeypatch.undo()
    # Exact keys number the pairs in string order: other numbers, the same partition.
    pairs = pl.concat(
        [
            exact.select("chain", pl.col(column).alias("address"), pl.col(key).alias("key"))
            for column, key in KEYS.items()
        ]
    ).unique()
    assert exact.get_column("from_key").dtype == pl.UInt32
    assert pairs.get_column("key").n_unique() == pairs.height
    assert pairs.select("chain", "address").n_unique() == pairs.height
    for fast, slow in zip(_links(hashed, labels), _links(exact, labels), strict=True):
        assert_frame_equal(fast, slow)


def test_keyed_and_unkeyed_links_in_one_clustering() -> None:
    # Transfer rules hand the union keyed links, the UTXO rule unkeyed ones: together they
    # give what the sorted, unkeyed path gives.
    from heuristics.cluster import cluster_addresses
    from tracer.clustering import cluster_tables
    from tracer.schema import TABLES

    transfers, labels = world()
    inputs = pl.DataFrame(
        {
            "chain": ["bitcoin"] * 3,
            "transaction_hash": ["b1", "b1", "b2"],
            "index": [0, 1, 0],
            "block_number": [5, 5, 6],
            "address": ["1x", "1y", "1y"],
            "value": ["1", "2", "3"],
        }
    )
    outputs = inputs.head(1).with_columns(pl.lit("1z").alias("address"))
    tables = {
        "transfers": transfers.lazy(),
        "labels": labels,
        "utxo_inputs": inputs.lazy().pipe(_with_schema, TABLES["utxo_inputs"]),
        "utxo_outputs": outputs.lazy().pipe(_with_schema, TABLES["utxo_outputs"]),
    }
    run = cluster_tables(tables)
    assert {"multi_input", "gas_funding", "deposit_address_reuse"} <= set(run.heuristics)
    # The deposit wallets found are labels for the other rules and the union.
    known = pl.concat([labels, run.deposit_labels.lazy()], how="diagonal_relaxed")
    plain = cluster_addresses(run_heuristics({**tables, "labels": known}, run.heuristics), known)
    assert_frame_equal(run.links, plain.links.collect())
    assert_frame_equal(run.clusters, plain.clusters.collect())


def _with_schema(frame: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """``frame`` with every column of ``schema`` (missing ones null)."""
    names = frame.collect_schema().names()
    return frame.select(
        pl.col(c).cast(t) if c in names else pl.lit(None, dtype=t).alias(c)
        for c, t in schema.items()
    )
