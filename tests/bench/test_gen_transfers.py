"""bench.gen_transfers: the synthetic world's amounts are exact, its deposits are findable."""

from __future__ import annotations

import polars as pl

from bench.gen_transfers import N_EXCHANGES, generate_labels, generate_transfers
from heuristics.deposit_address_reuse import matched_deposits
from tracer.schema import CONTRACTS, TRANSFERS, conform

N = 20_000


def test_values_are_exact_non_negative_decimal_strings() -> None:
    frame = generate_transfers(N, seed=3).collect()
    assert frame.height == N
    values = frame.get_column("value").to_list()
    bad = [v for v in values if not (v == "0" or (v.isdigit() and v[0] != "0"))]
    assert bad == []
    amounts = [int(v) for v in values]
    # Deposits reach 10^20 wei: the range where an int64 in wei used to wrap negative.
    assert max(amounts) > 2**63 - 1
    assert max(amounts) < 10**20
    assert min(amounts) > 0
    assert all(v.endswith("000000000") for v in values)  # whole gwei, as drawn


def test_world_conforms_and_is_deterministic() -> None:
    first = generate_transfers(N, seed=3).collect()
    conform(first, TRANSFERS).collect()  # strict casts: raises on any bad column
    assert first.equals(generate_transfers(N, seed=3).collect())
    assert not first.equals(generate_transfers(N, seed=4).collect())


def test_deposits_forward_less_than_received_and_are_matched() -> None:
    transfers = generate_transfers(N, seed=3)
    labels = generate_labels(N, seed=3)
    hot = labels.collect().get_column("address").to_list()
    assert len(hot) == N_EXCHANGES
    deposits = matched_deposits(transfers, labels, pl.LazyFrame(schema=CONTRACTS)).collect()
    assert deposits.height > N // 20  # about 15% of the rows are deposits
    assert set(deposits.get_column("exchange_address").to_list()) <= set(hot)
    # Every forward to a hot wallet is positive and follows a deposit into the same address
    # that received at most 0.01 ETH (the gas) more.
    forwards = transfers.filter(pl.col("to_address").is_in(hot)).select(
        "transaction_hash", "from_address", "value"
    )
    received = transfers.select(
        pl.col("to_address").alias("from_address"), pl.col("value").alias("received")
    )
    pairs = forwards.join(received, on="from_address").collect().rows()
    assert pairs
    matched = {tx for tx, _, sent, got in pairs if 0 < int(sent) < int(got) <= int(sent) + 10**16}
    n_forwards = forwards.select(pl.len()).collect().item()
    assert len(matched) == n_forwards
