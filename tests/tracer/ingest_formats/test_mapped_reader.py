"""Mapped CSV -> transfers, on a real Dune export and on hand-written files.

The Dune export is ../shared/data/txdata/dspytdao_lazarus_dune (dspytdao/Eth_Data @3c66dcba,
MIT, see SOURCES.md): 436 ETH transfers touching the OFAC-listed Lazarus (Ronin) addresses,
with block time, ``\\x``-bytea addresses and ``total_eth`` amounts, and no transaction hashes.
Its weekly aggregate files, computed by Dune from the same rows, are an independent check.
Files written inside the tests are hand-written.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from tracer.amounts import sum_values
from tracer.errors import InputError, InvalidAddress, InvalidAmount, SchemaMismatch
from tracer.ingest.mapped import read

DUNE_MAP = {
    "block_timestamp": "block_time",
    "from_address": "from",
    "to_address": "to",
    "amount": "total_eth",
}
RONIN = "0x098b716b8aaf21512996dc57eb0615e2383e2f96"


@pytest.fixture(scope="module")
def dune(shared_data: Path) -> Path:
    return shared_data / "txdata" / "dspytdao_lazarus_dune"


def _lazarus(dune: Path) -> set[str]:
    text = (dune / "LazarusGroup.txt").read_text()
    return {"0x" + a.strip().strip(",'")[2:].lower() for a in text.split() if a.strip()}


def test_dune_export_every_row_exact(dune: Path) -> None:
    path = dune / "LazarusTabularTxs1322519.csv"
    legs = read([path], chain="ethereum", options=DUNE_MAP)["transfers"]
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert legs.height == len(rows) == 436
    expected = sorted(
        (
            datetime.fromisoformat(r["block_time"]),
            "0x" + r["from"][2:],
            "0x" + r["to"][2:],
            str(int(Decimal(r["total_eth"]).scaleb(18))),
        )
        for r in rows
    )
    got = sorted(legs.select("block_timestamp", "from_address", "to_address", "value").rows())
    assert got == expected
    assert set(legs["asset"]) == {"ETH"}
    assert set(legs["decimals"]) == {18}
    assert set(legs["kind"]) == {"native"}
    assert set(legs["idx"]) == {0}
    assert legs["block_number"].null_count() == 436
    # "1e-05" ETH is 10**13 wei, exactly
    assert "10000000000000" in legs["value"].to_list()


def test_dune_synthetic_hashes_are_marked_unique_and_stable(dune: Path) -> None:
    path = dune / "LazarusTabularTxs1322519.csv"
    first = read([path], chain="ethereum", options=DUNE_MAP)["transfers"]
    again = read([path], chain="ethereum", options=DUNE_MAP)["transfers"]
    hashes = first["transaction_hash"]
    assert hashes.n_unique() == 436
    assert hashes.str.contains(r"^synthetic:[0-9a-f]{64}$").all()
    assert first.equals(again)


def test_dune_weekly_sums_match_dunes_own_aggregates(dune: Path) -> None:
    """Exact weekly sums of our rows against Dune's weekly files (written as doubles)."""
    legs = read([dune / "LazarusTabularTxs1322519.csv"], chain="ethereum", options=DUNE_MAP)
    lazarus = _lazarus(dune)
    week = pl.col("block_timestamp").dt.truncate("1w").alias("week")
    for name, side in [
        ("LazarusTxs1321434.csv", "to_address"),
        ("LazarusWeeklyWithdrawalsTxs1322493.csv", "from_address"),
    ]:
        ours = sum_values(
            legs["transfers"].lazy().filter(pl.col(side).is_in(list(lazarus))).with_columns(week),
            by=["week"],
        ).collect()
        exact = {w: Decimal(v).scaleb(-18) for w, v in ours.rows()}
        with (dune / name).open() as f:
            theirs = {datetime.fromisoformat(r["ym"]): r["total_eth"] for r in csv.DictReader(f)}
        assert set(exact) == set(theirs)
        for w, total in theirs.items():
            assert float(exact[w]) == pytest.approx(float(total), rel=1e-12), (name, w)


def _write(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


HAND = (
    "tx,block,time,sender,receiver,raw,token,dec\n"
    "\\x8d42b19de53c3955ef9eb257c4e1e79f3920cf00357a95cd134662b0f0dd5f90,14442835,1648041621,"
    "\\x098B716B8Aaf21512996dC57EB0615e2383E2f96,0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b,"
    "115792089237316195423570985008687907853269984665640564039457584007913129639935,,\n"
    "0x8D42B19DE53C3955EF9EB257C4E1E79F3920CF00357A95CD134662B0F0DD5F90,14442835,"
    "2022-03-23T13:20:21Z,0x098b716b8aaf21512996dc57eb0615e2383e2f96,"
    "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b,5,"
    "0xdAC17F958D2ee523a2206206994597C13D831ec7,6\n"
)


def test_raw_values_bytea_hashes_unix_and_iso_times_tokens(tmp_path: Path) -> None:
    """Hand-written: a uint256-max native value and a USDT leg in one transaction."""
    path = _write(tmp_path, HAND)
    options = {
        "transaction_hash": "tx",
        "block_number": "block",
        "block_timestamp": "time",
        "from_address": "sender",
        "to_address": "receiver",
        "value": "raw",
        "asset": "token",
        "decimals": "dec",
    }
    legs = read([path], chain="ethereum", options=options)["transfers"]
    assert legs.select("transaction_hash", "kind", "asset", "decimals", "value").rows() == [
        (
            "0x8d42b19de53c3955ef9eb257c4e1e79f3920cf00357a95cd134662b0f0dd5f90",
            "native",
            "ETH",
            18,
            str(2**256 - 1),
        ),
        (
            "0x8d42b19de53c3955ef9eb257c4e1e79f3920cf00357a95cd134662b0f0dd5f90",
            "token",
            "0xdac17f958d2ee523a2206206994597c13d831ec7",
            6,
            "5",
        ),
    ]
    assert legs["block_timestamp"].n_unique() == 1
    assert legs["token_standard"].to_list() == [None, "erc20"]


def test_amounts_with_default_decimals_for_a_token(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "t,a,b,amt\n1648041621,\\x098b716b8aaf21512996dc57eb0615e2383e2f96,"
        '0xd90e2f925da726b50c4ed8d0fb90ad053324f31b,"1,234.5"\n',
    )
    base = {"block_timestamp": "t", "from_address": "a", "to_address": "b", "amount": "amt"}
    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    with pytest.raises(InputError, match=r"default\.decimals"):
        read([path], chain="ethereum", options={**base, "default.asset": usdt})
    legs = read(
        [path],
        chain="ethereum",
        options={**base, "default.asset": usdt, "default.decimals": "6"},
    )["transfers"]
    assert legs.select("asset", "kind", "value", "decimals").rows() == [
        (usdt, "token", "1234500000", 6)
    ]


def test_identical_rows_get_distinct_ids(tmp_path: Path) -> None:
    """Hand-written: the same payment twice in one second (two transactions, no hashes)."""
    row = (
        "1648041621,0x098b716b8aaf21512996dc57eb0615e2383e2f96,"
        "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b,1\n"
    )
    path = _write(tmp_path, "t,a,b,amt\n" + row + row)
    options = {"block_timestamp": "t", "from_address": "a", "to_address": "b", "amount": "amt"}
    legs = read([path], chain="ethereum", options=options)["transfers"]
    assert legs["transaction_hash"].n_unique() == 2


def test_unmapped_required_column_shows_the_map_syntax(dune: Path) -> None:
    path = dune / "LazarusTabularTxs1322519.csv"
    options = {k: v for k, v in DUNE_MAP.items() if k != "from_address"}
    with pytest.raises(SchemaMismatch) as e:
        read([path], chain="ethereum", options=options)
    assert "from_address" in str(e.value)
    assert "--map" in str(e.value)
    assert "from_address=from" in str(e.value)
    with pytest.raises(InputError, match="not a column this format can fill"):
        read([path], chain="ethereum", options={**DUNE_MAP, "colour": "red"})
    with pytest.raises(InputError, match="not both"):
        read([path], chain="ethereum", options={**DUNE_MAP, "value": "total_eth"})


def test_mapped_header_missing_from_the_file(dune: Path) -> None:
    path = dune / "LazarusTabularTxs1322519.csv"
    with pytest.raises(SchemaMismatch) as e:
        read([path], chain="ethereum", options={**DUNE_MAP, "amount": "value_eth"})
    assert "amount=value_eth" in str(e.value)
    assert "block_time, from, to, total_eth" in str(e.value)


def _dune_with(tmp_path: Path, dune: Path, line: int, old: str, new: str) -> Path:
    lines = (dune / "LazarusTabularTxs1322519.csv").read_text().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    return _write(tmp_path, "".join(lines), "dune.csv")


@pytest.mark.parametrize(
    ("line", "old", "new", "error", "field", "words"),
    [
        (
            4,
            "\\x6ae41009",
            "\\x6ae4100",
            InvalidAddress,
            "from (mapped to from_address)",
            "not an EVM",
        ),
        (  # one hex digit short
            4,
            "\\x098b716b8aaf21512996dc57eb0615e2383e2f96",
            "\\x098B716B8Aaf21512996dC57EB0615e2383E2f9",
            InvalidAddress,
            "to (mapped to to_address)",
            "not an EVM",
        ),
        (  # mixed case with one letter's case flipped: a bad EIP-55 checksum
            4,
            "\\x098b716b8aaf21512996dc57eb0615e2383e2f96",
            "\\x098B716B8Aaf21512996dC57EB0615e2383E2F96",
            InvalidAddress,
            "to (mapped to to_address)",
            "EIP-55",
        ),
        (4, "1e-05", "1e-05x", InvalidAmount, "total_eth (mapped to amount)", "not a decimal"),
        (4, "1e-05", "-1", InvalidAmount, "total_eth (mapped to amount)", "not a decimal"),
        (4, "1e-05", "1e-19", InvalidAmount, "total_eth (mapped to amount)", "19 fractional"),
        (
            4,
            "2022-03-31T17:43:49+00:00",
            "31/03/2022",
            InputError,
            "block_time (mapped to block_timestamp)",
            "not a timestamp",
        ),
    ],
)
def test_bad_cells_name_file_line_field_and_value(
    tmp_path: Path,
    dune: Path,
    line: int,
    old: str,
    new: str,
    error: type[InputError],
    field: str,
    words: str,
) -> None:
    path = _dune_with(tmp_path, dune, line, old, new)
    with pytest.raises(error) as e:
        read([path], chain="ethereum", options=DUNE_MAP)
    assert (e.value.source, e.value.line, e.value.field) == (path, line, field)
    assert words in str(e.value)
    assert f"{path}:{line}, field {field!r}" in str(e.value)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no header"):
        read([_write(tmp_path, "\n")], chain="ethereum", options=DUNE_MAP)


def test_week_truncation_matches_dune_weeks() -> None:
    # Dune's date_trunc('week') starts on Monday, as Polars' "1w" does
    monday = datetime(2022, 3, 21, tzinfo=UTC)
    frame = pl.DataFrame({"t": [monday + timedelta(days=6, hours=23)]})
    assert frame.select(pl.col("t").dt.truncate("1w")).item() == monday
