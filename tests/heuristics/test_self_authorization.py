"""self_authorization: approvals to EOAs link, to contracts, services or of zero do not."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from heuristics.self_authorization import self_authorization
from tracer.schema import APPROVALS, CONTRACTS, LABELS

OWNER, SPENDER = "0x" + "a" * 40, "0x" + "b" * 40


def approvals(value: str = "1000") -> pl.LazyFrame:
    return pl.DataFrame(
        [
            {
                "chain": "ethereum",
                "block_number": 7,
                "transaction_hash": "t1",
                "log_index": 0,
                "owner": OWNER,
                "spender": SPENDER,
                "token_address": "0x" + "7" * 40,
                "value": value,
            }
        ],
        schema=APPROVALS,
    ).lazy()


def linked(
    ap: pl.LazyFrame, lab: pl.LazyFrame | None = None, contracts: tuple[str, ...] = ()
) -> list[Any]:
    con = pl.DataFrame({"chain": ["ethereum"] * len(contracts), "address": list(contracts)})
    con = con.with_columns(
        pl.lit(None, dtype=pl.Int64).alias("block_number"),
        pl.lit(None, dtype=pl.String).alias("transaction_hash"),
        pl.lit(None, dtype=pl.String).alias("creator"),
    ).cast(CONTRACTS)
    out = self_authorization(
        ap, lab if lab is not None else pl.LazyFrame(schema=LABELS), con.lazy()
    )
    return (
        out.select("address_a", "address_b", "evidence_transaction_hash", "confidence")
        .collect()
        .rows()
    )


def test_approval_to_eoa_links() -> None:
    assert linked(approvals()) == [(OWNER, SPENDER, "t1", 70)]


def test_unlimited_approval_beyond_int128_links() -> None:
    assert linked(approvals(str(2**256 - 1))) == [(OWNER, SPENDER, "t1", 70)]


def test_approval_to_contract_does_not_link() -> None:
    assert linked(approvals(), contracts=(SPENDER,)) == []


@pytest.mark.parametrize("value", ["0", "000"])
def test_revocation_does_not_link(value: str) -> None:
    assert linked(approvals(value)) == []


@pytest.mark.parametrize("who", [OWNER, SPENDER])
def test_service_side_does_not_link(make_labels: Any, who: str) -> None:
    assert linked(approvals(), make_labels([(who, "Binance", "exchange")])) == []
