"""Transfers that carry a block time but no block number (Dune, ``mapped`` exports) are traced
in time order, as fixtures/ronin-lazarus-real needs."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from tracer.schema import TRANSFERS
from tracer.trace import TraceInputs, TraceSpec, run_trace

ETHER = 10**18


def transfer(n: int, second: int, src: str, dst: str, eth: int) -> dict[str, object]:
    return {
        "chain": "ethereum",
        "block_number": None,
        "block_timestamp": datetime(2022, 3, 23, 13, 0, second, tzinfo=UTC),
        "transaction_hash": f"synthetic:{n}",
        "transaction_index": None,
        "kind": "native",
        "idx": 0,
        "from_address": "0x" + src * 40,
        "to_address": "0x" + dst * 40,
        "asset": "ETH",
        "token_standard": None,
        "token_id": None,
        "value": str(eth * ETHER),
        "decimals": 18,
    }


def test_trace_follows_block_times_when_block_numbers_are_missing() -> None:
    transfers = pl.DataFrame(
        [
            transfer(0, 1, "c", "d", 5),  # before c is tainted: not followed
            transfer(1, 2, "a", "b", 10),
            transfer(2, 3, "b", "c", 10),
            transfer(3, 4, "c", "e", 4),
        ],
        schema=TRANSFERS,
    )
    spec = TraceSpec(seeds=("0x" + "a" * 40,), max_hops=3)
    result = run_trace(TraceInputs(transfers=transfers.lazy()), spec)
    hops = dict(result.nodes.select("address", "min_hop").iter_rows())
    assert hops == {"0x" + "a" * 40: 0, "0x" + "b" * 40: 1, "0x" + "c" * 40: 2, "0x" + "e" * 40: 3}
    reached = result.flows.select("to_address", "tainted_value").rows()
    assert sorted(reached) == [
        ("0x" + "b" * 40, str(10 * ETHER)),
        ("0x" + "c" * 40, str(10 * ETHER)),
        ("0x" + "e" * 40, str(4 * ETHER)),
    ]
