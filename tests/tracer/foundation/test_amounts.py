"""Exact amounts: uint256 in, exact sums out, nothing wrapped or rounded."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.amounts import MAX_UINT256, format_units, int128_or_null, parse_uint, sum_values
from tracer.errors import InvalidAmount
from tracer.schema import conform
from tracer.store import Store

UINT256 = st.integers(min_value=0, max_value=MAX_UINT256)


@given(UINT256)
def test_parse_uint_round_trips_decimal_and_hex(n: int) -> None:
    assert parse_uint(str(n)) == n
    assert parse_uint(hex(n)) == n


@pytest.mark.parametrize(
    "bad", ["-1", "1e18", "1.5", "0xzz", "", "ten", str(MAX_UINT256 + 1), True]
)
def test_parse_uint_refuses_what_is_not_an_exact_uint256(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_uint(bad)


def test_parse_uint_accepts_integral_numeric_with_zero_fraction() -> None:
    assert parse_uint("5000000000000000000.0") == 5 * 10**18


def test_int128_sum_wraps_so_we_never_use_it() -> None:
    # The reason sum_values exists (DESIGN.md, seen on polars 2.1).
    wrapped = pl.Series([2**126, 2**126], dtype=pl.Int128).sum()
    assert wrapped != 2**127


@settings(max_examples=200, deadline=None)
@given(st.lists(UINT256, min_size=0, max_size=40))
def test_sum_values_is_exact(values: list[int]) -> None:
    lf = pl.LazyFrame({"value": [str(v) for v in values]}, schema={"value": pl.String})
    assert sum_values(lf).collect().item() == str(sum(values))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), UINT256), min_size=1, max_size=30))
def test_sum_values_per_group(rows: list[tuple[str, int]]) -> None:
    lf = pl.LazyFrame({"g": [g for g, _ in rows], "value": [str(v) for _, v in rows]})
    got = dict(sum_values(lf, by=["g"]).collect().iter_rows())
    want: dict[str, int] = {}
    for g, v in rows:
        want[g] = want.get(g, 0) + v
    assert got == {g: str(v) for g, v in want.items()}


def test_int128_or_null_flags_what_does_not_fit() -> None:
    lf = pl.LazyFrame({"value": [str(2**127 - 1), str(2**127), str(MAX_UINT256)]})
    out = lf.select(int128_or_null("value")).collect().to_series().to_list()
    assert out == [2**127 - 1, None, None]


def test_format_units_is_exact() -> None:
    assert format_units(MAX_UINT256, 18) == (
        "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
    )
    assert format_units("100", 2) == "1"
    assert format_units("5", 3) == "0.005"


def _transfer_rows(values: list[int]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "chain": ["ethereum"] * n,
            "block_number": list(range(n)),
            "block_timestamp": [None] * n,
            "transaction_hash": [f"0x{i:064x}" for i in range(n)],
            "transaction_index": [0] * n,
            "kind": ["token"] * n,
            "idx": [0] * n,
            "from_address": ["0x" + "1" * 40] * n,
            "to_address": ["0x" + "2" * 40] * n,
            "asset": ["0x" + "3" * 40] * n,
            "token_standard": ["erc20"] * n,
            "token_id": [None] * n,
            "value": [str(v) for v in values],
            "decimals": [18] * n,
        }
    )


@settings(max_examples=25, deadline=None)
@given(st.lists(UINT256, min_size=1, max_size=10))
def test_uint256_survives_file_table_sum_csv(
    tmp_path_factory: pytest.TempPathFactory, values: list[int]
) -> None:
    """file -> table -> sum -> CSV output, exactly (issue: foundation, item 2)."""
    tmp = tmp_path_factory.mktemp("amounts")
    source = tmp / "in.csv"
    _transfer_rows(values).write_csv(source)
    # Read amounts as strings: a CSV reader left to infer would make them floats.
    frame = pl.read_csv(source, schema_overrides={"value": pl.String, "token_id": pl.String})
    store = Store(tmp / "data")
    store.commit(
        {
            "transfers": conform(
                frame.with_columns(pl.col("block_timestamp").cast(pl.Datetime("us", "UTC"))),
                "transfers",
            )
        }
    )
    table = store.scan("transfers")
    assert sorted(int(v) for v in table.collect()["value"]) == sorted(values)
    out = tmp / "sum.csv"
    sum_values(table, by=["asset"]).collect().write_csv(out)
    back = pl.read_csv(out, schema_overrides={"value": pl.String})
    assert back["value"].to_list() == [str(sum(values))]


def test_store_round_trips_max_uint256(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"transfers": _transfer_rows([MAX_UINT256, 0, 1])})
    assert sorted(store.scan("transfers").collect()["value"].to_list()) == sorted(
        [str(MAX_UINT256), "0", "1"]
    )
