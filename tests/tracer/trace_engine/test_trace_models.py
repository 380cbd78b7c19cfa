"""Hand-computed traces: every expected number is worked out in the comment beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest

from tests.tracer.trace_engine.trace_tables import (
    labels_frame,
    seeds_frame,
    transactions_frame,
    transfers_frame,
)
from tracer.trace import TraceInputs, TraceResult, TraceSpec, run_trace

MODELS = ("poison", "haircut", "fifo")


def trace(
    rows: Sequence[Any],
    *,
    seeds: Sequence[str] = ("S",),
    labels: dict[str, str] | None = None,
    transactions: Sequence[dict[str, Any]] = (),
    seed_rows: Sequence[tuple[str, str | None]] = (),
    chain: str = "ethereum",
    clusters: pl.DataFrame | None = None,
    **spec: Any,
) -> TraceResult:
    frames: dict[str, pl.DataFrame] = {"transfers": transfers_frame(rows, chain=chain)}
    if labels:
        frames["labels"] = labels_frame(labels, chain=chain)
    if transactions:
        frames["transactions"] = transactions_frame(transactions, chain=chain)
    if seed_rows:
        frames["seeds"] = seeds_frame(seed_rows, chain=chain)
    if clusters is not None:
        frames["clusters"] = clusters
    return run_trace(TraceInputs.from_frames(frames), TraceSpec(seeds=tuple(seeds), **spec))


def exposure(result: TraceResult) -> dict[str, int]:
    return {a: int(v) for a, v in result.exposure.select("address", "tainted_value").iter_rows()}


def held(result: TraceResult) -> dict[str, int]:
    return {a: int(v) for a, v in result.held.select("address", "tainted_value").iter_rows()}


def total(result: TraceResult, bucket: str, asset: str = "ETH") -> int:
    return int(result.totals[result.spec.taint][asset][bucket])


# S is the thief. A mixes 4 of its tainted 10 away to B, then 10 clean ETH from C arrive, then
# A sends 8 to the exchange X, and B sends its 4 to X.
THREE_WAYS = [
    ("S", "A", 10, 1),
    ("A", "B", 4, 2),
    ("C", "A", 10, 3),
    ("A", "X", 8, 4),
    ("B", "X", 4, 5),
]


@pytest.mark.parametrize(
    ("model", "at_x", "at_a"),
    [
        # poison: A is poisoned from block 1, so all 8 of A->X and all 4 of B->X count: 12.
        #   A keeps 10 - 4 + 10 - 8 = 8, all poisoned.
        ("poison", 12, 8),
        # haircut: A 10/10 tainted; A->B 4 carries 4 (A: 6 of 6); +10 clean (A: 6 of 16);
        #   A->X 8 carries 6*8/16 = 3 (A: 3 of 8); B->X carries 4. X = 7, A holds 3.
        ("haircut", 7, 3),
        # fifo: A's queue [10T]; A->B takes 4T -> [6T]; +10 clean -> [6T, 10C];
        #   A->X 8 takes 6T + 2C = 6; B->X 4T. X = 10, A holds nothing (8 clean).
        ("fifo", 10, 0),
    ],
)
def test_three_models_differ(model: str, at_x: int, at_a: int) -> None:
    result = trace(THREE_WAYS, labels={"X": "exchange"}, taint=model)
    assert exposure(result) == {"X": at_x}
    assert held(result) == ({"A": at_a} if at_a else {})
    assert total(result, "seeded") == 10
    assert result.exposure["min_hop"].to_list() == [2]
    if model != "poison":
        assert total(result, "endpoints") + total(result, "held") == 10


def test_compare_reports_every_model() -> None:
    result = trace(THREE_WAYS, labels={"X": "exchange"}, taint="haircut", compare=True)
    assert result.compare is not None
    row = result.compare.row(0, named=True)
    assert (row["address"], row["poison"], row["haircut"], row["fifo"]) == ("X", "12", "7", "10")
    assert set(result.totals) == set(MODELS)


def test_flows_carry_hop_hash_and_taint() -> None:
    result = trace(THREE_WAYS, labels={"X": "exchange"}, taint="haircut")
    got = result.flows.select(
        "hop", "transaction_hash", "from_address", "to_address", "tainted_value"
    )
    assert got.rows() == [
        (1, "0xt0000", "S", "A", "10"),
        (2, "0xt0001", "A", "B", "4"),
        (2, "0xt0003", "A", "X", "3"),
        (3, "0xt0004", "B", "X", "4"),
    ]
    roles = dict(result.nodes.select("address", "role").iter_rows())
    assert roles == {"S": "seed", "A": "held", "B": "intermediate", "X": "endpoint"}


@pytest.mark.parametrize("model", MODELS)
def test_peel_chain(model: str) -> None:
    # S -> P1 100; each Pn peels 10 to an exchange Xn and passes the rest on. All money is
    # tainted and nothing clean joins, so every model agrees: 10 at each exchange, 70 at P4.
    rows = [
        ("S", "P1", 100, 1),
        ("P1", "X1", 10, 2),
        ("P1", "P2", 90, 3),
        ("P2", "X2", 10, 4),
        ("P2", "P3", 80, 5),
        ("P3", "X3", 10, 6),
        ("P3", "P4", 70, 7),
    ]
    labels = {"X1": "exchange", "X2": "exchange", "X3": "exchange"}
    result = trace(rows, labels=labels, taint=model)
    assert exposure(result) == {"X1": 10, "X2": 10, "X3": 10}
    assert held(result) == {"P4": 70}
    hops = dict(result.exposure.select("address", "min_hop").iter_rows())
    assert hops == {"X1": 2, "X2": 3, "X3": 4}
    # With 3 hops, P3 (hop 3) is where the trace stops: it received 80.
    short = trace(rows, labels=labels, taint=model, max_hops=3)
    assert exposure(short) == {"X1": 10, "X2": 10, "P3": 80}
    assert held(short) == {}


@pytest.mark.parametrize(
    ("model", "at_x", "at_m"),
    [
        ("poison", 50, 50),  # M poisoned: all 50 out, and the 50 left
        ("haircut", 15, 15),  # M holds 30 tainted of 100: 50 out carries 30*50/100 = 15
        ("fifo", 30, 0),  # queue [30T, 70C]: 50 out takes 30T + 20C
    ],
)
def test_merge_of_tainted_and_clean(model: str, at_x: int, at_m: int) -> None:
    rows = [("S", "M", 30, 1), ("C", "M", 70, 2), ("M", "X", 50, 3)]
    result = trace(rows, labels={"X": "exchange"}, taint=model)
    assert exposure(result) == {"X": at_x}
    assert held(result) == ({"M": at_m} if at_m else {})


def test_haircut_fractions_round_down_and_conserve() -> None:
    # M gets 1 tainted and 2 clean, sends 1: it carries 1/3, written as 0 (rounded down);
    # M keeps 2/3, also 0 when written. The exact totals conserve; rounding leaves dust 1.
    rows = [("S", "M", 1, 1), ("C", "M", 2, 2), ("M", "X", 1, 3)]
    result = trace(rows, labels={"X": "exchange"}, taint="haircut")
    assert exposure(result) == {"X": 0}
    assert result.exposure["share_of_seed_value"].to_list() == [pytest.approx(1 / 3)]
    t = result.totals["haircut"]["ETH"]
    assert (t["seeded"], t["endpoints"], t["held"], t["dust"]) == ("1", "0", "0", "1")


@pytest.mark.parametrize("model", MODELS)
def test_cycle_terminates_and_counts_once(model: str) -> None:
    # S -> A -> B -> A -> X: A sees the same 10 twice; X must get 10, not 20.
    rows = [("S", "A", 10, 1), ("A", "B", 10, 2), ("B", "A", 10, 3), ("A", "X", 10, 4)]
    result = trace(rows, labels={"X": "exchange"}, taint=model)
    assert exposure(result) == {"X": 10}
    assert total(result, "seeded") == 10
    assert held(result) == {}
    assert result.stats["expansion_rounds"] <= 5


@pytest.mark.parametrize("model", MODELS)
def test_cycle_back_into_the_seed_is_not_seeded_twice(model: str) -> None:
    # S (whole address) -> A 10, A -> S 10 (back), S -> X 10: S is seeded with 10 once.
    rows = [("F", "S", 10, 1), ("S", "A", 10, 2), ("A", "S", 10, 3), ("S", "X", 10, 4)]
    result = trace(rows, labels={"X": "exchange"}, taint=model)
    assert total(result, "seeded") == 10
    assert exposure(result) == {"X": 10}


@pytest.mark.parametrize("model", MODELS)
def test_fan_out_to_1000_addresses(model: str) -> None:
    # S -> D0..D999 one unit each, each Di -> X: X gets 1000, over 1000 distinct paths.
    rows: list[Any] = [("S", f"D{i}", 1, 1) for i in range(1000)]
    rows += [("F", "S", 1000, 0)]
    rows += [(f"D{i}", "X", 1, 2) for i in range(1000)]
    result = trace(rows, labels={"X": "exchange"}, taint=model, top_k_paths=3)
    assert exposure(result) == {"X": 1000}
    assert result.exposure["paths"].to_list() == [1000]
    assert result.flows.height == 2000  # 1000 out and 1000 in (seeding F->S is not a flow)
    assert result.nodes.height == 1002
    assert result.paths["rank"].to_list() == [1, 2, 3]


def test_failed_transaction_moves_nothing() -> None:
    # A -> B 10 is in a reverted transaction (receipt_status 0): B gets nothing, X gets 10.
    rows = [
        ("S", "A", 10, 1),
        {"from": "A", "to": "B", "value": 10, "block": 2, "tx": "0xfail"},
        ("A", "X", 10, 3),
    ]
    txs = [{"tx": "0xfail", "from": "A", "to": "B", "block": 2, "status": 0}]
    result = trace(rows, labels={"X": "exchange"}, transactions=txs)
    assert exposure(result) == {"X": 10}
    assert "B" not in result.flows["to_address"].to_list()


@pytest.mark.parametrize(
    ("model", "at_x", "at_s"),
    [
        # S had 50 clean from F, sent 30 to Y before the theft (20 left), then stole 100.
        ("poison", 60, 60),  # all 60 out after the theft; S keeps 60, poisoned
        ("haircut", 50, 50),  # 100 of 120 tainted: 60 out carries 100*60/120 = 50
        ("fifo", 40, 60),  # queue [20C, 100T]: 60 out takes 20C + 40T
    ],
)
def test_transfer_before_the_theft_carries_nothing(model: str, at_x: int, at_s: int) -> None:
    rows = [
        ("F", "S", 50, 1),
        ("S", "Y", 30, 2),
        {"from": "V", "to": "S", "value": 100, "block": 5, "tx": "0xtheft"},
        ("S", "X", 60, 6),
    ]
    result = trace(
        rows, seeds=(), seed_rows=[("S", "0xtheft")], labels={"X": "exchange"}, taint=model
    )
    assert exposure(result) == {"X": at_x}
    assert "Y" not in result.flows["to_address"].to_list()
    assert held(result) == {"S": at_s}
    assert total(result, "seeded") == 100


def test_whole_address_seed_starts_at_its_first_inflow() -> None:
    # S sends 30 to Y before anything arrives (unknown, earlier funds: clean), then gets 50
    # from F and sends 50 to X: the seed is tainted from its first inflow on.
    rows = [("S", "Y", 30, 1), ("F", "S", 50, 2), ("S", "X", 50, 3)]
    result = trace(rows, labels={"X": "exchange"})
    assert exposure(result) == {"X": 50}
    assert "Y" not in result.flows["to_address"].to_list()
    assert total(result, "seeded") == 50


@pytest.mark.parametrize(
    ("model", "at_x", "fees", "at_a"),
    [
        # A: 100 tainted + 100 clean; its tx pays 20 gas (10 x 2) before sending 50 to X.
        ("haircut", 25, 10, 65),  # fee carries 100*20/200 = 10; 50 out carries 90*50/180 = 25
        ("fifo", 50, 20, 30),  # fee takes 20T, 50 out takes 50T, 30T left
        ("poison", 50, 20, 130),  # poison: fee, outflow and what is left are all tainted
    ],
)
def test_gas_fees_spend_taint(model: str, at_x: int, fees: int, at_a: int) -> None:
    rows = [
        ("S", "A", 100, 1),
        ("C", "A", 100, 2),
        {"from": "A", "to": "X", "value": 50, "block": 3, "tx": "0xfee"},
    ]
    txs = [{"tx": "0xfee", "from": "A", "to": "X", "block": 3, "gas_used": 10, "gas_price": 2}]
    result = trace(rows, labels={"X": "exchange"}, transactions=txs, taint=model)
    assert exposure(result) == {"X": at_x}
    assert total(result, "fees") == fees
    assert held(result) == {"A": at_a}


@pytest.mark.parametrize(
    ("model", "at_x", "at_z", "fee"),
    [
        # Inputs S 60 (tainted) and C 40 into tx node T; outputs X 70, Z 25; fee 5.
        ("haircut", 42, 15, 3),  # 60/100 of each output: 42, then 18*25/30 = 15; 3 of the fee
        ("fifo", 60, 0, 0),  # queue [60T, 40C]: X takes 60T + 10C, Z and the fee are clean
        ("poison", 70, 25, 5),
    ],
)
def test_bitcoin_transaction_node(model: str, at_x: int, at_z: int, fee: int) -> None:
    def leg(src: str, dst: str, value: int, idx: int) -> dict[str, Any]:
        return {
            "from": src,
            "to": dst,
            "value": value,
            "block": 1,
            "tx": "T",
            "kind": "utxo",
            "idx": idx,
            "asset": "BTC",
            "decimals": 8,
        }

    rows = [leg("T", "X", 70, 0), leg("S", "T", 60, 0), leg("T", "Z", 25, 1), leg("C", "T", 40, 1)]
    result = trace(rows, labels={"X": "exchange"}, chain="bitcoin", taint=model)
    assert exposure(result) == {"X": at_x}
    assert held(result) == ({"Z": at_z} if at_z else {})
    assert total(result, "fees", "BTC") == fee
    assert total(result, "seeded", "BTC") == 60
    assert "T" not in result.nodes["address"].to_list()
    hops = dict(result.nodes.select("address", "min_hop").iter_rows())
    assert hops["X"] == 1  # the transaction node is not a hop


@pytest.mark.parametrize(
    ("model", "from_a", "from_b"),
    [
        # M got 30 from A, then 70 from B, then sent 50 to the seed S. Where did it come from?
        ("haircut", 15, 35),  # in proportion: 50 * 30/100 and 50 * 70/100
        ("fifo", 30, 20),  # oldest first: A's 30, then 20 of B's
        ("poison", 30, 70),  # everything M received before
    ],
)
def test_backward(model: str, from_a: int, from_b: int) -> None:
    rows = [("A", "M", 30, 1), ("B", "M", 70, 2), ("M", "S", 50, 3), ("M", "Q", 50, 4)]
    result = trace(rows, direction="backward", taint=model)
    assert held(result) == {"A": from_a, "B": from_b}
    assert total(result, "seeded") == 50
    flows = result.flows.select("from_address", "to_address", "hop").rows()
    assert ("M", "S", 1) in flows  # written in the chain's direction, hop from the seed
    assert ("M", "Q", 1) not in flows


def test_min_value_is_per_transfer() -> None:
    # Two 6-unit transfers from A to B must not pass a 10-unit filter as one 12-unit edge.
    rows = [("S", "A", 12, 1), ("A", "B", 6, 2), ("A", "B", 6, 3), ("B", "X", 12, 4)]
    result = trace(rows, labels={"X": "exchange"}, min_value="10")
    assert exposure(result) == {}
    assert total(result, "below_min_value") == 12
    assert held(result) == {}
    loose = trace(rows, labels={"X": "exchange"}, min_value="6")
    assert exposure(loose) == {"X": 12}


def test_min_value_uses_the_asset_decimals() -> None:
    rows = [
        {"from": "S", "to": "X", "value": 10**16, "block": 1, "decimals": 18},
        {"from": "S", "to": "X", "value": 10**16 - 1, "block": 2, "decimals": 18},
        ("F", "S", 2 * 10**16, 0),
    ]
    result = trace(rows, labels={"X": "exchange"}, min_value="0.01")
    assert exposure(result) == {"X": 10**16}


def test_assets_are_traced_apart() -> None:
    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    rows = [
        ("F", "S", 5, 1),
        {"from": "F", "to": "S", "value": 700, "block": 1, "asset": usdt, "kind": "token"},
        ("S", "A", 5, 2),
        {"from": "S", "to": "A", "value": 700, "block": 3, "asset": usdt, "kind": "token"},
        ("C", "A", 5, 4),
        ("A", "X", 5, 5),
        {"from": "A", "to": "X", "value": 350, "block": 6, "asset": usdt, "kind": "token"},
    ]
    result = trace(rows, labels={"X": "exchange"}, taint="haircut")
    got = dict(result.exposure.select("asset", "tainted_value").iter_rows())
    # ETH: A holds 5 of 10 tainted, sends 5: 2.5 -> written 2. USDT: all tainted, 350.
    assert got == {"ETH": "2", usdt: "350"}
    assert result.seeded == {"ETH": "5", usdt: "700"}


def test_stop_categories_and_defaults() -> None:
    rows = [("S", "M", 10, 1), ("M", "A", 10, 2), ("A", "B", 10, 3)]
    mixer = trace(rows, labels={"M": "mixing_service"})
    assert exposure(mixer) == {"M": 10}
    assert mixer.flows.height == 1
    through = trace(rows, labels={"M": "mixing_service"}, stop_at=("exchange",))
    assert exposure(through) == {}
    assert held(through) == {"B": 10}


def test_seed_labelled_with_a_stop_category_is_still_followed() -> None:
    rows = [("F", "S", 10, 1), ("S", "A", 10, 2)]
    result = trace(rows, labels={"S": "sanction"})
    assert held(result) == {"A": 10}


def test_high_degree_address_is_an_endpoint() -> None:
    rows: list[Any] = [("S", "H", 10, 1), ("H", "A", 10, 2)]
    rows += [(f"U{i}", "H", 1, 3) for i in range(20)]
    busy = trace(rows, max_degree=10)
    assert exposure(busy) == {"H": 10}
    assert dict(busy.nodes.select("address", "role").iter_rows())["H"] == "endpoint"
    assert held(trace(rows, max_degree=None)) == {"A": 10}


def test_clusters_hops_inside_are_free_and_deposit_leads_to_exchange() -> None:
    from tracer.schema import CLUSTERS

    clusters = pl.DataFrame(
        [
            ("ethereum", "A", "A", 2, None, None),
            ("ethereum", "A2", "A", 2, None, None),
            ("ethereum", "D", "D", 2, "Binance", "exchange"),
            ("ethereum", "E", "D", 2, "Binance", "exchange"),
        ],
        schema=CLUSTERS,
        orient="row",
    )
    rows = [("S", "A", 10, 1), ("A", "A2", 10, 2), ("A2", "D", 10, 3), ("D", "E", 10, 4)]
    result = trace(rows, labels={"D": "deposit_wallet"}, clusters=clusters, max_hops=2)
    # A -> A2 stays inside one cluster: A2 is at hop 1, so D is reached at hop 2.
    assert exposure(result) == {"D": 10}
    row = result.exposure.row(0, named=True)
    assert (row["cluster_id"], row["label"], row["category"]) == ("D", "Binance", "exchange")
    assert row["min_hop"] == 2
    plain = trace(rows, labels={"D": "deposit_wallet"}, max_hops=2)
    assert exposure(plain) == {"A2": 10}  # without clusters the hop limit stops at A2


def test_since_until_window() -> None:
    from datetime import timedelta

    from tests.tracer.trace_engine.trace_tables import block_time

    rows = [("S", "A", 10, 1), ("A", "B", 10, 5), ("B", "C", 10, 9)]
    result = trace(rows, since=block_time(1), until=block_time(5))
    assert held(result) == {"B": 10}
    assert trace(rows, until=block_time(1) + timedelta(seconds=1)).flows.height == 1


def test_unknown_chain_or_no_seeds_fails_clearly() -> None:
    from tracer.errors import DataMissing

    with pytest.raises(DataMissing, match="no seeds"):
        trace([("S", "A", 1, 1)], seeds=())


def test_earlier_arrival_over_a_longer_path_is_followed() -> None:
    # C is 1 hop from S (S -> C at block 10) but taint first reaches it at block 3 over
    # S -> A -> B -> C. Its transfer to X at block 5 is therefore tainted; X is at hop 2.
    rows = [
        ("S", "A", 10, 1),
        ("A", "B", 10, 2),
        ("B", "C", 10, 3),
        ("C", "X", 10, 5),
        ("S", "C", 10, 10),
    ]
    result = trace(rows, labels={"X": "exchange"}, max_hops=3)
    assert exposure(result) == {"X": 10}
    assert dict(result.exposure.select("address", "min_hop").iter_rows()) == {"X": 2}
    assert held(result) == {"C": 10}  # what arrived directly at block 10


def test_a_malformed_amount_is_refused_not_traced() -> None:
    from tracer.errors import InvalidAmount

    with pytest.raises(InvalidAmount, match="transaction 0xt0001"):
        trace([("S", "A", 10, 1), ("A", "B", "-5", 2)])


@pytest.mark.parametrize("model", MODELS)
def test_backward_whole_seed_is_asked_about_from_the_end(model: str) -> None:
    # Found by the property test: victim -> S 1, S -> A 1, A -> S 1. Backward from S with one
    # hop, everything S held is asked about, including what came back from A at block 2; A
    # and the victim are the hop-limit endpoints, and nothing is lost on the way.
    rows = [("victim", "S", 1, 0), ("S", "A", 1, 1), ("A", "S", 1, 2)]
    result = trace(rows, direction="backward", max_hops=1, taint=model)
    t = result.taints[model].totals()["ETH"]
    assert t["untraced"] == 0
    assert exposure(result) == {"A": 1, "victim": 1}
    assert total(result, "seeded") == 2  # S received 2 in all
