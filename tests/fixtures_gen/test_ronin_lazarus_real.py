"""fixtures/ronin-lazarus-real: real data copied faithfully, and what tracer finds on it.

Sources (see ../shared/data/SOURCES.md): the Dune export of DspytDAO (dspytdao/Eth_Data
@3c66dcba, MIT) in txdata/dspytdao_lazarus_dune; the OFAC SDN Ethereum addresses with listing
dates (ultrasoundmoney/ofac-ethereum-addresses @4ddafea3, MIT) and the DPRK attribution list in
seeds/; GraphSense TagPacks (graphsense/graphsense-tagpacks @29ff93c8, MIT) in labels/.

The committed files must be exactly what ``generate.py`` builds from the shared data; the case
run must find what the case's README.md says, amount for amount.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

import tracer.trace.expand
from tracer.case import investigate
from tracer.casefile import load_case
from tracer.ingest.labels import read_labels
from tracer.ingest.mapped import read as read_mapped
from tracer.ingest.seeds import read_seeds
from tracer.trace import TraceSpec, trace_store

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "ronin-lazarus-real"
COMMITTED = (
    "data/LazarusTabularTxs1322519.csv",
    "data/LICENSE",
    "seeds.csv",
    "labels.csv",
    "labels.LICENSE",
)
EXPLOITER = "0x098b716b8aaf21512996dc57eb0615e2383e2f96"
BINANCE = "0x4976a4a02f38326660d17bf34b431dc6e2eb2327"
# The addresses OFAC added to the LAZARUS GROUP entry after the exploiter, with their listing
# dates (ofac_eth_ultrasoundmoney_dated_incl_tornado_2024-08-20.csv lines 26-32) and what the
# exploiter paid each (README.md, "Hop 1").
LATER_DESIGNATED = {
    "0x3cffd56b47b7b41c56258d9c7731abadc360e073": ("2022-04-22", "10129.935"),
    "0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b": ("2022-04-22", "18256.81"),
    "0x53b6936513e738f44fb50d2b9476730c0ab3bfc1": ("2022-04-22", "21629.48215"),
    "0x35fb6f6db4fb05e6a4ce86f2c93691425626d4b1": ("2022-05-06", "33568.152"),
    "0xf7b31119c2682c88d88d455dbb9d5932c65cf1be": ("2022-05-06", "25127.5192"),
    "0x3e37627deaa754090fbfbb8bd226c1ce66d255e9": ("2022-05-06", "23528.8"),
    "0x08723392ed15743cc38513c4925f5e6be5c17243": ("2022-05-06", "12595.3"),
}
# README.md, "Hop 2": the three largest endpoints, exactly.
TOP_ENDPOINTS = [
    ("0x002c93452d54b6d64bfa9879fcab14a74f1bdd44", "8721.291398024255617681"),
    ("0x9e1e41985048c07a68a67f632f82799baaf903b1", "8506.399944187935097392"),
    ("0x99b6843f8410ee696b7487a5535dd5b0ca32a12d", "7009.499734499717548350"),
]
EXIT_CATEGORIES = ("exchange", "deposit_wallet", "mixing_service", "defi_bridge")
# Until tracer/trace/expand.py keys time by block_timestamp when block numbers are missing
# (``time_key``), the expansion stops at the seed: the Dune export has no block numbers.
NEEDS_TIME_KEY_FIX = pytest.mark.xfail(
    not hasattr(tracer.trace.expand, "time_key"),
    reason="trace time key is null without block numbers (tracer/trace/expand.py)",
    strict=True,
)


def wei(eth: str) -> int:
    """Whole ETH as written -> wei, exactly."""
    return int(Decimal(eth).scaleb(18))


def load_generator() -> ModuleType:
    """fixtures/ronin-lazarus-real/generate.py as a module (its folder name has dashes)."""
    name = "ronin_lazarus_real_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CASE / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The case, run once."""
    return investigate(CASE / "case.toml", out=tmp_path_factory.mktemp("ronin") / "out").out_dir


def read_out(run: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(run / name, infer_schema=False)


def trace_totals(run: Path) -> dict[str, Any]:
    totals: dict[str, Any] = json.loads((run / "trace.json").read_text())["totals"]
    return totals


# --- the copied data --------------------------------------------------------------------------


def test_committed_files_are_what_generate_builds(
    generator: ModuleType, shared_data: Path, tmp_path: Path
) -> None:
    generator.build(shared_data, tmp_path)
    for name in COMMITTED:
        assert (tmp_path / name).read_bytes() == (CASE / name).read_bytes(), name


def test_data_rows_are_the_ones_the_trace_follows(generator: ModuleType, shared_data: Path) -> None:
    source = shared_data / "txdata" / "dspytdao_lazarus_dune" / "LazarusTabularTxs1322519.csv"
    header, rows = generator.read_dune(source)
    followed = generator.followed_addresses(rows, [EXPLOITER], max_hops=generator.MAX_HOPS)
    assert set(LATER_DESIGNATED) | {EXPLOITER} <= followed
    selected = generator.select_rows(rows, [EXPLOITER], max_hops=generator.MAX_HOPS)
    assert len(selected) == len(rows) == 436  # every row touches a followed address
    copied = (CASE / "data" / "LazarusTabularTxs1322519.csv").read_text(encoding="utf-8")
    assert copied == header + "".join(r.line for r in selected)
    assert load_case(CASE / "case.toml").trace.max_hops == generator.MAX_HOPS


def test_case_reads_the_export_through_the_column_map() -> None:
    case = load_case(CASE / "case.toml")
    assert case.data.format == "mapped"
    transfers = read_mapped(
        [CASE / "data" / "LazarusTabularTxs1322519.csv"],
        chain=case.chain,
        options=case.data.column_map,
    )["transfers"]
    assert transfers.height == 436
    assert transfers["block_number"].null_count() == 436  # Dune exported block times only
    assert transfers["transaction_hash"].str.starts_with("synthetic:").all()
    out = transfers.filter(pl.col("from_address") == EXPLOITER)
    assert sum(int(v) for v in out["value"]) == wei("182163.95603")
    # Dune's doubles as written, to the wei: 0.002120804918497651 ETH
    assert "2120804918497651" in transfers["value"].to_list()


def test_seed_is_the_address_ofac_listed_on_2022_04_14() -> None:
    seeds = read_seeds(CASE / "seeds.csv")
    assert seeds.select("chain", "address").rows() == [("ethereum", EXPLOITER)]
    row = seeds.row(0, named=True)
    assert str(row["source_date"]) == "2022-04-14"
    assert row["attribution"].startswith("LAZARUS GROUP")
    assert "data.csv line 25" in row["source"]


def test_labels_load_with_their_tagpack_categories() -> None:
    labels = read_labels(CASE / "labels.csv")
    category = {
        (a, lbl): c for a, lbl, c in labels.select("address", "label", "category").iter_rows()
    }
    assert category[(BINANCE, "binance reserve wallets ETH")] == "exchange"
    assert category[(EXPLOITER, "Ronin bridge exploiter")] == "perpetrator"
    assert category[(EXPLOITER, "Lazarus group")] == "sanction"
    tornado = labels.filter(pl.col("source").str.contains("tornado_cash.yaml"))
    assert tornado.height == 38
    assert tornado["category"].unique().to_list() == ["mixing_service"]
    for address in LATER_DESIGNATED:
        assert category[(address, "Asset listed under US Treasury OFAC Sanctions List")] == "other"


# --- what the run finds (README.md) -----------------------------------------------------------


@NEEDS_TIME_KEY_FIX
def test_run_reaches_the_seven_addresses_ofac_designated_later(run: Path) -> None:
    flows = read_out(run, "flows.csv").filter(pl.col("from_address") == EXPLOITER)
    paid = {
        to: int(v)
        for to, v in flows.filter(pl.col("to_address").is_in(list(LATER_DESIGNATED)))
        .select("to_address", "tainted_value")
        .iter_rows()
    }
    assert paid == {a: wei(eth) for a, (_, eth) in LATER_DESIGNATED.items()}
    nodes = read_out(run, "nodes.csv").filter(pl.col("address").is_in(list(LATER_DESIGNATED)))
    assert nodes["min_hop"].to_list() == ["1"] * 7


@NEEDS_TIME_KEY_FIX
def test_run_totals_and_endpoints_match_the_readme(run: Path) -> None:
    eth = trace_totals(run)["haircut"]["ETH"]
    assert int(eth["seeded"]) == wei("182161.95614")
    assert int(eth["endpoints"]) == wei("144695.854768293734618586")
    assert int(eth["held"]) == wei("37466.101371706265381413")
    assert eth["untraced"] == "0"
    exposure = read_out(run, "exposure.csv")
    assert exposure.height == 36
    assert exposure["min_hop"].unique().to_list() == ["2"]
    top = exposure.select("address", "tainted_value").head(3).rows()
    assert top == [(a, str(wei(v))) for a, v in TOP_ENDPOINTS]


@NEEDS_TIME_KEY_FIX
def test_run_reaches_no_labelled_exit(run: Path) -> None:
    # The export holds only transfers touching the OFAC addresses: no Tornado Cash, no exchange.
    exposure = read_out(run, "exposure.csv")
    assert exposure.height == 36
    assert exposure["category"].is_null().all()
    nodes = read_out(run, "nodes.csv")
    assert not nodes["category"].is_in(EXIT_CATEGORIES).any()
    tornado = read_labels(CASE / "labels.csv").filter(pl.col("category") == "mixing_service")
    assert not nodes["address"].is_in(tornado["address"].to_list()).any()


@NEEDS_TIME_KEY_FIX
def test_backward_from_the_exploiter_finds_binance_and_the_missing_bridge_ether(
    run: Path,
) -> None:
    spec = TraceSpec(
        seeds=(EXPLOITER,), direction="backward", max_hops=1, min_value="0.01", chain="ethereum"
    )
    result = trace_store(run / "data", spec)
    totals = result.taints["haircut"].totals()["ETH"]
    assert totals["endpoints"] == wei("8565.779632405929371514")
    # What the exploiter sent with no sender in the export: the bridge's internal transfer.
    assert totals["held"] == wei("173598.053057732402351950")
    binance = result.exposure.filter(pl.col("address") == BINANCE).row(0, named=True)
    assert binance["category"] == "exchange"
    assert int(binance["tainted_value"]) == wei("1.0569")
