"""airdrop_multi_participation: recipients of an airdrop pooling the token into one address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from heuristics.airdrop_multi_participation import airdrop_multi_participation
from tracer.schema import CONTRACTS, LABELS

TOKEN = "0x" + "7" * 40
DIST = "0x" + "d" * 40
AGG = "0x" + "a" * 40
R = ["0x" + f"{i:040x}" for i in range(1, 13)]
Builder = Callable[[list[tuple[Any, ...]]], pl.LazyFrame]


def scenario(
    n_recipients: int = 12, forwards: tuple[int, ...] = (0, 1, 2)
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [
        (10, f"drop{i}", DIST, R[i], 100, "token", TOKEN, 18) for i in range(n_recipients)
    ]
    rows += [(20 + i, f"fwd{i}", R[i], AGG, 100, "token", TOKEN, 18) for i in forwards]
    return rows


def linked(tr: pl.LazyFrame, lab: pl.LazyFrame | None = None, **kw: Any) -> list[Any]:
    out = airdrop_multi_participation(
        tr,
        lab if lab is not None else pl.LazyFrame(schema=LABELS),
        pl.LazyFrame(schema=CONTRACTS),
        **kw,
    )
    return out.select("address_a", "address_b", "confidence").collect().rows()


def test_pooled_recipients_link_to_aggregator(make_transfers: Builder) -> None:
    assert linked(make_transfers(scenario())) == [(R[i], AGG, 60) for i in (0, 1, 2)]


def test_too_few_recipients_is_not_an_airdrop(make_transfers: Builder) -> None:
    assert linked(make_transfers(scenario(n_recipients=9))) == []
    assert len(linked(make_transfers(scenario(n_recipients=9)), min_recipients=9)) == 3


def test_one_participant_is_not_multi_participation(make_transfers: Builder) -> None:
    assert linked(make_transfers(scenario(forwards=(0,)))) == []


def test_forward_before_receipt_does_not_count(make_transfers: Builder) -> None:
    rows = [*scenario(forwards=(0,)), (5, "early", R[1], AGG, 100, "token", TOKEN, 18)]
    assert linked(make_transfers(rows)) == []


def test_other_token_does_not_count(make_transfers: Builder) -> None:
    rows = [*scenario(forwards=(0,)), (25, "x", R[1], AGG, 100, "token", "0x" + "8" * 40, 18)]
    assert linked(make_transfers(rows)) == []


def test_service_aggregator_is_not_linked(make_transfers: Builder, make_labels: Any) -> None:
    assert linked(make_transfers(scenario()), make_labels([(AGG, "Binance", "hot_wallet")])) == []


def test_returning_the_tokens_to_the_distributor_does_not_count(make_transfers: Builder) -> None:
    rows = scenario(forwards=())
    rows += [(20 + i, f"back{i}", R[i], DIST, 100, "token", TOKEN, 18) for i in (0, 1, 2)]
    assert linked(make_transfers(rows)) == []


def test_known_contract_aggregator_is_not_linked(make_transfers: Builder) -> None:
    contracts = pl.DataFrame(
        {"chain": ["ethereum"], "address": [AGG]}, schema={"chain": pl.String, "address": pl.String}
    ).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("block_number"),
        pl.lit(None, dtype=pl.String).alias("transaction_hash"),
        pl.lit(None, dtype=pl.String).alias("creator"),
    )
    out = airdrop_multi_participation(
        make_transfers(scenario()), pl.LazyFrame(schema=LABELS), contracts.cast(CONTRACTS).lazy()
    )
    assert out.collect().is_empty()


def test_forward_in_the_airdrop_block_counts(make_transfers: Builder) -> None:
    rows = scenario(forwards=())
    rows += [(10, f"same{i}", R[i], AGG, 100, "token", TOKEN, 18) for i in (0, 1)]
    assert linked(make_transfers(rows)) == [(R[0], AGG, 60), (R[1], AGG, 60)]
