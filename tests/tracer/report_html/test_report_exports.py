"""graph.json, GraphML, GEXF and STIX 2.1 beside the report: deterministic and readable back."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import networkx as nx
import stix2

from tests.tracer.report_html.report_fixture import (
    DEPOSIT,
    ETH,
    HELD,
    HOSTILE,
    SEED,
    TITLE,
    TOKEN,
    A,
)
from tracer.report.exports import STIX_NAMESPACE, write_exports

NAMES = ["graph.json", "graph.graphml", "graph.gexf", "stix.json"]


def test_writes_the_four_files_deterministically(fixture_trace: Path, tmp_path: Path) -> None:
    written = write_exports(fixture_trace)
    assert [p.name for p in written] == NAMES
    first = {p.name: p.read_bytes() for p in written}
    again = tmp_path / "again"
    shutil.copytree(fixture_trace, again)
    for name in NAMES:
        (again / name).unlink()
    assert {p.name: p.read_bytes() for p in write_exports(again)} == first
    assert not list(fixture_trace.glob(".*.tmp"))


def test_graph_json_is_node_link_with_exact_amounts(fixture_trace: Path) -> None:
    write_exports(fixture_trace)
    data = json.loads((fixture_trace / "graph.json").read_text(encoding="utf-8"))
    g = nx.node_link_graph(data, edges="edges")
    assert g.is_directed()
    assert g.is_multigraph()
    assert g.number_of_nodes() == 8
    assert g.number_of_edges() == 9
    assert g.nodes[SEED]["role"] == "seed"
    assert g.nodes[SEED]["label"] == "Lazarus " + HOSTILE[0]
    assert g.nodes[DEPOSIT]["category"] == "deposit_wallet"
    edge = g.edges[SEED, A, "ETH"]
    assert edge["tainted_value"] == str(10 * ETH)
    assert edge["amount"] == "10"
    assert g.edges[A, DEPOSIT, TOKEN]["amount"] == "1000"
    # Two transfers to HELD, one of them clean: 5 ETH moved, 3 tainted.
    held = g.edges["0x" + "d4" * 20, HELD, "ETH"]
    assert (held["transfers"], held["value"], held["tainted_value"]) == (
        2,
        str(5 * ETH),
        str(3 * ETH),
    )
    assert data["graph"]["seeded"] == f"1000 {TOKEN}; 15 ETH"


def test_graphml_and_gexf_read_back(fixture_trace: Path) -> None:
    write_exports(fixture_trace)
    ml = nx.read_graphml(fixture_trace / "graph.graphml")
    assert ml.number_of_nodes() == 8
    assert ml.number_of_edges() == 9
    assert ml.nodes[DEPOSIT]["label"] == HOSTILE[1]
    assert ml.nodes[SEED]["hop"] == 0
    gexf_text = (fixture_trace / "graph.gexf").read_text(encoding="utf-8")
    assert 'lastmodifieddate="2022-03-23"' in gexf_text  # from the data, not the clock
    gx = nx.read_gexf(fixture_trace / "graph.gexf")
    assert gx.number_of_nodes() == 8
    assert gx.number_of_edges() == 9


def test_stix_bundle_parses_with_deterministic_ids(fixture_trace: Path) -> None:
    write_exports(fixture_trace, title=TITLE)
    text = (fixture_trace / "stix.json").read_text(encoding="utf-8")
    bundle = stix2.parse(text, allow_custom=False)
    by_type: dict[str, list[Any]] = {}
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
    assert len(by_type["indicator"]) == 8
    assert len(by_type["relationship"]) == 7  # (sender, receiver) pairs; assets merged
    (grouping,) = by_type["grouping"]
    assert grouping.name == TITLE
    assert len(grouping.object_refs) == 15
    expected = f"indicator--{uuid.uuid5(STIX_NAMESPACE, f'indicator|ethereum|{SEED}')}"
    seed = next(o for o in by_type["indicator"] if o.id == expected)
    assert seed.pattern == f"[cryptocurrency-wallet:address = '{SEED}']"
    assert seed.indicator_types == ["malicious-activity"]
    assert str(seed.valid_from).startswith("2022-03-23 10:00:00")
    assert str(seed.created).startswith("2022-03-23 10:22:00")  # the latest block time
    mixer = next(o for o in by_type["indicator"] if "f6f6" in o.pattern)
    assert mixer.indicator_types == ["anonymization"]
