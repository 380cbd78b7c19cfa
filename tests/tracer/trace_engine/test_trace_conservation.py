"""Property tests: under haircut and fifo taint is conserved exactly, and never grows."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tracer.trace_engine.trace_tables import (
    labels_frame,
    seeds_frame,
    transactions_frame,
    transfers_frame,
)
from tracer.trace import TraceInputs, TraceSpec, run_trace

NAMES = ["S", "A", "B", "C", "D", "X", "Y"]  # X, Y: exchanges; C, D also get clean money

transfer = st.tuples(
    st.sampled_from([*NAMES, "clean1", "clean2"]),
    st.sampled_from(NAMES),
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=1, max_value=30),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Any], list[dict[str, Any]], str | None, str | None]:
    rows = [r for r in draw(st.lists(transfer, min_size=1, max_size=40)) if r[0] != r[1]]
    # The theft: victim -> S, at block 0 or in the middle of S's activity.
    rows.append(("victim", "S", draw(st.integers(1, 5000)), draw(st.sampled_from([0, 15]))))
    keyed: list[dict[str, Any]] = [
        {"from": f, "to": t, "value": v, "block": b, "tx": f"0x{i:04x}"}
        for i, (f, t, v, b) in enumerate(rows)
    ]
    fee_txs = draw(st.lists(st.sampled_from(range(len(keyed))), max_size=5, unique=True))
    txs = [
        {
            "tx": keyed[i]["tx"],
            "from": keyed[i]["from"],
            "block": keyed[i]["block"],
            "gas_used": draw(st.integers(0, 30)),
            "gas_price": 1,
        }
        for i in fee_txs
    ]
    min_value = draw(st.sampled_from([None, "50", "300"]))
    # Either S is traced as a whole address, or from the theft transaction only.
    theft: str | None = str(keyed[-1]["tx"]) if draw(st.booleans()) else None
    return keyed, txs, min_value, theft


@settings(max_examples=150, deadline=None)
@given(
    case=cases(),
    model=st.sampled_from(["haircut", "fifo"]),
    hops=st.integers(1, 6),
    direction=st.sampled_from(["forward", "backward"]),
)
def test_taint_is_conserved(
    case: tuple[list[Any], list[dict[str, Any]], str | None, str | None],
    model: str,
    hops: int,
    direction: str,
) -> None:
    rows, txs, min_value, theft = case
    frames: dict[str, pl.DataFrame] = {
        "transfers": transfers_frame(rows),
        "labels": labels_frame({"X": "exchange", "Y": "exchange"}),
    }
    if txs:
        frames["transactions"] = transactions_frame(txs)
    if theft is not None:
        frames["seeds"] = seeds_frame([("S", theft)])
    spec = TraceSpec(
        seeds=() if theft else ("S",),
        taint=model,
        max_hops=hops,
        min_value=min_value,
        direction=direction,
    )
    result = run_trace(TraceInputs.from_frames(frames), spec)
    taint = result.taints[model]
    exact = taint.totals().get("ETH")
    assert exact is not None
    # Endpoints + held + fees + below min-value (+ untraced, which must be 0) == seeded.
    assert exact["untraced"] == 0
    parts = exact["endpoints"] + exact["held"] + exact["fees"] + exact["below_min_value"]
    assert parts == exact["seeded"]
    # No address passes on more taint than it received (or, for the seed, was seeded with),
    # and no transfer carries more taint than its value.
    flows = taint.flows
    into: dict[str, Fraction] = {}
    out_of: dict[str, Fraction] = {}
    for i, src, dst, value in flows.select(  # in the trace's direction
        "_i", "_src_address", "_dst_address", "value"
    ).iter_rows():
        amount = Fraction(taint.exact[i])
        assert 0 < amount <= int(value)
        into[dst] = into.get(dst, Fraction(0)) + amount
        out_of[src] = out_of.get(src, Fraction(0)) + amount
    seeded = Fraction(exact["seeded"])
    for address, sent in out_of.items():
        budget = into.get(address, Fraction(0)) + (seeded if address == "S" else 0)
        assert sent <= budget
    # The written totals are the exact ones rounded down; the dust is what rounding lost.
    written = result.totals[model]["ETH"]
    assert int(written["seeded"]) == int(seeded)
    assert 0 <= int(written["dust"]) < 6
