"""Etherscan CSV exports -> canonical tables.

The exports are hand-written (see data/README.md): real public addresses in EIP-55 casing,
invented hashes and amounts, in the layouts Etherscan's "Download CSV" has used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tracer.errors import InputError, InvalidAddress, InvalidAmount, UnknownFormat
from tracer.ingest.etherscan import detect_export, read

DATA = Path(__file__).parent / "data" / "etherscan"
RONIN = "0x098b716b8aaf21512996dc57eb0615e2383e2f96"
TORNADO = "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"


def _read(*names: str, **options: str) -> dict[str, pl.DataFrame]:
    return read([DATA / n for n in names], chain="ethereum", options=options)


def test_normal_export_with_eip55_addresses_failed_row_and_creation() -> None:
    tables = _read("normal.csv")
    tx = tables["transactions"]
    assert tx.height == 5
    assert tx["from_address"].to_list()[:2] == ["0x4976a4a02f38326660d17bf34b431dc6e2eb2327", RONIN]
    assert tx["value"].to_list() == [
        "1234500000000000000000",
        "100" + "0" * 18,
        "50" + "0" * 18,
        "0",
        "1",
    ]
    assert tx["receipt_status"].to_list() == [1, 1, 0, 1, 1]
    assert tx["method_id"].to_list() == [None, "0x13d98d13", "0x13d98d13", None, "0x60806040"]
    creation = tx.row(4, named=True)
    assert creation["to_address"] is None
    assert creation["contract_address"] == ROUTER
    assert tx["block_timestamp"][0] == datetime(2022, 3, 23, 13, 20, 21, tzinfo=UTC)

    legs = tables["transfers"]
    # the failed row and the zero-value approve move nothing; the creation moves 1 wei
    assert legs.select("kind", "idx", "from_address", "to_address", "value").rows() == [
        (
            "native",
            0,
            "0x4976a4a02f38326660d17bf34b431dc6e2eb2327",
            RONIN,
            "1234500000000000000000",
        ),
        ("native", 0, RONIN, TORNADO, "100000000000000000000"),
        ("native", 0, RONIN, ROUTER, "1"),
    ]
    assert set(legs["asset"]) == {"ETH"}
    assert set(legs["decimals"]) == {18}
    assert tables["tokens"].height == 0


def test_old_header_variant_is_read() -> None:
    tables = _read("normal_2020_header.csv")
    assert tables["transfers"].select("from_address", "value").rows() == [
        (RONIN, "6250" + "0" * 18)
    ]


def test_internal_export_skips_reverted_calls_and_numbers_legs() -> None:
    legs = _read("internal.csv")["transfers"]
    assert legs.select("kind", "idx", "from_address", "to_address", "value").rows() == [
        ("internal", 0, TORNADO, RONIN, "500000000000000000"),
        ("internal", 1, TORNADO, RONIN, "250000000000000000"),
    ]
    assert _read("internal.csv")["transactions"].height == 0  # the normal export owns those


def test_token_export_decimals_from_the_built_in_table() -> None:
    tables = _read("tokens.csv")
    legs = tables["transfers"]
    assert legs.select("idx", "asset", "value", "decimals").rows() == [
        (0, USDT, "1234500000", 6),
        (1, USDC, "1", 6),
        (0, USDT, "0", 6),  # zero-value token transfers are real logs and are kept
    ]
    assert set(legs["kind"]) == {"token"}
    assert set(legs["token_standard"]) == {"erc20"}
    tokens = tables["tokens"].sort("token_address")
    assert tokens.select("token_address", "symbol", "name", "decimals").rows() == [
        (USDC, "USDC", "USD Coin", 6),
        (USDT, "USDT", "Tether USD", 6),  # the first name seen is kept, as untrusted text
    ]


def test_all_three_exports_together(tmp_path: Path) -> None:
    tables = _read("normal.csv", "internal.csv", "tokens.csv", "normal_2020_header.csv")
    assert tables["transfers"]["kind"].value_counts().sort("kind").rows() == [
        ("internal", 2),
        ("native", 4),
        ("token", 3),
    ]


def _with_line(tmp_path: Path, name: str, line: int, old: str, new: str) -> Path:
    lines = (DATA / name).read_text(encoding="utf-8-sig").splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize(
    ("name", "line", "old", "new", "error", "field", "words"),
    [
        (  # one letter's case flipped: the EIP-55 checksum catches the typo
            "normal.csv",
            3,
            "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b",
            "0xd90e2f925Da726b50C4Ed8D0Fb90Ad053324F31b",
            InvalidAddress,
            "To",
            "EIP-55",
        ),
        ("normal.csv", 2, "0x4976A4A0", "0x4976A4A", InvalidAddress, "From", "not an EVM address"),
        ("normal.csv", 2, "1,234.5", "1.234.5", InvalidAmount, "Value_IN(ETH)", "not a decimal"),
        (
            "normal.csv",
            6,
            "0.000000000000000001",
            "0.0000000000000000001",
            InvalidAmount,
            "Value_OUT(ETH)",
            "19 fractional digits but the asset has 18",
        ),
        ("normal.csv", 2, '"1648041621"', '"yesterday"', InputError, "UnixTimestamp", "timestamp"),
        ("normal.csv", 3, '"0xc12c46b1', '"0xc12c46b', InputError, "Transaction Hash", "hash"),
        ("tokens.csv", 3, '"0.000001"', '"0.0000001"', InvalidAmount, "TokenValue", "7 fractional"),
        ("internal.csv", 2, '"0","","call"', '"OK?","","call"', InputError, "Status", "Status"),
    ],
)
def test_bad_cells_name_file_line_field_and_value(
    tmp_path: Path,
    name: str,
    line: int,
    old: str,
    new: str,
    error: type[InputError],
    field: str,
    words: str,
) -> None:
    path = _with_line(tmp_path, name, line, old, new)
    with pytest.raises(error) as e:
        read([path], chain="ethereum", options={})
    assert (e.value.source, e.value.line, e.value.field) == (path, line, field)
    assert words in str(e.value)
    assert f"{path}:{line}, field {field!r}" in str(e.value)


def test_unknown_token_needs_decimals_and_the_option_gives_them(tmp_path: Path) -> None:
    dai_like = "0x0000000000000000000000000000000000000001"
    path = _with_line(
        tmp_path, "tokens.csv", 2, "0xdAC17F958D2ee523a2206206994597C13D831ec7", dai_like
    )
    with pytest.raises(InputError) as e:
        read([path], chain="ethereum", options={})
    assert e.value.line == 2
    assert e.value.value == dai_like
    assert f"--map decimals.{dai_like}=<n>" in str(e.value)
    legs = read([path], chain="ethereum", options={f"decimals.{dai_like}": "2"})["transfers"]
    assert legs["value"].to_list()[0] == "123450"
    with pytest.raises(InvalidAmount, match="1 fractional digits but the asset has 0"):
        read([path], chain="ethereum", options={f"decimals.{dai_like}": "0"})


def test_unknown_header_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text('"Txn Hash","Age","From","To","Quantity"\n"0xab","1 day","0x1","0x2","3"\n')
    with pytest.raises(UnknownFormat) as e:
        read([path], chain="ethereum", options={})
    assert "Txn Hash,Age,From,To,Quantity" in str(e.value)
    assert "--format mapped" in str(e.value)
    assert detect_export(["Txn Hash", "Age"]) is None


def test_bsc_export_under_ethereum_is_refused(tmp_path: Path) -> None:
    text = (DATA / "normal_2020_header.csv").read_text().replace("(ETH)", "(BNB)")
    path = tmp_path / "bscscan.csv"
    path.write_text(text)
    with pytest.raises(InputError, match="counts in BNB"):
        read([path], chain="ethereum", options={})
    assert read([path], chain="bsc", options={})["transfers"]["asset"].to_list() == ["BNB"]


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="no header"):
        read([path], chain="ethereum", options={})
    path.write_text((DATA / "tokens.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(InputError, match="no data rows"):
        read([path], chain="ethereum", options={})


def test_short_row_is_named(tmp_path: Path) -> None:
    lines = (DATA / "internal.csv").read_text().splitlines()
    path = tmp_path / "internal.csv"
    path.write_text("\n".join([*lines[:2], lines[2][:90]]) + "\n")
    with pytest.raises(InputError) as e:
        read([path], chain="ethereum", options={})
    assert e.value.line == 3
    assert "fields where the header has 17" in str(e.value)


def test_options_other_than_decimals_are_refused() -> None:
    with pytest.raises(InputError, match="not an option of --format etherscan"):
        _read("tokens.csv", from_address="From")
    with pytest.raises(InputError, match=r"integer 0\.\.255"):
        _read("tokens.csv", **{f"decimals.{USDT}": "six"})


def test_nft_exports_are_refused_with_a_pointer_to_mapped(tmp_path: Path) -> None:
    header = '"Transaction Hash","Blockno","UnixTimestamp","From","To","ContractAddress",'
    path = tmp_path / "nft.csv"
    path.write_text(
        header + '"TokenId","TokenName","TokenSymbol"\n'
        f'"0x{"ab" * 32}","1","1648041621","{RONIN}","{TORNADO}","{USDT}","7","x","y"\n'
    )
    with pytest.raises(UnknownFormat, match="--format mapped"):
        read([path], chain="ethereum", options={})


def test_non_evm_chain_is_refused() -> None:
    with pytest.raises(InputError, match="--chain"):
        read([DATA / "tokens.csv"], chain="bitcoin", options={})


def test_2025_layout_matches_the_classic_layout() -> None:
    """The Amount-with-unit layout gives the same rows as the Value_IN/Value_OUT layout."""
    new = _read("normal_2025_layout.csv", "internal_2025_layout.csv")
    old = _read("normal.csv", "internal.csv")
    columns = ["transaction_hash", "kind", "idx", "from_address", "to_address", "value"]
    common = new["transfers"].join(old["transfers"], on=columns, how="semi")
    assert common.height == 4  # 2 native + 2 internal; the failed rows moved nothing in both
    assert new["transfers"].filter(pl.col("value") == "7").height == 1  # "7 wei"
    assert new["transactions"]["receipt_status"].to_list() == [1, 1, 0, 1]
    assert new["transfers"].height == 5


def test_2025_layout_amount_in_another_coin_is_refused(tmp_path: Path) -> None:
    path = _with_line(tmp_path, "normal_2025_layout.csv", 3, '"100 ETH"', '"100 BNB"')
    with pytest.raises(InputError) as e:
        read([path], chain="ethereum", options={})
    assert (e.value.line, e.value.field) == (3, "Amount")
    assert "not the native coin" in str(e.value)
