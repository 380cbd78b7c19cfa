"""Deposit wallets are never linked to an owner: no heuristic links them, no cluster takes them.

An exchange deposit address is controlled by the exchange; its first funder is a depositor and
the address it is swept to is the exchange (``heuristics.NOT_OWNED_CATEGORIES``). Clustering
finds deposit addresses first, so these guards apply to the ones it finds as well as to the
ones already labelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from heuristics import NOT_OWNED_CATEGORIES, SERVICE_CATEGORIES
from heuristics.airdrop_multi_participation import airdrop_multi_participation
from heuristics.cluster import cluster_addresses
from heuristics.gas_funding import gas_funding
from heuristics.self_authorization import self_authorization
from tests.heuristics.conftest import build_labels, build_transfers
from tracer.clustering import cluster_store, cluster_tables
from tracer.schema import APPROVALS, CONTRACTS, LABELS, LINKS
from tracer.store import Store

ETH = 10**18
FUNDER, S1, S2, DEPOSIT, EXCHANGE = ("0x" + c * 40 for c in "f12de")
NO_CONTRACTS = pl.LazyFrame(schema=CONTRACTS)
DEPOSIT_LABEL = build_labels([(DEPOSIT, "Binance", "deposit_wallet")])


def world() -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """F funds S1; S1 then S2 pay into D, which forwards each payment to the exchange E.

    S1 is D's first funder and S1 sends D all it holds (a sweep shape): only the exchange's
    ownership of D keeps gas_funding from linking S1 to D.
    """
    rows = [
        (10, "0xt0", FUNDER, S1, 2 * ETH),
        (20, "0xt1", S1, DEPOSIT, 2 * ETH - 10**15),  # S1 keeps 0.001 ETH: emptied
        (22, "0xt2", DEPOSIT, EXCHANGE, 2 * ETH - 2 * 10**15),
        (30, "0xt3", S2, DEPOSIT, 3 * ETH),
        (31, "0xt4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),
    ]
    return build_transfers(rows), build_labels([(EXCHANGE, "Binance", "exchange")])


def pairs(links: pl.DataFrame | pl.LazyFrame) -> set[tuple[str, str, str]]:
    frame = links.lazy().select("address_a", "address_b", "heuristic").collect()
    return set(frame.iter_rows())


def test_deposit_wallet_is_a_not_owned_category() -> None:
    assert set(NOT_OWNED_CATEGORIES) == {*SERVICE_CATEGORIES, "deposit_wallet"}
    assert "deposit_wallet" not in SERVICE_CATEGORIES


def test_found_deposit_wallet_is_never_linked_nor_clustered() -> None:
    transfers, labels = world()
    run = cluster_tables({"transfers": transfers, "labels": labels})
    assert run.deposit_labels.select("address", "category").rows() == [(DEPOSIT, "deposit_wallet")]
    assert pairs(run.links) == {
        (S1, S2, "deposit_address_reuse"),
        (S1, FUNDER, "gas_funding"),
    }
    clusters = dict(run.clusters.select("address", "cluster_id").iter_rows())
    assert clusters == {S1: S1, S2: S1, FUNDER: S1}
    assert run.cuts.is_empty()  # refused by the heuristics, not cut afterwards


def test_without_deposit_matching_the_depositor_is_linked_to_the_deposit() -> None:
    # The same world with gas_funding alone: nothing says D is a deposit address, so its
    # first funder and the sweep into it link S1 and D. This is what the ordering prevents.
    transfers, labels = world()
    run = cluster_tables({"transfers": transfers, "labels": labels}, heuristics=["gas_funding"])
    assert (S1, DEPOSIT, "gas_funding") in pairs(run.links)
    assert DEPOSIT in run.clusters.get_column("address").to_list()


def test_gas_funding_refuses_a_labelled_deposit_wallet() -> None:
    transfers, labels = world()
    both = pl.concat([labels, DEPOSIT_LABEL])
    assert (S1, DEPOSIT, "gas_funding") in pairs(gas_funding(transfers, labels, NO_CONTRACTS))
    assert pairs(gas_funding(transfers, both, NO_CONTRACTS)) == {(S1, FUNDER, "gas_funding")}


@pytest.mark.parametrize("side", ["owner", "spender"])
def test_self_authorization_refuses_a_deposit_wallet(side: str) -> None:
    other = S1
    owner, spender = (DEPOSIT, other) if side == "owner" else (other, DEPOSIT)
    approvals = pl.DataFrame(
        [
            {
                "chain": "ethereum",
                "block_number": 7,
                "transaction_hash": "0xa1",
                "log_index": 0,
                "owner": owner,
                "spender": spender,
                "token_address": "0x" + "7" * 40,
                "value": "1000",
            }
        ],
        schema=APPROVALS,
    ).lazy()
    no_labels = pl.LazyFrame(schema=LABELS)
    assert len(pairs(self_authorization(approvals, no_labels, NO_CONTRACTS))) == 1
    assert pairs(self_authorization(approvals, DEPOSIT_LABEL, NO_CONTRACTS)) == set()


def test_airdrop_aggregator_that_is_a_deposit_wallet_is_not_linked() -> None:
    token = "0x" + "7" * 40
    recipients = ["0x" + f"{i:040x}" for i in range(1, 13)]
    rows: list[tuple[Any, ...]] = [
        (10, f"0xd{i}", "0x" + "9" * 40, r, 100, "token", token, 18)
        for i, r in enumerate(recipients)
    ]
    rows += [(20 + i, f"0xf{i}", recipients[i], DEPOSIT, 100, "token", token, 18) for i in (0, 1)]
    transfers = build_transfers(rows)
    no_labels = pl.LazyFrame(schema=LABELS)
    linked = airdrop_multi_participation(transfers, no_labels, NO_CONTRACTS)
    assert len(pairs(linked)) == 2
    assert pairs(airdrop_multi_participation(transfers, DEPOSIT_LABEL, NO_CONTRACTS)) == set()


def test_cluster_never_merges_through_a_deposit_wallet() -> None:
    # Links from elsewhere (an older run, another tool) that touch a deposit wallet are cut.
    links = pl.DataFrame(
        [
            ("ethereum", S1, DEPOSIT, "gas_funding", 1, "0xt1", 20, 60),
            ("ethereum", S2, DEPOSIT, "gas_funding", 1, "0xt3", 30, 60),
        ],
        schema=LINKS,
        orient="row",
    ).lazy()
    result = cluster_addresses(links, DEPOSIT_LABEL)
    assert result.clusters.collect().is_empty()
    assert result.cuts.select("heuristic", "reason", "address", "links_cut").rows() == [
        ("gas_funding", "service", DEPOSIT, 2)
    ]


def test_clustering_again_over_its_own_deposit_labels_gives_the_same_result(
    tmp_path: Path,
) -> None:
    # The second run reads the deposit_wallet labels the first one stored.
    transfers, labels = world()
    store = Store(tmp_path / "data")
    store.commit({"transfers": transfers.collect(), "labels": labels.collect()})
    first = cluster_store(store)
    assert store.scan("labels").filter(pl.col("category") == "deposit_wallet").collect().height == 1
    again = cluster_store(store)
    assert_frame_equal(first.links, again.links)
    assert_frame_equal(first.clusters, again.clusters)
    assert_frame_equal(first.deposit_labels, again.deposit_labels)
    assert store.scan("labels").filter(pl.col("category") == "deposit_wallet").collect().height == 1
