"""The hop layout's column spacing follows the graph as first drawn, clusters closed."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracer import schema
from tracer.report.graph import build_graph, layout_by_hop, read_trace

SEED = "0x" + "01" * 20
MEMBERS = [f"0x{i:040x}" for i in range(2, 31)]
EXCHANGE = "0x" + "ee" * 20


def write_trace(out: Path, *, clustered: bool) -> Path:
    """A seed pays 29 wallets of its own cluster (hop 0); the last pays an exchange (hop 1)."""
    out.mkdir(parents=True)
    pairs = [(SEED, m, 0) for m in MEMBERS] + [(MEMBERS[-1], EXCHANGE, 1)]
    flows = {
        "chain": "ethereum",
        "hop": [p[2] for p in pairs],
        "transaction_hash": [f"0x{i:064x}" for i in range(len(pairs))],
        "kind": "native",
        "idx": 0,
        "from_address": [p[0] for p in pairs],
        "to_address": [p[1] for p in pairs],
        "asset": "ETH",
        "decimals": 18,
        "value": "1000000000000000000",
        "tainted_value": "1000000000000000000",
        "block_number": list(range(len(pairs))),
        "block_timestamp": None,
    }
    addresses = [SEED, *MEMBERS, EXCHANGE]
    nodes = {
        "chain": "ethereum",
        "address": addresses,
        "cluster_id": [SEED if clustered and a != EXCHANGE else None for a in addresses],
        "label": None,
        "category": [None] * (len(addresses) - 1) + ["exchange"],
        "role": ["seed"] + ["held"] * len(MEMBERS) + ["endpoint"],
        "min_hop": [0] * (len(addresses) - 1) + [1],
    }
    for table, rows in (("flows", flows), ("nodes", nodes)):
        frame = schema.conform(pl.DataFrame(rows, strict=False), table).collect()
        frame.write_csv(out / f"{table}.csv")
    return out


def test_a_closed_cluster_counts_as_one_node_for_the_column_spacing(tmp_path: Path) -> None:
    closed = layout_by_hop(build_graph(read_trace(write_trace(tmp_path / "c", clustered=True))))
    plain = layout_by_hop(build_graph(read_trace(write_trace(tmp_path / "p", clustered=False))))
    # Drawn as one node, the 30-address cluster makes a column one node high: the minimum gap.
    assert closed[EXCHANGE][0] == 320.0
    # Without clusters the 30 addresses stand in a tall column and the drawing widens to match.
    assert plain[EXCHANGE][0] > 2_000.0
    # Within the column, the members keep their own places either way.
    assert len({closed[a][1] for a in [SEED, *MEMBERS]}) == 30
    assert [closed[a][1] for a in MEMBERS] == [plain[a][1] for a in MEMBERS]
