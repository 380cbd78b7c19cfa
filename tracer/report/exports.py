"""Exports of a trace's hop graph for other tools: node-link JSON, GraphML, GEXF, STIX 2.1.

All four are deterministic: the same trace outputs give byte-identical files. Times come from
the data (block timestamps), never from the clock, and STIX ids are uuid5 of what they name.

* ``graph.json``: networkx node-link data, the golden artifact that tests compare.
* ``graph.graphml`` and ``graph.gexf``: open in Gephi, yEd, Cytoscape.
* ``stix.json``: a STIX 2.1 bundle; every traced address is an ``indicator`` with the pattern
  ``[cryptocurrency-wallet:address = '...']`` (the CTI TC's proposed cryptocurrency-wallet
  object), each (sender, receiver) pair a ``related-to`` relationship, all in one ``grouping``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import stix2

from tracer.amounts import format_units
from tracer.report.graph import HopGraph, Node, Trace, build_graph, format_assets, read_trace

__all__ = [
    "STIX_NAMESPACE",
    "graph_to_networkx",
    "stix_bundle",
    "write_exports",
]

STIX_NAMESPACE = uuid.UUID("6f1d2c8e-4b59-5a3e-9c0f-2d7b1e8a4c11")
"""uuid5 namespace of the STIX ids tracer writes (an id is uuid5 of what the object names)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STIX_TIME = "%Y-%m-%dT%H:%M:%S.000Z"
_GEXF_DATE = re.compile(r'lastmodifieddate="\d{4}-\d{2}-\d{2}"')


def _write_atomic(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def _amounts(amounts: dict[str, int], graph: HopGraph) -> str:
    return "; ".join(format_assets(amounts, graph.decimals))


def graph_to_networkx(graph: HopGraph) -> nx.MultiDiGraph:
    """The hop graph as a networkx ``MultiDiGraph`` with scalar attributes only.

    One edge per (sender, receiver, asset), keyed by asset. Exact raw amounts are decimal
    strings (``tainted_value``, ``value``); ``amount`` is the tainted value in whole units.
    Missing labels and categories are empty strings, so GraphML and GEXF can hold them.
    """
    g = nx.MultiDiGraph()
    g.graph["direction"] = graph.direction
    g.graph["seeded"] = _amounts(graph.seeded, graph)
    for node in graph.nodes.values():
        g.add_node(
            node.id,
            chain=node.chain,
            label=node.label or "",
            category=node.category or "",
            role=node.role,
            hop=node.hop,
            cluster_id=node.cluster_id or "",
            share=round(node.share, 9),
            tainted_in=_amounts(node.inflow, graph),
            tainted_out=_amounts(node.outflow, graph),
            held=_amounts(node.held, graph),
        )
    for edge in graph.edges.values():
        times = [t[1] for t in edge.transactions if t[1]]
        g.add_edge(
            edge.source,
            edge.target,
            key=edge.asset,
            asset=edge.asset,
            decimals=edge.decimals if edge.decimals is not None else 0,
            tainted_value=str(edge.tainted_value),
            value=str(edge.value),
            amount=format_units(edge.tainted_value, edge.decimals),
            transfers=edge.transfers,
            transaction_hashes=" ".join(t[0] for t in edge.transactions),
            first_seen=min(times, default=""),
            last_seen=max(times, default=""),
        )
    return g


def _node_link_json(g: nx.MultiDiGraph) -> bytes:
    data = nx.node_link_data(g, edges="edges")
    return (json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def _graphml(g: nx.MultiDiGraph) -> bytes:
    return ("\n".join(nx.generate_graphml(g)) + "\n").encode()


def _gexf(g: nx.MultiDiGraph, day: dt.date) -> bytes:
    # networkx stamps the file with today's date: put a date from the data in its place.
    text = "\n".join(nx.generate_gexf(g)) + "\n"
    fixed = _GEXF_DATE.sub(f'lastmodifieddate="{day:%Y-%m-%d}"', text, count=1)
    return fixed.encode()


def _flow_times(trace: Trace) -> list[dt.datetime]:
    column = trace.flows.get_column("block_timestamp").drop_nulls()
    return sorted(column.to_list())


def _stix_id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, '|'.join((kind, *parts)))}"


def _stix_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_STIX_TIME)


def _indicator_type(role: str, category: str | None) -> str:
    if category == "mixing_service":
        return "anonymization"
    if role in ("seed", "intermediate", "held") or category in ("perpetrator", "sanction"):
        return "malicious-activity"
    return "unknown"


def _first_seen(trace: Trace) -> dict[str, dt.datetime]:
    seen: dict[str, dt.datetime] = {}
    for row in trace.flows.select("from_address", "to_address", "block_timestamp").iter_rows():
        src, dst, moment = row
        if moment is None:
            continue
        for address in (src, dst):
            if address not in seen or moment < seen[address]:
                seen[address] = moment
    return seen


def _indicator(node: Node, graph: HopGraph, *, stamp: str, seen: str) -> dict[str, Any]:
    described = [f"role: {node.role}", f"hop: {node.hop}"]
    if node.category:
        described.append(f"category: {node.category}")
    if node.inflow:
        described.append(f"tainted in: {_amounts(node.inflow, graph)}")
    if node.outflow:
        described.append(f"tainted out: {_amounts(node.outflow, graph)}")
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _stix_id("indicator", node.chain, node.id),
        "created": stamp,
        "modified": stamp,
        "name": f"{node.label} ({node.id})" if node.label else node.id,
        "description": "; ".join(described),
        "indicator_types": [_indicator_type(node.role, node.category)],
        "pattern": f"[cryptocurrency-wallet:address = '{_pattern_literal(node.id)}']",
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": seen,
        "labels": [node.chain],
    }


def stix_bundle(trace: Trace, graph: HopGraph, *, title: str | None = None) -> dict[str, Any]:
    """A STIX 2.1 bundle of the traced addresses, their transfers and one grouping.

    Ids are uuid5 of (type, chain, address...) and every timestamp is a block time: the
    latest one for ``created``/``modified``, the address's first tainted transfer for
    ``valid_from``. Without any block time, the Unix epoch is used.

    The objects are written as plain dicts in the layout the ``stix2`` library serialises
    (building thousands of ``stix2`` objects costs ~10 ms each, mostly re-parsing the same
    pattern shape); the first object of every type is checked by ``stix2`` itself, and the
    tests parse whole bundles with it.
    """
    times = _flow_times(trace)
    stamp = _stix_time(times[-1] if times else _EPOCH)
    first_seen = _first_seen(trace)
    objects: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    for node in graph.nodes.values():
        if node.role == "transaction":
            continue
        seen = _stix_time(first_seen.get(node.id, _EPOCH))
        indicator = _indicator(node, graph, stamp=stamp, seen=seen)
        ids[node.id] = indicator["id"]
        objects.append(indicator)
    pairs: dict[tuple[str, str], list[str]] = {}
    for edge in graph.edges.values():
        if edge.source in ids and edge.target in ids:
            amount = format_units(edge.tainted_value, edge.decimals)
            pairs.setdefault((edge.source, edge.target), []).append(
                f"{amount} {edge.asset} tainted in {edge.transfers} transfer(s)"
            )
    for (src, dst), moved in pairs.items():
        objects.append(
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": _stix_id("relationship", ids[src], ids[dst]),
                "created": stamp,
                "modified": stamp,
                "relationship_type": "related-to",
                "description": "sent " + ", ".join(moved),
                "source_ref": ids[src],
                "target_ref": ids[dst],
            }
        )
    seeds = sorted(n.id for n in graph.nodes.values() if n.role == "seed")
    grouping: dict[str, Any] = {
        "type": "grouping",
        "spec_version": "2.1",
        "id": _stix_id("grouping", *seeds),
        "created": stamp,
        "modified": stamp,
        "name": title or f"Trace from {len(seeds)} seed address(es)",
        "context": "suspicious-activity",
        "object_refs": [o["id"] for o in objects] or [_stix_id("indicator", "none")],
    }
    bundle: dict[str, Any] = {
        "type": "bundle",
        "id": _stix_id("bundle", *seeds),
        "objects": [grouping, *objects],
    }
    checked: set[str] = set()
    for obj in bundle["objects"]:
        if obj["type"] not in checked:
            checked.add(obj["type"])
            stix2.parse(obj, allow_custom=False)  # raises if tracer wrote invalid STIX
    return bundle


def _pattern_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _title(trace: Trace, title: str | None) -> str | None:
    if title:
        return title
    value = trace.parameters.get("title")
    return str(value) if value else None


def write_exports(trace_dir: Path, *, title: str | None = None) -> list[Path]:
    """Write ``graph.json``, ``graph.graphml``, ``graph.gexf`` and ``stix.json`` into ``trace_dir``.

    Parameters
    ----------
    trace_dir
        A trace output directory (``flows.csv``, ``nodes.csv``, ...).
    title
        The case title, used to name the STIX grouping (default: ``trace.json``'s ``title``).

    Returns
    -------
    list[Path]
        The files written, in that order. Each is written to a temporary name first.
    """
    trace = read_trace(trace_dir)
    graph = build_graph(trace)
    g = graph_to_networkx(graph)
    times = _flow_times(trace)
    day = (times[-1] if times else _EPOCH).date()
    bundle = stix_bundle(trace, graph, title=_title(trace, title))
    stix_text = json.dumps(bundle, indent=1, ensure_ascii=False)
    outputs: Iterable[tuple[str, bytes]] = (
        ("graph.json", _node_link_json(g)),
        ("graph.graphml", _graphml(g)),
        ("graph.gexf", _gexf(g, day)),
        ("stix.json", (stix_text + "\n").encode()),
    )
    return [_write_atomic(trace_dir / name, data) for name, data in outputs]
