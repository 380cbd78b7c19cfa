"""Following a Bitcoin peel chain: the change stays with its spender, only the peels are hops.

A hand-built chain, tagged by the real ``heuristics.peel_chain`` over its UTXO tables::

    t1: S  (100) -> P1 10 (output 0, peel)    C1 89 (output 1, change)  fee 1
    t2: C1  (89) -> C2 78 (output 0, change)  P2 10 (output 1, peel)    fee 1
    t3: C2  (78) -> P3 20 (output 0)          C3 57 (output 1)          fee 1

t3 ends the chain: nothing spends its outputs, so which one is the change is not known and it
is an ordinary transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from heuristics.peel_chain import peel_chain
from tests.tracer.trace_engine.trace_tables import (
    block_time,
    case_trace_spec,
    seeds_frame,
    transfers_frame,
)
from tracer.cli import cli
from tracer.schema import UTXO_INPUTS, UTXO_OUTPUTS
from tracer.store import Store
from tracer.trace import TraceInputs, TraceResult, TraceSpec, run_trace

# (transaction, block, input: (address, value, spent transaction, spent output), outputs)
CHAIN: list[tuple[str, int, tuple[str, int, str, int], list[tuple[str, int]]]] = [
    ("t1", 2, ("S", 100, "t0", 0), [("P1", 10), ("C1", 89)]),
    ("t2", 3, ("C1", 89, "t1", 1), [("C2", 78), ("P2", 10)]),
    ("t3", 4, ("C2", 78, "t2", 0), [("P3", 20), ("C3", 57)]),
]


def _row(tx: str, block: int, index: int, address: str, value: int) -> dict[str, Any]:
    return {
        "chain": "bitcoin",
        "block_number": block,
        "block_timestamp": block_time(block),
        "transaction_hash": tx,
        "index": index,
        "address": address,
        "value": str(value),
        "script_type": "pubkeyhash",
    }


def utxo_tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    inputs = [
        {**_row(tx, block, 0, a, v), "spent_transaction_hash": s, "spent_output_index": o}
        for tx, block, (a, v, s, o), _ in CHAIN
    ]
    outputs = [
        {**_row(tx, block, i, a, v), "is_coinbase": False}
        for tx, block, _, outs in CHAIN
        for i, (a, v) in enumerate(outs)
    ]
    return pl.DataFrame(inputs, schema=UTXO_INPUTS), pl.DataFrame(outputs, schema=UTXO_OUTPUTS)


def legs() -> pl.DataFrame:
    """The transfers ingest makes of the chain: address -> transaction -> address."""
    rows = []
    for tx, block, (address, value, _, _), outs in CHAIN:
        common = {"block": block, "tx": tx, "kind": "utxo", "asset": "BTC", "decimals": 8}
        rows.append({**common, "from": address, "to": tx, "value": value, "idx": 0})
        rows += [
            {**common, "from": tx, "to": a, "value": v, "idx": i} for i, (a, v) in enumerate(outs)
        ]
    return transfers_frame(rows, chain="bitcoin")


def run(seed: str = "S", **spec: Any) -> TraceResult:
    ins, outs = utxo_tables()
    inputs = TraceInputs(transfers=legs().lazy(), peel_chains=peel_chain(ins.lazy(), outs.lazy()))
    return run_trace(inputs, TraceSpec(seeds=(seed,), stop_at=(), **spec))


def hops(result: TraceResult) -> dict[str, int]:
    return dict(result.nodes.select("address", "min_hop").iter_rows())


def held(result: TraceResult) -> dict[str, int]:
    return {a: int(v) for a, v in result.held.select("address", "tainted_value").iter_rows()}


def exposure(result: TraceResult) -> dict[str, int]:
    return {a: int(v) for a, v in result.exposure.select("address", "tainted_value").iter_rows()}


def test_the_tags_name_the_change_of_the_first_two_transactions() -> None:
    ins, outs = utxo_tables()
    tags = peel_chain(ins.lazy(), outs.lazy()).collect()
    assert tags.select("transaction_hash", "change_output_index", "peel_output_index").rows() == [
        ("t1", 1, 0),
        ("t2", 0, 1),
        ("t3", None, None),
    ]


def test_forward_the_change_stays_at_the_spenders_hop() -> None:
    # The seed's own change is the seed owner's (hop 0); each peel is one hop; t3, whose
    # change is unknown, is an ordinary transaction (one hop to both outputs).
    assert hops(run()) == {"S": 0, "C1": 0, "C2": 0, "P1": 1, "P2": 1, "P3": 1, "C3": 1}
    assert hops(run(follow_peel_chains=False)) == {
        "S": 0,
        "P1": 1,
        "C1": 1,
        "C2": 2,
        "P2": 2,
        "P3": 3,
        "C3": 3,
    }


@pytest.mark.parametrize("taint", ["poison", "haircut", "fifo"])
def test_the_amounts_do_not_depend_on_the_hops(taint: str) -> None:
    # Everything is tainted: each end holds what it was paid, three satoshi went in fees.
    expected = {"P1": 10, "P2": 10, "P3": 20, "C3": 57}
    for follow in (True, False):
        result = run(taint=taint, follow_peel_chains=follow)
        assert held(result) == expected
        assert int(result.totals[taint]["BTC"]["fees"]) == 3


def test_a_hop_limit_reaches_the_end_of_the_chain() -> None:
    # One hop: without the tags the trace ends at the first change (C1, 89 at the hop limit);
    # with them the whole chain is hop 0 and every peel is reached.
    assert exposure(run(max_hops=1, follow_peel_chains=False)) == {"P1": 10, "C1": 89}
    assert exposure(run(max_hops=1)) == {"P1": 10, "P2": 10, "P3": 20, "C3": 57}


def test_backward_from_a_peel_the_chain_is_one_hop() -> None:
    # Where did P2's 10 come from? Through t2 (the peel: one hop) to C1, and through t1's
    # change leg (no hop) to S.
    assert hops(run("P2", direction="backward")) == {"P2": 0, "C1": 1, "S": 1}
    assert hops(run("P2", direction="backward", follow_peel_chains=False)) == {
        "P2": 0,
        "C1": 1,
        "S": 2,
    }


def test_without_utxo_tables_nothing_changes() -> None:
    # An EVM trace, or tags left out: the default weights.
    inputs = TraceInputs(transfers=legs().lazy())
    result = run_trace(inputs, TraceSpec(seeds=("S",), stop_at=()))
    assert hops(result) == hops(run(follow_peel_chains=False))


def test_the_case_file_and_the_cli_select_it(tmp_path: Path) -> None:
    assert case_trace_spec(tmp_path, chain="bitcoin").follow_peel_chains is True
    off = case_trace_spec(tmp_path, "follow_peel_chains = false", chain="bitcoin")
    assert off.follow_peel_chains is False

    # The CLI reads the tags from the data directory's UTXO tables.
    ins, outs = utxo_tables()
    data = tmp_path / "data"
    tables = {"transfers": legs(), "utxo_inputs": ins, "utxo_outputs": outs}
    Store(data).commit({**tables, "seeds": seeds_frame([("S", None)], chain="bitcoin")})
    for flag, c1 in (("--follow-peel-chains", 0), ("--no-follow-peel-chains", 1)):
        out = tmp_path / flag
        args = ["trace", "--data", str(data), "--stop-at", "none", flag]
        result = CliRunner().invoke(cli, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        nodes = pl.read_csv(out / "nodes.csv")
        assert dict(nodes.select("address", "min_hop").iter_rows())["C1"] == c1
