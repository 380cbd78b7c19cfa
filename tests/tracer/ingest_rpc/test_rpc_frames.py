"""The columnar fast path (tracer.ingest._rpc_frames) yields exactly what the row functions yield.

Checked on the anvil scenario chain, on real mainnet answers (ethereum-etl's recorded
responses: ../shared/data/txdata/ethereum-etl/tests/resources, blockchain-etl/ethereum-etl
@9e51c3b8, MIT; see shared/data/SOURCES.md), and on odd answers, where the fast path must either
map the value as the row functions do or step aside so that they give their precise error.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from tests.tracer.ingest_rpc.rpc_chain import Chain
from tracer.ingest._jsonrpc import RpcClient
from tracer.ingest._rpc_frames import REFUSALS, Fallback, fast_frames
from tracer.ingest.rpc import (
    RawBlock,
    ReplayTransport,
    _intermediate_frames,
    _row_frames,
    detect_capabilities,
    fetch_blocks,
)

A = "0x" + "a1" * 20
B = "0x" + "b2" * 20
TOKEN = "0x" + "c3" * 20
TX = "0x" + "1a" * 32
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def both(raw: list[RawBlock]) -> tuple[Any, Any]:
    """What the chosen path and the row functions make of ``raw``: frames, or the error."""

    def outcome(mapper: Callable[..., Any]) -> Any:
        try:
            return mapper(raw, chain="ethereum")
        except Exception as e:  # the two paths must fail alike, whatever the type
            return (type(e).__name__, str(e))

    return outcome(_intermediate_frames), outcome(_row_frames)


def assert_same(chosen: Any, rows: Any) -> None:
    if isinstance(rows, tuple) and isinstance(rows[0], str):
        assert chosen == rows
        return
    assert not (isinstance(chosen, tuple) and isinstance(chosen[0], str)), chosen
    for got, want in zip(chosen, rows, strict=True):
        if want is None:
            assert got is None
        else:
            assert_frame_equal(got, want)


def assert_fast_matches(raw: list[RawBlock]) -> None:
    """The fast path takes ``raw`` without falling back and agrees with the row functions."""
    fast = fast_frames([(r.block, r.receipts, r.traces) for r in raw])
    chosen, rows = both(raw)
    assert_same(chosen, rows)
    for got, want in zip(fast[1:], rows[1:], strict=True):
        if got is None or want is None:
            assert got is None
            assert want is None
        else:
            assert_frame_equal(got, want)


@pytest.mark.anvil
def test_anvil_scenario(scenario: Chain) -> None:
    head = int(scenario.node.rpc("eth_blockNumber"), 16)
    with RpcClient(scenario.node.url) as client:
        caps = detect_capabilities(client, head)
        raw = fetch_blocks(client, range(head + 1), caps)
    assert sum(len(r.block["transactions"]) for r in raw) >= 15
    assert any(t.get("error") for r in raw for t in r.traces or [])  # reverted calls
    assert_fast_matches(raw)


def test_mainnet_blocks_and_receipts(etl_resources: Path) -> None:
    case = etl_resources / "test_stream" / "blocks_1755634_1755635"
    transport = ReplayTransport(case, answers={"eth_chainId": "0x1"})
    with RpcClient("http://replay.invalid", transport=transport) as client:
        caps = detect_capabilities(client, 1755635, traces="none")
        raw = fetch_blocks(client, range(1755634, 1755636), caps)
    # 2016 receipts: no status, no effectiveGasPrice; nulls on both paths
    assert sum(len(r.block["transactions"]) for r in raw) > 0
    assert_fast_matches(raw)


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
def test_mainnet_parity_traces(etl_resources: Path, case: str) -> None:
    folder = etl_resources / "test_export_traces_job" / case
    [recorded] = folder.glob("web3_response.trace_block_*.json")
    traces = json.loads(recorded.read_text())["result"]
    block = {
        "number": hex(traces[0]["blockNumber"]) if traces else "0x1",
        "hash": "0x" + "ab" * 32,
        "parentHash": "0x" + "cd" * 32,
        "timestamp": "0x5",
        "transactions": [],
    }
    assert_fast_matches([RawBlock(block, [], traces, "trace_block")])


def sample() -> RawBlock:
    """A block of two transactions: a token transfer (one log) and a plain ether transfer."""
    block = {
        "number": "0x10",
        "hash": "0x" + "AB" * 32,
        "parentHash": "0x" + "cd" * 32,
        "timestamp": "0x64",
        "miner": B.upper().replace("0X", "0x"),
        "baseFeePerGas": "0x7",
        "transactions": [
            {
                "hash": TX,
                "transactionIndex": "0x0",
                "from": A,
                "to": TOKEN,
                "value": "0x0",
                "gas": "0x5208",
                "gasPrice": "0x3b9aca00",
                "input": "0xa9059cbb",
                "nonce": "0x1",
            },
            {
                "hash": "0x" + "22" * 32,
                "transactionIndex": "0x1",
                "from": A,
                "to": B,
                "value": "0xde0b6b3a7640000",
                "gas": "0x5208",
                "gasPrice": "0x3b9aca00",
                "input": "0x",
                "nonce": "0x2",
            },
        ],
    }
    log = {
        "blockNumber": "0x10",
        "transactionHash": TX,
        "transactionIndex": "0x0",
        "logIndex": "0x0",
        "address": TOKEN,
        "topics": [TRANSFER, "0x" + "0" * 24 + A[2:], "0x" + "0" * 24 + B[2:]],
        "data": "0x" + "0" * 63 + "5",
        "removed": False,
    }
    receipts: list[dict[str, Any]] = [
        {
            "transactionHash": TX,
            "gasUsed": "0x5208",
            "effectiveGasPrice": "0x3b9aca00",
            "status": "0x1",
            "contractAddress": None,
            "logs": [log],
        },
        {
            "transactionHash": "0x" + "22" * 32,
            "gasUsed": "0x5208",
            "effectiveGasPrice": "0x3b9aca00",
            "status": "0x1",
            "contractAddress": None,
            "logs": [],
        },
    ]
    traces: list[dict[str, Any]] = [
        {
            "type": "call",
            "action": {"callType": "call", "from": A, "to": TOKEN, "value": "0x0"},
            "traceAddress": [],
            "transactionHash": TX,
            "transactionPosition": 0,
            "blockNumber": 16,
        },
        {
            "type": "call",
            "action": {"callType": "call", "from": A, "to": B, "value": "0xde0b6b3a7640000"},
            "traceAddress": [],
            "transactionHash": "0x" + "22" * 32,
            "transactionPosition": 1,
            "blockNumber": 16,
        },
    ]
    return RawBlock(block, receipts, traces, "trace_block")


def test_sample_takes_the_fast_path() -> None:
    raw = [sample()]
    assert_fast_matches(raw)
    blocks, txs, logs, _ = _intermediate_frames(raw, chain="ethereum")
    assert blocks.row(0, named=True)["block_hash"] == "0x" + "ab" * 32
    assert blocks["miner"].to_list() == [B]
    assert txs["value"].to_list() == ["0", str(10**18)]
    assert logs["topics"].to_list()[0][0] == TRANSFER


UINT256_MAX = "0x" + "f" * 64

# (what is odd, path inside the sample, the value put there)
ODD: list[tuple[str, tuple[Any, ...], Any]] = [
    ("value as a plain integer", ("block", "transactions", 1, "value"), 5),
    ("empty hex value", ("block", "transactions", 1, "value"), "0x"),
    ("largest uint256 value", ("block", "transactions", 1, "value"), UINT256_MAX),
    ("uint256 trace value", ("traces", 1, "action", "value"), UINT256_MAX),
    ("value with leading zeros", ("block", "transactions", 1, "value"), "0x" + "0" * 60 + "ff"),
    ("value with an underscore", ("block", "transactions", 1, "value"), "0x1_0"),
    ("value not hex", ("block", "transactions", 1, "value"), "0xzz"),
    ("value missing", ("block", "transactions", 1, "value"), None),
    ("hash with 0X", ("block", "transactions", 0, "hash"), "0X" + TX[2:]),
    ("upper-case hash", ("block", "hash"), "0x" + "AB" * 32),
    ("short hash", ("block", "transactions", 1, "hash"), "0x22"),
    ("upper-case address", ("block", "transactions", 1, "to"), B.upper().replace("0X", "0x")),
    ("bad address", ("block", "transactions", 1, "to"), "0x123"),
    ("empty address", ("block", "transactions", 1, "to"), ""),
    ("address as a number", ("block", "transactions", 1, "from"), 7),
    ("transaction index missing", ("block", "transactions", 1, "transactionIndex"), None),
    ("nonce of 16 digits", ("block", "transactions", 1, "nonce"), "0x000000000000000f"),
    ("nonce beyond Int64", ("block", "transactions", 1, "nonce"), "0x" + "f" * 17),
    ("gas as a plain integer", ("block", "transactions", 1, "gas"), 21000),
    ("input not text", ("block", "transactions", 1, "input"), {"x": 1}),
    ("transaction as a hash", ("block", "transactions", 1), "0x" + "22" * 32),
    ("block number missing", ("block", "number"), None),
    ("timestamp past year 9999", ("block", "timestamp"), "0xffffffffff"),
    ("no base fee", ("block", "baseFeePerGas"), None),
    ("receipt hash differs in case", ("receipts", 0, "transactionHash"), "0x" + TX[2:].upper()),
    ("receipt of another transaction", ("receipts", 1, "transactionHash"), "0x" + "33" * 32),
    ("status too large", ("receipts", 0, "status"), "0x100"),
    ("status missing", ("receipts", 0, "status"), None),
    ("topics as text", ("receipts", 0, "logs", 0, "topics"), "0xabc"),
    ("topics null", ("receipts", 0, "logs", 0, "topics"), None),
    ("a null topic", ("receipts", 0, "logs", 0, "topics", 1), None),
    ("upper-case topic", ("receipts", 0, "logs", 0, "topics", 0), "0x" + TRANSFER[2:].upper()),
    ("log data not text", ("receipts", 0, "logs", 0, "data"), 12),
    ("removed log", ("receipts", 0, "logs", 0, "removed"), True),
    ("log index missing", ("receipts", 0, "logs", 0, "logIndex"), None),
    ("trace address as text", ("traces", 0, "traceAddress"), ["0"]),
    ("trace block number as hex", ("traces", 0, "blockNumber"), "0x10"),
    ("trace block number mixed", ("traces", 1, "blockNumber"), "0x10"),
    ("empty trace error", ("traces", 0, "error"), ""),
    ("reverted trace", ("traces", 1, "error"), "Reverted"),
    ("trace action missing", ("traces", 0, "action"), None),
    ("trace type upper-case", ("traces", 0, "type"), "CALL"),
]


# Odd but valid answers the fast path maps itself (the others make it step aside).
TAKEN_FAST = {
    "empty hex value",
    "largest uint256 value",
    "uint256 trace value",
    "value with leading zeros",
    "upper-case hash",
    "upper-case address",
    "empty address",
    "transaction index missing",
    "input not text",
    "no base fee",
    "status missing",
    "topics null",
    "upper-case topic",
    "log data not text",
    "removed log",
    "empty trace error",
    "reverted trace",
    "trace action missing",
    "trace type upper-case",
}


def mutate(raw: RawBlock, path: tuple[Any, ...], value: Any) -> RawBlock:
    item = copy.deepcopy(raw)
    parent: Any = item.block if path[0] == "block" else getattr(item, path[0])
    for key in path[1:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return item


@pytest.mark.parametrize(("what", "path", "value"), ODD, ids=[o[0] for o in ODD])
def test_odd_answers_map_as_the_row_functions_do(
    what: str, path: tuple[Any, ...], value: Any
) -> None:
    raw = [mutate(sample(), path, value)]
    chosen, rows = both(raw)
    assert_same(chosen, rows)
    if what in TAKEN_FAST:
        assert_fast_matches(raw)
    else:
        with pytest.raises(REFUSALS):
            fast_frames([(raw[0].block, raw[0].receipts, raw[0].traces)])


def test_exact_amounts_beyond_int128_stay_on_the_fast_path() -> None:
    raw = mutate(sample(), ("block", "transactions", 1, "value"), UINT256_MAX)
    raw = mutate(raw, ("traces", 1, "action", "value"), "0x" + "1" + "0" * 40)
    _, txs, _, traces = fast_frames([(raw.block, raw.receipts, raw.traces)])
    assert txs["value"].to_list() == ["0", str(2**256 - 1)]
    assert traces is not None
    assert traces["value"].to_list() == ["0", str(16**40)]


def test_fast_path_refuses_rather_than_guesses() -> None:
    raw = mutate(sample(), ("block", "transactions", 1, "value"), 5)
    with pytest.raises(Fallback):
        fast_frames([(raw.block, raw.receipts, raw.traces)])
