"""``tracer seeds`` and ``tracer labels`` through click: counts, exit codes, nothing half-written.

Real data: ../shared/data/seeds and ../shared/data/labels/graphsense-tagpacks (SOURCES.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer.cli import cli
from tracer.store import Store

RONIN = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (lock file aside) and the sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_seeds_command_loads_and_dedupes(shared_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "case"
    seeds = shared_data / "seeds" / "dprk_attributed_addresses.csv"
    runner = CliRunner()
    first = runner.invoke(cli, ["seeds", str(seeds), "--data", str(data)])
    assert first.exit_code == 0, first.output
    assert "seeds: 128 new rows" in first.output
    again = runner.invoke(cli, ["seeds", str(seeds), "--data", str(data)])
    assert again.exit_code == 0
    assert "seeds: 0 new rows" in again.output
    stored = pl.scan_parquet(str(data / "seeds" / "*.parquet")).collect()
    assert stored.height == 128
    assert stored.filter(pl.col("chain") == "polygon").height == 2


def test_seeds_command_chain_and_format(shared_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "case"
    sdn = shared_data / "ofac_format" / "SDN.CSV_excerpt_moov-watchman_bench.csv"
    result = CliRunner().invoke(
        cli, ["seeds", str(sdn), "--format", "ofac-csv", "--chain", "bitcoin", "--data", str(data)]
    )
    assert result.exit_code == 0, result.output
    assert "seeds: 26 new rows" in result.output
    assert Store(data).scan("seeds").collect()["source"].str.starts_with("OFAC SDN").all()


def test_skips_are_reported(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lists = shared_data / "seeds" / "ofac_0xB10C_lists" / "sanctioned_addresses_XMR.txt"
    with caplog.at_level(logging.WARNING, logger="tracer.ingest.seeds"):
        result = CliRunner().invoke(cli, ["seeds", str(lists), "--data", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "seeds: 0 new rows" in result.output
    assert "skipped 3 addresses of assets tracer cannot validate (XMR 3)" in caplog.text


def test_labels_command_loads_a_folder_of_packs(shared_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "case"
    packs = shared_data / "labels" / "graphsense-tagpacks"
    result = CliRunner().invoke(cli, ["labels", str(packs), "--data", str(data)])
    assert result.exit_code == 0, result.output
    stored = Store(data).scan("labels").collect()
    assert f"labels: {stored.height} new rows" in result.output
    assert stored.height > 2000
    tornado = stored.filter(pl.col("address") == "0xa160cdab225685da1d56aa342ad8841c3b53f291")
    assert "mixing_service" in tornado["category"].to_list()


@pytest.mark.parametrize(
    ("command", "name", "content", "expected"),
    [
        (
            "seeds",
            "bad.csv",
            f"address\n{RONIN.replace('B716B', 'b716B')}\n",
            "bad.csv:2, field 'address': bad EIP-55 checksum",
        ),
        ("seeds", "short.txt", "0x1234\n", "short.txt:1, field 'address': not an EVM address"),
        ("seeds", "empty.csv", "", "empty.csv: empty file"),
        ("seeds", "page.xml", "<html/>", "cannot detect the seeds format"),
        ("seeds", "nocol.csv", "id,chain\nx,ETH\n", "field 'address': no address column"),
        ("labels", "cat.csv", f"address,label,category\n{RONIN},x,casino\n", "unknown category"),
        ("labels", "nocat.csv", f"address,label\n{RONIN},x\n", "missing column(s) category"),
        ("labels", "empty.yaml", "", "empty.yaml: empty file"),
        ("labels", "bad.yaml", "currency: ETH\ntags:\n- address: '0x12'\n", "tags[0].address"),
        ("labels", "what.dat", "no idea\n", "cannot detect the labels format"),
    ],
)
def test_bad_input_exits_2_and_leaves_the_data_untouched(
    shared_data: Path, tmp_path: Path, command: str, name: str, content: str, expected: str
) -> None:
    data = tmp_path / "case"
    runner = CliRunner()
    fbi = shared_data / "seeds" / "fbi_ic3_psa250226_bybit_eth.csv"
    seeded = runner.invoke(cli, ["seeds", str(fbi), "--data", str(data)])
    assert seeded.exit_code == 0
    labelled = runner.invoke(
        cli,
        ["labels", str(shared_data / "labels" / "graphsense-tagpacks" / "ronin_bridge.yaml"),
         "--data", str(data)],
    )  # fmt: skip
    assert labelled.exit_code == 0
    before = _snapshot(data)
    bad = tmp_path / name
    bad.write_text(content)
    result = runner.invoke(cli, [command, str(bad), "--data", str(data)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ")
    assert expected in result.output
    assert _snapshot(data) == before


@pytest.mark.parametrize("command", ["seeds", "labels"])
def test_missing_path_exits_2(tmp_path: Path, command: str) -> None:
    data = tmp_path / "case"
    result = CliRunner().invoke(cli, [command, str(tmp_path / "nope.csv"), "--data", str(data)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: no such file or directory: ")
    assert not data.exists() or _snapshot(data) == {}


def test_unsupported_chain_option_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text(RONIN + "\n")
    result = CliRunner().invoke(
        cli, ["seeds", str(path), "--chain", "monero", "--data", str(tmp_path / "d")]
    )
    assert result.exit_code == 2
    assert result.output.startswith("Error: field '--chain': tracer cannot validate addresses")


DOC = Path(__file__).resolve().parents[3] / "docs" / "seeds-and-labels.md"


def test_documented_examples_are_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = DOC.read_text()
    errors = {
        re.match(r"Error: ([^:,]+)", line).group(1): line  # type: ignore[union-attr]
        for line in doc.splitlines()
        if line.startswith("Error: ")
    }
    monkeypatch.chdir(tmp_path)
    Path("seeds.csv").write_text(f"address\n{RONIN}\n{RONIN.replace('B716B', 'b716B')}\n")
    Path("page.xml").write_text("<html/>")
    runner = CliRunner()
    for name in ("seeds.csv", "page.xml"):
        result = runner.invoke(cli, ["seeds", name, "--data", "case"])
        assert result.exit_code == 2
        assert result.output.rstrip("\n") == errors[name]
    # the txt example in the docs loads as written
    block = doc.split("```\n# Ronin bridge exploiter", 1)[1].split("```", 1)[0]
    Path("list.txt").write_text("# Ronin bridge exploiter" + block)
    result = runner.invoke(cli, ["seeds", "list.txt", "--data", "case"])
    assert result.exit_code == 0, result.output
    assert "seeds: 2 new rows" in result.output
