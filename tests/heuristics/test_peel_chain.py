"""peel_chain tags: the shape, the continuation, and what breaks a chain."""

from __future__ import annotations

from typing import Any

import polars as pl

from heuristics.peel_chain import PEEL_CHAIN_TAGS, peel_chain
from tracer.schema import UTXO_INPUTS, UTXO_OUTPUTS

Tx = tuple[str, int, list[tuple[str, int]], list[int]]  # hash, block, spent (tx, index), values


def frames(txs: list[Tx], coinbase: tuple[str, ...] = ()) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    ins: list[dict[str, Any]] = []
    outs: list[dict[str, Any]] = []
    for h, block, spent, values in txs:
        ins += [
            {
                "chain": "bitcoin",
                "block_number": block,
                "transaction_hash": h,
                "index": i,
                "spent_transaction_hash": p,
                "spent_output_index": j,
            }
            for i, (p, j) in enumerate(spent)
        ]
        outs += [
            {
                "chain": "bitcoin",
                "block_number": block,
                "transaction_hash": h,
                "index": i,
                "value": str(v),
                "is_coinbase": h in coinbase,
            }
            for i, v in enumerate(values)
        ]
    in_schema = {k: UTXO_INPUTS[k] for k in ins[0]}
    out_schema = {k: UTXO_OUTPUTS[k] for k in outs[0]}
    return pl.DataFrame(ins, schema=in_schema).lazy(), pl.DataFrame(outs, schema=out_schema).lazy()


CHAIN: list[Tx] = [
    ("p1", 1, [("x", 0)], [100, 900]),
    ("p2", 2, [("p1", 1)], [50, 840]),
    ("p3", 3, [("p2", 1)], [800, 30]),
]


def tags(txs: list[Tx], **kw: Any) -> list[tuple[Any, ...]]:
    out = peel_chain(*frames(txs, **kw)).collect()
    assert out.schema == PEEL_CHAIN_TAGS
    return out.select(
        "transaction_hash",
        "previous_transaction_hash",
        "next_transaction_hash",
        "change_output_index",
        "peel_output_index",
    ).rows()


def test_chain_of_three() -> None:
    assert tags(CHAIN) == [
        ("p1", None, "p2", 1, 0),
        ("p2", "p1", "p3", 1, 0),
        ("p3", "p2", None, None, None),
    ]


def test_a_lone_peel_shape_is_not_a_chain() -> None:
    assert tags([CHAIN[0]]) == []


def test_three_outputs_break_the_chain() -> None:
    broken = [CHAIN[0], ("p2", 2, [("p1", 1)], [50, 840, 1]), CHAIN[2]]
    assert tags(broken) == []


def test_two_inputs_break_the_chain() -> None:
    broken = [CHAIN[0], ("p2", 2, [("p1", 1), ("y", 0)], [50, 840]), CHAIN[2]]
    assert tags(broken) == []


def test_coinbase_is_not_a_peel() -> None:
    assert [t[0] for t in tags(CHAIN, coinbase=("p1",))] == ["p2", "p3"]


def test_both_outputs_continued_takes_the_larger_as_change() -> None:
    fork = [*CHAIN, ("q", 4, [("p1", 0)], [60, 30])]
    assert tags(fork)[0] == ("p1", None, "p2", 1, 0)
