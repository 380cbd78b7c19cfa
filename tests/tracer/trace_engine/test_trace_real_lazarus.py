"""The engine on real transfers: 436 ETH movements around the Ronin bridge exploiter (2022).

Source: ../shared/data/txdata/dspytdao_lazarus_dune/LazarusTabularTxs1322519.csv, a Dune export
of ETH transfers touching the OFAC-listed Lazarus (Ronin) addresses, from dspytdao/Eth_Data
@3c66dcba (MIT); see ../shared/data/SOURCES.md. The export has no transaction hashes or block
numbers: rows are ordered by their block time, and amounts are given in ETH as decimals, which
are converted to wei exactly from their text.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from tracer.schema import TRANSFERS
from tracer.trace import TraceInputs, TraceSpec, run_trace

RONIN_EXPLOITER = "0x098b716b8aaf21512996dc57eb0615e2383e2f96"


@pytest.fixture(scope="module")
def lazarus_transfers(shared_data: Path) -> pl.DataFrame:
    path = shared_data / "txdata" / "dspytdao_lazarus_dune" / "LazarusTabularTxs1322519.csv"
    with path.open(newline="") as handle:
        raw = [
            (datetime.fromisoformat(r["block_time"]), r["from"], r["to"], r["total_eth"])
            for r in csv.DictReader(handle)
        ]
    raw.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    seconds = sorted({r[0] for r in raw})
    block_of = {t: n for n, t in enumerate(seconds, start=1)}
    rows = []
    for n, (at, src, dst, eth) in enumerate(raw):
        rows.append(
            {
                "chain": "ethereum",
                "block_number": block_of[at],
                "block_timestamp": at,
                "transaction_hash": f"dune-row-{n:04d}",
                "transaction_index": n,
                "kind": "native",
                "idx": 0,
                "from_address": "0x" + src[2:].lower(),
                "to_address": "0x" + dst[2:].lower(),
                "asset": "ETH",
                "token_standard": None,
                "token_id": None,
                "value": str(int(Decimal(eth) * 10**18)),
                "decimals": 18,
            }
        )
    return pl.DataFrame(rows, schema=TRANSFERS)


def test_real_trace_conserves_and_orders_models(lazarus_transfers: pl.DataFrame) -> None:
    spec = TraceSpec(seeds=(RONIN_EXPLOITER,), max_hops=4, taint="haircut", compare=True)
    result = run_trace(TraceInputs(transfers=lazarus_transfers.lazy()), spec)
    seeded = Fraction(result.taints["haircut"].totals()["ETH"]["seeded"])
    assert seeded > 100_000 * 10**18  # the exploiter received over 100k ETH in this export
    for model in ("haircut", "fifo"):
        t = result.taints[model].totals()["ETH"]
        assert t["endpoints"] + t["held"] + t["fees"] + t["below_min_value"] == t["seeded"]
        assert t["untraced"] == 0
        assert t["seeded"] == seeded
    # Poison taints a superset of what haircut and FIFO taint: it bounds them everywhere.
    assert result.compare is not None
    for row in result.compare.iter_rows(named=True):
        assert int(row["poison"]) >= int(row["haircut"])
        assert int(row["poison"]) >= int(row["fifo"])
    # Time order: every flow leaves an address that had already received taint (or the seed).
    first_in: dict[str, tuple[int, int]] = {}
    for row in result.flows.sort("block_number", "transaction_hash").iter_rows(named=True):
        src = row["from_address"]
        key = (row["block_number"], int(row["transaction_hash"].rsplit("-", 1)[1]))
        if src != RONIN_EXPLOITER:
            assert src in first_in
            assert first_in[src] <= key
        first_in.setdefault(row["to_address"], key)
    assert result.nodes.filter(pl.col("role") == "seed")["address"].to_list() == [RONIN_EXPLOITER]
