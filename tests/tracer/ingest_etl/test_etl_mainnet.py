"""tracer.ingest.etl on real mainnet exports, value for value against ethereum-etl's outputs.

Data: ../shared/data/txdata/ethereum-etl/tests/resources (blockchain-etl/ethereum-etl @9e51c3b8,
tests/resources/, MIT; see ../shared/data/SOURCES.md): ethereum-etl's expected outputs for real
mainnet blocks, used here both as our input and as the oracle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracer.ingest import etl, evm

STREAM = "test_stream/blocks_17173049_17173050"


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def stream(etl_resources: Path) -> Path:
    return etl_resources / STREAM


@pytest.fixture(scope="module")
def decoded(stream: Path) -> etl.Ingested:
    """Blocks, transactions and logs only: every token transfer decoded by us from the logs."""
    files = ["expected_blocks.json", "expected_transactions.json", "expected_logs.json"]
    return etl.extract([stream / f for f in files])


def test_every_transaction_agrees(stream: Path, decoded: etl.Ingested) -> None:
    expected = _json_lines(stream / "expected_transactions.json")
    txs = decoded.tables["transactions"]
    assert txs.height == len(expected) == 298
    got = {row["transaction_hash"]: row for row in txs.iter_rows(named=True)}
    for e in expected:
        row = got[e["hash"]]
        assert row["value"] == str(e["value"])
        assert row["from_address"] == e["from_address"]
        assert row["to_address"] == e["to_address"]
        assert row["receipt_status"] == e["receipt_status"]
        assert row["gas_price"] == str(e["gas_price"])
        assert row["gas_used"] == e["receipt_gas_used"]
        assert row["effective_gas_price"] == str(e["receipt_effective_gas_price"])
        assert row["nonce"] == e["nonce"]
        assert row["transaction_index"] == e["transaction_index"]
        assert row["block_number"] == e["block_number"]
        assert int(row["block_timestamp"].timestamp()) == e["block_timestamp"]
        assert row["contract_address"] == e["receipt_contract_address"]
    # 7400000000000000000 does not survive a float64; it must come through exactly.
    assert "7400000000000000000" in txs["value"].to_list()


def test_native_transfers_are_the_successful_value_transactions(
    stream: Path, decoded: etl.Ingested
) -> None:
    expected = _json_lines(stream / "expected_transactions.json")
    want = sorted(
        (e["hash"], e["from_address"], e["to_address"], str(e["value"]))
        for e in expected
        if e["value"] > 0 and e["receipt_status"] == 1
    )
    native = decoded.tables["transfers"].filter(pl.col("kind") == "native")
    got = sorted(native.select("transaction_hash", "from_address", "to_address", "value").rows())
    assert got == want
    assert set(native["asset"]) == {"ETH"}
    assert set(native["decimals"]) == {18}
    failed_with_value = [e for e in expected if e["receipt_status"] == 0 and e["value"] > 0]
    assert decoded.skipped["native.failed"] == len(failed_with_value)


def test_failed_transactions_move_nothing(stream: Path, decoded: etl.Ingested) -> None:
    expected = _json_lines(stream / "expected_transactions.json")
    failed = {e["hash"] for e in expected if e["receipt_status"] == 0}
    assert len(failed) >= 5  # the blocks hold real failed transactions
    transfers = decoded.tables["transfers"]
    assert transfers.filter(pl.col("transaction_hash").is_in(sorted(failed))).height == 0
    kept = decoded.tables["transactions"].filter(pl.col("transaction_hash").is_in(sorted(failed)))
    assert kept.height == len(failed)
    assert set(kept["receipt_status"]) == {0}


def _as_etl(row: dict[str, Any]) -> tuple[str, str, str, str, str, int]:
    """One of our token rows in ethereum-etl's shape (ERC-721 ids go in ``value``)."""
    value = row["token_id"] if row["token_standard"] == "erc721" else row["value"]
    return (
        row["asset"],
        row["from_address"],
        row["to_address"],
        value,
        row["transaction_hash"],
        row["idx"],
    )


def test_token_transfers_decoded_from_logs_equal_ethereum_etl(
    stream: Path, decoded: etl.Ingested
) -> None:
    expected = _json_lines(stream / "expected_token_transfers.json")
    want = sorted(
        (
            e["token_address"],
            e["from_address"],
            e["to_address"],
            str(e["value"]),
            e["transaction_hash"],
            e["log_index"],
        )
        for e in expected
    )
    tokens = decoded.tables["transfers"].filter(pl.col("kind") == "token")
    erc20_721 = tokens.filter(pl.col("token_standard").is_in(["erc20", "erc721"]))
    got = sorted(_as_etl(r) for r in erc20_721.iter_rows(named=True))
    assert len(got) == len(want) == 291
    assert got == want
    assert erc20_721.filter(pl.col("token_standard") == "erc721").height == 9
    timestamps = {(e["transaction_hash"], e["log_index"]): e["block_timestamp"] for e in expected}
    assert all(
        int(r["block_timestamp"].timestamp()) == timestamps[r["transaction_hash"], r["idx"]]
        for r in erc20_721.iter_rows(named=True)
    )


def test_erc1155_transfer_single_decoded(stream: Path, decoded: etl.Ingested) -> None:
    # ethereum-etl does not decode ERC-1155; decode the one real TransferSingle by hand.
    logs = [
        e
        for e in _json_lines(stream / "expected_logs.json")
        if e["topics"][0] == evm.TRANSFER_SINGLE_TOPIC
    ]
    assert len(logs) == 1
    log = logs[0]
    data = log["data"][2:]
    want = (
        log["address"],
        "0x" + log["topics"][2][-40:],
        "0x" + log["topics"][3][-40:],
        str(int(data[:64], 16)),
        str(int(data[64:], 16)),
        log["log_index"],
    )
    rows = decoded.tables["transfers"].filter(pl.col("token_standard") == "erc1155")
    got = rows.select("asset", "from_address", "to_address", "token_id", "value", "idx").rows()
    assert got == [want]


def test_approvals_are_the_three_topic_approval_logs(stream: Path, decoded: etl.Ingested) -> None:
    logs = _json_lines(stream / "expected_logs.json")
    want = sorted(
        (
            e["transaction_hash"],
            e["log_index"],
            "0x" + e["topics"][1][-40:],
            "0x" + e["topics"][2][-40:],
            e["address"],
            str(int(e["data"], 16)),
        )
        for e in logs
        if e["topics"][0] == evm.APPROVAL_TOPIC and len(e["topics"]) == 3
    )
    approvals = decoded.tables["approvals"]
    got = sorted(
        approvals.select(
            "transaction_hash", "log_index", "owner", "spender", "token_address", "value"
        ).rows()
    )
    assert len(got) == 84
    assert got == want
    assert decoded.skipped["approval.erc721_approval"] == 2


def test_token_transfers_file_alone_matches_logs(stream: Path, decoded: etl.Ingested) -> None:
    alone = etl.extract([stream / "expected_token_transfers.json"]).tables["transfers"]
    assert alone.height == 291
    from_logs = decoded.tables["transfers"].filter(pl.col("token_standard") != "erc1155")
    with_ids = {
        (r[0], r[1], r[3], r[4], r[5]) for r in map(_as_etl, from_logs.iter_rows(named=True))
    }
    assert (
        set(alone.select("asset", "from_address", "value", "transaction_hash", "idx").rows())
        == with_ids
    )


def test_stream_file_with_every_kind_in_one(stream: Path, tmp_path: Path) -> None:
    """ethereum-etl's stream writes every item type into one file."""
    mixed = tmp_path / "stream.json"
    mixed.write_text(
        "".join((stream / f).read_text() for f in sorted(p.name for p in stream.glob("*.json")))
    )
    together = etl.extract([mixed]).tables
    apart = etl.extract(sorted(stream.glob("*.json"))).tables
    for name, frame in apart.items():
        assert together[name].equals(frame), name


def test_receipts_file_joins_into_transactions(
    stream: Path, decoded: etl.Ingested, tmp_path: Path
) -> None:
    """Split the real transactions into a receipt-less file and a receipts file, rejoin."""
    records = _json_lines(stream / "expected_transactions.json")
    txs, receipts = tmp_path / "transactions.json", tmp_path / "receipts.json"
    with txs.open("w") as t, receipts.open("w") as r:
        for e in records:
            plain = {k: v for k, v in e.items() if not k.startswith("receipt_") and k != "type"}
            receipt = {k[len("receipt_") :]: v for k, v in e.items() if k.startswith("receipt_")}
            t.write(json.dumps(plain) + "\n")
            r.write(json.dumps({"transaction_hash": e["hash"], **receipt}) + "\n")
    rejoined = etl.extract([txs, receipts, stream / "expected_logs.json"]).tables
    for name in ("transactions", "transfers", "approvals"):
        assert rejoined[name].equals(decoded.tables[name]), name


def test_tokens_file_sets_decimals(stream: Path, tmp_path: Path) -> None:
    weth = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
    tokens = tmp_path / "tokens.csv"
    # WETH's symbol, name and decimals as its contract returns them (mainnet).
    tokens.write_text(f"address,symbol,name,decimals\n{weth},WETH,Wrapped Ether,18\n")
    tables = etl.extract([stream / "expected_logs.json", tokens]).tables
    assert tables["tokens"].rows() == [("ethereum", weth, "WETH", "Wrapped Ether", 18, None)]
    transfers = tables["transfers"]
    assert set(transfers.filter(pl.col("asset") == weth)["decimals"]) == {18}
    others = transfers.filter((pl.col("asset") != weth) & (pl.col("token_standard") == "erc20"))
    assert others["decimals"].null_count() == others.height > 0


# --- traces ----------------------------------------------------------------------------------


TRACE_FILES = [
    "test_export_traces_job/block_with_create/expected_traces.csv",
    "test_export_traces_job/block_with_error/expected_traces.csv",
    "test_export_traces_job/block_with_subtraces/expected_traces.csv",
    "test_export_traces_job/block_with_suicide/expected_traces.csv",
    "test_extract_geth_traces_job/block_with_subtraces/expected_traces.csv",
    "test_stream/blocks_508110_508110/expected_traces.json",
    "test_stream/blocks_2112234_2112234/expected_traces.json",
]


def _trace_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        return _json_lines(path)
    return pl.read_csv(path, infer_schema=False).to_dicts()


@pytest.mark.parametrize("name", TRACE_FILES)
def test_internal_transfers_are_ethereum_etls_successful_value_subtraces(
    etl_resources: Path, name: str
) -> None:
    path = etl_resources / name
    expected = _trace_rows(path)
    want = sorted(
        (e["transaction_hash"], e["from_address"], e["to_address"], str(e["value"]))
        for e in expected
        if e["transaction_hash"]
        and str(e["trace_address"] or "") not in ("", "[]")
        and int(e["status"]) == 1
        and int(e["value"] or 0) > 0
        and (e["trace_type"] != "call" or e["call_type"] in ("call", "callcode"))
    )
    got = etl.extract([path])
    internal = got.tables["transfers"].filter(pl.col("kind") == "internal")
    assert (
        sorted(internal.select("transaction_hash", "from_address", "to_address", "value").rows())
        == want
    )
    rewards = [e for e in expected if e["trace_type"] == "reward"]
    assert got.skipped.get("internal.reward", 0) == len(rewards)


def test_subtrace_positions(etl_resources: Path) -> None:
    subtraces = etl_resources / "test_export_traces_job/block_with_subtraces/expected_traces.csv"
    suicide = etl_resources / "test_export_traces_job/block_with_suicide/expected_traces.csv"
    rows = etl.extract([subtraces, suicide]).tables["transfers"]
    assert rows.select("block_number", "kind", "idx", "value").rows() == [
        (1000000, "internal", 1, "100000000000000000000"),  # callcode, trace_address [0]
        (1011973, "internal", 1, "50000000000000000"),  # suicide refund, trace_address [0]
    ]


def test_block_with_error_moves_nothing_pre_byzantium(etl_resources: Path) -> None:
    """Block 1,000,895 (2016): receipts had no status; the top-level trace's error decides."""
    traces = etl_resources / "test_export_traces_job/block_with_error/expected_traces.csv"
    # The two transactions of that block, as ethereum-etl exports them (status null), with
    # from/to/value taken from the traces file above.
    txs = Path(__file__).parent / "data" / "block_1000895_transactions.csv"
    got = etl.extract([txs, traces])
    native = got.tables["transfers"].filter(pl.col("kind") == "native")
    assert native["transaction_hash"].to_list() == [
        "0xc7fec96b2dd4cadaade2721dc9b5386a39ab00e96e7c1060e441f273801b39de"
    ]
    assert got.skipped["native.failed"] == 1
    assert got.tables["transactions"]["receipt_status"].null_count() == 2


def test_reverted_subtrace_moves_nothing(etl_resources: Path, tmp_path: Path) -> None:
    """The real callcode of block 1,000,000, with its parent call marked as reverted."""
    src = etl_resources / "test_export_traces_job/block_with_subtraces/expected_traces.csv"
    frame = pl.read_csv(src, infer_schema=False)
    first = pl.int_range(pl.len()) == 0
    reverted = frame.with_columns(
        pl.when(first).then(pl.lit("Reverted")).otherwise(pl.col("error")).alias("error")
    )
    path = tmp_path / "traces.csv"
    reverted.write_csv(path)
    got = etl.extract([path])
    assert got.tables["transfers"].filter(pl.col("kind") == "internal").height == 0
    assert got.skipped["internal.reverted"] == 1


def test_contracts_from_create_traces(etl_resources: Path) -> None:
    paths = [
        etl_resources / "test_export_traces_job/block_with_create/expected_traces.csv",
        etl_resources / "test_stream/blocks_508110_508110/expected_traces.json",
        etl_resources / "test_stream/blocks_508110_508110/expected_contracts.json",
        etl_resources / "test_stream/blocks_2112234_2112234/expected_traces.json",
    ]
    contracts = etl.extract(paths).tables["contracts"]
    assert contracts.select("address", "block_number", "creator").rows() == [
        (
            "0xa7e3cf952ea8d9438a26ee346c295f1ada328ae1",
            1000690,
            "0xacdee28d8ca76187883831a37f551a5904cdf191",
        ),
        (
            "0xaec3266ebd18361ab1378646e91f0c5c373038da",
            508110,
            "0x52de4b32e40ba930679efeb2214357cdf6fec979",
        ),
        (
            "0xdbdacfc9eb9d42559ac1efbdb40460c728139e6a",
            2112234,
            "0x4b638dd891b0669242742bc0f4198a7c60bfbf00",
        ),
    ]


# --- other exports ---------------------------------------------------------------------------


def test_export_blocks_job_csv_and_json_agree(etl_resources: Path) -> None:
    folder = etl_resources / "test_export_blocks_job/blocks_with_transactions_and_withdrawals"
    from_csv = etl.extract(sorted(folder.glob("expected_*.csv"))).tables
    from_json = etl.extract(sorted(folder.glob("expected_*.json"))).tables
    for name in from_csv:
        assert from_csv[name].equals(from_json[name]), name
    blocks = pl.read_csv(folder / "expected_blocks.csv", infer_schema=False)
    got = from_csv["blocks"]
    assert got["block_hash"].to_list() == blocks["hash"].to_list()
    assert got["base_fee_per_gas"].to_list() == blocks["base_fee_per_gas"].to_list()
    assert [int(t.timestamp()) for t in got["block_timestamp"]] == [
        int(t) for t in blocks["timestamp"]
    ]


def test_transaction_timestamps_come_from_blocks(etl_resources: Path, tmp_path: Path) -> None:
    folder = etl_resources / "test_export_blocks_job/blocks_with_transactions"
    txs = pl.read_csv(folder / "expected_transactions.csv", infer_schema=False)
    bare = tmp_path / "transactions.csv"
    txs.drop("block_timestamp").write_csv(bare)
    alone = etl.extract([bare]).tables["transactions"]
    assert alone["block_timestamp"].null_count() == alone.height  # nothing supplies them
    joined = etl.extract([bare, folder / "expected_blocks.csv"]).tables["transactions"]
    assert [int(t.timestamp()) for t in joined["block_timestamp"]] == [
        int(t) for t in txs["block_timestamp"]
    ]
    assert joined["value"].to_list() == txs["value"].to_list()


def test_extract_token_transfers_job(etl_resources: Path) -> None:
    folder = etl_resources / "test_extract_token_transfers_job/logs"
    want = pl.read_csv(folder / "expected_token_transfers.csv", infer_schema=False)
    got = etl.extract([folder / "logs.csv"]).tables["transfers"]
    assert got.select(
        pl.col("asset").alias("token_address"),
        "from_address",
        "to_address",
        "value",
        "transaction_hash",
        pl.col("idx").cast(pl.String).alias("log_index"),
        pl.col("block_number").cast(pl.String),
    ).equals(want.sort("log_index"))


def test_export_receipts_job_logs_csv_and_json_agree(etl_resources: Path) -> None:
    folder = etl_resources / "test_export_receipts_job/receipts_with_logs"
    from_csv = etl.extract([folder / "expected_logs.csv"]).tables["transfers"]
    from_json = etl.extract([folder / "expected_logs.json"]).tables["transfers"]
    assert from_csv.equals(from_json)
    assert from_csv["value"].to_list() == ["100000", "200000"]  # 0x186a0, 0x30d40


def test_bigquery_style_export(stream: Path, decoded: etl.Ingested, tmp_path: Path) -> None:
    """The same real rows as BigQuery crypto_ethereum writes them: NUMERIC as "5.0" strings,
    TIMESTAMP as "2023-05-02 12:19:59 UTC", no ``type`` field."""
    records = _json_lines(stream / "expected_transactions.json")[:20]
    bq = tmp_path / "bq_transactions.json"
    with bq.open("w") as out:
        for e in records:
            row = {k: v for k, v in e.items() if k != "type"}
            row["value"] = f"{e['value']}.0"
            row["block_timestamp"] = "2023-05-02 12:19:59 UTC"
            out.write(json.dumps(row) + "\n")
    got = etl.extract([bq]).tables
    hashes = [e["hash"] for e in records]
    want = decoded.tables["transactions"].filter(pl.col("transaction_hash").is_in(hashes))
    assert got["transactions"].sort("transaction_hash").equals(want.sort("transaction_hash"))


def test_receipts_json_alone_is_recognised(etl_resources: Path) -> None:
    folder = etl_resources / "test_export_receipts_job/receipts_with_logs"
    got = etl.extract([folder / "expected_receipts.json", folder / "expected_receipts.csv"])
    assert all(frame.height == 0 for frame in got.tables.values())  # no transactions to join


def test_the_same_traces_twice_count_once(etl_resources: Path, tmp_path: Path) -> None:
    src = etl_resources / "test_export_traces_job/block_with_subtraces/expected_traces.csv"
    copy = tmp_path / "traces_copy.csv"
    copy.write_bytes(src.read_bytes())
    once = etl.extract([src])
    twice = etl.extract([src, copy])
    assert twice.tables["transfers"].equals(once.tables["transfers"])
    assert twice.skipped == once.skipped
