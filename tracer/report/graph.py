"""The hop graph of a trace: read a trace's output directory, build, reduce and lay out the graph.

Everything here is plain Python and Polars (no pyvis): :mod:`tracer.report.html` draws what
this module builds and :mod:`tracer.report.exports` writes it for other tools.

Amounts stay exact: values are read as strings and summed as Python ints; floats appear only
in :attr:`Node.share` and :attr:`Edge.share`, which size and rank what is drawn.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tracer import schema
from tracer.amounts import format_units, parse_uint
from tracer.errors import DataMissing, InputError, SchemaMismatch
from tracer.text import printable

__all__ = [
    "Cut",
    "Edge",
    "HopGraph",
    "Node",
    "Trace",
    "asset_names",
    "build_graph",
    "format_assets",
    "layout_by_hop",
    "node_radius",
    "parameter",
    "read_trace",
    "reduce_graph",
    "short_address",
]

_REQUIRED = ("flows", "nodes")
_OPTIONAL = ("exposure", "paths", "held")


@dataclass(frozen=True)
class Trace:
    """A trace's outputs as read from its directory (``flows.csv``, ``nodes.csv``, ...)."""

    directory: Path
    flows: pl.DataFrame
    nodes: pl.DataFrame
    exposure: pl.DataFrame
    paths: pl.DataFrame
    held: pl.DataFrame
    parameters: Mapping[str, Any]
    compare: pl.DataFrame | None = None


@dataclass
class Node:
    """An address (or a group of addresses) in the hop graph.

    ``inflow``, ``outflow`` and ``held`` map an asset to an exact raw amount. ``share`` is the
    largest fraction of any asset's seeded value that passed through the node (0..1).
    """

    id: str
    chain: str
    label: str | None
    category: str | None
    role: str
    hop: int
    cluster_id: str | None
    members: int = 1
    inflow: dict[str, int] = field(default_factory=dict)
    outflow: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    share: float = 0.0

    @property
    def is_group(self) -> bool:
        """True for an aggregate node standing for several addresses."""
        return self.role == "group"


@dataclass
class Edge:
    """All tainted transfers of one asset from one node to another.

    ``transactions`` holds ``(transaction_hash, block_timestamp, tainted_value, value)`` per
    transfer, in time order.
    """

    source: str
    target: str
    asset: str
    decimals: int | None
    tainted_value: int = 0
    value: int = 0
    transfers: int = 0
    transactions: list[tuple[str, str, int, int]] = field(default_factory=list)
    share: float = 0.0


@dataclass
class Cut:
    """What :func:`reduce_graph` left out of the drawing, for the note on the page."""

    max_nodes: int
    total_nodes: int
    total_edges: int
    kept_nodes: int
    groups: int
    grouped_addresses: int
    inner_transfers: int


@dataclass
class HopGraph:
    """Nodes and edges in a stable order, with the per-asset seeded totals and decimals.

    ``names`` and ``tags`` are how an asset is shown (:func:`asset_names`): in full (tips,
    tables) and on an edge label.
    """

    nodes: dict[str, Node]
    edges: dict[tuple[str, str, str], Edge]
    seeded: dict[str, int]
    decimals: dict[str, int | None]
    direction: str = "forward"
    names: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _read_csv(path: Path, table: str) -> pl.DataFrame:
    target = schema.TABLES[table]
    raw = pl.read_csv(path, infer_schema=False)
    missing = [c for c in target if c not in raw.columns]
    if missing:
        msg = f"missing column(s): {missing}"
        raise SchemaMismatch(msg, source=path, fix=f"Write {path.name} with tracer trace --out")
    columns: list[pl.Expr] = []
    for name, dtype in target.items():
        col = pl.col(name).replace("", None)
        if isinstance(dtype, pl.Datetime):
            columns.append(col.str.to_datetime(time_unit="us", time_zone="UTC").alias(name))
        else:
            columns.append(col.cast(dtype, strict=True).alias(name))
    try:
        return raw.select(columns)
    except pl.exceptions.PolarsError as e:
        msg = f"cannot read as the {table} table: {e}"
        raise SchemaMismatch(msg, source=path, fix="Write it with tracer trace --out") from e


def read_trace(trace_dir: Path) -> Trace:
    """Read the outputs of ``tracer trace --out trace_dir``; amounts stay decimal strings.

    ``flows.csv`` and ``nodes.csv`` are required; ``exposure.csv``, ``paths.csv``,
    ``held.csv``, ``compare.csv`` and ``trace.json`` are read when present.
    """
    frames: dict[str, pl.DataFrame] = {}
    for table in (*_REQUIRED, *_OPTIONAL):
        path = trace_dir / f"{table}.csv"
        if path.is_file():
            frames[table] = _read_csv(path, table)
        elif table in _REQUIRED:
            msg = f"{path} is missing: not a trace output directory"
            raise DataMissing(msg + "; run `tracer trace ... --out DIR` first")
        else:
            frames[table] = schema.empty(table)
    params_path = trace_dir / "trace.json"
    parameters: dict[str, Any] = {}
    if params_path.is_file():
        try:
            loaded = json.loads(params_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            msg = f"not JSON ({e.msg})"
            raise InputError(
                msg, source=params_path, line=e.lineno, fix="Write it with tracer trace --out"
            ) from e
        if isinstance(loaded, dict):
            parameters = loaded
    compare_path = trace_dir / "compare.csv"
    compare = pl.read_csv(compare_path, infer_schema=False) if compare_path.is_file() else None
    return Trace(
        directory=trace_dir,
        flows=frames["flows"],
        nodes=frames["nodes"],
        exposure=frames["exposure"],
        paths=frames["paths"],
        held=frames["held"],
        parameters=parameters,
        compare=compare,
    )


def _amount(row: Mapping[str, Any], field_name: str, source: Path) -> int:
    try:
        return parse_uint(row[field_name], field=field_name)
    except InputError as e:
        raise e.at(source=source, line=row["line"]) from e


def _add(amounts: dict[str, int], asset: str, value: int) -> None:
    amounts[asset] = amounts.get(asset, 0) + value


def _share(amounts: Mapping[str, int], seeded: Mapping[str, int]) -> float:
    best = 0.0
    for asset, value in amounts.items():
        total = seeded.get(asset, 0)
        if total > 0:
            best = max(best, min(1.0, value / total))
    return best


def build_graph(trace: Trace) -> HopGraph:
    """The full hop graph of a trace: one node per address, one edge per (from, to, asset).

    Examples
    --------
    >>> from tracer.report.graph import _tiny_trace
    >>> g = build_graph(_tiny_trace())
    >>> sorted(g.nodes), [(e.source, e.target, e.tainted_value) for e in g.edges.values()]
    (['0xa', '0xb'], [('0xa', '0xb', 5)])
    """
    direction = str(parameter(trace, "direction") or "forward")
    nodes: dict[str, Node] = {}
    for row in trace.nodes.sort("min_hop", "address").iter_rows(named=True):
        nodes[row["address"]] = Node(
            id=row["address"],
            chain=row["chain"],
            label=row["label"],
            category=row["category"],
            role=row["role"] or "intermediate",
            hop=row["min_hop"] if row["min_hop"] is not None else 0,
            cluster_id=row["cluster_id"],
        )
    flows = trace.flows.with_row_index("line", offset=2).sort(
        "hop", "block_number", "transaction_hash", "kind", "idx", "line"
    )
    edges: dict[tuple[str, str, str], Edge] = {}
    decimals: dict[str, int | None] = {}
    for row in flows.iter_rows(named=True):
        src, dst, asset, hop = row["from_address"], row["to_address"], row["asset"], row["hop"]
        utxo_tx = row["kind"] == "utxo"
        for address, node_hop in ((src, hop - 1), (dst, hop)):
            if address not in nodes:
                is_tx = utxo_tx and address == row["transaction_hash"]
                nodes[address] = Node(
                    id=address,
                    chain=row["chain"],
                    label=None,
                    category=None,
                    role="transaction" if is_tx else "intermediate",
                    hop=max(node_hop, 0),
                    cluster_id=None,
                )
        if asset not in decimals or decimals[asset] is None:
            decimals[asset] = row["decimals"]
        tainted = _amount(row, "tainted_value", trace.directory / "flows.csv")
        value = _amount(row, "value", trace.directory / "flows.csv")
        edge = edges.get((src, dst, asset))
        if edge is None:
            edge = edges[(src, dst, asset)] = Edge(src, dst, asset, row["decimals"])
        edge.tainted_value += tainted
        edge.value += value
        edge.transfers += 1
        stamp = row["block_timestamp"]
        when = stamp.strftime("%Y-%m-%d %H:%M:%S UTC") if stamp is not None else ""
        edge.transactions.append((row["transaction_hash"], when, tainted, value))
        _add(nodes[src].outflow, asset, tainted)
        _add(nodes[dst].inflow, asset, tainted)
    for row in trace.held.with_row_index("line", offset=2).iter_rows(named=True):
        if row["address"] in nodes:
            amount = _amount(row, "tainted_value", trace.directory / "held.csv")
            _add(nodes[row["address"]].held, row["asset"], amount)
    seeded = _recorded_amounts(trace.parameters.get("seeded"))
    for asset, digits in _recorded_decimals(trace.parameters.get("decimals")).items():
        if decimals.get(asset) is None:
            decimals[asset] = digits
    if not seeded:  # no trace.json: what the seeds sent (forward) or received (backward)
        for node in nodes.values():
            if node.role == "seed":
                for asset in sorted(set(node.inflow) | set(node.outflow)):
                    flow = max(node.inflow.get(asset, 0), node.outflow.get(asset, 0))
                    _add(seeded, asset, flow)
    for node in nodes.values():
        node.share = max(_share(node.inflow, seeded), _share(node.outflow, seeded))
    for edge in edges.values():
        edge.share = _share({edge.asset: edge.tainted_value}, seeded)
    ordered = dict(sorted(nodes.items(), key=lambda kv: (kv[1].hop, kv[0])))
    assets = sorted({edge.asset for edge in edges.values()} | set(seeded))
    names, tags = asset_names(assets, trace.parameters.get("symbols"))
    return HopGraph(
        nodes=ordered,
        edges=edges,
        seeded=dict(sorted(seeded.items())),
        decimals=dict(sorted(decimals.items())),
        direction=direction,
        names=names,
        tags=tags,
    )


def short_address(address: str) -> str:
    """``0x0bae…1ed0`` for a long address or contract, anything short unchanged."""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 14 else address


#: Native coins' symbols: a token calling itself one of these is not shown by its symbol alone.
_NATIVE_SYMBOLS = frozenset({"ETH", "BTC", "BNB", "POL", "MATIC", "AVAX", "TRX", "WETH"})


def clean_symbol(raw: str) -> str | None:
    r"""A token symbol fit to show, or ``None``: untrusted text from the token's contract.

    Control and format characters (right-to-left overrides among them) are dropped, runs of
    white space become one space, and a long symbol (spam tokens carry URLs) is cut at 12
    characters. HTML is escaped where the text is written, not here.

    Examples
    --------
    >>> clean_symbol("USDT"), clean_symbol("\u202eTDSU\n"), clean_symbol(" \t ")
    ('USDT', 'TDSU', None)
    >>> clean_symbol("Visit claim-rewards.example to claim")
    'Visit claim…'
    """
    text = " ".join(printable(raw).split())
    if not text:
        return None
    return text if len(text) <= 12 else text[:11] + "…"


def asset_names(assets: list[str], symbols: Any) -> tuple[dict[str, str], dict[str, str]]:
    """How each asset is shown: in full, and on an edge label.

    ``symbols`` is ``trace.json``'s token asset -> symbol. A token with a symbol is shown as
    ``VUSD (0x0bae...)`` (its whole contract) in full and ``VUSD`` on a label: the contract
    stays in view wherever there is room, since any contract can call itself ``USDT``. A
    symbol that is a native coin's, or another asset's name in the same trace, is not used on
    labels. Assets without a symbol (native coins, unknown tokens) are shown as themselves,
    shortened on labels.

    Examples
    --------
    >>> vusd, fake = "0x0bae6bf53a5909fde2376fd6d0f9fb246a7d1ed0", "0x" + "e" * 40
    >>> names, tags = asset_names(["ETH", vusd, fake], {vusd: "VUSD", fake: "ETH"})
    >>> names[vusd], tags[vusd], tags["ETH"]
    ('VUSD (0x0bae6bf53a5909fde2376fd6d0f9fb246a7d1ed0)', 'VUSD', 'ETH')
    >>> names[fake], tags[fake]
    ('ETH (0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee)', '0xeeee…eeee')
    """
    recorded = symbols if isinstance(symbols, Mapping) else {}
    names: dict[str, str] = {}
    tags: dict[str, str] = {}
    plain = {a.upper() for a in assets if a not in recorded}
    for asset in sorted(assets):
        raw = recorded.get(asset)
        symbol = clean_symbol(raw) if isinstance(raw, str) else None
        if symbol is None:
            names[asset], tags[asset] = asset, short_address(asset)
            continue
        names[asset] = f"{symbol} ({asset})"
        spoof = symbol.upper() in _NATIVE_SYMBOLS | plain
        tags[asset] = short_address(asset) if spoof else symbol
    return names, tags


def parameter(trace: Trace, name: str) -> Any:
    """A trace parameter from ``trace.json``, or ``None`` when absent.

    The trace engine writes the parameters under ``parameters``; older or hand-written files
    have them at the top level.
    """
    nested = trace.parameters.get("parameters")
    if isinstance(nested, Mapping) and name in nested:
        return nested[name]
    return trace.parameters.get(name)


def _recorded_amounts(value: Any) -> dict[str, int]:
    """``{asset: "123"}`` from ``trace.json`` as exact ints; empty when absent or malformed."""
    if not isinstance(value, Mapping):
        return {}
    try:
        return {str(asset): parse_uint(amount) for asset, amount in value.items()}
    except InputError:
        return {}


def _recorded_decimals(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(a): d for a, d in value.items() if isinstance(d, int) and not isinstance(d, bool)}


def _priority(graph: HopGraph, paths: pl.DataFrame) -> list[str]:
    """Node ids, most important first: seeds, the top paths by share, endpoints, the rest."""
    order: dict[str, None] = {}
    for node_id, node in graph.nodes.items():
        if node.role == "seed":
            order[node_id] = None
    ranked_paths: list[tuple[float, str, str, int, list[str]]] = []
    for row in paths.iter_rows(named=True):
        total = graph.seeded.get(row["asset"], 0)
        share = int(row["tainted_value"]) / total if total else 0.0
        hops = [a for a in (row["addresses"] or "").split(">") if a]
        ranked_paths.append((-share, row["endpoint"], row["asset"], row["rank"], hops))
    for *_, hops in sorted(ranked_paths, key=lambda p: p[:4]):
        for address in hops:
            if address in graph.nodes:
                order.setdefault(address, None)
    rest = sorted(
        graph.nodes.values(),
        key=lambda n: (n.role != "endpoint", -n.share, n.hop, n.id),
    )
    for node in rest:
        order.setdefault(node.id, None)
    return list(order)


def reduce_graph(
    graph: HopGraph, *, paths: pl.DataFrame | None = None, max_nodes: int = 300
) -> tuple[HopGraph, Cut | None]:
    """Keep at most ``max_nodes`` addresses; group the others per (hop, category).

    Seeds come first, then the addresses on the top paths by share of the seeded value
    (``paths.csv``), then endpoints and the remaining addresses by share. Each group becomes
    one node counting its members; edges are redirected to the groups and merged per
    (from, to, asset), and transfers inside one group are counted, not drawn.

    Returns
    -------
    tuple[HopGraph, Cut | None]
        The graph to draw, and what was cut (``None`` when the graph fits).

    Examples
    --------
    >>> from tracer.report.graph import _tiny_trace
    >>> reduced, cut = reduce_graph(build_graph(_tiny_trace()), max_nodes=1)
    >>> sorted(reduced.nodes), cut.grouped_addresses
    (['0xa', 'group:1:unlabelled'], 1)
    """
    if len(graph.nodes) <= max_nodes:
        return graph, None
    keep = set(_priority(graph, paths if paths is not None else schema.empty("paths"))[:max_nodes])
    mapping: dict[str, str] = {}
    groups: dict[str, Node] = {}
    for node_id, node in graph.nodes.items():
        if node_id in keep:
            mapping[node_id] = node_id
            continue
        category = node.category or "unlabelled"
        group_id = f"group:{node.hop}:{category}"
        mapping[node_id] = group_id
        group = groups.get(group_id)
        if group is None:
            group = groups[group_id] = Node(
                id=group_id,
                chain=node.chain,
                label=None,
                category=node.category,
                role="group",
                hop=node.hop,
                cluster_id=None,
                members=0,
            )
        group.members += 1
        for asset, value in node.held.items():
            _add(group.held, asset, value)
    nodes = {k: v for k, v in graph.nodes.items() if k in keep}
    nodes.update(groups)
    edges: dict[tuple[str, str, str], Edge] = {}
    inner = 0
    for edge in graph.edges.values():
        src, dst = mapping[edge.source], mapping[edge.target]
        if src == dst and src in groups:
            inner += edge.transfers
            continue
        merged = edges.get((src, dst, edge.asset))
        if merged is None:
            merged = edges[(src, dst, edge.asset)] = Edge(src, dst, edge.asset, edge.decimals)
        merged.tainted_value += edge.tainted_value
        merged.value += edge.value
        merged.transfers += edge.transfers
        merged.transactions.extend(edge.transactions)
        if src in groups:
            _add(groups[src].outflow, edge.asset, edge.tainted_value)
        if dst in groups:
            _add(groups[dst].inflow, edge.asset, edge.tainted_value)
    for edge in edges.values():
        edge.transactions.sort(key=lambda t: (t[1], t[0]))
        edge.share = _share({edge.asset: edge.tainted_value}, graph.seeded)
    for group in groups.values():
        group.share = max(_share(group.inflow, graph.seeded), _share(group.outflow, graph.seeded))
    ordered = dict(sorted(nodes.items(), key=lambda kv: (kv[1].hop, kv[1].is_group, kv[0])))
    cut = Cut(
        max_nodes=max_nodes,
        total_nodes=len(graph.nodes),
        total_edges=len(graph.edges),
        kept_nodes=len(keep),
        groups=len(groups),
        grouped_addresses=len(graph.nodes) - len(keep),
        inner_transfers=inner,
    )
    reduced = HopGraph(
        ordered, edges, graph.seeded, graph.decimals, graph.direction, graph.names, graph.tags
    )
    return reduced, cut


def node_radius(node: Node) -> float:
    """Drawn radius of a node in pixels: 8 for nothing, 30 for all of the seeded value."""
    return 8.0 + 22.0 * math.sqrt(node.share)


def layout_by_hop(
    graph: HopGraph, *, column_gap: float = 320.0, gap: float = 40.0, aspect: float = 1.6
) -> dict[str, tuple[float, float]]:
    """Fixed positions: one column per hop, left to right in the direction money moved.

    Within a column, nodes are ordered by the mean height of the nodes that feed them (fewer
    crossings), then by share and id, so the layout is deterministic; they are stacked
    ``gap`` pixels apart plus their radii (:func:`node_radius`), so big nodes never overlap.
    Columns are at least ``column_gap`` apart, more when the tallest column would make the
    drawing narrower than ``aspect`` (width / height). The page opens with every cluster
    closed, drawn as one node, so a column's height for this rule counts the addresses of a
    cluster (a ``cluster_id`` shared by several nodes) as one node: a big cluster does not
    stretch the drawing it is first seen in. A backward trace is mirrored so that money still
    flows left to right.

    Examples
    --------
    >>> from tracer.report.graph import _tiny_trace
    >>> layout_by_hop(build_graph(_tiny_trace()))
    {'0xa': (0.0, 0.0), '0xb': (320.0, 0.0)}
    """
    sign = -1.0 if graph.direction == "backward" else 1.0
    columns: dict[int, list[str]] = defaultdict(list)
    for node_id, node in graph.nodes.items():
        columns[node.hop].append(node_id)
    feeders: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges.values():
        upstream = edge.target if sign < 0 else edge.source
        downstream = edge.source if sign < 0 else edge.target
        feeders[downstream].append(upstream)
    members = Counter(n.cluster_id for n in graph.nodes.values() if n.cluster_id)
    clustered = {c for c, count in members.items() if count > 1}
    y_of: dict[str, float] = {}
    tallest = 0.0
    for hop in sorted(columns):

        def key(node_id: str) -> tuple[float, float, str]:
            ys = [y_of[f] for f in feeders.get(node_id, ()) if f in y_of]
            centre = sum(ys) / len(ys) if ys else 0.0
            return (centre, -graph.nodes[node_id].share, node_id)

        ordered = sorted(columns[hop], key=key)
        stacked: list[float] = []
        y = 0.0
        for i, node_id in enumerate(ordered):
            radius = node_radius(graph.nodes[node_id])
            if i:
                y += gap + 1.3 * (radius + node_radius(graph.nodes[ordered[i - 1]]))
            stacked.append(y)
        tallest = max(tallest, _closed_height(ordered, graph, clustered, gap=gap))
        for node_id, y_stacked in zip(ordered, stacked, strict=True):
            y_of[node_id] = round(y_stacked - y / 2, 2)
    hops = sorted(columns)
    span = max(hops[-1] - hops[0], 1) if hops else 1
    step = max(column_gap, round(aspect * tallest / span, 2))
    return {
        node_id: (sign * node.hop * step + 0.0, y_of[node_id])
        for node_id, node in graph.nodes.items()
    }


def _closed_height(
    ordered: list[str], graph: HopGraph, clustered: set[str], *, gap: float
) -> float:
    """A column's stacked height with each drawn cluster as one node of its largest radius."""
    radii: list[float] = []
    seen: dict[str, int] = {}
    for node_id in ordered:
        node = graph.nodes[node_id]
        radius = node_radius(node)
        if node.cluster_id in clustered:
            if node.cluster_id in seen:
                radii[seen[node.cluster_id]] = max(radii[seen[node.cluster_id]], radius)
                continue
            seen[node.cluster_id] = len(radii)
        radii.append(radius)
    return sum(gap + 1.3 * (a + b) for a, b in itertools.pairwise(radii))


def format_assets(
    amounts: Mapping[str, int],
    decimals: Mapping[str, int | None],
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """``["1.5 ETH", ...]`` for a per-asset amount map, exact, in asset order.

    ``names`` shows an asset by its name (:func:`asset_names`) instead of its key.
    """
    shown = names or {}
    return [
        f"{format_units(v, decimals.get(a))} {shown.get(a, a)}" for a, v in sorted(amounts.items())
    ]


def _tiny_trace() -> Trace:
    """Two addresses and one transfer, for the doctests."""
    flows = pl.DataFrame(
        {
            "chain": ["ethereum"],
            "hop": [1],
            "transaction_hash": ["0x01"],
            "kind": ["native"],
            "idx": [0],
            "from_address": ["0xa"],
            "to_address": ["0xb"],
            "asset": ["ETH"],
            "decimals": [18],
            "value": ["5"],
            "tainted_value": ["5"],
            "block_number": [1],
            "block_timestamp": [None],
        }
    ).pipe(lambda f: schema.conform(f, "flows").collect())
    nodes = pl.DataFrame(
        {
            "chain": ["ethereum"],
            "address": ["0xa"],
            "cluster_id": [None],
            "label": [None],
            "category": [None],
            "role": ["seed"],
            "min_hop": [0],
        }
    ).pipe(lambda f: schema.conform(f, "nodes").collect())
    return Trace(
        Path(),
        flows,
        nodes,
        schema.empty("exposure"),
        schema.empty("paths"),
        schema.empty("held"),
        {},
    )
