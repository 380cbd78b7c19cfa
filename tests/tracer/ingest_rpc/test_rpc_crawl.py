"""Address-driven crawl with ots_ on anvil: fetches what the hops need, then only the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.tracer.ingest_rpc.rpc_chain import Chain
from tests.tracer.ingest_rpc.test_rpc_anvil import TRANSFER_COLUMNS, WithoutMethods
from tracer.ingest._jsonrpc import RpcClient
from tracer.ingest.crawl import crawl
from tracer.ingest.rpc import ingest_rpc
from tracer.store import Store

pytestmark = pytest.mark.anvil


def rows(store: Store, table: str = "transfers") -> set[tuple[Any, ...]]:
    columns = TRANSFER_COLUMNS if table == "transfers" else ["transaction_hash"]
    return set(store.scan(table).select(columns).collect().rows())


@pytest.fixture(scope="module")
def everything(scenario: Chain, tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("full"))
    ingest_rpc(store, scenario.node.url, from_block=0, to_block=len(scenario.txs))
    return store


def test_crawl_forward_then_cached(scenario: Chain, everything: Store, tmp_path: Path) -> None:
    a = scenario.accounts[0]
    fwd = scenario.contracts["forwarder"]
    head = len(scenario.txs)
    store = Store(tmp_path / "data")
    with RpcClient(scenario.node.url) as client:
        report = crawl(
            store,
            scenario.node.url,
            [a],
            max_hops=2,
            until_block=head,
            page_size=3,
            client=client,
        )
        assert report.method == "ots"
        assert client.calls_by_method["ots_searchTransactionsBefore"] > 1  # it paged
        first_calls = client.calls
    got = rows(store)
    full = rows(everything)
    assert got <= full  # exactly the rows a full ingest has, no other
    # hop 1: everything the seed sent; hop 2: what the forwarder it paid sent on
    sent = {r for r in full if r[3] in (a, fwd)}
    assert sent - got == {r for r in sent if r[0] == scenario.txs["transfer_from"]}
    assert rows(store, "transactions") <= rows(everything, "transactions")
    # the failed transaction is stored (with its status) but moved nothing
    assert (scenario.txs["failed"],) in rows(store, "transactions")
    assert store.scan("tokens").select(pl.len()).collect().item() >= 2

    with RpcClient(scenario.node.url) as again:
        second = crawl(store, scenario.node.url, [a], max_hops=2, until_block=head, client=again)
        assert again.calls == 0
    assert second.method == "cache"
    assert rows(store) == got
    assert first_calls > 0


def test_crawl_backward(scenario: Chain, everything: Store, tmp_path: Path) -> None:
    c = scenario.accounts[2]
    store = Store(tmp_path / "data")
    report = crawl(
        store,
        scenario.node.url,
        [c],
        direction="backward",
        max_hops=2,
        until_block=len(scenario.txs),
    )
    got = rows(store)
    assert got <= rows(everything)
    # c was paid by the forwarder (internal), which was paid by the seed's funder
    froms = {r[3] for r in got if r[4] == c}
    assert scenario.contracts["forwarder"] in froms
    assert report.addresses >= 3


def test_crawl_without_ots_scans_the_range(
    scenario: Chain, everything: Store, tmp_path: Path
) -> None:
    store = Store(tmp_path / "data")
    missing = {"ots_getApiLevel", "ots_searchTransactionsBefore"}
    transport = WithoutMethods(scenario.node.url, missing)
    with RpcClient(scenario.node.url, transport=transport) as client:
        report = crawl(
            store,
            scenario.node.url,
            [scenario.accounts[0]],
            max_hops=2,
            until_block=len(scenario.txs),
            client=client,
        )
    assert report.method == "scan"
    assert rows(store) == rows(everything)
    with RpcClient(scenario.node.url) as again:
        crawl(
            store,
            scenario.node.url,
            [scenario.accounts[0]],
            max_hops=3,
            until_block=len(scenario.txs),
            client=again,
        )
        assert again.calls == 0
