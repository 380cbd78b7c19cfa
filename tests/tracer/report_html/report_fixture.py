"""A small hand-written trace output directory with hostile labels, for the report tests.

The trace is made up (no chain data): eight addresses, ten transfers, one two-address
cluster, and labels, a token symbol and a case title written to attack the page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import polars as pl

from tracer import schema

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
)

SEED = "0x" + "a1" * 20
A = "0x" + "b2" * 20
B = "0x" + "c3" * 20
C = "0x" + "d4" * 20
DEPOSIT = "0x" + "e5" * 20
MIXER = "0x" + "f6" * 20
BRIDGE = "0x" + "07" * 20
HELD = "0x" + "18" * 20
TOKEN = "<script>alert(1)</script>"  # a token symbol chosen by an attacker
ETH = 10**18
T0 = dt.datetime(2022, 3, 23, 10, 0, tzinfo=dt.UTC)

# (hop, tx, from, to, asset, decimals, value, tainted, minutes after T0)
FLOWS = [
    (1, "0x" + "01" * 32, SEED, A, "ETH", 18, 10 * ETH, 10 * ETH, 0),
    (1, "0x" + "02" * 32, SEED, B, "ETH", 18, 5 * ETH, 5 * ETH, 1),
    (1, "0x" + "03" * 32, SEED, A, TOKEN, 6, 1_000_000_000, 1_000_000_000, 2),
    (2, "0x" + "04" * 32, A, DEPOSIT, "ETH", 18, 4 * ETH, 4 * ETH, 10),
    (2, "0x" + "05" * 32, A, C, "ETH", 18, 6 * ETH, 6 * ETH, 11),
    (2, "0x" + "06" * 32, B, MIXER, "ETH", 18, 5 * ETH, 5 * ETH, 12),
    (2, "0x" + "07" * 32, A, DEPOSIT, TOKEN, 6, 1_000_000_000, 1_000_000_000, 13),
    (3, "0x" + "08" * 32, C, BRIDGE, "ETH", 18, 3 * ETH, 3 * ETH, 20),
    (3, "0x" + "09" * 32, C, HELD, "ETH", 18, 3 * ETH, 3 * ETH, 21),
    (3, "0x" + "0a" * 32, C, HELD, "ETH", 18, 2 * ETH, 0, 22),  # clean money: tainted 0
]

# (address, cluster_id, label, category, role, min_hop)
NODES = [
    (SEED, None, "Lazarus " + HOSTILE[0], "perpetrator", "seed", 0),
    (A, None, None, None, "intermediate", 1),
    (B, B, None, None, "intermediate", 1),
    (C, B, None, None, "intermediate", 2),
    (DEPOSIT, None, HOSTILE[1], "deposit_wallet", "endpoint", 2),
    (MIXER, None, HOSTILE[2], "mixing_service", "endpoint", 2),
    (BRIDGE, None, "Bridge & <b>co</b>", "defi_bridge", "endpoint", 3),
    (HELD, None, None, None, "held", 3),
]

# (address, label, category, asset, decimals, tainted, share, min_hop, minutes, paths)
EXPOSURE = [
    (DEPOSIT, HOSTILE[1], "deposit_wallet", "ETH", 18, 4 * ETH, 4 / 15, 2, 10, 1),
    (DEPOSIT, HOSTILE[1], "deposit_wallet", TOKEN, 6, 1_000_000_000, 1.0, 2, 13, 1),
    (MIXER, HOSTILE[2], "mixing_service", "ETH", 18, 5 * ETH, 5 / 15, 2, 12, 1),
    (BRIDGE, "Bridge & <b>co</b>", "defi_bridge", "ETH", 18, 3 * ETH, 3 / 15, 3, 20, 1),
]

# (endpoint, asset, rank, tainted, addresses)
PATHS = [
    (MIXER, "ETH", 1, 5 * ETH, [SEED, B, MIXER]),
    (DEPOSIT, "ETH", 1, 4 * ETH, [SEED, A, DEPOSIT]),
    (BRIDGE, "ETH", 1, 3 * ETH, [SEED, A, C, BRIDGE]),
    (DEPOSIT, TOKEN, 1, 1_000_000_000, [SEED, A, DEPOSIT]),
]

TITLE = "Case " + HOSTILE[0]

# trace.json as the trace engine writes it (tracer.trace.outputs.trace_manifest); no title.
PARAMETERS: dict[str, Any] = {
    "tracer_version": "0.1.0",
    "chain": "ethereum",
    "parameters": {
        "seeds": [SEED],
        "direction": "forward",
        "taint": "haircut",
        "max_hops": 4,
        "min_value": None,
        "stop_at": ["exchange", "deposit_wallet", "mixing_service", "defi_bridge"],
    },
    "seeds": [{"address": SEED, "transaction_hash": None}],
    "seeded": {"ETH": str(15 * ETH), TOKEN: "1000000000"},
    "decimals": {"ETH": 18, TOKEN: 6},
    "totals": {
        "haircut": {
            "ETH": {
                "seeded": str(15 * ETH),
                "endpoints": str(12 * ETH),
                "held": str(3 * ETH),
                "fees": "0",
                "untraced": "0",
                "dust": "0",
            },
            TOKEN: {"seeded": "1000000000", "endpoints": "1000000000", "held": "0"},
        }
    },
    "stats": {"rounds": 3},
    "tables": ["exposure.csv", "flows.csv", "held.csv", "nodes.csv", "paths.csv"],
}


def _write(path: Path, table: str, rows: dict[str, list[Any]]) -> None:
    schema.conform(pl.DataFrame(rows, strict=False), table).collect().write_csv(path)


def write_fixture_trace(out: Path) -> Path:
    """Write the hand-written trace outputs (all five CSVs and trace.json) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    _write(
        out / "flows.csv",
        "flows",
        {
            "chain": ["ethereum"] * len(FLOWS),
            "hop": [f[0] for f in FLOWS],
            "transaction_hash": [f[1] for f in FLOWS],
            "kind": ["token" if f[4] == TOKEN else "native" for f in FLOWS],
            "idx": [0] * len(FLOWS),
            "from_address": [f[2] for f in FLOWS],
            "to_address": [f[3] for f in FLOWS],
            "asset": [f[4] for f in FLOWS],
            "decimals": [f[5] for f in FLOWS],
            "value": [str(f[6]) for f in FLOWS],
            "tainted_value": [str(f[7]) for f in FLOWS],
            "block_number": [14_000_000 + i for i in range(len(FLOWS))],
            "block_timestamp": [T0 + dt.timedelta(minutes=f[8]) for f in FLOWS],
        },
    )
    _write(
        out / "nodes.csv",
        "nodes",
        {
            "chain": ["ethereum"] * len(NODES),
            "address": [n[0] for n in NODES],
            "cluster_id": [n[1] for n in NODES],
            "label": [n[2] for n in NODES],
            "category": [n[3] for n in NODES],
            "role": [n[4] for n in NODES],
            "min_hop": [n[5] for n in NODES],
        },
    )
    _write(
        out / "exposure.csv",
        "exposure",
        {
            "chain": ["ethereum"] * len(EXPOSURE),
            "address": [e[0] for e in EXPOSURE],
            "cluster_id": [None] * len(EXPOSURE),
            "label": [e[1] for e in EXPOSURE],
            "category": [e[2] for e in EXPOSURE],
            "asset": [e[3] for e in EXPOSURE],
            "decimals": [e[4] for e in EXPOSURE],
            "tainted_value": [str(e[5]) for e in EXPOSURE],
            "share_of_seed_value": [e[6] for e in EXPOSURE],
            "min_hop": [e[7] for e in EXPOSURE],
            "first_reached_at": [T0 + dt.timedelta(minutes=e[8]) for e in EXPOSURE],
            "paths": [e[9] for e in EXPOSURE],
        },
    )
    _write(
        out / "paths.csv",
        "paths",
        {
            "chain": ["ethereum"] * len(PATHS),
            "endpoint": [p[0] for p in PATHS],
            "asset": [p[1] for p in PATHS],
            "rank": [p[2] for p in PATHS],
            "tainted_value": [str(p[3]) for p in PATHS],
            "hop_count": [len(p[4]) - 1 for p in PATHS],
            "addresses": [">".join(p[4]) for p in PATHS],
            "transaction_hashes": ["" for _ in PATHS],
        },
    )
    _write(
        out / "held.csv",
        "held",
        {
            "chain": ["ethereum"],
            "address": [HELD],
            "asset": ["ETH"],
            "decimals": [18],
            "tainted_value": [str(3 * ETH)],
            "hop": [3],
            "last_block_number": [14_000_008],
            "last_activity_at": [T0 + dt.timedelta(minutes=21)],
        },
    )
    (out / "trace.json").write_text(json.dumps(PARAMETERS, indent=1) + "\n", encoding="utf-8")
    return out


def big_trace(out: Path, *, width: int, hops: int) -> Path:
    """A layered trace: one seed, ``width`` addresses per hop, each paid by two before it."""
    write_fixture_trace(out)
    rows = []
    nodes: list[tuple[Any, ...]] = [("ethereum", SEED, None, "seed", None, "seed", 0)]
    previous = [SEED]
    tx = 0
    for hop in range(1, hops + 1):
        layer = [f"0x{hop:04x}{i:036x}" for i in range(width)]
        for i, address in enumerate(layer):
            for parent in {previous[i % len(previous)], previous[(i * 7 + 1) % len(previous)]}:
                tx += 1
                rows.append((hop, f"0x{tx:064x}", parent, address, str((i + 1) * 10**15)))
            category = "exchange" if hop == hops and i % 10 == 0 else None
            role = "endpoint" if category else "intermediate"
            nodes.append(("ethereum", address, None, None, category, role, hop))
        previous = layer
    flows = pl.DataFrame(
        {
            "chain": "ethereum",
            "hop": [r[0] for r in rows],
            "transaction_hash": [r[1] for r in rows],
            "kind": "native",
            "idx": 0,
            "from_address": [r[2] for r in rows],
            "to_address": [r[3] for r in rows],
            "asset": "ETH",
            "decimals": 18,
            "value": [r[4] for r in rows],
            "tainted_value": [r[4] for r in rows],
            "block_number": list(range(len(rows))),
            "block_timestamp": None,
        }
    )
    schema.conform(flows, "flows").collect().write_csv(out / "flows.csv")
    frame = pl.DataFrame(nodes, schema=schema.NODES, orient="row")
    schema.conform(frame, "nodes").collect().write_csv(out / "nodes.csv")
    for name in ("paths", "exposure", "held"):
        schema.empty(name).write_csv(out / f"{name}.csv")
    return out


DATA_BLOCK = re.compile(
    r'<script type="application/json" id="tracer-data">(.*?)</script>', re.DOTALL
)


def page_data(page: str) -> dict[str, Any]:
    found = DATA_BLOCK.search(page)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data
