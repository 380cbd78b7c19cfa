"""Exact whole-unit -> base-unit conversion shared by the CSV readers (property tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracer.amounts import MAX_UINT256, format_units
from tracer.errors import InputError, InvalidAmount
from tracer.ingest._export_csv import parse_timestamp, to_base_units


@given(st.integers(0, MAX_UINT256), st.integers(0, 36))
def test_round_trip_through_whole_units(value: int, decimals: int) -> None:
    assert to_base_units(format_units(value, decimals), decimals) == value


@given(st.integers(0, 10**30), st.integers(0, 18))
def test_thousands_separators(value: int, decimals: int) -> None:
    whole, _, frac = format_units(value, decimals).partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
    assert to_base_units(grouped, decimals) == value


@given(st.integers(1, 10**6), st.integers(0, 17))
def test_one_digit_too_many_is_refused(value: int, decimals: int) -> None:
    text = format_units(value * 10 + 1, decimals + 1)  # needs decimals + 1 fractional digits
    with pytest.raises(InvalidAmount, match="fractional digits"):
        to_base_units(text, decimals)


@pytest.mark.parametrize(
    "text",
    ["", "-1", "+1", "1,23.4", "1.2.3", "0x10", "nan", "inf", "1e", "١٢", "1e99999", "1 000"],
)
def test_malformed_or_out_of_range(text: str) -> None:
    with pytest.raises(InvalidAmount):
        to_base_units(text, 18)


def test_scientific_and_bounds() -> None:
    assert to_base_units("1.5E+3", 18) == 1500 * 10**18
    assert to_base_units("0e10", 18) == 0
    assert to_base_units(format_units(MAX_UINT256, 18), 18) == MAX_UINT256
    with pytest.raises(InvalidAmount, match="above 2\\*\\*256-1"):
        to_base_units(format_units(MAX_UINT256 + 1, 18), 18)


@pytest.mark.parametrize(
    "text",
    [
        "1648041621",
        "2022-03-23T13:20:21Z",
        "2022-03-23T15:20:21+02:00",
        "2022-03-23 13:20:21",
        "2022-03-23 13:20:21.000 UTC",
    ],
)
def test_timestamps(text: str) -> None:
    assert parse_timestamp(text) == datetime(2022, 3, 23, 13, 20, 21, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "23/03/2022", "yesterday", "-1", "1648041621.5"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(InputError, match="not a timestamp"):
        parse_timestamp(text)
