"""ethereum-etl files through ``tracer.ingest.files`` into a Store, through the CLI, and bad input.

Data: ../shared/data/txdata/ethereum-etl/tests/resources (blockchain-etl/ethereum-etl @9e51c3b8,
tests/resources/, MIT; see ../shared/data/SOURCES.md).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from tracer.errors import InputError, InvalidAddress, InvalidAmount, SchemaMismatch, UnknownFormat
from tracer.ingest import etl
from tracer.ingest.files import ingest_files
from tracer.store import Store

STREAM = "test_stream/blocks_17173049_17173050"


@pytest.fixture(scope="module")
def stream_files(etl_resources: Path) -> list[Path]:
    return sorted((etl_resources / STREAM).glob("*.json"))


def test_ingest_into_store_and_again_adds_nothing(stream_files: list[Path], tmp_path: Path) -> None:
    store = Store(tmp_path / "case")
    added = ingest_files(store, stream_files, fmt="ethereum-etl")
    assert added["transactions"] == 298
    assert added["blocks"] == 2
    assert added["approvals"] == 84
    assert added["transfers"] == 127 + 291 + 1  # native + ERC-20/721 + one ERC-1155
    stored = store.scan("transfers").collect()
    assert stored.height == added["transfers"]
    assert "7400000000000000000" in stored["value"].to_list()
    again = ingest_files(store, stream_files, fmt="ethereum-etl")
    assert all(n == 0 for n in again.values()), again
    assert store.scan("transactions").collect().height == 298


def test_cli_ingest_files(stream_files: list[Path], tmp_path: Path) -> None:
    from tracer.cli import cli

    data = tmp_path / "case"
    args = ["ingest", "files", *map(str, stream_files), "--format", "ethereum-etl"]
    result = CliRunner().invoke(cli, [*args, "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "transactions: 298 new rows" in result.output
    assert "transfers: 419 new rows" in result.output
    assert pl.scan_parquet(data / "transactions" / "*.parquet").collect().height == 298


def test_cli_bad_file_exits_2_and_commits_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "transactions.json"
    bad.write_text('{"type": "transaction", "hash": "0x12", "value": 1')
    from tracer.cli import cli

    data = tmp_path / "case"
    result = CliRunner().invoke(
        cli, ["ingest", "files", str(bad), "--format", "ethereum-etl", "--data", str(data)]
    )
    assert result.exit_code == 2
    assert f"Error: {bad}:1: not a complete JSON object" in result.output
    assert not (data / "transactions").exists()


def test_gzipped_csv(etl_resources: Path, tmp_path: Path) -> None:
    src = (
        etl_resources / "test_export_blocks_job/blocks_with_transactions/expected_transactions.csv"
    )
    zipped = tmp_path / "transactions.csv.gz"
    zipped.write_bytes(gzip.compress(src.read_bytes()))
    assert (
        etl.extract([zipped])
        .tables["transactions"]
        .equals(etl.extract([src]).tables["transactions"])
    )


# --- bad input -------------------------------------------------------------------------------

TX_HEADER = "hash,nonce,block_number,transaction_index,from_address,to_address,value,gas_price"
TX = (
    "0x99f1097abd8f33a68f0ed63d60de5f3e7e2a3e0579b90d5f46a4f201c658b46d,9,47218,0,"
    "0x1406854d149e081ac09cb4ca560da463f3123059,0xa0e74ae010d51894734c308d612131056bb721ad,"
    "110000000000000000000,62227241854"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_column(tmp_path: Path) -> None:
    header = TX_HEADER.replace(",value,", ",") + ",input"
    path = _write(tmp_path, "txs.csv", header + "\n")
    with pytest.raises(SchemaMismatch) as info:
        etl.extract([path])
    assert str(info.value).startswith(f"{path}: missing column(s) of an ethereum-etl")
    assert "'value'" in str(info.value)
    assert "Export transactions" in str(info.value)


def test_malformed_address(tmp_path: Path) -> None:
    row = TX.replace("0x1406854d149e081ac09cb4ca560da463f3123059", "0x1406854d149e081ac09cb4ca5")
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{TX}\n{row}\n")
    with pytest.raises(InvalidAddress) as info:
        etl.extract([path])
    assert (info.value.source, info.value.line, info.value.field) == (path, 3, "from_address")
    assert info.value.value == "0x1406854d149e081ac09cb4ca5"
    assert "0x followed by 40 hex digits" in str(info.value)


def test_bad_checksum_address(tmp_path: Path) -> None:
    row = TX.replace(
        "0xa0e74ae010d51894734c308d612131056bb721ad", "0xA0e74ae010d51894734c308d612131056bb721aD"
    )
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{row}\n")
    with pytest.raises(InvalidAddress, match="bad EIP-55 checksum") as info:
        etl.extract([path])
    assert (info.value.line, info.value.field) == (2, "to_address")


@pytest.mark.parametrize("value", ["1.1e20", "-5", "12abc", str(2**256)])
def test_malformed_amount(tmp_path: Path, value: str) -> None:
    row = TX.replace("110000000000000000000", value)
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{TX}\n{TX}\n{row}\n")
    with pytest.raises(InvalidAmount) as info:
        etl.extract([path])
    assert (info.value.source, info.value.line, info.value.field) == (path, 4, "value")
    assert info.value.value == value
    assert "base units" in str(info.value)


def test_float_in_json_is_refused(tmp_path: Path) -> None:
    record = (
        '{"type": "transaction", "hash": "0x99f1097abd8f33a68f0ed63d60de5f3e7e2a3e0579b90d5f46a4f2'
        '01c658b46d", "nonce": 9, "block_number": 47218, "from_address": "0x1406854d149e081ac09cb4'
        'ca560da463f3123059", "to_address": null, "value": 7.4e18}'
    )
    path = _write(tmp_path, "stream.json", record + "\n")
    with pytest.raises(InvalidAmount) as info:
        etl.extract([path])
    assert (info.value.line, info.value.field, info.value.value) == (1, "value", "7.4e18")


def test_malformed_integer(tmp_path: Path) -> None:
    row = TX.replace(",47218,", ",47x18,")
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{row}\n")
    with pytest.raises(InputError, match="not an integer") as info:
        etl.extract([path])
    assert (info.value.line, info.value.field, info.value.value) == (2, "block_number", "47x18")


def test_malformed_hash(tmp_path: Path) -> None:
    row = TX.replace("0x99f1097abd", "0x99g1097abd")
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{row}\n")
    with pytest.raises(InputError, match="not a 32-byte 0x hash") as info:
        etl.extract([path])
    assert (info.value.line, info.value.field) == (2, "hash")


def test_truncated_json_line(etl_resources: Path, tmp_path: Path) -> None:
    lines = (etl_resources / STREAM / "expected_transactions.json").read_text().splitlines()
    path = _write(tmp_path, "transactions.json", "\n".join([*lines[:3], lines[3][:100]]))
    with pytest.raises(InputError, match="not a complete JSON object") as info:
        etl.extract([path])
    assert (info.value.source, info.value.line) == (path, 4)
    assert "truncated" in str(info.value)


def test_unknown_file_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.csv", "when,who\n2024,me\n")
    with pytest.raises(UnknownFormat, match="not an ethereum-etl file") as info:
        etl.extract([path])
    assert info.value.source == path
    assert "columns: when, who" in str(info.value)
    assert "blocks, transactions, receipts" in str(info.value)


def test_unknown_item_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "stream.json", '{"type": "withdrawal", "index": 1}\n')
    with pytest.raises(UnknownFormat, match="unknown ethereum-etl item type") as info:
        etl.extract([path])
    assert (info.value.line, info.value.field, info.value.value) == (1, "type", "withdrawal")


def test_bad_receipt_status(tmp_path: Path) -> None:
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER},receipt_status\n{TX},2\n")
    with pytest.raises(InputError, match="receipt status") as info:
        etl.extract([path])
    assert (info.value.source, info.value.line, info.value.field) == (path, 2, "receipt_status")


def test_bad_trace_address(etl_resources: Path, tmp_path: Path) -> None:
    src = etl_resources / "test_export_traces_job/block_with_subtraces/expected_traces.csv"
    frame = pl.read_csv(src, infer_schema=False)
    broken = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("0;1"))
        .otherwise(pl.col("trace_address"))
        .alias("trace_address")
    )
    path = tmp_path / "traces.csv"
    broken.write_csv(path)
    with pytest.raises(InputError, match="not a trace address") as info:
        etl.extract([path])
    assert (info.value.line, info.value.field, info.value.value) == (3, "trace_address", "0;1")


def test_map_option_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{TX}\n")
    with pytest.raises(InputError, match="takes no --map"):
        etl.read([path], chain="ethereum", options={"from": "From"})


def test_non_evm_chain_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "txs.csv", f"{TX_HEADER}\n{TX}\n")
    with pytest.raises(InputError, match="EVM chain"):
        etl.extract([path], chain="bitcoin")


def test_errors_commit_nothing(stream_files: list[Path], tmp_path: Path) -> None:
    bad = _write(tmp_path, "notes.csv", "when,who\n2024,me\n")
    store = Store(tmp_path / "case")
    with pytest.raises(UnknownFormat):
        ingest_files(store, [*stream_files, bad], fmt="ethereum-etl")
    assert store.scan("transactions").collect().height == 0
