"""gas_funding: first funder and sweep, each condition positive and negative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heuristics.gas_funding import gas_funding
from tracer.schema import CONTRACTS, LABELS

ETH = 10**18
F, A, B, R, X = ("0x" + c * 40 for c in "fabcd")
NO_LABELS = pl.LazyFrame(schema=LABELS)
NO_CONTRACTS = pl.LazyFrame(schema=CONTRACTS)

Builder = Callable[[list[tuple[Any, ...]]], pl.LazyFrame]


def links(
    tr: pl.LazyFrame, lab: pl.LazyFrame = NO_LABELS, con: pl.LazyFrame = NO_CONTRACTS, **kw: Any
) -> list[tuple[str, str, str, int]]:
    out = gas_funding(tr, lab, con, **kw)
    return (
        out.select("address_a", "address_b", "evidence_transaction_hash", "confidence")
        .collect()
        .rows()
    )


def test_first_funder_linked(make_transfers: Builder) -> None:
    tr = make_transfers([(1, "t1", F, A, ETH), (2, "t2", X, A, ETH)])
    # X's payment is not A's first funding; X's own first funder is unknown.
    assert links(tr) == [(A, F, "t1", 60)]


def test_zero_value_and_tokens_are_not_funding(make_transfers: Builder) -> None:
    tr = make_transfers(
        [(1, "t0", X, A, 0), (1, "t1", X, A, 5, "token", "0x" + "7" * 40, 6), (2, "t2", F, A, ETH)]
    )
    assert links(tr) == [(A, F, "t2", 60)]


def test_internal_transfer_counts_as_native(make_transfers: Builder) -> None:
    tr = make_transfers([(1, "t1", F, A, ETH, "internal", "ETH", 18)])
    assert links(tr) == [(A, F, "t1", 60)]


def test_order_within_block_uses_position(make_transfers: Builder) -> None:
    tr = make_transfers([(1, "t1", F, A, ETH), (1, "t1", X, A, ETH)])  # idx 0 then 1
    assert links(tr) == [(A, F, "t1", 60)]


def test_fan_out_threshold(make_transfers: Builder) -> None:
    rows = [(1, f"t{i}", F, "0x" + f"{i:040x}", ETH) for i in range(1, 4)]
    assert len(links(make_transfers(rows), max_fan_out=4)) == 3
    assert links(make_transfers(rows), max_fan_out=3) == []


@pytest.mark.parametrize("category", ["exchange", "mixing_service", "defi_bridge", "hot_wallet"])
def test_service_funder_not_linked(
    make_transfers: Builder, make_labels: Any, category: str
) -> None:
    tr = make_transfers([(1, "t1", F, A, ETH)])
    assert links(tr, make_labels([(F, "svc", category)])) == []
    assert links(tr, make_labels([(F, "someone", "perpetrator")])) == [(A, F, "t1", 60)]


def test_contract_funder_or_recipient_not_linked(make_transfers: Builder) -> None:
    tr = make_transfers([(1, "t1", F, A, ETH)])
    for address in (F, A):
        con = pl.LazyFrame({"chain": ["ethereum"], "address": [address]}).with_columns(
            pl.lit(None, dtype=pl.Int64).alias("block_number"),
            pl.lit(None, dtype=pl.String).alias("transaction_hash"),
            pl.lit(None, dtype=pl.String).alias("creator"),
        )
        assert links(tr, con=con) == []


def test_sweep_links_the_emptied_address(make_transfers: Builder) -> None:
    # A is funded by a service (not linked), then swept to R leaving 0.001 ETH for gas.
    tr = make_transfers(
        [(1, "t0", X, R, ETH), (2, "t1", F, A, 2 * ETH), (3, "t2", A, R, 2 * ETH - 10**15)]
    )
    assert (A, R, "t2", 50) in links(tr)


def test_sweep_needs_an_empty_balance(make_transfers: Builder, make_labels: Any) -> None:
    lab = make_labels([(F, "Binance", "exchange"), (X, "Kraken", "exchange")])
    rows = [(1, "t0", X, R, ETH), (2, "t1", F, A, 2 * ETH)]
    emptied = [*rows, (3, "t2", A, R, 2 * ETH - 10**16)]  # residual 0.01: still a sweep
    kept = [*rows, (3, "t2", A, R, 2 * ETH - 10**16 - 1)]  # residual above 0.01
    assert links(make_transfers(emptied), lab) == [(A, R, "t2", 50)]
    assert links(make_transfers(kept), lab) == []
    assert links(make_transfers(kept), lab, max_residual="0.02") == [(A, R, "t2", 50)]


def test_sweep_is_the_last_transfer_out(make_transfers: Builder, make_labels: Any) -> None:
    lab = make_labels([(F, "Binance", "exchange"), (X, "Kraken", "exchange")])
    tr = make_transfers(
        [
            (1, "t0", X, R, ETH),
            (1, "t0b", X, B, ETH),
            (2, "t1", F, A, 2 * ETH),
            (3, "t2", A, B, ETH),
            (4, "t3", A, R, ETH - 10**15),
        ]
    )
    assert links(tr, lab) == [(A, R, "t3", 50)]


def test_overspent_address_is_not_a_sweep(make_transfers: Builder, make_labels: Any) -> None:
    # More out than in (history missing): the balance cannot be checked, no sweep.
    lab = make_labels([(F, "Binance", "exchange"), (X, "Kraken", "exchange")])
    tr = make_transfers([(1, "t0", X, R, ETH), (2, "t1", F, A, ETH), (3, "t2", A, R, 2 * ETH)])
    assert links(tr, lab) == []


def test_sweep_sums_every_transfer_of_the_address(make_transfers: Builder) -> None:
    # X's transfers with the two swept addresses (Y, W) balance out, but X also received
    # 5 ETH from A: X is not emptied, so X -> W is no sweep (W's first funder is G).
    y, w, g, v = ("0x" + c * 40 for c in "1234")
    tr = make_transfers(
        [
            (1, "t1", A, X, 5 * ETH),
            (2, "t2", F, y, ETH),
            (3, "t3", y, X, ETH),
            (4, "t4", g, w, ETH),
            (5, "t5", X, w, ETH),
            (6, "t6", w, v, 2 * ETH),
        ]
    )
    assert links(tr) == [
        (y, X, "t3", 50),  # y swept to X
        (y, F, "t2", 60),
        (w, g, "t4", 60),
        (w, v, "t6", 60),  # v's first funder, and w's sweep: the stronger link is kept
        (A, X, "t1", 60),  # X's first funder
    ]


# Round amounts, and amounts a float holds only approximately (2**70 + 2**17 + 1 is not a
# float: sums of such round up and down).
_AMOUNTS = st.sampled_from(
    [1, 3, 10**16, 10**18 - 10**16, 10**18, 2**70, 2**70 + 2**17 + 1, 2**70 - 2**17 + 1, 10**30]
)


def _superset_holds(rows: list[tuple[int, int, int]]) -> None:
    """Every key whose exact balance is emptied (0 to 0.01 ETH left) is in the float superset."""
    from fractions import Fraction

    from heuristics.gas_funding import _maybe_emptied

    native = pl.DataFrame(
        {
            "from_key": [a for a, _, _ in rows],
            "to_key": [b for _, b, _ in rows],
            "value": [str(v) for _, _, v in rows],
        },
        schema={"from_key": pl.UInt32, "to_key": pl.UInt32, "value": pl.String},
    )
    limit = Fraction("0.01") * 10**18
    maybe = _maybe_emptied(native, float(limit))
    for key in range(5):
        received = [v for _, b, v in rows if b == key]
        sent = [v for a, _, v in rows if a == key]
        if received and sent and 0 <= sum(received) - sum(sent) <= limit:
            assert maybe[key], (key, received, sent)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), _AMOUNTS), max_size=25))
def test_float_superset_holds_every_emptied_address(rows: list[tuple[int, int, int]]) -> None:
    _superset_holds(rows)


def test_float_superset_keeps_an_address_its_float_sums_overdraw() -> None:
    # Key 0 receives and sends the same four amounts (three of them to itself), so its exact
    # balance is 0; summed in row order as floats, it comes out 2**19 wei below zero.
    big_up, big_down = 2**70 + 2**17 + 1, 2**70 - 2**17 + 1
    _superset_holds([(0, 1, big_up), (0, 0, ETH), (0, 0, big_down), (0, 0, ETH), (1, 0, big_up)])
