"""Tiny transfer tables for the trace engine's tests, small enough to check by hand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracer.case import _trace_spec
from tracer.casefile import load_case
from tracer.schema import LABELS, SEEDS, TRANSACTIONS, TRANSFERS
from tracer.trace import TraceSpec

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# (from, to, value, block) with optional keys: asset, kind, tx, idx, decimals, tx_index
Row = tuple[Any, ...] | dict[str, Any]


def block_time(block: int) -> datetime:
    return EPOCH + timedelta(seconds=12 * block)


def transfers_frame(rows: Sequence[Row], *, chain: str = "ethereum") -> pl.DataFrame:
    out = []
    for n, row in enumerate(rows):
        r = (
            dict(zip(("from", "to", "value", "block"), row, strict=False))
            if isinstance(row, tuple)
            else dict(row)
        )
        block = int(r["block"])
        out.append(
            {
                "chain": chain,
                "block_number": block,
                "block_timestamp": block_time(block),
                "transaction_hash": r.get("tx", f"0xt{n:04d}"),
                "transaction_index": r.get("tx_index", 0),
                "kind": r.get("kind", "native"),
                "idx": r.get("idx", 0),
                "from_address": r["from"],
                "to_address": r["to"],
                "asset": r.get("asset", "ETH"),
                "token_standard": None,
                "token_id": None,
                "value": str(r["value"]),
                "decimals": r.get("decimals", 0),
            }
        )
    return pl.DataFrame(out, schema=TRANSFERS)


def labels_frame(pairs: dict[str, str], *, chain: str = "ethereum") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "chain": chain,
                "address": a,
                "label": f"{c} {a}",
                "category": c,
                "source": "test",
                "confidence": 100,
                "is_cluster_definer": False,
                "lastmod": None,
            }
            for a, c in pairs.items()
        ],
        schema=LABELS,
    )


def seeds_frame(rows: Sequence[tuple[str, str | None]], *, chain: str = "ethereum") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "chain": chain,
                "address": a,
                "attribution": "test",
                "incident": "test",
                "source": "test",
                "source_date": None,
                "transaction_hash": t,
            }
            for a, t in rows
        ],
        schema=SEEDS,
    )


def transactions_frame(rows: Sequence[dict[str, Any]], *, chain: str = "ethereum") -> pl.DataFrame:
    out = []
    for r in rows:
        block = int(r["block"])
        out.append(
            {
                "chain": chain,
                "block_number": block,
                "block_hash": None,
                "block_timestamp": block_time(block),
                "transaction_hash": r["tx"],
                "transaction_index": r.get("tx_index", 0),
                "from_address": r["from"],
                "to_address": r.get("to"),
                "value": str(r.get("value", 0)),
                "gas": 21000,
                "gas_price": str(r.get("gas_price", 1)),
                "gas_used": r.get("gas_used", 0),
                "effective_gas_price": str(r.get("gas_price", 1)),
                "receipt_status": r.get("status", 1),
                "nonce": 0,
                "method_id": None,
                "contract_address": None,
            }
        )
    return pl.DataFrame(out, schema=TRANSACTIONS)


# A seed and an export format per chain, for a minimal case file.
_CASE_CHAINS = {
    "ethereum": ("0x098B716B8Aaf21512996dC57EB0615e2383E2f96", "ethereum-etl"),
    "bitcoin": ("1KFXUT3xumPvvpiekjcmezuTgQDUUhKcyk", "bitcoin-etl"),
}


def case_trace_spec(tmp_path: Path, trace: str = "", *, chain: str = "ethereum") -> TraceSpec:
    """The trace parameters a minimal case file gives, with ``trace`` as its ``[trace]`` table."""
    seed, fmt = _CASE_CHAINS[chain]
    (tmp_path / "data.csv").write_text("x\n1\n")
    case = tmp_path / "case.toml"
    case.write_text(
        f'[case]\ntitle = "t"\nchain = "{chain}"\n[seeds]\naddresses = ["{seed}"]\n'
        f'[data]\nfiles = ["data.csv"]\nformat = "{fmt}"\n'
        + (f"[trace]\n{trace}\n" if trace else "")
    )
    return _trace_spec(load_case(case))


@pytest.fixture
def make_transfers() -> Callable[..., pl.DataFrame]:
    return transfers_frame


@pytest.fixture
def make_labels() -> Callable[..., pl.DataFrame]:
    return labels_frame


@pytest.fixture
def make_seeds() -> Callable[..., pl.DataFrame]:
    return seeds_frame


@pytest.fixture
def make_transactions() -> Callable[..., pl.DataFrame]:
    return transactions_frame
