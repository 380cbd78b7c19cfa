"""deposit_address_reuse: each condition of the deposit-address definition, both ways."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from heuristics.deposit_address_reuse import (
    deposit_address_reuse,
    deposit_wallet_labels,
    matched_deposits,
)
from tests.heuristics.conftest import build_labels, build_transfers
from tracer.schema import CONTRACTS

ETH = 10**18
EXCHANGE = "0x" + "e" * 40
DEPOSIT = "0x" + "d" * 40
S1, S2, S3 = ("0x" + c * 40 for c in "123")


# The shared builders, under the short names these tests use.
transfers = build_transfers
labels = build_labels


NO_CONTRACTS = pl.LazyFrame(schema=CONTRACTS)
BINANCE = labels([(EXCHANGE, "Binance", "exchange")])


def pairs(tr: pl.LazyFrame, lab: pl.LazyFrame = BINANCE, **kw: Any) -> list[tuple[str, str]]:
    links = deposit_address_reuse(tr, lab, NO_CONTRACTS, **kw)
    return links.select("address_a", "address_b").collect().rows()


def base(**over: Any) -> list[tuple[Any, ...]]:
    """Two senders pay DEPOSIT, which forwards each amount (minus gas) to the exchange."""
    rows = {
        "d1": (100, "t1", S1, DEPOSIT, ETH),
        "f1": (110, "t2", DEPOSIT, EXCHANGE, ETH - 10**15),
        "d2": (200, "t3", S2, DEPOSIT, 3 * ETH),
        "f2": (210, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),
    }
    rows.update(over)
    return [r for r in rows.values() if r is not None]


def test_positive_links_the_two_senders() -> None:
    links = deposit_address_reuse(transfers(base()), BINANCE, NO_CONTRACTS).collect()
    assert links.select(
        "address_a", "address_b", "heuristic", "evidence_transaction_hash", "block_number"
    ).rows() == [(S1, S2, "deposit_address_reuse", "t3", 200)]
    assert links.get_column("confidence").to_list() == [80]


def test_deposit_wallet_label() -> None:
    deposits = matched_deposits(transfers(base()), BINANCE, NO_CONTRACTS)
    rows = deposit_wallet_labels(deposits).collect()
    assert rows.select("address", "label", "category").rows() == [
        (DEPOSIT, "Binance", "deposit_wallet")
    ]


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ({"f2": (200 + 3_201, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15)}, "forward after tau"),
        ({"f2": (199, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15)}, "forward before deposit"),
        ({"f2": (210, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**16 - 1)}, "shortfall above alpha"),
        ({"f2": (210, "t4", DEPOSIT, EXCHANGE, 3 * ETH + 1)}, "forward above deposit"),
        ({"f2": (210, "t4", DEPOSIT, "0x" + "9" * 40, 3 * ETH)}, "forward to unlabelled"),
        ({"f2": None}, "never forwarded"),
    ],
)
def test_second_deposit_not_matched(override: dict[str, Any], why: str) -> None:
    assert pairs(transfers(base(**override))) == [], why


def test_boundaries_are_inclusive() -> None:
    edge = {"f2": (200 + 3_200, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**16)}
    assert pairs(transfers(base(**edge))) == [(S1, S2)]


def test_parameters_alpha_and_tau() -> None:
    late = {"f2": (300, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15)}
    assert pairs(transfers(base(**late)), max_delay_blocks=99) == []
    assert pairs(transfers(base()), alpha="0.0001") == []


def test_token_deposits_scale_alpha_by_decimals() -> None:
    usdt = "0x" + "7" * 40
    rows = [
        (100, "t1", S1, DEPOSIT, 5_000_000, "token", usdt, 6),
        (101, "t2", DEPOSIT, EXCHANGE, 4_990_000, "token", usdt, 6),  # 0.01 USDT short: ok
        (200, "t3", S2, DEPOSIT, 7_000_000, "token", usdt, 6),
        (201, "t4", DEPOSIT, EXCHANGE, 7_000_000, "token", usdt, 6),
    ]
    assert pairs(transfers(rows)) == [(S1, S2)]
    rows[1] = (101, "t2", DEPOSIT, EXCHANGE, 4_989_999, "token", usdt, 6)  # 0.010001 short
    assert pairs(transfers(rows)) == []


def test_asset_must_match() -> None:
    rows = base(f2=(210, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15, "token", "0x" + "7" * 40, 18))
    assert pairs(transfers(rows)) == []


def test_amounts_beyond_int128_match_only_exactly() -> None:
    huge = 2**200
    token = "0x" + "7" * 40
    rows = [
        (100, "t1", S1, DEPOSIT, ETH),
        (110, "t2", DEPOSIT, EXCHANGE, ETH),
        (200, "t3", S2, DEPOSIT, huge, "token", token, 18),
        (210, "t4", DEPOSIT, EXCHANGE, huge, "token", token, 18),
    ]
    assert pairs(transfers(rows)) == [(S1, S2)]
    rows[3] = (210, "t4", DEPOSIT, EXCHANGE, huge - 1, "token", token, 18)
    assert pairs(transfers(rows)) == []


@pytest.mark.parametrize("category", ["exchange", "hot_wallet", "mixing_service", "defi_bridge"])
def test_labelled_service_is_never_a_deposit_address(category: str) -> None:
    lab = labels([(EXCHANGE, "Binance", "exchange"), (DEPOSIT, "Something", category)])
    assert pairs(transfers(base()), lab) == []


def test_labelled_deposit_wallet_stays_a_deposit_address() -> None:
    lab = labels([(EXCHANGE, "Binance", "exchange"), (DEPOSIT, "Binance", "deposit_wallet")])
    assert pairs(transfers(base()), lab) == [(S1, S2)]


def test_service_or_contract_sender_not_linked() -> None:
    lab = labels([(EXCHANGE, "Binance", "exchange"), (S2, "Kraken", "exchange")])
    assert pairs(transfers(base()), lab) == []
    contracts = pl.LazyFrame(
        {
            "chain": ["ethereum"],
            "address": [S2],
            "block_number": [1],
            "transaction_hash": ["c"],
            "creator": [S3],
        },
        schema=CONTRACTS,
    )
    links = deposit_address_reuse(transfers(base()), BINANCE, contracts).collect()
    assert links.is_empty()


def test_one_sender_alone_is_not_linked() -> None:
    rows = base(d2=(200, "t3", S1, DEPOSIT, 3 * ETH))
    assert pairs(transfers(rows)) == []


def test_three_senders_make_a_star() -> None:
    rows = [*base(), (300, "t5", S3, DEPOSIT, ETH), (301, "t6", DEPOSIT, EXCHANGE, ETH)]
    assert sorted(pairs(transfers(rows))) == [(S1, S2), (S1, S3)]


def test_interleaved_deposits_and_forwards() -> None:
    # Both deposits arrive before either forward, and the forwards come in the other order.
    rows = [
        (100, "t1", S1, DEPOSIT, ETH),
        (101, "t3", S2, DEPOSIT, 3 * ETH),
        (105, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),
        (106, "t2", DEPOSIT, EXCHANGE, ETH - 10**15),
    ]
    deposits = matched_deposits(transfers(rows), BINANCE, NO_CONTRACTS).collect()
    assert deposits.select("transaction_hash", "forward_transaction_hash").sort(
        "transaction_hash"
    ).rows() == [("t1", "t2"), ("t3", "t4")]


def test_cluster_tables_shares_the_registered_rule() -> None:
    from polars.testing import assert_frame_equal

    from tracer.clustering import cluster_tables

    rows = [*base(), (300, "t5", S3, DEPOSIT, ETH), (301, "t6", DEPOSIT, EXCHANGE, ETH)]
    tables = {"transfers": transfers(rows), "labels": BINANCE}
    run = cluster_tables(tables, heuristics=["deposit_address_reuse"])
    direct = deposit_address_reuse(tables["transfers"], BINANCE, NO_CONTRACTS).collect()
    assert_frame_equal(run.links, direct)
    assert run.deposit_labels.get_column("address").to_list() == [DEPOSIT]


def test_one_transaction_paying_twice_is_one_deposit() -> None:
    # t1 pays DEPOSIT twice (two internal calls); either transfer is matched by the forward.
    rows = [
        (100, "t1", S1, DEPOSIT, ETH),
        (100, "t1", S1, DEPOSIT, ETH, "internal", "ETH", 18),
        *base()[1:],
    ]
    deposits = matched_deposits(transfers(rows), BINANCE, NO_CONTRACTS).collect()
    assert deposits.select("sender", "transaction_hash", "forward_transaction_hash").rows() == [
        (S1, "t1", "t2"),
        (S2, "t3", "t4"),
    ]
    assert pairs(transfers(rows)) == [(S1, S2)]


def test_forward_in_the_deposits_own_transaction_is_not_its_proof() -> None:
    # t3 pays DEPOSIT and DEPOSIT pays the exchange in the same transaction (a contract
    # relaying both): not a deposit followed by a forward. Another transaction in the same
    # block is.
    same = base(f2=(200, "t3", DEPOSIT, EXCHANGE, 3 * ETH - 10**15))
    assert pairs(transfers(same)) == []
    other = base(f2=(200, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15))
    assert pairs(transfers(other)) == [(S1, S2)]


@pytest.mark.parametrize("reverse", [False, True])
def test_earliest_forward_ties_on_the_block_go_to_the_smaller_hash(reverse: bool) -> None:
    forwards = [
        (210, "t9", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),
        (210, "t5", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),
        (260, "t4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),  # later block, smaller hash
    ]
    rows = [*base(f2=None), *(forwards[::-1] if reverse else forwards)]
    deposits = matched_deposits(transfers(rows), BINANCE, NO_CONTRACTS).collect()
    assert deposits.select("transaction_hash", "forward_transaction_hash").rows() == [
        ("t1", "t2"),
        ("t3", "t5"),
    ]
