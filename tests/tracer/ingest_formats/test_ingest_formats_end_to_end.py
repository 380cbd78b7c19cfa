"""The three readers through ``ingest_files`` into a Store, and once through the CLI.

Data: bitcoin-etl's test resources and the dspytdao Dune export from ../shared/data (see
SOURCES.md), and the hand-written Etherscan exports in data/ (see data/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.errors import InputError
from tracer.ingest.files import ingest_files
from tracer.store import Store

DATA = Path(__file__).parent / "data"
DUNE_MAP = {
    "block_timestamp": "block_time",
    "from_address": "from",
    "to_address": "to",
    "amount": "total_eth",
}


def _cases(
    shared_data: Path, btc_resources: Path
) -> dict[str, tuple[list[Path], str, dict[str, str]]]:
    stream = btc_resources / "test_export_blocks_job" / "bitcoin" / "stream_50001_50002"
    dune = shared_data / "txdata" / "dspytdao_lazarus_dune" / "LazarusTabularTxs1322519.csv"
    return {
        "bitcoin-etl": (sorted(stream.glob("expected_*.json")), "bitcoin", {}),
        "etherscan": ([DATA / "etherscan"], "ethereum", {}),
        "mapped": ([dune], "ethereum", DUNE_MAP),
    }


@pytest.mark.parametrize("fmt", ["bitcoin-etl", "etherscan", "mapped"])
def test_ingest_then_reingest_adds_nothing(
    fmt: str, shared_data: Path, btc_resources: Path, tmp_path: Path
) -> None:
    paths, chain, options = _cases(shared_data, btc_resources)[fmt]
    store = Store(tmp_path / "case")
    first = ingest_files(store, paths, fmt=fmt, chain=chain, options=options)
    assert first["transfers"] > 0
    stored = {t: store.scan(t).collect().height for t in first}
    assert stored == first
    again = ingest_files(store, paths, fmt=fmt, chain=chain, options=options)
    assert set(again.values()) == {0}
    assert {t: store.scan(t).collect().height for t in first} == stored


def test_expected_row_counts(shared_data: Path, btc_resources: Path, tmp_path: Path) -> None:
    cases = _cases(shared_data, btc_resources)
    store = Store(tmp_path / "case")
    added = {
        fmt: ingest_files(store, p, fmt=fmt, chain=c, options=o) for fmt, (p, c, o) in cases.items()
    }
    assert added["bitcoin-etl"] == {
        "blocks": 2,
        "transactions": 4,
        "utxo_inputs": 3,
        "utxo_outputs": 4,
        "transfers": 7,
    }
    # the 2025-layout files repeat rows of the classic ones (same hashes): only 7 wei is new
    assert added["etherscan"] == {"transactions": 7, "transfers": 10, "tokens": 2}
    assert added["mapped"] == {"transfers": 436}


def test_a_bad_file_commits_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "tokens.csv"
    text = (DATA / "etherscan" / "tokens.csv").read_text()
    bad.write_text(text.replace('"0.000001"', '"0.0000001"'))
    store = Store(tmp_path / "case")
    with pytest.raises(InputError):
        ingest_files(store, [DATA / "etherscan" / "normal.csv", bad], fmt="etherscan")
    assert not store.has("transfers")
    assert not store.has("transactions")


def test_cli_bad_file_exits_2_with_the_place(btc_resources: Path, tmp_path: Path) -> None:
    from tracer.cli import cli

    source = btc_resources / "test_export_blocks_job" / "bitcoin" / "block_0"
    bad = tmp_path / "transactions.json"
    bad.write_text((source / "expected_transactions.json").read_text()[:300])
    data = tmp_path / "case"
    args = ["ingest", "files", str(bad), "--format", "bitcoin-etl", "--chain", "bitcoin"]
    result = CliRunner().invoke(cli, [*args, "--data", str(data)])
    assert result.exit_code == 2, result.output
    assert f"Error: {bad}:1: not valid JSON" in result.output
    assert not (data / "transfers").exists()


def test_cli_mapped_unmapped_column_exits_2(shared_data: Path, tmp_path: Path) -> None:
    from tracer.cli import cli

    dune = shared_data / "txdata" / "dspytdao_lazarus_dune" / "LazarusTabularTxs1322519.csv"
    args = ["ingest", "files", str(dune), "--format", "mapped", "--data", str(tmp_path / "c")]
    result = CliRunner().invoke(
        cli, [*args, "--map", "block_timestamp=block_time,to_address=to,amount=total_eth"]
    )
    assert result.exit_code == 2
    assert "Error: field '--map': required column(s) not mapped: from_address" in result.output
    ok = CliRunner().invoke(
        cli,
        [
            *args,
            "--map",
            "block_timestamp=block_time,from_address=from,to_address=to,amount=total_eth",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "transfers: 436 new rows" in ok.output
