"""Closed clusters in headless Chromium: where they sit, and what their merged edges say.

vis-network draws all edges between a closed cluster and one address as one edge carrying the
first edge's label, and places a cluster at the centre of its members. The hand-made trace
below is built so that both go wrong without tracer's corrections: two seeds of one cluster
pay one bridge 15 and 80 ETH (and a third member 3 tokens), a swap pool and the cluster trade
in both directions, and a two-address cluster's centre is exactly the place of an address
that is not in it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.tracer.report_html.report_fixture import page_data
from tests.tracer.report_html.test_report_browser import Visit, node_point, open_report, wait_until
from tracer import schema
from tracer.report.html import render_report

pytestmark = pytest.mark.browser

S1, S2, M = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20  # one cluster, two seeds
BRIDGE, POOL = "0x" + "aa" * 20, "0x" + "bb" * 20
P, N, Q = "0x" + "c1" * 20, "0x" + "c2" * 20, "0x" + "c3" * 20  # P and Q: one cluster; N not
TOKEN = "0x" + "70" * 20
ETH = 10**18
KEY, PQ = f"cluster:{S1}", f"cluster:{P}"

# (tx, from, to, asset, decimals, value)
FLOWS = [
    ("01", S1, BRIDGE, "ETH", 18, 15 * ETH),
    ("02", S2, BRIDGE, "ETH", 18, 80 * ETH),
    ("03", M, BRIDGE, TOKEN, 6, 3_000_000),
    ("04", S1, POOL, "ETH", 18, 25 * ETH),
    ("05", POOL, M, TOKEN, 6, 1_000_000_000),
    ("06", S1, M, "ETH", 18, 5 * ETH),
    ("07", S1, P, "ETH", 18, ETH),
    ("08", S1, N, "ETH", 18, ETH),
    ("09", S1, Q, "ETH", 18, ETH),
]
# (address, cluster_id, label, category, role, min_hop)
NODES = [
    (S1, S1, None, None, "seed", 0),
    (S2, S1, None, None, "seed", 0),
    (M, S1, None, None, "held", 0),
    (BRIDGE, None, "Bridge", "defi_bridge", "endpoint", 1),
    (POOL, None, "Pool", "defi_dex", "intermediate", 1),
    (P, P, None, None, "held", 1),
    (N, None, None, None, "held", 1),
    (Q, P, None, None, "held", 1),
]


def write_trace(out: Path) -> Path:
    out.mkdir(parents=True)
    flows = {
        "chain": ["ethereum"] * len(FLOWS),
        "hop": [0 if f[2] == M else 1 for f in FLOWS],
        "transaction_hash": ["0x" + f[0] * 32 for f in FLOWS],
        "kind": ["token" if f[3] == TOKEN else "native" for f in FLOWS],
        "idx": [0] * len(FLOWS),
        "from_address": [f[1] for f in FLOWS],
        "to_address": [f[2] for f in FLOWS],
        "asset": [f[3] for f in FLOWS],
        "decimals": [f[4] for f in FLOWS],
        "value": [str(f[5]) for f in FLOWS],
        "tainted_value": [str(f[5]) for f in FLOWS],
        "block_number": list(range(10, 10 + len(FLOWS))),
        "block_timestamp": [None] * len(FLOWS),
    }
    nodes = {
        "chain": ["ethereum"] * len(NODES),
        "address": [n[0] for n in NODES],
        "cluster_id": [n[1] for n in NODES],
        "label": [n[2] for n in NODES],
        "category": [n[3] for n in NODES],
        "role": [n[4] for n in NODES],
        "min_hop": [n[5] for n in NODES],
    }
    for table, rows in (("flows", flows), ("nodes", nodes)):
        frame = schema.conform(pl.DataFrame(rows, strict=False), table).collect()
        frame.write_csv(out / f"{table}.csv")
    seeded = {"seeded": {"ETH": str(300 * ETH), TOKEN: "1000000000"}}
    (out / "trace.json").write_text(json.dumps(seeded), encoding="utf-8")
    return out


def near(p: tuple[float, float], q: tuple[float, float]) -> bool:
    """Within a pixel: vis-network rounds the positions it reports."""
    return abs(p[0] - q[0]) <= 1 and abs(p[1] - q[1]) <= 1


def drawn_edges(page: Any, cluster: str) -> dict[str, dict[str, Any]]:
    """The edges drawn at a closed cluster, by the address at their other end."""
    edges: list[dict[str, Any]] = page.evaluate(
        """(cluster) => {
          const net = window.tracerReport.network;
          return net.getConnectedEdges(cluster).map(id => {
            const o = net.body.edges[id].options;
            const ends = net.getConnectedNodes(id);
            return {ends: ends, other: ends.find(n => n !== cluster), label: o.label,
                    width: o.width, to: o.arrows.to.enabled, from: o.arrows.from.enabled};
          });
        }""",
        cluster,
    )
    return {e["other"]: e for e in edges}


def test_closed_clusters_sit_on_a_member_and_sum_their_edges(browser: Any, tmp_path: Path) -> None:
    html = render_report(write_trace(tmp_path / "trace"))
    data = page_data(html.read_text(encoding="utf-8"))
    laid_out = {n["id"]: (n["x"], n["y"]) for n in data["nodes"]}
    # The layout puts N exactly half-way between P and Q: vis-network's own cluster position.
    middle = ((laid_out[P][0] + laid_out[Q][0]) / 2, (laid_out[P][1] + laid_out[Q][1]) / 2)
    assert near(middle, laid_out[N])
    visit = Visit()
    page = open_report(browser, html, visit)
    placed: dict[str, dict[str, float]] = page.evaluate(
        "(ids) => window.tracerReport.network.getPositions(ids)", [KEY, PQ]
    )
    at = {k: (v["x"], v["y"]) for k, v in placed.items()}
    key_edges = drawn_edges(page, KEY)
    page.mouse.dblclick(*node_point(page, KEY))
    wait_until(page, f"() => window.tracerReport.network.body.nodes['{KEY}'] === undefined")
    opened = page.evaluate(
        """(bridge) => {
          const net = window.tracerReport.network;
          return net.getConnectedEdges(bridge).map(id => net.body.edges[id].options.label).sort();
        }""",
        BRIDGE,
    )
    page.context.close()
    assert near(at[KEY], laid_out[S1]) or near(at[KEY], laid_out[S2]) or near(at[KEY], laid_out[M])
    assert near(at[PQ], laid_out[P]) or near(at[PQ], laid_out[Q])
    assert not near(at[PQ], laid_out[N])
    # 15 + 80 ETH and 3 tokens from three members into the bridge: one edge, exact sums per
    # asset, the native asset first, the width of the larger share.
    into_bridge = key_edges[BRIDGE]
    assert into_bridge["label"] == f"95 ETH \u00d72 + 3 {TOKEN[:6]}\u2026{TOKEN[-4:]}"
    assert into_bridge["width"] == round(1 + 9 * math.sqrt(95 / 300), 2)
    assert into_bridge["to"]
    assert not into_bridge["from"]
    # The pool: 25 ETH in, 1,000 tokens back out in the other direction, in one drawn edge.
    pool = key_edges[POOL]
    assert pool["from"]
    assert pool["to"]
    along, back = ("25 ETH", "1,000 0x7070\u20267070")
    if pool["ends"][0] == POOL:
        along, back = back, along
    assert pool["label"] == f"{along} \u21c4 {back} back"
    # Single edges keep their own label; once opened, every edge is the data's own again.
    assert key_edges[N]["label"] == "1 ETH"
    assert opened == ["15 ETH", "3 0x7070\u20267070", "80 ETH"]
    assert visit.errors == []
    assert visit.requests == []
