"""Address validation on real attributed addresses (../shared/data/seeds, see SOURCES.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from tracer.addresses import (
    normalize,
    normalize_column,
    normalize_evm,
    to_checksum,
    validate_bitcoin,
)
from tracer.errors import InvalidAddress

RONIN = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"  # OFAC SDN, Lazarus Group (Ronin), 2022-04-14


def test_eip55_mixed_case_is_checked_and_lowered() -> None:
    assert normalize_evm(RONIN) == RONIN.lower()
    assert to_checksum(RONIN.lower()) == RONIN


def test_wrong_checksum_is_an_error_naming_the_address() -> None:
    i = next(i for i, c in enumerate(RONIN[2:], start=2) if c.isalpha())
    wrong = RONIN[:i] + RONIN[i].swapcase() + RONIN[i + 1 :]
    with pytest.raises(InvalidAddress) as e:
        normalize_evm(wrong)
    assert wrong in str(e.value)
    assert "EIP-55" in str(e.value)
    assert RONIN in str(e.value)  # the fix names the correct casing


@pytest.mark.parametrize("upper_or_lower", [RONIN.lower(), "0x" + RONIN[2:].upper()])
def test_single_case_addresses_carry_no_checksum(upper_or_lower: str) -> None:
    assert normalize_evm(upper_or_lower) == RONIN.lower()


@pytest.mark.parametrize(
    "bad", ["0x123", "098B716B8Aaf21512996dC57EB0615e2383E2f96", "0x" + "g" * 40, ""]
)
def test_malformed_evm_addresses(bad: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_evm(bad)


def _dprk_rows(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / "seeds" / "dprk_attributed_addresses.csv").open() as f:
        return list(csv.DictReader(f))


def test_every_attributed_address_passes_its_checksum(shared_data: Path) -> None:
    chains = {"ETH": "ethereum", "BSC": "bsc", "POLYGON": "polygon", "BTC": "bitcoin"}
    rows = _dprk_rows(shared_data)
    assert len(rows) == 128
    for row in rows:
        chain = chains[row["chain"]]
        out = normalize(row["address"], chain)
        if chain == "bitcoin":
            assert out == row["address"] or out == row["address"].lower()
        else:
            assert out == row["address"].lower()


def test_ofac_bitcoin_list_validates(shared_data: Path) -> None:
    path = shared_data / "seeds" / "ofac_0xB10C_lists" / "sanctioned_addresses_XBT.txt"
    addresses = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    assert len(addresses) > 300
    refused = []
    for address in addresses:
        try:
            validate_bitcoin(address)
        except InvalidAddress:
            refused.append(address)
    # The real list files a few Tron (T...) addresses under XBT; they must not pass as Bitcoin.
    assert refused
    assert all(a.startswith("T") for a in refused), refused


@pytest.mark.parametrize(
    "bad",
    [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # base58 checksum broken (last char)
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx",  # bech32 checksum broken
        "bc1Qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # mixed case bech32
        "LQTpS3VaYTjCr4s9Y1t5zbeY26zevf7Fb3",  # litecoin version byte on bitcoin
        "0OIl",
    ],
)
def test_bad_bitcoin_addresses(bad: str) -> None:
    with pytest.raises(InvalidAddress):
        validate_bitcoin(bad)


def test_bech32m_taproot() -> None:
    # BIP-350 test vector (mainnet v1, bech32m)
    taproot = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    assert validate_bitcoin(taproot) == taproot
    # The same witness v1 program under bech32 (not m) must fail (BIP-350).
    with pytest.raises(InvalidAddress):
        validate_bitcoin(
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx"
        )


def test_normalize_column_names_the_row() -> None:
    frame = pl.DataFrame(
        {
            "chain": ["ethereum", "ethereum", "bitcoin"],
            "address": [RONIN, None, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"],
        }
    )
    out = normalize_column(frame, "address")
    assert out["address"].to_list() == [RONIN.lower(), None, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]
    bad = frame.with_columns(pl.Series("address", [RONIN, "0xnope", None]))
    with pytest.raises(InvalidAddress) as e:
        normalize_column(bad, "address")
    assert e.value.line == 2
    assert e.value.field == "address"
