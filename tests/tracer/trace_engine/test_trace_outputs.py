"""The files a trace writes: fixed columns, sorted rows, identical bytes on every run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from click.testing import CliRunner

from tests.tracer.trace_engine.trace_tables import labels_frame, seeds_frame, transfers_frame
from tracer.cli import cli
from tracer.schema import EXPOSURE, FLOWS, HELD, NODES, PATHS, TOKENS
from tracer.store import Store
from tracer.trace import TraceInputs, TraceSpec, run_trace, trace_store, write_trace_outputs

S = "0x" + "5" * 40
A = "0x" + "a" * 40
B = "0x" + "b" * 40
C = "0x" + "c" * 40
X = "0x" + "e" * 40
ROWS = [
    (S, A, 10, 1),
    (A, B, 4, 2),
    (C, A, 10, 3),
    (A, X, 8, 4),
    (B, X, 4, 5),
]


def _store(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    Store(data).commit(
        {
            "transfers": transfers_frame(ROWS),
            "labels": labels_frame({X: "exchange"}),
            "seeds": seeds_frame([(S, None)]),
        }
    )
    return data


def test_outputs_are_deterministic_and_complete(tmp_path: Path) -> None:
    data = _store(tmp_path)
    spec = TraceSpec(taint="haircut", compare=True)
    first = write_trace_outputs(trace_store(data, spec), tmp_path / "one")
    second = write_trace_outputs(trace_store(data, spec), tmp_path / "two")
    names = sorted(p.name for p in first)
    assert names == [
        "compare.csv",
        "exposure.csv",
        "flows.csv",
        "held.csv",
        "nodes.csv",
        "paths.csv",
        "trace.json",
    ]
    for a, b in zip(sorted(first), sorted(second), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not list((tmp_path / "one").glob(".*"))  # no temporary file left
    for name, schema in [
        ("flows", FLOWS),
        ("exposure", EXPOSURE),
        ("paths", PATHS),
        ("held", HELD),
        ("nodes", NODES),
    ]:
        header = (tmp_path / "one" / f"{name}.csv").read_text().splitlines()[0]
        assert header.split(",") == list(schema), name
    exposure = pl.read_csv(tmp_path / "one" / "exposure.csv", infer_schema=False)
    assert exposure.select("address", "tainted_value", "paths").rows() == [(X, "7", "2")]
    manifest = json.loads((tmp_path / "one" / "trace.json").read_text())
    assert manifest["seeded"] == {"ETH": "10"}
    assert manifest["seeds"] == [{"address": S, "transaction_hash": None}]
    assert manifest["parameters"]["taint"] == "haircut"
    assert manifest["totals"]["fifo"]["ETH"]["endpoints"] == "10"
    assert manifest["totals"]["haircut"]["ETH"]["held"] == "3"
    paths = pl.read_csv(tmp_path / "one" / "paths.csv", infer_schema=False)
    assert paths.select("rank", "tainted_value", "addresses", "transaction_hashes").rows() == [
        # haircut: S>A>B>X carries at most min(10, 4, 4) = 4; S>A>X at most min(10, 3) = 3
        ("1", "4", f"{S}>{A}>{B}>{X}", "0xt0000>0xt0001>0xt0004"),
        ("2", "3", f"{S}>{A}>{X}", "0xt0000>0xt0003"),
    ]
    held = pl.read_csv(tmp_path / "one" / "held.csv", infer_schema=False)
    assert held.select("address", "tainted_value", "last_block_number").rows() == [(A, "3", "4")]


def test_rewriting_without_compare_removes_a_stale_compare(tmp_path: Path) -> None:
    data = _store(tmp_path)
    out = tmp_path / "out"
    write_trace_outputs(trace_store(data, TraceSpec(compare=True)), out)
    assert (out / "compare.csv").exists()
    write_trace_outputs(trace_store(data, TraceSpec()), out)
    assert not (out / "compare.csv").exists()


def test_inputs_from_frames_match_the_store(tmp_path: Path) -> None:
    data = _store(tmp_path)
    frames = TraceInputs.from_frames(
        {"transfers": transfers_frame(ROWS), "labels": labels_frame({X: "exchange"})}
    )
    direct = run_trace(frames, TraceSpec(seeds=(S,)))
    stored = trace_store(data, TraceSpec())
    assert direct.exposure.equals(stored.exposure)
    assert direct.flows.equals(stored.flows)


def test_cli_trace_prints_a_summary_and_writes_tables(tmp_path: Path) -> None:
    data = _store(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["trace", "--data", str(data), "--seed", S, "--compare", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Seeded 10 ETH." in result.output
    assert "haircut  endpoints 7 | held 3" in result.output
    assert "poison   endpoints 12" in result.output
    assert f"70.00%  7 ETH  {X}  exchange {X}  (hop 2)" in result.output
    assert (out / "exposure.csv").exists()
    assert (out / "compare.csv").exists()


def test_cli_stop_at_none_follows_through_exchanges(tmp_path: Path) -> None:
    data = _store(tmp_path)
    out = tmp_path / "out"
    args = ["trace", "--data", str(data), "--stop-at", "none", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "No endpoint reached." in result.output
    held = pl.read_csv(out / "held.csv", infer_schema=False)
    assert dict(held.select("address", "tainted_value").iter_rows()) == {A: "3", X: "7"}


def test_trace_json_names_the_traced_tokens_by_their_symbols(tmp_path: Path) -> None:
    token, other = "0x" + "70" * 20, "0x" + "71" * 20
    rows: list[tuple[Any, ...] | dict[str, Any]] = [
        {"from": S, "to": A, "value": 5, "block": 1, "kind": "token", "asset": token},
        {"from": C, "to": B, "value": 5, "block": 2, "kind": "token", "asset": other},
        (S, X, 1, 3),
    ]
    tokens = pl.DataFrame(
        {
            "chain": ["ethereum", "ethereum", "polygon"],
            "token_address": [token, other, token],
            "symbol": ["VUSD", "OTHER", "WRONG"],
            "name": ["Victim USD", "Other", "Polygon's"],
            "decimals": [6, 6, 6],
            "token_standard": ["erc20"] * 3,
        },
        schema=TOKENS,
    )
    data = tmp_path / "data"
    Store(data).commit({"transfers": transfers_frame(rows), "tokens": tokens})
    result = trace_store(data, TraceSpec(seeds=(S,)))
    # Only the tokens the flows moved, from the traced chain; ETH is its own name.
    assert result.symbols == {token: "VUSD"}
    write_trace_outputs(result, tmp_path / "out")
    recorded = json.loads((tmp_path / "out" / "trace.json").read_text())
    assert recorded["symbols"] == {token: "VUSD"}


def test_cli_checks_a_seed_for_the_chain_given_before_or_after_it(tmp_path: Path) -> None:
    thief, exchange = "1KFXUT3xumPvvpiekjcmezuTgQDUUhKcyk", "1KVmzDFG7DD6WQG5u7r7DtuwJWrn3QcyYf"
    data = tmp_path / "data"
    rows = [{"from": thief, "to": exchange, "value": 5, "block": 1, "asset": "BTC"}]
    Store(data).commit({"transfers": transfers_frame(rows, chain="bitcoin")})
    for order in (["--seed", thief, "--chain", "bitcoin"], ["--chain", "bitcoin", "--seed", thief]):
        out = tmp_path / order[0]
        args = ["trace", "--data", str(data), *order, "--stop-at", "none", "--out", str(out)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "Seeded 5 BTC." in result.output


def test_cli_prints_labels_without_terminal_control_characters(tmp_path: Path) -> None:
    # A label file can carry escape sequences (clear the screen, rewrite a line) and
    # right-to-left overrides; the summary prints what is left of the label.
    data = _store(tmp_path)
    hostile = labels_frame({X: "exchange"}).with_columns(
        pl.lit("Evil\x1b[2J\u202eExchange\r").alias("label")
    )
    Store(data).commit(replace={"labels": hostile})
    result = CliRunner().invoke(cli, ["trace", "--data", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "Evil[2JExchange  (hop 2)" in result.output
    assert not any(ch in result.output for ch in "\x1b\u202e\r")


def test_cli_trace_rejects_bad_input(tmp_path: Path) -> None:
    data = _store(tmp_path)
    runner = CliRunner()
    bad_seed = runner.invoke(
        cli, ["trace", "--data", str(data), "--seed", "0x123", "--out", str(tmp_path / "o")]
    )
    assert bad_seed.exit_code == 2
    bad_value = runner.invoke(
        cli,
        ["trace", "--data", str(data), "--min-value", "lots", "--out", str(tmp_path / "o")],
    )
    assert bad_value.exit_code == 2
    assert "field 'min_value'" in bad_value.output
    empty = runner.invoke(
        cli, ["trace", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    )
    assert empty.exit_code == 1
    assert "no transfers table" in empty.output


def test_cli_seeds_file_keeps_the_seeding_transaction(tmp_path: Path) -> None:
    theft = "0x" + "ab" * 32
    victim = "0x" + "d" * 40
    data = tmp_path / "data"
    rows: list[Any] = [
        (C, S, 50, 1),  # S's own clean money
        {"from": victim, "to": S, "value": 100, "block": 5, "tx": theft},
        (S, X, 60, 6),  # haircut: 100 of 150 tainted -> 40
    ]
    Store(data).commit(
        {"transfers": transfers_frame(rows), "labels": labels_frame({X: "exchange"})}
    )
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(f"chain,address,transaction_hash\nethereum,{S},{theft}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["trace", "--data", str(data), "--seeds", str(seeds), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Seeded 100 ETH." in result.output
    exposure = pl.read_csv(out / "exposure.csv", infer_schema=False)
    assert exposure.select("address", "tainted_value").rows() == [(X, "40")]
    manifest = json.loads((out / "trace.json").read_text())
    assert manifest["seeds"] == [{"address": S, "transaction_hash": theft}]
