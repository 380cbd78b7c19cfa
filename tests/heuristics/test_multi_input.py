"""multi_input and the CoinJoin detector: real Bitcoin blocks and every condition of the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from heuristics.multi_input import coinjoin_transactions, multi_input
from tracer.schema import UTXO_INPUTS, UTXO_OUTPUTS

BTC = "bitcoin"


def utxo_frames(lines: list[dict[str, Any]]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """bitcoin-etl transactions -> utxo_inputs / utxo_outputs-shaped frames."""
    ins: list[dict[str, Any]] = []
    outs: list[dict[str, Any]] = []
    for tx in lines:
        common = {"chain": BTC, "block_number": tx["block_number"], "transaction_hash": tx["hash"]}
        for i in tx["inputs"]:
            addrs = i.get("addresses") or []
            ins.append(
                {
                    **common,
                    "index": i["index"],
                    "address": addrs[0] if len(addrs) == 1 else None,
                    "value": None if i.get("value") is None else str(i["value"]),
                    "spent_transaction_hash": i["spent_transaction_hash"],
                    "spent_output_index": i["spent_output_index"],
                }
            )
        for o in tx["outputs"]:
            addrs = o.get("addresses") or []
            outs.append(
                {
                    **common,
                    "index": o["index"],
                    "address": addrs[0] if len(addrs) == 1 else None,
                    "value": str(o["value"]),
                    "is_coinbase": tx["is_coinbase"],
                }
            )
    in_schema = {k: UTXO_INPUTS[k] for k in ins[0]} if ins else UTXO_INPUTS
    out_schema = {k: UTXO_OUTPUTS[k] for k in outs[0]} if outs else UTXO_OUTPUTS
    return pl.LazyFrame(ins, schema=in_schema), pl.LazyFrame(outs, schema=out_schema)


def read_expected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_real_blocks_50001_50002(btc_resources: Path) -> None:
    # bitcoin-etl tests/resources (blockchain-etl/bitcoin-etl @b62aedd1, MIT; see SOURCES.md):
    # block 50001 holds 7940cdde..., which spends two coinbase outputs of two addresses.
    path = btc_resources / "test_export_blocks_job/bitcoin/stream_50001_50002"
    ins, outs = utxo_frames(read_expected(path / "expected_transactions.json"))
    links = multi_input(ins, outs).collect()
    assert links.select(
        "chain",
        "address_a",
        "address_b",
        "heuristic",
        "heuristic_version",
        "evidence_transaction_hash",
        "block_number",
        "confidence",
    ).rows() == [
        (
            BTC,
            "1DoQeKfU3dYhN9bxMpFFcVUnufCPDqSPae",
            "1PZMgkF2x161qvfP7dhoWSEEU3SjnQE1m9",
            "multi_input",
            1,
            "7940cdde4d713e171849efc6bd89939185be270266c94e92369e3877ad89455a",
            50001,
            90,
        )
    ]
    assert coinjoin_transactions(ins, outs).collect().is_empty()


def test_real_block_without_input_addresses(btc_resources: Path) -> None:
    # The same block exported without input enrichment: inputs carry no address, so no link.
    path = btc_resources / "test_export_blocks_job/bitcoin/block_with_transactions"
    ins, outs = utxo_frames(read_expected(path / "expected_transactions.json"))
    assert multi_input(ins, outs).collect().is_empty()


def tx(
    tx_hash: str, inputs: list[str | None], outputs: list[int], *, block: int = 1
) -> list[dict[str, Any]]:
    return [
        {
            "hash": tx_hash,
            "block_number": block,
            "is_coinbase": False,
            "inputs": [
                {
                    "index": i,
                    "addresses": [a] if a else [],
                    "value": 1,
                    "spent_transaction_hash": f"prev{i}",
                    "spent_output_index": 0,
                }
                for i, a in enumerate(inputs)
            ],
            "outputs": [
                {"index": i, "addresses": [f"out{tx_hash}{i}"], "value": v}
                for i, v in enumerate(outputs)
            ],
        }
    ]


def linked(txs: list[dict[str, Any]], **kw: Any) -> list[tuple[str, str]]:
    ins, outs = utxo_frames(txs)
    return multi_input(ins, outs, **kw).select("address_a", "address_b").collect().rows()


def is_coinjoin(txs: list[dict[str, Any]]) -> bool:
    ins, outs = utxo_frames(txs)
    return not coinjoin_transactions(ins, outs).collect().is_empty()


def test_star_links_each_input_to_the_smallest() -> None:
    assert linked(tx("t", ["c", "a", "b", "a"], [5])) == [("a", "b"), ("a", "c")]


def test_single_input_address_gives_no_link() -> None:
    assert linked(tx("t", ["a", "a"], [5])) == []
    assert linked(tx("t", ["a", None], [5])) == []


# A textbook CoinJoin: 3 participants, 3 equal outputs of 0.1 BTC and 2 change outputs.
JOIN_INPUTS: list[str | None] = ["a", "b", "c"]
JOIN_OUTPUTS = [10_000_000] * 3 + [123, 456]


def test_coinjoin_detected_and_excluded() -> None:
    assert is_coinjoin(tx("t", JOIN_INPUTS, JOIN_OUTPUTS))
    assert linked(tx("t", JOIN_INPUTS, JOIN_OUTPUTS)) == []


def test_coinjoin_kept_with_low_confidence_when_asked() -> None:
    ins, outs = utxo_frames(tx("t", JOIN_INPUTS, JOIN_OUTPUTS))
    links = multi_input(ins, outs, exclude_coinjoins=False).collect()
    assert links.get_column("confidence").to_list() == [10, 10]


@pytest.mark.parametrize(
    ("inputs", "outputs", "expected"),
    [
        pytest.param(["a", "b", "c"], [7, 7, 7, 1, 2], True, id="positive"),
        pytest.param(["a"], [7, 7, 7], False, id="fewer-than-2-inputs"),
        pytest.param(["a", "b"], [7, 7], False, id="fewer-than-3-outputs"),
        # 5 outputs -> p = 3 participants, but only 2 inputs.
        pytest.param(["a", "b"], [7, 7, 7, 1, 2], False, id="p-above-inputs"),
        # 3 inputs but 2 distinct addresses < p = 3.
        pytest.param(["a", "a", "b"], [7, 7, 7, 1, 2], False, id="p-above-input-addresses"),
        # The most common value occurs 2 times, not p = 3.
        pytest.param(["a", "b", "c"], [7, 7, 8, 1, 2], False, id="count-not-p"),
        # ... or 4 times.
        pytest.param(["a", "b", "c", "d"], [7, 7, 7, 7, 1], False, id="count-above-p"),
        pytest.param(["a", "b", "c"], [546, 546, 546, 1, 2], False, id="dust-546"),
        pytest.param(["a", "b", "c"], [2730, 2730, 2730, 1, 2], False, id="dust-2730"),
        # 4 outputs -> p = floor(5 / 2) = 2: two equal outputs suffice.
        pytest.param(["a", "b"], [7, 7, 1, 2], True, id="p-rounds-down"),
    ],
)
def test_coinjoin_conditions(inputs: list[str | None], outputs: list[int], expected: bool) -> None:
    assert is_coinjoin(tx("t", inputs, outputs)) is expected
    assert (linked(tx("t", inputs, outputs)) == []) is (expected or len(set(inputs)) < 2)


def test_coinbase_and_other_transactions_untouched() -> None:
    txs = tx("t1", ["a", "b"], [5]) + tx("t2", ["c"], [5]) + tx("t3", JOIN_INPUTS, JOIN_OUTPUTS)
    assert linked(txs) == [("a", "b")]
