"""fixtures/evm-exchange-hack: the committed files agree with each other, with anvil, with tracer.

The fast tests read only the committed files: the ground truth is recomputed here from the
ethereum-etl files (independently of generate.py) and compared. The anvil tests load the
committed state dump and regenerate the whole fixture, which must come out byte for byte.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from tracer.addresses import normalize
from tracer.casefile import load_case
from tracer.devnode import start_anvil
from tracer.ingest.files import ingest_files, read_files
from tracer.ingest.rpc import ingest_rpc
from tracer.schema import CATEGORIES
from tracer.store import Store

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "evm-exchange-hack"
DATA = CASE / "data"
OUTPUTS = (
    "anvil-state.json",
    "seeds.csv",
    "labels.csv",
    "ground_truth.json",
    "README.md",
    "data/blocks.json",
    "data/transactions.json",
    "data/logs.json",
    "data/token_transfers.json",
    "data/traces.json",
    "data/contracts.json",
    "data/tokens.json",
)
ETHER = 10**18


def load_generator() -> ModuleType:
    """fixtures/evm-exchange-hack/generate.py as a module (its folder name has a dash)."""
    name = "evm_exchange_hack_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CASE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def rows(name: str) -> list[dict[str, Any]]:
    with (DATA / f"{name}.json").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@dataclass(frozen=True)
class Move:
    tx_hash: str
    from_address: str
    to_address: str
    asset: str
    value: int


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return dict(json.loads((CASE / "ground_truth.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def moves() -> list[Move]:
    """Every movement of value in the files: successful transactions, non-reverted calls, logs."""
    transactions = rows("transactions")
    ok = {t["hash"] for t in transactions if t["receipt_status"] == 1}
    out = [
        Move(t["hash"], t["from_address"], t["to_address"], "ETH", t["value"])
        for t in transactions
        if t["hash"] in ok and t["value"] > 0
    ]
    out += [
        Move(t["transaction_hash"], t["from_address"], t["to_address"], "ETH", t["value"])
        for t in rows("traces")
        if t["trace_address"]
        and t["status"] == 1
        and t["value"] > 0
        and t["transaction_hash"] in ok
    ]
    out += [
        Move(t["transaction_hash"], t["from_address"], t["to_address"], "VUSD", t["value"])
        for t in rows("token_transfers")
        if t["transaction_hash"] in ok
    ]
    return out


def legs(entries: list[dict[str, Any]]) -> Counter[Move]:
    return Counter(
        Move(e["transaction_hash"], e["from_address"], e["to_address"], e["asset"], int(e["value"]))
        for e in entries
    )


def test_fixture_is_small_and_has_the_promised_shape(truth: dict[str, Any]) -> None:
    total = sum((CASE / name).stat().st_size for name in OUTPUTS)
    data = sum((CASE / name).stat().st_size for name in OUTPUTS if name.startswith("data/"))
    assert data < 2_000_000
    assert total < 3_000_000
    transactions = rows("transactions")
    assert 200 <= len(transactions) <= 600
    assert truth["blocks"] == [0, len(rows("blocks")) - 1]
    users = set(truth["ordinary_users"])
    assert not users & {a["address"] for a in truth["attacker_addresses"]}
    (theft,) = {t["block_number"] for t in truth["theft"]["transactions"]}
    active = {t["from_address"] for t in transactions} & users
    before = {t["from_address"] for t in transactions if t["block_number"] < theft} & users
    after = {t["from_address"] for t in transactions if t["block_number"] > theft} & users
    assert len(active) > 30
    assert len(before) >= 10
    assert len(after) >= 20


def test_theft_is_the_seeds_inflow(truth: dict[str, Any], moves: list[Move]) -> None:
    seeds = {
        normalize(r["address"], "ethereum")
        for r in csv.DictReader((CASE / "seeds.csv").read_text().splitlines())
    }
    assert seeds == set(truth["seeds"])
    victim = truth["theft"]["victim_hot_wallet"]
    stolen = [m for m in moves if m.from_address == victim and m.to_address in seeds]
    assert sum(m.value for m in stolen) == int(truth["theft"]["total_wei"]) == 300 * ETHER
    assert legs(truth["theft"]["transactions"]) == Counter(stolen)


def test_every_exit_total_is_the_sum_of_movements_in_the_files(
    truth: dict[str, Any], moves: list[Move]
) -> None:
    attacker = {a["address"] for a in truth["attacker_addresses"]}
    present = Counter(moves)
    exits = {(e["exit"], e["asset"]): e for e in truth["exits"]}
    assert set(exits) == {
        ("NorthPeak", "ETH"),
        ("Coinvale", "ETH"),
        ("Coinvale", "VUSD"),
        ("Mixer", "ETH"),
        ("BridgeLock", "ETH"),
        ("BridgeLock", "VUSD"),
    }
    for exit_ in truth["exits"]:
        expected_key = "ETH" if exit_["asset"] == "ETH" else truth["contracts"]["Token"]
        assert exit_["asset_in_transfers"] == expected_key
        deposits = legs(exit_["deposits"])
        assert deposits <= present, exit_["exit"]
        assert all(m.from_address in attacker for m in deposits)
        targets = set(exit_.get("via_deposit_addresses", [exit_["address"]]))
        into = [
            m
            for m in moves
            if m.asset == exit_["asset"] and m.from_address in attacker and m.to_address in targets
        ]
        assert Counter(into) == deposits, exit_["exit"]
        received = sum(m.value for m in into)
        assert received == int(exit_.get("deposited_wei", exit_["traceable_wei"]))
        if "sweeps" in exit_:
            sweeps = legs(exit_["sweeps"])
            assert sweeps <= present
            assert {m.to_address for m in sweeps} == {exit_["address"]}
            swept = sum(m.value for m in sweeps)
            gas = 21_000 * 2 * 10**9 if exit_["asset"] == "ETH" else 0
            assert swept == received - gas * len(sweeps)
    assert int(exits[("Mixer", "ETH")]["traceable_wei"]) == 12 * ETHER
    assert int(exits[("BridgeLock", "ETH")]["traceable_wei"]) == 95 * ETHER
    assert int(exits[("NorthPeak", "ETH")]["traceable_wei"]) == 62 * ETHER
    assert int(exits[("NorthPeak", "ETH")]["after_mixer_wei"]) == 2_900 * 10**15
    assert int(exits[("Coinvale", "ETH")]["traceable_wei"]) == 17 * ETHER
    assert (
        exits[("Coinvale", "VUSD")]["traceable_wei"]
        == exits[("BridgeLock", "VUSD")]["traceable_wei"]
    )


def test_attacker_ether_is_conserved(truth: dict[str, Any], moves: list[Move]) -> None:
    attacker = {a["address"] for a in truth["attacker_addresses"]}
    inflow = [
        m
        for m in moves
        if m.asset == "ETH" and m.to_address in attacker and m.from_address not in attacker
    ]
    outflow = [
        m
        for m in moves
        if m.asset == "ETH" and m.from_address in attacker and m.to_address not in attacker
    ]
    fees = sum(
        t["receipt_gas_used"] * t["receipt_effective_gas_price"]
        for t in rows("transactions")
        if t["from_address"] in attacker
    )
    held = sum(int(h["ETH"]) for h in truth["attacker_held_at_end"].values())
    assert sum(m.value for m in inflow) == sum(m.value for m in outflow) + fees + held
    assert str(fees) == truth["attacker_fees_wei"]
    mixer = truth["contracts"]["Mixer"]
    assert {m.from_address for m in inflow} == {truth["theft"]["victim_hot_wallet"], mixer}
    assert sum(m.value for m in inflow if m.from_address == mixer) == int(
        truth["mixer_withdrawals_to_attacker"]["total_wei"]
    )


def test_the_failed_transaction_moves_nothing(truth: dict[str, Any], moves: list[Move]) -> None:
    failed = truth["failed_transactions"]
    assert len(failed) == 1
    (tx,) = [t for t in rows("transactions") if t["hash"] == failed[0]["transaction_hash"]]
    assert tx["receipt_status"] == 0
    assert tx["value"] == 10 * ETHER
    assert tx["from_address"] in truth["seeds"]
    assert not [m for m in moves if m.tx_hash == tx["hash"]]
    traces = [t for t in rows("traces") if t["transaction_hash"] == tx["hash"]]
    assert traces
    assert all(t["status"] == 0 for t in traces)
    assert traces[0]["error"]


def test_seeds_and_exits_appear_in_the_transfers(truth: dict[str, Any], moves: list[Move]) -> None:
    seen = {m.from_address for m in moves} | {m.to_address for m in moves}
    assert set(truth["seeds"]) <= seen
    for exit_ in truth["exits"]:
        assert exit_["address"] in seen
        assert set(exit_.get("via_deposit_addresses", [])) <= seen


def test_labels_name_services_but_no_deposit_address(truth: dict[str, Any]) -> None:
    labels = list(csv.DictReader((CASE / "labels.csv").read_text().splitlines()))
    assert {r["category"] for r in labels} <= set(CATEGORIES)
    labelled = {normalize(r["address"], "ethereum"): r["category"] for r in labels}
    deposits = {d["address"] for ex in truth["exchanges"].values() for d in ex["deposit_addresses"]}
    assert not deposits & set(labelled)
    hot = {ex["hot_wallet"] for ex in truth["exchanges"].values()}
    assert {a for a, c in labelled.items() if c == "exchange"} == hot
    contracts = truth["contracts"]
    assert labelled[contracts["Mixer"]] == "mixing_service"
    assert labelled[contracts["BridgeLock"]] == "defi_bridge"
    assert labelled[contracts["SwapPool"]] == "defi_dex"
    reused = [
        d
        for ex in truth["exchanges"].values()
        for d in ex["deposit_addresses"]
        if d["attacker_account"]
    ]
    assert len(reused) == 6


def test_case_file_points_at_the_fixture() -> None:
    case = load_case(CASE / "case.toml")
    assert case.data.files == (DATA.resolve(),)
    assert case.data.format == "ethereum-etl"
    assert case.seed_files == ((CASE / "seeds.csv").resolve(),)
    assert case.heuristics == ("deposit_address_reuse", "gas_funding", "self_authorization")
    assert case.trace.taint == "haircut"
    assert set(case.trace.stop_at) == {
        "exchange",
        "deposit_wallet",
        "mixing_service",
        "defi_bridge",
    }


def test_tracer_reads_the_same_exits_from_the_files(truth: dict[str, Any]) -> None:
    transfers = read_files([DATA], fmt="ethereum-etl")["transfers"]
    attacker = {a["address"] for a in truth["attacker_addresses"]}
    for exit_ in truth["exits"]:
        asset = exit_["asset_in_transfers"]
        targets = set(exit_.get("via_deposit_addresses", [exit_["address"]]))
        values = transfers.filter(
            transfers["from_address"].is_in(list(attacker))
            & transfers["to_address"].is_in(list(targets))
            & (transfers["asset"] == asset)
        )["value"]
        assert sum(int(v) for v in values) == int(
            exit_.get("deposited_wei", exit_["traceable_wei"])
        )


@pytest.fixture(scope="module")
def loaded_node() -> Iterator[Any]:
    node = start_anvil(args=["--load-state", str(CASE / "anvil-state.json"), "--no-mining"])
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.anvil
def test_anvil_state_serves_the_chain_of_the_files(loaded_node: Any, truth: dict[str, Any]) -> None:
    generator = load_generator()
    assert int(loaded_node.rpc("eth_blockNumber"), 16) == truth["blocks"][1]
    tables = generator.export_chain(loaded_node, truth["blocks"][1])
    for name, exported in tables.items():
        assert exported == rows(name), name


@pytest.mark.anvil
def test_files_and_rpc_give_tracer_the_same_tables(
    loaded_node: Any, truth: dict[str, Any], tmp_path: Path
) -> None:
    """The two sources of the case (make demo's files, the RPC variant) are the same chain."""
    from_files = Store(tmp_path / "files")
    ingest_files(from_files, [DATA], fmt="ethereum-etl")
    from_rpc = Store(tmp_path / "rpc")
    last = truth["blocks"][1]
    ingest_rpc(
        from_rpc, loaded_node.url, from_block=0, to_block=last, confirmations=0, progress=False
    )
    for table in ("blocks", "transactions", "transfers", "approvals", "contracts", "tokens"):
        # Address ids number addresses in the order each store first wrote them: not compared.
        files_df = from_files.scan(table).drop("from_id", "to_id", strict=False).collect()
        rpc_df = from_rpc.scan(table).drop("from_id", "to_id", strict=False).collect()
        assert files_df.height > 0, table
        assert_frame_equal(files_df, rpc_df, check_row_order=False)


@pytest.mark.anvil
def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    generator = load_generator()
    generator.generate(tmp_path)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (CASE / name).read_bytes(), name


@pytest.mark.slow
def test_committed_artifacts_are_the_compiled_sources(tmp_path: Path) -> None:
    generator = load_generator()
    if shutil.which("node") is None or not generator.SOLC.is_dir():
        pytest.skip("solcjs is not installed: npm install --prefix .tools solc@0.8.28")
    target = tmp_path / "artifacts.json"
    generator.compile_contracts(target)
    assert target.read_bytes() == generator.ARTIFACTS.read_bytes()
