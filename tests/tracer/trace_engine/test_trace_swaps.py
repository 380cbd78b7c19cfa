"""Swaps: taint converts from the asset paid into a venue to the asset it pays out.

Every expected number is worked out by hand in the comment beside it. P is the swap venue
(labelled ``defi_dex``), X an exchange, TOK a token; amounts are in base units (decimals 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tracer.trace_engine.trace_tables import case_trace_spec, labels_frame, transfers_frame
from tracer.trace import TraceInputs, TraceResult, TraceSpec, run_trace

MODELS = ("poison", "haircut", "fifo")
VENUE = {"P": "defi_dex", "X": "exchange"}


def swap(sender: str, sent: int, receivers: Sequence[tuple[str, int]], block: int) -> list[Any]:
    """One swap transaction: ``sender`` pays ``sent`` ETH to P, P pays TOK to each receiver."""
    tx = f"0xswap{block:04d}"
    rows: list[Any] = [{"from": sender, "to": "P", "value": sent, "block": block, "tx": tx}]
    for n, (receiver, amount) in enumerate(receivers, start=1):
        rows.append(
            {
                "from": "P",
                "to": receiver,
                "value": amount,
                "block": block,
                "tx": tx,
                "kind": "token",
                "asset": "TOK",
                "idx": n,
            }
        )
    return rows


def tok(sender: str, receiver: str, value: int, block: int) -> dict[str, Any]:
    return {
        "from": sender,
        "to": receiver,
        "value": value,
        "block": block,
        "kind": "token",
        "asset": "TOK",
    }


def trace(rows: Sequence[Any], *, labels: dict[str, str] | None = None, **spec: Any) -> TraceResult:
    frames = {
        "transfers": transfers_frame(rows),
        "labels": labels_frame(VENUE if labels is None else labels),
    }
    return run_trace(TraceInputs.from_frames(frames), TraceSpec(seeds=("S",), **spec))


def reached(result: TraceResult, model: str) -> dict[tuple[str, str], Fraction]:
    """(endpoint, asset) -> exact taint received under ``model``."""
    return {k: Fraction(v) for k, v in result.taints[model].received.items()}


def flows_into(result: TraceResult, address: str) -> list[tuple[str, str]]:
    rows = result.flows.filter(pl.col("to_address") == address)
    return list(rows.select("asset", "tainted_value").iter_rows())


# A holds 10 clean ETH (from C), then 10 stolen ETH (from S). A swaps 10 ETH at P for 30 TOK
# paid to itself, and sends the 30 TOK to the exchange X. Later P pays 10 ETH to a user U.
MIXED_SWAPPER = [
    ("C", "A", 10, 1),
    ("S", "A", 10, 2),
    *swap("A", 10, [("A", 30)], 3),
    tok("A", "X", 30, 4),
    ("P", "U", 10, 5),
]


def test_a_swap_converts_taint_differently_under_each_model() -> None:
    result = trace(MIXED_SWAPPER, compare=True)
    # haircut: A's ETH is 10 tainted of 20, so the 10 ETH it pays P carry 5: half of what P
    # got in the swap is tainted, so half of the 30 TOK paid out is: 15 TOK, all to X.
    # fifo: A's queue is [10 clean, 10 tainted]; the swap spends the clean 10 first, so the
    # swap converts nothing and the stolen 10 ETH stay at A.
    # poison: A is poisoned, so the 10 ETH are all tainted and so are the 30 TOK.
    assert reached(result, "haircut") == {("X", "TOK"): 15}
    assert reached(result, "fifo") == {}
    assert reached(result, "poison") == {("X", "TOK"): 30}
    haircut = result.taints["haircut"].totals()
    assert haircut["ETH"]["seeded"] == 10
    assert haircut["ETH"]["swapped_out"] == 5  # converted...
    assert haircut["ETH"]["held"] == 5  # ...and the rest still at A
    assert haircut["TOK"]["swapped_in"] == 15
    assert haircut["TOK"]["endpoints"] == 15
    fifo = result.taints["fifo"].totals()
    assert fifo["ETH"]["held"] == 10
    assert fifo["ETH"]["swapped_out"] == 0
    # The 10 ETH P took in the swap are converted, not held: P's later payment to U carries
    # no taint under any model (a followed pool would pass 5 of it on under haircut).
    for model in MODELS:
        assert result.taints[model].held.get(("U", "ETH"), 0) == 0
    assert flows_into(result, "U") == []
    # The swap's two legs are flows of one transaction, one hop apart; the path to X crosses
    # from ETH to TOK at P, and A appears once per asset.
    assert result.paths.select("addresses", "transaction_hashes", "tainted_value").rows() == [
        ("S>A>P>A>X", "0xt0001>0xswap0003>0xt0004", "15")
    ]
    legs = result.flows.filter(pl.col("transaction_hash") == "0xswap0003")
    assert legs.select("to_address", "asset", "tainted_value", "hop").rows() == [
        ("P", "ETH", "5", 2),
        ("A", "TOK", "15", 3),
    ]


def test_without_follow_swaps_each_asset_is_traced_alone() -> None:
    result = trace(MIXED_SWAPPER, compare=True, follow_swaps=False)
    # P is an ordinary address: it keeps the 5 tainted ETH (haircut) and passes them to U;
    # its TOK was never tainted, so X gets nothing.
    assert reached(result, "haircut") == {}
    assert result.taints["haircut"].held[("U", "ETH")] == 5
    assert result.taints["haircut"].totals()["ETH"]["swapped_out"] == 0


def test_a_partly_tainted_swapper_paying_another_address() -> None:
    # S gives A 3 ETH, C gives A 4 clean ETH; A swaps all 7 ETH for 10 TOK paid to B (not A),
    # and B deposits the 10 TOK at X.
    rows = [("S", "A", 3, 1), ("C", "A", 4, 2), *swap("A", 7, [("B", 10)], 3), tok("B", "X", 10, 4)]
    result = trace(rows, compare=True)
    # haircut: 3 of the 7 ETH are tainted, so 10 x 3/7 = 30/7 TOK (4 when written).
    assert reached(result, "haircut") == {("X", "TOK"): Fraction(30, 7)}
    # fifo: A spends its oldest units first, [3 tainted, 4 clean], all 7: 3 tainted ETH, so
    # floor(10 x 3/7) = 4 TOK.
    assert reached(result, "fifo") == {("X", "TOK"): 4}
    assert reached(result, "poison") == {("X", "TOK"): 10}
    assert result.exposure.select("address", "asset", "tainted_value").rows() == [("X", "TOK", "4")]
    # share_of_seed_value is relative to the taint that entered TOK (30/7): all of it.
    assert result.exposure["share_of_seed_value"].to_list() == [1.0]
    assert result.totals["haircut"]["ETH"]["swapped_out"] == "3"
    assert result.totals["haircut"]["TOK"]["swapped_in"] == "4"
    assert result.totals["haircut"]["TOK"]["dust"] == "0"
    # B is two hops from A (A > P > B), X one more; the path names the pool and both hashes.
    assert result.paths.select("addresses", "transaction_hashes", "hop_count").rows() == [
        ("S>A>P>B>X", "0xt0000>0xswap0003>0xt0004", 4)
    ]
    nodes = dict(result.nodes.select("address", "role").iter_rows())
    assert nodes["P"] == "intermediate"  # it converted, it absorbed nothing


def test_fifo_carries_the_rounding_remainder_between_out_legs() -> None:
    # As above but P pays the 10 TOK in two legs, 3 to B and 7 to D (3/7 of each is tainted).
    rows = [("S", "A", 3, 1), ("C", "A", 4, 2), *swap("A", 7, [("B", 3), ("D", 7)], 3)]
    result = trace(rows, taint="fifo", compare=True)
    fifo = result.taints["fifo"].held
    # Leg 1: floor(3 x 3/7) = 1. Leg 2: floor(10 x 3/7) - 1 = 3: the legs sum to floor(30/7) = 4,
    # where rounding each leg alone would give 1 + 3 = 4 here only by luck of the order.
    assert fifo == {("B", "TOK"): 1, ("D", "TOK"): 3}
    haircut = result.taints["haircut"].held
    assert haircut == {("B", "TOK"): Fraction(9, 7), ("D", "TOK"): Fraction(3)}
    totals = result.taints["fifo"].totals()["TOK"]
    assert totals["swapped_in"] == totals["held"] == 4


def test_a_multi_asset_transaction_without_a_venue_is_no_swap() -> None:
    # The same transactions, but P carries no defi_dex label: A paying P ETH and P paying A
    # TOK in one transaction is two unrelated transfers.
    result = trace(MIXED_SWAPPER, labels={"X": "exchange"}, compare=True)
    for model in MODELS:
        assert reached(result, model) == {}
        totals = result.taints[model].totals()
        assert totals["ETH"]["swapped_out"] == 0
        assert "TOK" not in totals
    # haircut: P holds the 5 tainted ETH it got and pays them on to U.
    assert result.taints["haircut"].held[("U", "ETH")] == 5


def test_a_venue_that_takes_two_assets_absorbs_the_taint() -> None:
    # Adding liquidity: A pays P 5 ETH and 5 TOK in one transaction; P pays out nothing.
    rows = [
        ("S", "A", 5, 1),
        {"from": "Q", "to": "A", "value": 5, "block": 1, "kind": "token", "asset": "TOK"},
        {"from": "A", "to": "P", "value": 5, "block": 2, "tx": "0xadd"},
        {**tok("A", "P", 5, 2), "tx": "0xadd", "idx": 1},
        ("P", "U", 5, 3),
    ]
    result = trace(rows)
    assert reached(result, "haircut") == {("P", "ETH"): 5}
    assert dict(result.nodes.select("address", "role").iter_rows())["P"] == "endpoint"


def test_a_stop_category_wins_over_the_venue_rule() -> None:
    result = trace(MIXED_SWAPPER, stop_at=("exchange", "defi_dex"))
    assert reached(result, "haircut") == {("P", "ETH"): 5}


def test_a_route_through_two_venues_is_followed() -> None:
    # A pays the router R 10 ETH; R pays the pool P 10 WETH, P pays A 20 TOK, A deposits them.
    tx = {"tx": "0xroute", "block": 2, "kind": "token"}
    rows = [
        ("S", "A", 10, 1),
        {"from": "A", "to": "R", "value": 10, "block": 2, "tx": "0xroute"},
        {**tx, "from": "R", "to": "P", "value": 10, "asset": "WETH", "idx": 1},
        {**tx, "from": "P", "to": "A", "value": 20, "asset": "TOK", "idx": 2},
        tok("A", "X", 20, 3),
    ]
    result = trace(rows, labels={"R": "defi_dex", "P": "defi", "X": "exchange"}, compare=True)
    for model in MODELS:
        assert reached(result, model) == {("X", "TOK"): 20}
        totals = result.taints[model].totals()
        assert totals["ETH"]["swapped_out"] == 10
        assert totals["WETH"]["swapped_in"] == totals["WETH"]["swapped_out"] == 10
        assert totals["TOK"]["swapped_in"] == 20
    assert result.paths["addresses"].to_list() == ["S>A>R>P>A>X"]
    # Flow hops: A > R 2 (A is 1 hop from S), R > P 3, P > A 4, A > X 2 (A's own hop + 1).
    assert result.flows.select("asset", "hop").rows() == [
        ("ETH", 1),
        ("ETH", 2),
        ("WETH", 3),
        ("TOK", 4),
        ("TOK", 2),
    ]


def test_the_case_file_selects_it(tmp_path: Path) -> None:
    assert case_trace_spec(tmp_path).follow_swaps is True
    assert case_trace_spec(tmp_path, "follow_swaps = false").follow_swaps is False


# --- conservation, over random graphs with swaps ---------------------------------------

NAMES = ["S", "A", "B", "C", "X"]  # X: an exchange
ASSETS = ["ETH", "TOK", "USD"]

plain = st.tuples(
    st.sampled_from([*NAMES, "clean"]),
    st.sampled_from(NAMES),
    st.sampled_from(ASSETS),
    st.integers(1, 1000),
    st.integers(1, 30),
)
swaps = st.tuples(
    st.sampled_from(NAMES),  # sender
    st.sampled_from(ASSETS),  # paid
    st.integers(1, 1000),
    st.lists(
        st.tuples(st.sampled_from(NAMES), st.sampled_from(ASSETS), st.integers(1, 1000)),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),  # a clean co-payer pays P too
    st.integers(1, 30),
)


def _rows(drawn_plain: list[Any], drawn_swaps: list[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n, (src, dst, asset, value, block) in enumerate(drawn_plain):
        if src != dst:
            rows.append(
                {"from": src, "to": dst, "value": value, "block": block, "asset": asset,
                 "tx": f"0xp{n}", "kind": "native" if asset == "ETH" else "token"}
            )  # fmt: skip
    for n, (sender, paid, value, outs, co_payer, block) in enumerate(drawn_swaps):
        tx = f"0xs{n}"
        legs = [(sender, "P", paid, value)]
        if co_payer:
            legs.append(("clean", "P", paid, 7))
        legs += [("P", receiver, asset, amount) for receiver, asset, amount in outs]
        for idx, (src, dst, asset, amount) in enumerate(legs):
            rows.append(
                {"from": src, "to": dst, "value": amount, "block": block, "asset": asset,
                 "tx": tx, "idx": idx, "kind": "native" if asset == "ETH" else "token"}
            )  # fmt: skip
    return rows


@settings(max_examples=120, deadline=None)
@given(
    drawn_plain=st.lists(plain, max_size=25),
    drawn_swaps=st.lists(swaps, min_size=1, max_size=6),
    theft=st.sampled_from(ASSETS),
    model=st.sampled_from(["haircut", "fifo"]),
    hops=st.integers(1, 6),
    min_value=st.sampled_from([None, "100"]),
    direction=st.sampled_from(["forward", "backward"]),
)
def test_taint_is_conserved_per_asset_across_swaps(
    drawn_plain: list[Any],
    drawn_swaps: list[Any],
    theft: str,
    model: str,
    hops: int,
    min_value: str | None,
    direction: str,
) -> None:
    rows = _rows(drawn_plain, drawn_swaps)
    rows.append(
        {"from": "victim", "to": "S", "value": 500, "block": 0, "asset": theft,
         "kind": "native" if theft == "ETH" else "token"}
    )  # fmt: skip
    result = trace(rows, taint=model, max_hops=hops, min_value=min_value, direction=direction)
    taint = result.taints[model]
    for asset, exact in taint.totals().items():
        assert exact["untraced"] == 0
        into = exact["seeded"] + exact["swapped_in"]
        out = (
            exact["endpoints"]
            + exact["held"]
            + exact["fees"]
            + exact["below_min_value"]
            + exact["swapped_out"]
        )
        assert into == out, asset
        written = result.totals[model][asset]
        assert 0 <= int(written["dust"]) < 8
    # No flow carries more taint than it moves.
    for i, value in taint.flows.select("_i", "value").iter_rows():
        assert 0 < Fraction(taint.exact[i]) <= int(value)
    # P converts, it never keeps: it holds no taint in any asset.
    assert not [key for key in taint.held if key[0] == "P"]


@pytest.mark.parametrize("model", MODELS)
def test_backward_a_swap_converts_the_other_way(model: str) -> None:
    # Where did X's 30 TOK come from? A bought them at P with 10 ETH, 10 of which came from
    # the clean C and ... backward, X is the seed: A > X 30 TOK, P > A 30 TOK for A > P 10 ETH.
    rows = [("C", "A", 10, 1), *swap("A", 10, [("A", 30)], 3), tok("A", "X", 30, 4)]
    frames = {"transfers": transfers_frame(rows), "labels": labels_frame({"P": "defi_dex"})}
    result = run_trace(
        TraceInputs.from_frames(frames),
        TraceSpec(seeds=("X",), direction="backward", taint=model, stop_at=()),
    )
    # X's 30 TOK all came from A's swap: 10 ETH paid by A, which all came from C.
    taint = result.taints[model]
    assert taint.held == {("C", "ETH"): 10}
    assert taint.totals()["TOK"]["swapped_out"] == 30
    assert taint.totals()["ETH"]["swapped_in"] == 10
