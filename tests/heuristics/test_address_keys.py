"""Integer address keys: exact, shared by the heuristics, and never a change in their output."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from bench.gen_transfers import generate_labels, generate_transfers
from heuristics import run_heuristics
from heuristics._frames import KEYS, address_keys, keyed
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
    assert address_keys(tr).select(*KEYS.values()).rows() == [(0, None), (None, 0)]
    assert address_keys(tr.clear()).height == 0


def _same_links(transfers: pl.DataFrame, labels: pl.LazyFrame, fast: pl.DataFrame) -> None:
    names = ["airdrop_multi_participation", "deposit_address_reuse", "gas_funding"]
    contracts = pl.LazyFrame(schema=CONTRACTS)
    for name in names:
        exact = run_heuristics({"transfers": transfers.lazy(), "labels": labels}, [name])
        keyed_run = run_heuristics({"transfers": fast.lazy(), "labels": labels}, [name])
        assert_frame_equal(exact.collect(), keyed_run.collect())
    assert_frame_equal(
        matched_deposits(transfers.lazy(), labels, contracts).collect(),
        matched_deposits(fast.lazy(), labels, contracts).collect(),
    )


def test_heuristics_give_the_same_links_with_integer_or_string_keys() -> None:
    transfers, labels = world()
    fast = address_keys(transfers)
    assert fast.get_column("to_key").dtype == pl.UInt32
    strings = keyed(transfers.lazy()).collect()
    assert strings.get_column("to_key").dtype == pl.String
    _same_links(transfers, labels, fast)


def test_hash_collision_falls_back_to_exact_string_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    transfers, labels = world()

    def collide(self: Any, seed: int = 0) -> pl.Series:  # every address shares one hash
        del seed
        return pl.Series(np.zeros(len(self), dtype=np.uint64))

    monkeypatch.setattr(pl.Series, "hash", collide)
    monkeypatch.setattr(pl.DataFrame, "hash_rows", collide)
    fast = address_keys(transfers)
    assert fast.get_column("from_key").dtype == pl.String  # the exact fallback
    monkeypatch.undo()
    _same_links(transfers, labels, fast)
