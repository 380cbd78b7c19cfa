"""The fixture cases end to end: golden outputs, byte-identical re-runs, verify, files vs RPC.

Each ``fixtures/<case>/case.toml`` runs through ``tracer investigate``; its outputs must equal
``fixtures/<case>/expected/`` byte for byte (rewrite them deliberately with
``pytest tests/test_fixtures.py --update-golden`` and review the diff). The generated cases'
own tests (``tests/fixtures_gen/``) check their ground truth; here the evm-exchange-hack case
also runs from a node (anvil loading the case's state dump), which must give the same outputs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from tests.tracer.report_html.test_report_browser import Visit, open_report
from tracer.case import investigate, verify
from tracer.cli import cli
from tracer.devnode import DevNode, start_anvil
from tracer.ingest.crawl import crawled_addresses
from tracer.ingest.onchain import check_flows
from tracer.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES = sorted(p.parent.name for p in FIXTURES.glob("*/case.toml"))

#: Outputs kept as golden files: the tables an analyst reads and the graph. report.html,
#: stix.json and the GraphML/GEXF views are derived from the same tables; the re-run test
#: checks them byte for byte. manifest.json names tool versions, so it is not golden.
GOLDEN = (
    "exposure.csv",
    "flows.csv",
    "paths.csv",
    "held.csv",
    "nodes.csv",
    "clusters.csv",
    "links.csv",
    "graph.json",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case run once into a temporary output directory."""
    base = tmp_path_factory.mktemp("cases")
    return {
        name: investigate(FIXTURES / name / "case.toml", out=base / name).out_dir for name in CASES
    }


def test_every_case_has_its_parts() -> None:
    assert {"evm-exchange-hack", "peel-chain-demo", "ronin-lazarus-real"} <= set(CASES)
    for name in CASES:
        case = FIXTURES / name
        assert (case / "README.md").is_file(), name
        assert (case / "expected").is_dir(), f"{name}: run pytest with --update-golden"


@pytest.mark.parametrize("name", CASES)
def test_outputs_equal_the_golden_files(
    name: str, runs: dict[str, Path], update_golden: bool
) -> None:
    expected = FIXTURES / name / "expected"
    if update_golden:
        shutil.rmtree(expected, ignore_errors=True)
        expected.mkdir()
        for output in GOLDEN:
            shutil.copyfile(runs[name] / output, expected / output)
    for output in GOLDEN:
        got = (runs[name] / output).read_bytes()
        assert got == (expected / output).read_bytes(), f"{name}/{output} differs from golden"


@pytest.mark.parametrize("name", CASES)
def test_a_second_run_is_byte_identical(name: str, runs: dict[str, Path]) -> None:
    again = investigate(FIXTURES / name / "case.toml", out=runs[name].parent / f"{name}-again")
    first = json.loads((runs[name] / "manifest.json").read_text())["outputs"]
    assert again.outputs == first
    for output in first:
        assert (again.out_dir / output).read_bytes() == (runs[name] / output).read_bytes()


def test_verify_accepts_a_run_and_names_what_changed(tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(FIXTURES / "peel-chain-demo", case, ignore=shutil.ignore_patterns("out"))
    out = tmp_path / "out"
    investigate(case / "case.toml", out=out)
    assert verify(out).ok

    runner = CliRunner()
    result = runner.invoke(cli, ["verify", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verified:")

    exposure = out / "exposure.csv"
    exposure.write_text(exposure.read_text().replace(",18,", ",18,1", 1))
    report = verify(out)
    assert report.changed_outputs == ["exposure.csv"]
    assert report.rerun_differs == []

    labels = case / "labels.csv"
    labels.write_text(labels.read_text() + "\n")
    report = verify(out)
    assert report.changed_inputs == ["labels.csv"]
    result = runner.invoke(cli, ["verify", str(out)])
    assert result.exit_code == 1
    assert "changed input: labels.csv" in result.output
    assert "changed output: exposure.csv" in result.output


def test_verify_follows_a_moved_output_directory(tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(FIXTURES / "peel-chain-demo", case, ignore=shutil.ignore_patterns("out"))
    investigate(case / "case.toml", out=case / "out")
    moved = tmp_path / "handed-over" / "out"
    shutil.move(case / "out", moved)

    runner = CliRunner()
    lost = runner.invoke(cli, ["verify", str(moved)])
    assert lost.exit_code == 2
    assert "manifest.json, field 'case.file'" in lost.output
    assert "pass --case CASE.toml" in lost.output

    found = runner.invoke(cli, ["verify", str(moved), "--case", str(case / "case.toml")])
    assert found.exit_code == 0, found.output
    assert found.output.startswith("verified:")

    # The case file given is an input like the others: another one is named as changed.
    other = tmp_path / "other" / "case.toml"
    shutil.copytree(case, other.parent, ignore=shutil.ignore_patterns("out"))
    other.write_text(other.read_text() + "\n")
    assert verify(moved, case_file=other).changed_inputs == ["case.toml"]


@pytest.mark.browser
@pytest.mark.parametrize("name", CASES)
def test_each_report_opens_offline_in_chromium(
    name: str,
    runs: dict[str, Path],
    browser: Any,
) -> None:
    """Network off, no request, no console error, every node and edge of graph.json drawn."""
    graph = json.loads((runs[name] / "graph.json").read_text())
    visit = Visit()
    page = open_report(browser, runs[name] / "report.html", visit)
    counts = page.evaluate(
        "() => ({nodes: window.tracerReport.data.nodes.length,"
        " edges: window.tracerReport.data.edges.length})"
    )
    page.screenshot(path=str(runs[name] / "report.png"))
    page.context.close()
    assert visit.requests == []
    assert visit.errors == []
    assert visit.dialogs == []
    assert counts == {"nodes": len(graph["nodes"]), "edges": len(graph["edges"])}


# --- the evm-exchange-hack case from a node --------------------------------------------------

EVM = FIXTURES / "evm-exchange-hack"


@pytest.fixture(scope="module")
def node() -> Iterator[DevNode]:
    started = start_anvil(args=["--load-state", str(EVM / "anvil-state.json"), "--no-mining"])
    try:
        yield started
    finally:
        started.stop()


def rpc_case(tmp_path: Path, *, fetch: str) -> Path:
    """The evm case with its [data] table pointed at a node instead of the files."""
    truth: dict[str, Any] = json.loads((EVM / "ground_truth.json").read_text())
    text = (EVM / "case.toml").read_text()
    head, rest = text.split("[data]", 1)
    rest = rest.split("\n[", 1)[1]
    data = (
        "[data]\n"
        'rpc_url = "env:TRACER_TEST_NODE"\n'
        f"from_block = {truth['blocks'][0]}\n"
        f"to_block = {truth['blocks'][1]}\n"
        f'fetch = "{fetch}"\n'
        f'cache = "{(tmp_path / "cache").as_posix()}"\n'
    )
    for name in ("seeds.csv", "labels.csv"):
        shutil.copyfile(EVM / name, tmp_path / name)
    path = tmp_path / "case.toml"
    path.write_text(head + data + "\n[" + rest)
    return path


@pytest.mark.anvil
def test_the_rpc_run_equals_the_file_run(
    node: DevNode, runs: dict[str, Path], tmp_path: Path
) -> None:
    case = rpc_case(tmp_path, fetch="range")
    env = {"TRACER_TEST_NODE": node.url}
    result = investigate(case, out=tmp_path / "out", environ=env)
    files = json.loads((runs["evm-exchange-hack"] / "manifest.json").read_text())["outputs"]
    differ = sorted(name for name in files if result.outputs.get(name) != files[name])
    assert differ == []
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["chain"]["rpc_url"] == "env:TRACER_TEST_NODE"  # as written, never the URL
    assert manifest["chain"]["chain_id"] == 31337
    assert verify(result.out_dir, environ=env).ok  # every flow checked on the node

    # A flow the chain does not show is named: a changed amount, a made-up transaction.
    flows = pl.read_csv(result.out_dir / "flows.csv", infer_schema=False)
    assert {"native", "token"} <= set(flows["kind"])  # the swap's VUSD is followed
    first = flows.row(0, named=True)
    forged = pl.concat(
        [
            flows.head(1).with_columns(pl.lit(str(int(first["value"]) + 1)).alias("value")),
            flows.head(1).with_columns(pl.lit("0x" + "ab" * 32).alias("transaction_hash")),
        ]
    )
    # Every token movement of the data (the trace's VUSD flows among them) is checked against
    # the receipt's Transfer log at the row's log index, every internal one against the trace.
    tokens = (
        pl.read_parquet(result.out_dir / "data" / "transfers" / "*.parquet")
        .filter(pl.col("kind").is_in(["token", "internal"]))
        .select(pl.all().cast(pl.String))
    )
    assert tokens.height > 0
    assert check_flows(node.url, tokens) == []
    problems = check_flows(node.url, forged)
    assert len(problems) == 2
    assert "the chain shows" in problems[0]
    assert str(int(first["value"]) + 1) in problems[0]
    assert problems[1].endswith("the node has no such transaction")

    # A second run answers from the cache: the node is no longer needed.
    again = investigate(
        case, out=tmp_path / "again", environ={"TRACER_TEST_NODE": "http://127.0.0.1:9"}
    )
    assert again.outputs == result.outputs


@pytest.mark.anvil
def test_a_crawling_rpc_case_reaches_the_same_exits(
    node: DevNode, runs: dict[str, Path], tmp_path: Path
) -> None:
    case = rpc_case(tmp_path, fetch="crawl")
    result = investigate(case, out=tmp_path / "out", environ={"TRACER_TEST_NODE": node.url})
    files = (runs["evm-exchange-hack"] / "exposure.csv").read_text().splitlines()
    crawled = (result.out_dir / "exposure.csv").read_text().splitlines()
    # The same exits with the same amounts; cluster ids may differ (less data to cluster).
    assert [_exit(line) for line in crawled] == [_exit(line) for line in files]
    # The swap pool is crossed through the swap transaction to the wallet its VUSD went to,
    # and never fetched itself: a real pool's history is every trader's swaps. Nor are the
    # exchanges, the mixer and the bridge, where the trace stops; the deposit addresses the
    # clustering finds (no label: it finds them by their forwards) are.
    truth: dict[str, Any] = json.loads((EVM / "ground_truth.json").read_text())
    swap = truth["swaps"]["tokens_out"][0]
    lo, hi = truth["blocks"]
    cache = Store(tmp_path / "cache")
    fetched = crawled_addresses(cache, chain="ethereum", since_block=lo, until_block=hi)
    assert swap["to_address"] in fetched
    labelled = pl.read_csv(EVM / "labels.csv")["address"].str.to_lowercase().to_list()
    assert set(labelled).isdisjoint(fetched)
    deposits = pl.read_csv(result.out_dir / "exposure.csv").filter(
        pl.col("category") == "deposit_wallet"
    )
    assert deposits.height > 0
    assert set(deposits["address"].to_list()) <= fetched


def _exit(line: str) -> tuple[str, ...]:
    cells = line.split(",")
    return (cells[1], *cells[3:8])


@pytest.mark.anvil
def test_trace_crawls_a_node_then_answers_from_the_cache(node: DevNode, tmp_path: Path) -> None:
    truth: dict[str, Any] = json.loads((EVM / "ground_truth.json").read_text())
    bridge = next(
        e for e in truth["exits"] if e["category"] == "defi_bridge" and e["asset"] == "ETH"
    )
    args = [
        "trace",
        "--rpc-url",
        node.url,
        "--seeds",
        str(EVM / "seeds.csv"),
        "--from-block",
        "0",
        "--to-block",
        str(truth["blocks"][1]),
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "out"),
    ]
    runner = CliRunner()
    labels = ["labels", str(EVM / "labels.csv"), "--data", str(tmp_path / "data")]
    assert runner.invoke(cli, labels).exit_code == 0
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "Crawled http://127.0.0.1:" in first.output
    exposure = (tmp_path / "out" / "exposure.csv").read_text().splitlines()
    row = next(
        line
        for line in exposure
        if line.startswith(f"ethereum,{bridge['address']},") and ",ETH,18," in line
    )
    assert f",ETH,18,{bridge['traceable_wei']}," in row
    again = runner.invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert " 0 RPC calls." in again.output


def test_evm_exits_per_taint_model_match_the_ground_truth(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Each exit of ground_truth.json receives its traceable amount, to the wei, per model.

    The attacker's wallets never mix in clean money, so all three models agree with the
    receipts. The swap pool (defi_dex) takes 25 stolen ETH and pays 44,686.711392 VUSD in the
    same transaction: followed through the swap, that VUSD is wholly tainted (all of the ETH
    paid in was), so every model finds the ground truth's two VUSD exits, Coinvale (through
    token-spender's transferFrom) and BridgeLock. The ETH the pool took is converted, not held,
    so the ordinary users the pool pays later carry none of it, and the mixer gets exactly the
    12 ETH the attacker deposited.
    """
    truth: dict[str, Any] = json.loads((EVM / "ground_truth.json").read_text())
    args = ["trace", "--data", str(runs["evm-exchange-hack"] / "data")]
    args += ["--max-hops", "10", "--min-value", "0.01", "--compare"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "swaps")])
    assert result.exit_code == 0, result.output
    reached = _reached(tmp_path / "swaps")
    token = {e["asset"]: e["asset_in_transfers"] for e in truth["exits"]}
    assert {e["asset"] for e in truth["exits"]} == {"ETH", "VUSD"}
    for exit_ in truth["exits"]:
        addresses = exit_.get("via_deposit_addresses", [exit_["address"]])
        for model, amounts in reached.items():
            got = sum(amounts.get((a, token[exit_["asset"]]), 0) for a in addresses)
            assert got == int(exit_["traceable_wei"]), (exit_["exit"], exit_["asset"], model)
    mixer = next(e for e in truth["exits"] if e["category"] == "mixing_service")
    assert int(mixer["traceable_wei"]) == 12 * 10**18
    trace_json = json.loads((tmp_path / "swaps" / "trace.json").read_text())
    for model, totals in trace_json["totals"].items():
        assert totals["ETH"]["swapped_out"] == truth["swaps"]["ether_in"][0]["value"], model
        assert totals[token["VUSD"]]["swapped_in"] == truth["swaps"]["tokens_out"][0]["value"]

    # Each asset on its own, the pool is an ordinary address holding the 25 stolen ETH and
    # paying ether to users, one of whom later puts 1 ETH in the mixer: poison counts that
    # whole deposit (13 ETH), haircut the pool's tainted share of it, fifo none (the pool paid
    # out older ether first); no VUSD is reached.
    result = CliRunner().invoke(cli, [*args, "--no-follow-swaps", "--out", str(tmp_path / "off")])
    assert result.exit_code == 0, result.output
    alone = _reached(tmp_path / "off")
    at_mixer = {model: amounts[(mixer["address"], "ETH")] for model, amounts in alone.items()}
    assert at_mixer["fifo"] == 12 * 10**18
    assert at_mixer["poison"] == 13 * 10**18
    assert 12 * 10**18 < at_mixer["haircut"] < 13 * 10**18
    assert not [key for amounts in alone.values() for key in amounts if key[1] == token["VUSD"]]


def _reached(out: Path) -> dict[str, dict[tuple[str, str], int]]:
    """Model -> (endpoint, asset) -> taint received, from a trace's compare.csv."""
    compare = pl.read_csv(out / "compare.csv", infer_schema=False)
    return {
        model: {
            (row["address"], row["asset"]): int(row[model])
            for row in compare.iter_rows(named=True)
            if int(row[model])
        }
        for model in ("poison", "haircut", "fifo")
    }
