"""Faults: node down, node killed mid-ingest, 429 and -32005, a hanging node, malformed answers.

Each gives a clear message, and nothing already committed is lost. A small fault server on
loopback (conftest.FaultServer) stands between the ingest and anvil.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tests.tracer.ingest_rpc.rpc_chain import Behaviour, Chain, FaultServer
from tracer.cli import cli
from tracer.devnode import DevNode, free_port
from tracer.errors import NodeUnavailable, RpcError
from tracer.ingest._jsonrpc import RpcClient
from tracer.ingest.rpc import ingest_rpc
from tracer.store import Store

pytestmark = pytest.mark.anvil

ARGS = ["ingest", "rpc", "--rpc-url"]
MakeServer = Callable[[str | None, Behaviour], FaultServer]
JSON = {"Content-Type": "application/json"}


def quick(url: str, **kw: float) -> RpcClient:
    """A client that gives up fast (tests must not wait for real backoff)."""
    return RpcClient(
        url,
        retries=int(kw.get("retries", 2)),
        backoff=0.01,
        max_backoff=0.05,
        timeout=kw.get("timeout", 10.0),
    )


def logged_blocks(store: Store) -> set[int]:
    rows = store.scan("ingest_log").select("from_block", "to_block").collect().rows()
    return {b for lo, hi in rows for b in range(lo, hi + 1)}


def test_node_down_at_start(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with quick(url) as client, pytest.raises(NodeUnavailable) as caught:
        ingest_rpc(Store(tmp_path / "d"), url, from_block=0, to_block=5, client=client)
    text = str(caught.value)
    assert f"cannot reach the node at {url}" in text
    assert "after 3 attempts" in text
    assert "Start the node or check --rpc-url" in text
    result = CliRunner().invoke(
        cli,
        [*ARGS, url, "--from-block", "0", "--retries", "0", "--data", str(tmp_path / "e")],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach the node at")


def test_node_killed_mid_ingest_keeps_what_was_committed(
    fresh_node: DevNode, tmp_path: Path
) -> None:
    a, b = fresh_node.rpc("eth_accounts")[:2]
    for i in range(8):
        fresh_node.rpc("eth_sendTransaction", {"from": a, "to": b, "value": hex(i + 1)})
    store = Store(tmp_path / "d")

    def kill_after_first(lo: int, hi: int) -> None:
        if lo == 0:
            fresh_node.kill()

    with quick(fresh_node.url, retries=1) as client, pytest.raises(NodeUnavailable) as caught:
        ingest_rpc(
            store,
            fresh_node.url,
            from_block=0,
            to_block=8,
            chunk_size=2,
            client=client,
            on_chunk=kill_after_first,
        )
    assert "cannot reach the node" in str(caught.value)
    # the first chunk (and the one prefetched before the kill, if any) is whole
    assert {0, 1} <= logged_blocks(store)
    blocks = set(store.scan("blocks").collect()["block_number"].to_list())
    assert blocks == logged_blocks(store)


def test_rate_limited_then_served(scenario: Chain, make_server: MakeServer, tmp_path: Path) -> None:
    refusals = {"n": 0}

    def behaviour(body: bytes, path: str) -> tuple[int, dict[str, str], bytes] | None:
        if refusals["n"] < 3:
            refusals["n"] += 1
            return 429, {"Retry-After": "0"}, b"Too Many Requests"
        return None

    server = make_server(scenario.node.url, behaviour)
    store = Store(tmp_path / "d")
    with quick(server.url, retries=4) as client:
        ingest_rpc(store, server.url, from_block=0, to_block=len(scenario.txs), client=client)
    assert refusals["n"] == 3
    assert store.scan("transfers").select(pl.len()).collect().item() == 15


def test_rpc_limit_error_items_are_retried(
    scenario: Chain, make_server: MakeServer, tmp_path: Path
) -> None:
    seen = {"n": 0}

    def behaviour(body: bytes, path: str) -> tuple[int, dict[str, str], bytes] | None:
        calls = json.loads(body)
        if seen["n"] < 2 and isinstance(calls, list) and len(calls) > 1:
            seen["n"] += 1
            # answer the batch, but the first item is refused with -32005 (limit exceeded)
            answer = json.loads(server.forward(body)[2])
            answer[0] = {
                "jsonrpc": "2.0",
                "id": calls[0]["id"],
                "error": {"code": -32005, "message": "limit exceeded"},
            }
            return 200, JSON, json.dumps(answer).encode()
        return None

    server = make_server(scenario.node.url, behaviour)
    store = Store(tmp_path / "d")
    with quick(server.url, retries=3) as client:
        ingest_rpc(store, server.url, from_block=0, to_block=len(scenario.txs), client=client)
    assert seen["n"] == 2
    assert store.scan("transfers").select(pl.len()).collect().item() == 15


def test_persistent_rate_limit_is_a_clear_error(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server(None, lambda body, path: (429, {}, b"slow down"))
    with quick(server.url) as client, pytest.raises(RpcError) as caught:
        ingest_rpc(Store(tmp_path / "d"), server.url, from_block=0, to_block=3, client=client)
    text = str(caught.value)
    assert "HTTP 429" in text
    assert "rate limited after 3 attempts" in text
    assert "--workers, --batch-size" in text


def test_hanging_node_times_out_and_keeps_committed_chunks(
    scenario: Chain, make_server: MakeServer, tmp_path: Path
) -> None:
    state = {"hang": False}

    def behaviour(body: bytes, path: str) -> tuple[int, dict[str, str], bytes] | None:
        if state["hang"]:
            time.sleep(1.0)
            return 200, JSON, b"[]"
        return None

    server = make_server(scenario.node.url, behaviour)
    store = Store(tmp_path / "d")

    def hang_after_first(lo: int, hi: int) -> None:
        state["hang"] = True

    with quick(server.url, retries=1, timeout=0.3) as client, pytest.raises(NodeUnavailable) as e:
        ingest_rpc(
            store,
            server.url,
            from_block=0,
            to_block=len(scenario.txs),
            chunk_size=3,
            client=client,
            on_chunk=hang_after_first,
        )
    assert "no answer within 0.3 s" in str(e.value)
    assert {0, 1, 2} <= logged_blocks(store)
    assert set(store.scan("blocks").collect()["block_number"].to_list()) == logged_blocks(store)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "malformed JSON-RPC response (expected a JSON array)"),
        (b"[]", "answers missing"),
        (b'[{"jsonrpc": "2.0", "id": 0}]', "answers missing"),
    ],
)
def test_malformed_responses(
    make_server: MakeServer, tmp_path: Path, reply: bytes, message: str
) -> None:
    server = make_server(None, lambda body, path: (200, JSON, reply))
    with quick(server.url, retries=1) as client, pytest.raises(RpcError) as caught:
        ingest_rpc(Store(tmp_path / "d"), server.url, from_block=0, to_block=3, client=client)
    assert message in str(caught.value)


def test_malformed_field_names_the_block(
    scenario: Chain, make_server: MakeServer, tmp_path: Path
) -> None:
    def behaviour(body: bytes, path: str) -> tuple[int, dict[str, str], bytes] | None:
        answer = json.loads(server.forward(body)[2])
        for item in answer:
            result = item.get("result")
            if isinstance(result, dict) and result.get("number") == "0x2":
                result["timestamp"] = "yesterday"
        return 200, JSON, json.dumps(answer).encode()

    server = make_server(scenario.node.url, behaviour)
    store = Store(tmp_path / "d")
    with quick(server.url) as client, pytest.raises(RpcError) as caught:
        ingest_rpc(store, server.url, from_block=0, to_block=5, chunk_size=2, client=client)
    assert "malformed answer from the node for block 2: timestamp is not a 0x hex quantity" in str(
        caught.value
    )
    assert logged_blocks(store) == {0, 1}


def test_batches_the_node_refuses_as_too_large_are_split(
    scenario: Chain, make_server: MakeServer, tmp_path: Path
) -> None:
    sizes: list[int] = []

    def behaviour(body: bytes, path: str) -> tuple[int, dict[str, str], bytes] | None:
        calls = json.loads(body)
        sizes.append(len(calls))
        if len(calls) > 4:
            error = {"code": -32600, "message": "batch size limit exceeded (max 4)"}
            return 200, JSON, json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
        return None

    server = make_server(scenario.node.url, behaviour)
    store = Store(tmp_path / "d")
    with RpcClient(server.url, batch_size=25, retries=0) as client:
        ingest_rpc(store, server.url, from_block=0, to_block=len(scenario.txs), client=client)
    assert max(sizes) > 4
    # the smaller size is remembered: only the batches already under way were refused
    assert sum(size > 4 for size in sizes) <= 8
    assert store.scan("transfers").select(pl.len()).collect().item() == 15
