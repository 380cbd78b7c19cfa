"""The JSON-RPC mapping replayed on real mainnet responses, compared with ethereum-etl's outputs.

Data: ../shared/data/txdata/ethereum-etl/tests/resources (blockchain-etl/ethereum-etl @9e51c3b8,
tests/resources/, MIT; see shared/data/SOURCES.md): recorded ``web3_response.*.json`` node
answers and the CSV/JSON ethereum-etl exported from them. The recorded-response provider is
``tracer.ingest.rpc.ReplayTransport``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracer.ingest._jsonrpc import RpcClient
from tracer.ingest.rpc import (
    ReplayTransport,
    TokenCache,
    flatten_call_trace,
    ingest_rpc,
    map_parity_traces,
)
from tracer.store import Store


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_blocks_transactions_and_token_transfers(etl_resources: Path, tmp_path: Path) -> None:
    case = etl_resources / "test_stream" / "blocks_1755634_1755635"
    transport = ReplayTransport(case, answers={"eth_chainId": "0x1", "eth_blockNumber": "0x1ac9f3"})
    store = Store(tmp_path / "data")
    with RpcClient("http://replay.invalid", transport=transport) as client:
        report = ingest_rpc(
            store,
            "http://replay.invalid",
            from_block=1755634,
            to_block=1755635,
            confirmations=0,
            traces="none",
            client=client,
        )
    # this 2016 node had neither eth_getBlockReceipts nor token metadata: both fall back cleanly
    assert report.capabilities is not None
    assert report.capabilities.receipts == "eth_getTransactionReceipt"

    blocks = store.scan("blocks").sort("block_number").collect()
    want_blocks = json_lines(case / "expected_blocks.json")
    assert blocks.select(
        "block_number", "block_hash", "parent_hash", "miner", "transaction_count"
    ).rows() == [
        (b["number"], b["hash"], b["parent_hash"], b["miner"], b["transaction_count"])
        for b in want_blocks
    ]
    assert [int(t.timestamp()) for t in blocks["block_timestamp"]] == [
        b["timestamp"] for b in want_blocks
    ]

    txs = store.scan("transactions").sort("block_number", "transaction_index").collect()
    want = json_lines(case / "expected_transactions.json")
    assert txs.select(
        "transaction_hash",
        "nonce",
        "transaction_index",
        "from_address",
        "to_address",
        "value",
        "gas",
        "gas_price",
        "block_number",
        "block_hash",
        "gas_used",
        "receipt_status",
        "contract_address",
    ).rows() == [
        (
            t["hash"],
            t["nonce"],
            t["transaction_index"],
            t["from_address"],
            t["to_address"],
            str(t["value"]),
            t["gas"],
            str(t["gas_price"]),
            t["block_number"],
            t["block_hash"],
            t["receipt_gas_used"],
            t["receipt_status"],
            t["receipt_contract_address"],
        )
        for t in want
    ]

    tokens = store.scan("transfers").filter(pl.col("kind") == "token").collect()
    want_tokens = json_lines(case / "expected_token_transfers.json")
    assert sorted(
        tokens.select(
            "asset",
            "from_address",
            "to_address",
            "value",
            "transaction_hash",
            "idx",
            "block_number",
        ).rows()
    ) == sorted(
        (
            t["token_address"],
            t["from_address"],
            t["to_address"],
            str(t["value"]),
            t["transaction_hash"],
            t["log_index"],
            t["block_number"],
        )
        for t in want_tokens
    )
    # the token's metadata calls were not recorded: the token row is there, with nulls
    assert store.scan("tokens").collect().select("symbol", "decimals").rows() == [(None, None)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def trace_address(text: str) -> list[int]:
    return [int(x) for x in text.split(",")] if text else []


@pytest.mark.parametrize(
    "case",
    [
        "block_with_create",
        "block_with_error",
        "block_with_subtraces",
        "block_with_suicide",
        "block_without_transactions",
    ],
)
def test_parity_traces(etl_resources: Path, case: str) -> None:
    folder = etl_resources / "test_export_traces_job" / case
    [recorded] = folder.glob("web3_response.trace_block_*.json")
    rows = map_parity_traces(json.loads(recorded.read_text())["result"])
    want = read_csv(folder / "expected_traces.csv")
    assert [
        (
            r["transaction_hash"],
            r["from_address"],
            r["to_address"],
            r["value"],
            r["trace_type"],
            r["call_type"],
            r["trace_address"],
            r["error"],
        )
        for r in rows
    ] == [
        (
            w["transaction_hash"] or None,
            w["from_address"] or None,
            w["to_address"] or None,
            w["value"] or "0",
            w["trace_type"],
            w["call_type"] or None,
            trace_address(w["trace_address"]),
            w["error"] or None,
        )
        for w in want
    ]


@pytest.mark.parametrize(
    "case",
    [
        "block_with_create",
        "block_with_error",
        "block_with_subtraces",
        "block_with_suicide",
        "block_without_transactions",
    ],
)
def test_geth_call_traces_flatten_like_ethereum_etl(etl_resources: Path, case: str) -> None:
    folder = etl_resources / "test_extract_geth_traces_job" / case
    [recorded] = folder.glob("web3_response.debug_traceBlockByNumber_*.json")
    number = int(recorded.name.split("_")[3], 16)
    rows = []
    for position, item in enumerate(json.loads(recorded.read_text())["result"]):
        rows += flatten_call_trace(
            item["result"], transaction_hash=None, block_number=number, transaction_index=position
        )
    want = read_csv(folder / "expected_traces.csv")
    assert [
        (
            r["transaction_index"],
            r["from_address"],
            r["to_address"],
            r["value"],
            r["trace_type"],
            r["call_type"],
            r["trace_address"],
            r["error"],
        )
        for r in rows
    ] == [
        (
            int(w["transaction_index"]),
            w["from_address"] or None,
            w["to_address"] or None,
            w["value"] or "0",
            w["trace_type"],
            w["call_type"] or None,
            trace_address(w["trace_address"]),
            w["error"] or None,
        )
        for w in want
    ]


@pytest.mark.parametrize("case", ["token_with_alternative_return_type", "token_with_invalid_data"])
def test_token_metadata(etl_resources: Path, case: str) -> None:
    folder = etl_resources / "test_export_tokens_job" / case
    [want] = read_csv(folder / "expected_tokens.csv")
    with RpcClient("http://replay.invalid", transport=ReplayTransport(folder)) as client:
        rows = TokenCache("ethereum").resolve(client, [want["address"]])
    assert rows.select("token_address", "symbol", "name", "decimals").rows() == [
        (want["address"], want["symbol"] or None, want["name"] or None, int(want["decimals"]))
    ]
