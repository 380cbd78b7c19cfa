"""fixtures/btc-exchange-hack-2017: valid Bitcoin data in bitcoin-etl format, and tracer finds it.

The data tests read only the committed bitcoin-etl files and check them against Bitcoin's rules
and bitcoin-etl's own expected outputs (``btc_resources``: blockchain-etl/bitcoin-etl
@b62aedd1, tests/resources, MIT; see ../shared/data/SOURCES.md). The investigation tests run
``case.toml`` once and compare its outputs with ``ground_truth.json``, whose taint amounts
generate.py computes output by output, independently of tracer's engine, stopping at every
address of an exchange's cluster (its hot wallet and the deposit addresses its sweeps co-spent
with it, which multi_input joins to the labelled hot wallet).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

from heuristics.multi_input import coinjoin_transactions, multi_input
from tracer.addresses import normalize, validate_bitcoin
from tracer.case import investigate
from tracer.casefile import load_case
from tracer.ingest.files import read_files

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "btc-exchange-hack-2017"
DATA = CASE / "data"
OUTPUTS = (
    "data/blocks.json",
    "data/transactions.json",
    "seeds.csv",
    "labels.csv",
    "ground_truth.json",
    "README.md",
)
MODELS = ("poison", "haircut", "fifo")
SUBSIDY = 1_250_000_000


def load_generator() -> ModuleType:
    """fixtures/btc-exchange-hack-2017/generate.py as a module (its folder name has dashes)."""
    name = "btc_exchange_hack_2017_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CASE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return dict(json.loads((CASE / "ground_truth.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def blocks() -> list[dict[str, Any]]:
    return rows(DATA / "blocks.json")


@pytest.fixture(scope="module")
def transactions() -> list[dict[str, Any]]:
    return rows(DATA / "transactions.json")


# ---------------------------------------------------------------------------------------------
# The files


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    load_generator().generate(tmp_path)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (CASE / name).read_bytes(), name


def test_files_have_bitcoin_etl_field_layout(
    btc_resources: Path, blocks: list[dict[str, Any]], transactions: list[dict[str, Any]]
) -> None:
    """Same keys in the same order as bitcoin-etl's export_blocks_and_transactions output."""
    expected = btc_resources / "test_export_blocks_job" / "bitcoin" / "block_with_transactions"
    (etl_block, *_) = rows(expected / "expected_blocks.json")
    etl_txs = rows(expected / "expected_transactions.json")
    etl_in = next(i for t in etl_txs for i in t["inputs"])
    etl_out = next(o for t in etl_txs for o in t["outputs"])
    assert {tuple(b) for b in blocks} == {tuple(etl_block)}
    assert {tuple(t) for t in transactions} == {tuple(etl_txs[0])}
    assert {tuple(i) for t in transactions for i in t["inputs"]} == {tuple(etl_in)}
    assert {tuple(o) for t in transactions for o in t["outputs"]} == {tuple(etl_out)}
    lines = (DATA / "transactions.json").read_text(encoding="utf-8").splitlines()
    assert lines[0] == json.dumps(transactions[0])  # json.dumps defaults, as bitcoin-etl


def test_addresses_are_valid_and_of_every_kind(transactions: list[dict[str, Any]]) -> None:
    addresses = {
        a
        for t in transactions
        for item in [*t["inputs"], *t["outputs"]]
        for a in item["addresses"]
        if not a.startswith("nonstandard")
    }
    assert len(addresses) > 100
    for address in addresses:
        assert validate_bitcoin(address, "bitcoin") == address
    assert {a[0] for a in addresses} == {"1", "3", "b"}
    assert any(a.startswith("bc1q") for a in addresses)
    kinds = Counter(o["type"] for t in transactions for o in t["outputs"])
    assert set(kinds) == {"pubkeyhash", "scripthash", "witness_v0_keyhash", "nonstandard"}
    for name in ("seeds.csv", "labels.csv"):
        for row in read_csv(CASE / name):
            assert normalize(row["address"], "bitcoin") == row["address"]


def test_fees_are_exact_and_every_spend_matches_its_output(
    blocks: list[dict[str, Any]], transactions: list[dict[str, Any]]
) -> None:
    created = {
        (t["hash"], o["index"]): (o["addresses"], o["value"])
        for t in transactions
        for o in t["outputs"]
    }
    spent: Counter[tuple[str, int]] = Counter()
    fees_by_block: Counter[int] = Counter()
    for t in transactions:
        input_value = sum(i["value"] for i in t["inputs"])
        output_value = sum(o["value"] for o in t["outputs"])
        assert t["input_value"] == input_value
        assert t["output_value"] == output_value
        assert (t["input_count"], t["output_count"]) == (len(t["inputs"]), len(t["outputs"]))
        assert [o["index"] for o in t["outputs"]] == list(range(len(t["outputs"])))
        if t["is_coinbase"]:
            assert (t["inputs"], t["fee"], t["index"]) == ([], 0, 0)
            continue
        assert t["fee"] == input_value - output_value > 0
        assert t["fee"] >= t["virtual_size"] * 100  # December 2017: at least 100 sat/vB
        fees_by_block[t["block_number"]] += t["fee"]
        for i in t["inputs"]:
            key = (i["spent_transaction_hash"], i["spent_output_index"])
            spent[key] += 1
            if key in created:
                assert created[key] == (i["addresses"], i["value"])
    assert max(spent.values()) == 1
    for t in transactions:
        if t["is_coinbase"]:
            assert t["output_value"] == SUBSIDY + fees_by_block[t["block_number"]]
    assert sum(b["transaction_count"] for b in blocks) == len(transactions)


def test_merkle_roots_and_block_sizes_add_up(
    blocks: list[dict[str, Any]], transactions: list[dict[str, Any]]
) -> None:
    by_block: dict[int, list[dict[str, Any]]] = {}
    for t in transactions:
        by_block.setdefault(t["block_number"], []).append(t)
    first = blocks[0]["number"]
    assert [b["number"] for b in blocks] == list(range(first, first + len(blocks)))
    times = [b["timestamp"] for b in blocks]
    assert times == sorted(set(times))
    for b in blocks:
        txs = by_block[b["number"]]
        assert [t["index"] for t in txs] == list(range(len(txs)))
        assert {(t["block_hash"], t["block_timestamp"]) for t in txs} == {
            (b["hash"], b["timestamp"])
        }
        level = [bytes.fromhex(t["hash"])[::-1] for t in txs]
        while len(level) > 1:
            level = level + level[-1:] if len(level) % 2 else level
            level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        assert level[0][::-1].hex() == b["merkle_root"]
        assert b["size"] == 81 + sum(t["size"] for t in txs)
        assert b["weight"] == 3 * b["stripped_size"] + b["size"]
    hashes = [t["hash"] for t in transactions]
    assert len(set(hashes)) == len(hashes)


def test_the_coinjoin_is_the_one_transaction_the_detector_flags(truth: dict[str, Any]) -> None:
    tables = read_files([DATA], fmt="bitcoin-etl", chain="bitcoin")
    flagged = coinjoin_transactions(tables["utxo_inputs"].lazy(), tables["utxo_outputs"].lazy())
    assert flagged.collect()["transaction_hash"].to_list() == [
        truth["coinjoin"]["transaction_hash"]
    ]
    cj = truth["coinjoin"]
    outputs = tables["utxo_outputs"].filter(pl.col("transaction_hash") == cj["transaction_hash"])
    assert (outputs["value"] == cj["denomination"]).sum() == len(cj["participants"]) == 6
    ins, outs = tables["utxo_inputs"].lazy(), tables["utxo_outputs"].lazy()
    for exclude, expected in ((True, []), (False, [10] * 5)):
        links = multi_input(ins, outs, exclude_coinjoins=exclude).collect()
        joined = links.filter(pl.col("evidence_transaction_hash") == cj["transaction_hash"])
        assert joined["confidence"].to_list() == expected


def test_ground_truth_agrees_with_the_files(
    truth: dict[str, Any], transactions: list[dict[str, Any]]
) -> None:
    by_hash = {t["hash"]: t for t in transactions}
    seeds = {r["address"] for r in read_csv(CASE / "seeds.csv")}
    assert seeds == set(truth["seeds"])
    stolen = 0
    for theft in truth["theft"]["transactions"]:
        tx = by_hash[theft["transaction_hash"]]
        assert {a for i in tx["inputs"] for a in i["addresses"]} == {
            truth["theft"]["victim_hot_wallet"]
        }
        assert {a for o in tx["outputs"] for a in o["addresses"]} <= seeds
        assert len(tx["outputs"]) != 2  # one_time_change cannot tie a thief to the victim
        stolen += tx["output_value"]
    assert str(stolen) == truth["theft"]["total_satoshi"]
    for exit_ in truth["exits"]:
        paid = [
            o["value"]
            for t in transactions
            for o in t["outputs"]
            if o["addresses"][0] in exit_["thief_deposit_addresses"]
        ]
        assert (
            str(sum(paid)) == exit_["deposited_satoshi"] == exit_["at_deposit_addresses"]["poison"]
        )
        assert (
            int(exit_["at_deposit_addresses"]["haircut"])
            < int(exit_["at_deposit_addresses"]["fifo"])
            < sum(paid)
        )
        for sweep in exit_["sweeps"]:
            tx = by_hash[sweep["transaction_hash"]]
            assert tx["outputs"][0]["addresses"] == [exit_["hot_wallet"]]
            assert tx["inputs"][0]["addresses"] == [exit_["hot_wallet"]]
    labels = {r["address"]: r for r in read_csv(CASE / "labels.csv")}
    deposits = {d["address"] for ex in truth["exchanges"].values() for d in ex["deposit_addresses"]}
    assert not deposits & set(labels)
    assert {a for a, r in labels.items() if r["category"] == "exchange"} == {
        ex["hot_wallet"] for ex in truth["exchanges"].values()
    }
    # each exchange's cluster: its hot wallet and whatever a transaction spent together with it
    coinjoin = truth["coinjoin"]["transaction_hash"]
    co_spends = truth["clustering"]["multi_input"]["exchange_co_spends"]
    for name, exchange in truth["exchanges"].items():
        hot = exchange["hot_wallet"]
        spent_with = {
            a
            for t in transactions
            if t["hash"] != coinjoin and any(i["addresses"] == [hot] for i in t["inputs"])
            for i in t["inputs"]
            for a in i["addresses"]
        }
        assert set(co_spends[name]) == spent_with, name
    for exit_ in truth["exits"]:
        members = co_spends[exit_["exit"]]
        assert exit_["cluster_id"] == min(members)
        assert exit_["label"] == labels[exit_["hot_wallet"]]["label"]
        assert set(exit_["thief_deposit_addresses"]) < set(members)


def test_case_file_points_at_the_fixture() -> None:
    case = load_case(CASE / "case.toml")
    assert case.chain == "bitcoin"
    assert case.data.files == (DATA.resolve(),)
    assert case.data.format == "bitcoin-etl"
    assert case.heuristics == ("multi_input", "one_time_change")
    assert case.trace.stop_at == ("exchange",)
    assert case.trace.compare


# ---------------------------------------------------------------------------------------------
# The investigation


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("btc-exchange-hack") / "out"
    investigate(CASE / "case.toml", out=out)
    return out


def test_exposure_per_model_is_the_ground_truth(run: Path, truth: dict[str, Any]) -> None:
    compare = {r["address"]: r for r in read_csv(run / "compare.csv")}
    exposure = {r["address"]: r for r in read_csv(run / "exposure.csv")}
    exits = {a: e for e in truth["exits"] for a in e["at_deposit_addresses_by_address"]}
    assert set(compare) == set(exposure) == set(exits)
    for address, exit_ in exits.items():
        row, found = compare[address], exposure[address]
        assert (row["label"], row["category"]) == (exit_["label"], exit_["category"])
        assert (found["label"], found["category"], found["cluster_id"]) == (
            exit_["label"],
            "exchange",
            exit_["cluster_id"],
        )
        amounts = exit_["at_deposit_addresses_by_address"][address]
        for model in MODELS:
            assert row[model] == amounts[model]["satoshi"], (address, model)
        assert found["tainted_value"] == row["haircut"]
    totals = json.loads((run / "trace.json").read_text())["totals"]
    for model in MODELS:
        btc = totals[model]["BTC"]
        expected = truth["taint_totals"][model]
        assert {k: btc[k] for k in expected} == expected, model
        assert btc["below_min_value"] == btc["untraced"] == "0"


def test_taint_held_at_the_end_is_the_ground_truth(run: Path, truth: dict[str, Any]) -> None:
    held = {r["address"]: r["tainted_value"] for r in read_csv(run / "held.csv")}
    assert held == truth["held"]["haircut"]
    rest = next(a["address"] for a in truth["thief_addresses"] if a["name"] == "R")
    assert rest in held


def test_clusters_hold_the_thief_and_keep_coinjoin_participants_apart(
    run: Path, truth: dict[str, Any]
) -> None:
    cluster_of = {r["address"]: r["cluster_id"] for r in read_csv(run / "clusters.csv")}
    members_of: dict[str, set[str]] = {}
    for address, cluster_id in cluster_of.items():
        members_of.setdefault(cluster_id, set()).add(address)
    expected = truth["clustering"]
    for group in ("thief_consolidation", "thief_remerge"):
        members = expected["multi_input"][group]
        assert members_of[cluster_of[members[0]]] == set(members), group
    joined = expected["multi_input"]["coinjoin_inputs_must_stay_apart"]
    assert len(joined) == 6
    ids = [cluster_of.get(a, a) for a in joined]
    assert len(set(ids)) == len(ids)
    owners = truth["owners"]
    by_cluster = {c: {owners[a] for a in members} for c, members in members_of.items()}
    assert all(len(o) == 1 for o in by_cluster.values()), by_cluster
    links = read_csv(run / "links.csv")
    change = sorted(
        sorted((r["address_a"], r["address_b"]))
        for r in links
        if r["heuristic"] == "one_time_change"
    )
    assert change == sorted(sorted(p) for p in expected["one_time_change"]["peel_chain_links"])
    coinjoin = truth["coinjoin"]["transaction_hash"]
    assert not [r for r in links if r["evidence_transaction_hash"] == coinjoin]


def test_each_exchange_cluster_is_its_hot_wallet_and_co_spent_deposits(
    run: Path, truth: dict[str, Any]
) -> None:
    clusters = {r["address"]: r for r in read_csv(run / "clusters.csv")}
    labels = {r["address"]: r["label"] for r in read_csv(CASE / "labels.csv")}
    co_spends = truth["clustering"]["multi_input"]["exchange_co_spends"]
    assert set(co_spends) == set(truth["exchanges"])
    for name, exchange in truth["exchanges"].items():
        hot = exchange["hot_wallet"]
        members = {a for a, r in clusters.items() if r["cluster_id"] == clusters[hot]["cluster_id"]}
        assert members == set(co_spends[name]), name
        deposits = {d["address"] for d in exchange["deposit_addresses"]}
        assert members - {hot} <= deposits, name
        assert {truth["owners"][a] for a in members} == {name}
        for address in members:
            row = clusters[address]
            assert row["cluster_id"] == min(members)
            assert (row["label"], row["category"]) == (labels[hot], "exchange")
            assert row["cluster_size"] == str(len(members))
    for exit_ in truth["exits"]:
        hot = clusters[exit_["hot_wallet"]]
        assert (hot["cluster_id"], hot["label"]) == (exit_["cluster_id"], exit_["label"])
        for address in exit_["thief_deposit_addresses"]:
            assert clusters[address]["cluster_id"] == exit_["cluster_id"], address


def test_deposit_addresses_are_exchange_endpoints(run: Path, truth: dict[str, Any]) -> None:
    """The trace stops at the thief's deposit addresses: no sweep, no hot wallet is reached."""
    exposure = {r["address"]: r for r in read_csv(run / "exposure.csv")}
    endpoints: set[str] = set()
    for exit_ in truth["exits"]:
        by_address = exit_["at_deposit_addresses_by_address"]
        assert set(by_address) == set(exit_["thief_deposit_addresses"])
        for address, amounts in by_address.items():
            assert exposure[address]["category"] == "exchange"
            assert exposure[address]["label"] == exit_["label"]
            assert exposure[address]["tainted_value"] == amounts["haircut"]["satoshi"]
        endpoints |= set(by_address)
    flows = read_csv(run / "flows.csv")
    assert endpoints <= {r["to_address"] for r in flows}
    assert not [r for r in flows if r["from_address"] in endpoints]
    sweeps = {s["transaction_hash"] for e in truth["exits"] for s in e["sweeps"]}
    hot_wallets = {e["hot_wallet"] for e in truth["exchanges"].values()}
    assert not [r for r in flows if r["transaction_hash"] in sweeps]
    assert not hot_wallets & {r["to_address"] for r in flows}
