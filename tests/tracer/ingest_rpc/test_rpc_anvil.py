"""`tracer ingest rpc` against a real anvil node: the tables, exactly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from tests.tracer.ingest_rpc.rpc_chain import ETHER, Chain
from tracer.cli import cli
from tracer.ingest._jsonrpc import Call, HttpTransport, RpcClient
from tracer.ingest.rpc import ingest_rpc
from tracer.store import Store

pytestmark = pytest.mark.anvil

ZERO = "0x" + "0" * 40


def expected_transfers(chain: Chain) -> list[tuple[Any, ...]]:
    a, b, c, d = chain.accounts[:4]
    k = chain.contracts
    t = chain.txs
    return sorted(
        [
            # (transaction, kind, idx, from, to, asset, standard, token_id, value, decimals)
            (t["native"], "native", 0, a, b, "ETH", None, None, str(ETHER), 18),
            (t["forward"], "native", 0, a, k["forwarder"], "ETH", None, None, str(2 * ETHER), 18),
            (t["forward"], "internal", 1, k["forwarder"], c, "ETH", None, None, str(2 * ETHER), 18),
            (t["split"], "native", 0, a, k["forwarder"], "ETH", None, None, "5", 18),
            (t["split"], "internal", 1, k["forwarder"], c, "ETH", None, None, "3", 18),
            (t["split"], "internal", 2, k["forwarder"], d, "ETH", None, None, "2", 18),
            # the value sent on to the Reverter came back: only the outer transfer happened
            (
                t["try_reverted"],
                "native",
                0,
                a,
                k["forwarder"],
                "ETH",
                None,
                None,
                str(7 * ETHER),
                18,
            ),
            # `failed` (receipt status 0) moved nothing at all
            (t["deploy_token"], "token", 0, ZERO, a, k["token"], "erc20", None, str(10**12), 6),
            (t["deploy_evil"], "token", 0, ZERO, a, k["evil"], "erc20", None, str(10**30), 77),
            (t["erc20_transfer"], "token", 0, a, b, k["token"], "erc20", None, "1234", 6),
            (t["transfer_from"], "token", 0, a, d, k["token"], "erc20", None, "100", 6),
            (t["evil_transfer"], "token", 0, a, b, k["evil"], "erc20", None, "5", 77),
            (t["bare_transfer"], "token", 0, a, b, k["bare"], "erc20", None, "9", None),
            (t["erc1155"], "token", 0, a, b, k["bare"], "erc1155", "42", "3", 0),
            (t["erc721"], "token", 0, ZERO, b, k["nft"], "erc721", "7", "1", 0),
        ],
        key=repr,
    )


TRANSFER_COLUMNS = [
    "transaction_hash",
    "kind",
    "idx",
    "from_address",
    "to_address",
    "asset",
    "token_standard",
    "token_id",
    "value",
    "decimals",
]


def transfer_rows(store: Store) -> list[tuple[Any, ...]]:
    return sorted(store.scan("transfers").select(TRANSFER_COLUMNS).collect().rows(), key=repr)


def check_tables(store: Store, chain: Chain) -> None:
    a, _, c, _ = chain.accounts[:4]
    head = len(chain.txs)
    assert transfer_rows(store) == expected_transfers(chain)

    blocks = store.scan("blocks").sort("block_number").collect()
    assert blocks["block_number"].to_list() == list(range(head + 1))
    assert blocks["transaction_count"].to_list() == [0] + [1] * head
    assert blocks["parent_hash"].to_list()[1:] == blocks["block_hash"].to_list()[:-1]

    txs = store.scan("transactions").collect()
    assert sorted(txs["transaction_hash"].to_list()) == sorted(chain.txs.values())
    status = dict(zip(txs["transaction_hash"], txs["receipt_status"], strict=True))
    assert status[chain.txs["failed"]] == 0
    assert sum(status.values()) == head - 1
    by_hash = {row["transaction_hash"]: row for row in txs.iter_rows(named=True)}
    assert by_hash[chain.txs["erc20_transfer"]]["method_id"] == "0xa9059cbb"
    assert by_hash[chain.txs["deploy_token"]]["contract_address"] == chain.contracts["token"]
    assert by_hash[chain.txs["native"]]["value"] == str(ETHER)
    assert by_hash[chain.txs["native"]]["gas_used"] == 21000
    assert txs["chain"].unique().to_list() == ["ethereum"]

    approvals = store.scan("approvals").collect()
    assert approvals.select(
        "transaction_hash", "owner", "spender", "token_address", "value"
    ).rows() == [(chain.txs["approve"], a, c, chain.contracts["token"], str(2**256 - 1))]

    tokens = store.scan("tokens").sort("token_address").collect()
    got = {
        r[0]: r[1:]
        for r in tokens.select(
            "token_address", "symbol", "name", "decimals", "token_standard"
        ).rows()
    }
    k = chain.contracts
    assert got == {
        k["token"]: ("TST", "Test Token", 6, "erc20"),
        # control characters, bidi overrides and NUL are dropped; the rest is kept as data
        # (the report escapes it)
        k["evil"]: ("EVILTKN", "<script>alert('x')</script>", 77, "erc20"),
        # no decimals() and no ERC-165: the standard is unknown (each transfer row has its own)
        k["bare"]: (None, None, None, None),
        k["nft"]: (None, None, None, "erc721"),  # ERC-165 says so
    }

    contracts = store.scan("contracts").collect()
    assert sorted(contracts["address"].to_list()) == sorted(k.values())
    assert set(contracts["creator"].to_list()) == {a}


def test_ingest_matches_the_chain_exactly(scenario: Chain, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    report = ingest_rpc(store, scenario.node.url, from_block=0, chunk_size=4)
    assert report.capabilities is not None
    assert report.capabilities.traces == "trace_block"
    assert report.capabilities.receipts == "eth_getBlockReceipts"
    assert report.fetched_blocks == len(scenario.txs) + 1
    assert report.skipped["failed"] == 1  # the failed transaction's value
    assert report.skipped["reverted"] == 1  # the sub-call to the Reverter
    check_tables(store, scenario)
    log = store.scan("ingest_log").sort("from_block").collect()
    assert log.select("from_block", "to_block").rows() == [
        (lo, min(lo + 3, len(scenario.txs))) for lo in range(0, len(scenario.txs) + 1, 4)
    ]


def test_rerun_fetches_nothing(scenario: Chain, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    head = len(scenario.txs)
    ingest_rpc(store, scenario.node.url, from_block=0, to_block=head)
    before = {t: store.parts(t) for t in ("blocks", "transactions", "transfers", "ingest_log")}
    with RpcClient(scenario.node.url) as client:
        report = ingest_rpc(store, scenario.node.url, from_block=0, to_block=head, client=client)
        assert client.calls == 0
        assert report.fetched_blocks == 0
        assert {t: store.parts(t) for t in before} == before
        # without --to-block the head is asked for, and nothing else
        report = ingest_rpc(store, scenario.node.url, from_block=0, client=client)
        assert client.calls_by_method == {"eth_chainId": 1, "eth_blockNumber": 1}
        assert report.added == {}


def test_geth_call_tracer_gives_the_same_transfers(scenario: Chain, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    report = ingest_rpc(store, scenario.node.url, from_block=0, traces="debug_traceBlockByNumber")
    assert report.capabilities is not None
    assert report.capabilities.traces == "debug_traceBlockByNumber"
    check_tables(store, scenario)


class WithoutMethods:
    """An HTTP transport that answers -32601 for some methods, as a node without them would."""

    def __init__(self, url: str, missing: set[str]) -> None:
        self.inner = HttpTransport(url)
        self.missing = missing

    def send(self, calls: Sequence[Call]) -> list[dict[str, Any]]:
        keep = [i for i, (m, _) in enumerate(calls) if m not in self.missing]
        answers = self.inner.send([calls[i] for i in keep]) if keep else []
        out: list[dict[str, Any]] = [
            {"id": i, "error": {"code": -32601, "message": "the method does not exist"}}
            for i in range(len(calls))
        ]
        for i, answer in zip(keep, answers, strict=True):
            out[i] = answer
        return out

    def close(self) -> None:
        self.inner.close()


def test_fallbacks_per_transaction_receipts_and_debug_traces(
    scenario: Chain, tmp_path: Path
) -> None:
    store = Store(tmp_path / "data")
    transport = WithoutMethods(scenario.node.url, {"eth_getBlockReceipts", "trace_block"})
    with RpcClient(scenario.node.url, transport=transport) as client:
        report = ingest_rpc(store, scenario.node.url, from_block=0, client=client)
    assert report.capabilities is not None
    assert report.capabilities.receipts == "eth_getTransactionReceipt"
    assert report.capabilities.traces == "debug_traceBlockByNumber"
    assert client.calls_by_method["eth_getTransactionReceipt"] == len(scenario.txs)
    check_tables(store, scenario)


def test_no_trace_api_is_a_clear_error_unless_traces_none(scenario: Chain, tmp_path: Path) -> None:
    from tracer.errors import RpcError

    missing = {"trace_block", "debug_traceBlockByNumber"}
    transport = WithoutMethods(scenario.node.url, missing)
    store = Store(tmp_path / "b")
    with RpcClient(scenario.node.url, transport=transport) as client:
        with pytest.raises(RpcError, match="--traces none"):
            ingest_rpc(Store(tmp_path / "a"), scenario.node.url, from_block=0, client=client)
        ingest_rpc(store, scenario.node.url, from_block=0, client=client, traces="none")
    kinds = store.scan("transfers").select("kind").unique().collect()["kind"].to_list()
    assert sorted(kinds) == ["native", "token"]


def test_confirmations_leave_the_newest_blocks(scenario: Chain, tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    head = len(scenario.txs)
    report = ingest_rpc(store, scenario.node.url, from_block=0, to_block=head, confirmations=5)
    assert report.to_block == head - 5
    assert report.unconfirmed == (head - 4, head)
    assert store.scan("blocks").select(pl.max("block_number")).collect().item() == head - 5
    from tracer.errors import RpcError

    with pytest.raises(RpcError, match="not yet 5 blocks deep"):
        ingest_rpc(store, scenario.node.url, from_block=head - 2, confirmations=5)


def test_cli_ingest_rpc(scenario: Chain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = [
        "ingest",
        "rpc",
        "--rpc-url",
        scenario.node.url,
        "--from-block",
        "0",
        "--data",
        str(data),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "transfers: 15 new rows" in result.output
    assert "\r" not in result.output  # no progress bar in a pipe
    check_tables(Store(data), scenario)
    again = CliRunner().invoke(cli, [*args, "--to-block", str(len(scenario.txs))])
    assert again.exit_code == 0
    assert "already ingested, nothing fetched" in again.output


def test_cli_bad_range_exits_2(tmp_path: Path) -> None:
    args = ["ingest", "rpc", "--rpc-url", "http://127.0.0.1:9", "--data", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--from-block", "5", "--to-block", "2"])
    assert result.exit_code == 2
    assert "empty or negative block range" in result.output
    result = CliRunner().invoke(cli, [*args, "--from-block", "-1"])
    assert result.exit_code == 2
