"""Builders shared by the heuristic tests, handed out as fixtures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from tracer.schema import LABELS, TRANSFERS

TransfersBuilder = Callable[[list[tuple[Any, ...]]], pl.LazyFrame]
LabelsBuilder = Callable[[list[tuple[str, str, str]]], pl.LazyFrame]


def build_transfers(rows: list[tuple[Any, ...]]) -> pl.LazyFrame:
    """(block, tx, from, to, value[, kind, asset, decimals]) -> schema.TRANSFERS rows."""
    out = []
    for i, row in enumerate(rows):
        block, tx, src, dst, value, *rest = row
        kind, asset, decimals = rest if rest else ("native", "ETH", 18)
        out.append(
            {
                "chain": "ethereum",
                "block_number": block,
                "transaction_hash": tx,
                "transaction_index": 0,
                "kind": kind,
                "idx": i,
                "from_address": src,
                "to_address": dst,
                "asset": asset,
                "value": str(value),
                "decimals": decimals,
            }
        )
    return pl.DataFrame(out, schema=TRANSFERS).lazy()


def build_labels(rows: list[tuple[str, str, str]]) -> pl.LazyFrame:
    """(address, label, category) -> schema.LABELS rows (confidence 50, cluster definers)."""
    return pl.DataFrame(
        [
            {
                "chain": "ethereum",
                "address": a,
                "label": label,
                "category": category,
                "source": "test",
                "confidence": 50,
                "is_cluster_definer": True,
            }
            for a, label, category in rows
        ],
        schema=LABELS,
    ).lazy()


@pytest.fixture
def make_transfers() -> TransfersBuilder:
    return build_transfers


@pytest.fixture
def make_labels() -> LabelsBuilder:
    return build_labels
