"""one_time_change (advisory): every condition, positive and negative."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from heuristics import REGISTRY, applicable_heuristics
from heuristics.one_time_change import one_time_change
from tracer.schema import UTXO_INPUTS, UTXO_OUTPUTS


def frames(
    txs: list[tuple[str, int, list[str], list[tuple[str, int]]]],
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    ins: list[dict[str, Any]] = []
    outs: list[dict[str, Any]] = []
    for h, block, inputs, outputs in txs:
        ins += [
            {
                "chain": "bitcoin",
                "block_number": block,
                "transaction_hash": h,
                "index": i,
                "address": a,
                "value": "1",
            }
            for i, a in enumerate(inputs)
        ]
        outs += [
            {
                "chain": "bitcoin",
                "block_number": block,
                "transaction_hash": h,
                "index": i,
                "address": a,
                "value": str(v),
                "is_coinbase": False,
            }
            for i, (a, v) in enumerate(outputs)
        ]
    return (
        pl.DataFrame(ins, schema={k: UTXO_INPUTS[k] for k in ins[0]}).lazy(),
        pl.DataFrame(outs, schema={k: UTXO_OUTPUTS[k] for k in outs[0]}).lazy(),
    )


# "payee" was seen in block 1; tx "t" (block 5) pays it and a fresh "chg".
HISTORY = [("t0", 1, ["x"], [("payee", 10), ("old", 5)])]


def change(
    tx: tuple[str, int, list[str], list[tuple[str, int]]], history: list[Any] = HISTORY
) -> list[Any]:
    ins, outs = frames([*history, tx])
    return (
        one_time_change(ins, outs).select("address_a", "address_b", "confidence").collect().rows()
    )


def test_positive() -> None:
    assert change(("t", 5, ["a"], [("payee", 7), ("chg", 3)])) == [("a", "chg", 30)]
    assert change(("t", 5, ["a", "b", "c"], [("payee", 7), ("chg", 3)])) == [("a", "chg", 30)]


@pytest.mark.parametrize(
    ("tx", "why"),
    [
        (("t", 5, ["a"], [("payee", 7), ("chg", 3), ("other", 1)]), "three outputs"),
        (("t", 5, ["a", "b"], [("payee", 7), ("chg", 3)]), "two inputs"),
        (("t", 5, ["a"], [("new1", 7), ("chg", 3)]), "two fresh outputs"),
        (("t", 5, ["a"], [("payee", 7), ("old", 3)]), "no fresh output"),
        (("t", 5, ["a"], [("payee", 7), ("a", 3)]), "self-change to an input address"),
        (("t", 5, ["a"], [("chg", 7), ("chg", 3)]), "one address twice"),
    ],
)
def test_negative(tx: tuple[str, int, list[str], list[tuple[str, int]]], why: str) -> None:
    assert change(tx) == [], why


def test_fresh_in_two_transactions_of_one_block_is_not_fresh() -> None:
    other = ("t9", 5, ["z"], [("payee", 1), ("chg", 2)])
    assert change(("t", 5, ["a"], [("payee", 7), ("chg", 3)]), [*HISTORY, other]) == []


def test_is_advisory() -> None:
    assert REGISTRY["one_time_change"].advisory
    assert "one_time_change" not in applicable_heuristics(["utxo_inputs", "utxo_outputs"])
