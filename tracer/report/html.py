r"""The HTML hop-graph report: one self-contained file that opens with no network.

Built with pyvis (the only module of tracer that imports it): a :class:`pyvis.network.Network`
holds the nodes, edges and vis-network options, and the page is rendered from a template of
tracer's own (``templates/report.html``) that inlines the vis-network script and stylesheet
shipped inside the installed pyvis package. pyvis's own template pulls Bootstrap and other
assets from CDNs even in ``in_line`` mode (WestHealth/pyvis#228, #229), so it is not used.

Safety: every string that came from the chain or from a label file reaches the page either
through Jinja's autoescaping (HTML) or inside one ``application/json`` data block whose ``<``,
``>`` and ``&`` are written as ``\u003c`` escapes, so it cannot close its element. Tooltips are
built in the page as DOM elements with ``textContent``, never as HTML strings. A
Content-Security-Policy lets only the page's own scripts run (by hash) and forbids every
network request.

Scale: nodes get fixed positions by hop (:func:`tracer.report.graph.layout_by_hop`) with
physics off, pyvis is fed in bulk (``net.nodes = ...``; its ``add_node``/``add_edge`` scan
lists, WestHealth/pyvis#304), and graphs larger than ``max_nodes`` addresses are reduced to
the top paths by tainted value with the rest grouped (:func:`tracer.report.graph.reduce_graph`),
which the page states.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from decimal import Context, Decimal
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pyvis
from pyvis.network import Network

from tracer.amounts import format_units, sum_values
from tracer.errors import TracerError
from tracer.report.graph import (
    Cut,
    Edge,
    HopGraph,
    Node,
    Trace,
    build_graph,
    format_assets,
    layout_by_hop,
    node_radius,
    parameter,
    read_trace,
    reduce_graph,
    short_address,
)

__all__ = ["CATEGORY_STYLES", "ROLE_STYLES", "embed_json", "render_html", "render_report"]

# (colour, vis-network shape, legend text) per category; shapes that draw the label below
# the node, so that a node's size can follow its tainted value.
CATEGORY_STYLES: dict[str, tuple[str, str, str]] = {
    "exchange": ("#1f77b4", "square", "exchange"),
    "deposit_wallet": ("#6baed6", "square", "exchange deposit wallet"),
    "hot_wallet": ("#08519c", "square", "exchange hot wallet"),
    "mixing_service": ("#7b3294", "hexagon", "mixer"),
    "defi_bridge": ("#ff7f0e", "diamond", "bridge"),
    "defi_dex": ("#17becf", "triangleDown", "DEX"),
    "defi": ("#2ca02c", "triangleDown", "DeFi"),
    "sanction": ("#000000", "triangle", "sanctioned"),
    "perpetrator": ("#b2182b", "triangle", "perpetrator"),
    "victim": ("#8c564b", "dot", "victim"),
    "miner": ("#bcbd22", "dot", "miner"),
    "other": ("#7f7f7f", "dot", "other label"),
    "unlabelled": ("#c7c7c7", "dot", "unlabelled address"),
}

# Roles override the category's shape: a seed is always a red star, a group a dashed box.
ROLE_STYLES: dict[str, tuple[str, str, str]] = {
    "seed": ("#d62728", "star", "seed (attributed address)"),
    "group": ("#ffffff", "box", "group of addresses (aggregated)"),
    "transaction": ("#e0e0e0", "dot", "Bitcoin transaction"),
}

_HELD_BORDER = "#e377c2"  # pink ring: the address still holds tainted value
_ENDPOINT_CATEGORIES = frozenset(
    {"exchange", "deposit_wallet", "hot_wallet", "mixing_service", "defi_bridge", "sanction"}
)
_TEMPLATES = Path(__file__).parent / "templates"
_VIS = Path(pyvis.__file__).parent / "templates" / "lib" / "vis-9.1.2"
_MAX_TIP_TRANSACTIONS = 12
_MAX_EXPOSURE_ROWS = 200
_WIDE = Context(prec=100)  # a uint256 has 78 digits: room for them and 4 decimals
_SCRIPT_CLOSE = re.compile(r"</script|<!--", re.IGNORECASE)


def embed_json(data: Any) -> markupsafe.Markup:
    r"""JSON that is safe inside a ``<script>`` element: it can never close the element.

    ``<``, ``>``, ``&`` and the JavaScript line separators are written as ``\\uXXXX`` escapes,
    which JSON parsers read back as the same characters.

    Examples
    --------
    >>> str(embed_json({"label": "</script><!--"}))
    '{"label":"\\u003c/script\\u003e\\u003c!--"}'
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return markupsafe.Markup(text)


@cache
def _asset_text(name: str) -> str:
    text = (_VIS / name).read_text(encoding="utf-8")
    if _SCRIPT_CLOSE.search(text) or "</style" in text.lower():
        msg = (
            f"{_VIS / name} contains a closing tag, so it cannot be inlined: reinstall pyvis==0.3.2"
        )
        raise TracerError(msg)
    return text


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def _display(value: int, decimals: int | None) -> str:
    """A readable amount for labels: at most 4 decimals, thousands separated (display only).

    Examples
    --------
    >>> _display(1_234_567_891_000_000_000_000, 18), _display(2**256 - 1, 0)[:12]
    ('1,234.5679', '115,792,089,')
    >>> _display(1, 18)
    '<0.0001'
    """
    exact = Decimal(format_units(value, decimals))
    if exact != 0 and abs(exact) < Decimal("0.0001"):
        return "<0.0001"
    rounded = exact.quantize(Decimal("0.0001"), context=_WIDE).normalize(context=_WIDE)
    return f"{rounded:,f}"


def _style(node: Node) -> tuple[str, str]:
    if node.role in ROLE_STYLES:
        colour, shape, _ = ROLE_STYLES[node.role]
        if node.role == "group" and node.category:
            colour = CATEGORY_STYLES.get(node.category, CATEGORY_STYLES["other"])[0]
        return colour, shape
    colour, shape, _ = CATEGORY_STYLES.get(node.category or "unlabelled", CATEGORY_STYLES["other"])
    return colour, shape


def _node_label(node: Node) -> str:
    if node.is_group:
        what = node.category or "unlabelled"
        return f"{node.members} addresses\nhop {node.hop} · {what}"
    name = node.label or short_address(node.id)
    return name if len(name) <= 28 else name[:27] + "…"


def _node_tip(node: Node, graph: HopGraph) -> list[str]:
    names = graph.names
    if node.is_group:
        lines = [f"{node.members} addresses grouped (hop {node.hop})"]
    else:
        lines = [node.label or node.id, f"address: {node.id}"]
    lines.append(f"category: {node.category or 'unlabelled'} · role: {node.role}")
    lines.append(f"hop: {node.hop}")
    if node.cluster_id:
        lines.append(f"cluster: {node.cluster_id}")
    for name, amounts in (("tainted in", node.inflow), ("tainted out", node.outflow)):
        if amounts:
            lines.append(f"{name}: " + "; ".join(format_assets(amounts, graph.decimals, names)))
    if node.held:
        lines.append("still held: " + "; ".join(format_assets(node.held, graph.decimals, names)))
    lines.append(f"share of seeded value: {node.share:.2%}")
    return lines


def _edge_tip(edge: Edge, name: str) -> list[str]:
    amount = format_units(edge.tainted_value, edge.decimals)
    lines = [
        f"{amount} {name} tainted in {edge.transfers} transfer(s)",
        f"of {format_units(edge.value, edge.decimals)} {name} moved",
        f"{edge.source} → {edge.target}",
    ]
    shown = edge.transactions[:_MAX_TIP_TRANSACTIONS]
    lines.extend(
        f"{tx} · {when or 'time unknown'} · {format_units(tainted, edge.decimals)} {name}"
        for tx, when, tainted, _ in shown
    )
    if len(edge.transactions) > len(shown):
        lines.append(f"… and {len(edge.transactions) - len(shown)} more transfers")
    return lines


def _vis_nodes(graph: HopGraph) -> list[dict[str, Any]]:
    positions = layout_by_hop(graph)
    clustered: dict[str, int] = {}
    for node in graph.nodes.values():
        if node.cluster_id and not node.is_group:
            clustered[node.cluster_id] = clustered.get(node.cluster_id, 0) + 1
    nodes = []
    for node in graph.nodes.values():
        colour, shape = _style(node)
        endpoint = node.role == "endpoint" or node.category in _ENDPOINT_CATEGORIES
        x, y = positions[node.id]
        item: dict[str, Any] = {
            "id": node.id,
            "label": _node_label(node),
            "x": round(x, 2),
            "y": round(y, 2),
            "shape": shape,
            "size": round(node_radius(node), 2),
            "color": {"background": colour, "border": "#222222" if endpoint else colour},
            "borderWidth": 5 if endpoint or node.role == "seed" else 1,
            "category": node.category or "unlabelled",
            "role": node.role,
            "hop": node.hop,
            "search": " ".join(filter(None, (node.id, node.label))).lower(),
            "tip": _node_tip(node, graph),
        }
        if node.role == "seed" or endpoint:
            item["font"] = {"size": 16, "bold": True, "face": "sans-serif"}
        if node.held and not endpoint and node.role != "seed":
            item["color"] = {"background": colour, "border": _HELD_BORDER}
            item["borderWidth"] = 4
        if node.is_group:
            item["shapeProperties"] = {"borderDashes": [6, 4]}
            item["color"] = {"background": "#ffffff", "border": colour}
            item["borderWidth"] = 2
        if node.cluster_id and clustered.get(node.cluster_id, 0) > 1:
            item["cluster"] = node.cluster_id
        nodes.append(item)
    return nodes


def _vis_edges(graph: HopGraph) -> list[dict[str, Any]]:
    edges = []
    for number, edge in enumerate(graph.edges.values()):
        tag = graph.tags.get(edge.asset, short_address(edge.asset))
        label = f"{_display(edge.tainted_value, edge.decimals)} {tag}"
        if edge.transfers > 1:
            label += f" \u00d7{edge.transfers}"  # multiplication sign
        edges.append(
            {
                "id": f"e{number}",
                "from": edge.source,
                "to": edge.target,
                "label": label,
                "width": round(1 + 9 * math.sqrt(edge.share), 2),
                "amount": float(format_units(edge.tainted_value, edge.decimals)),
                "asset": edge.asset,
                "tag": tag,  # the asset on labels of edges a closed cluster merges
                # Exact, for the label of an edge that a closed cluster merges with others.
                "tainted": str(edge.tainted_value),
                "decimals": edge.decimals,
                "transfers": edge.transfers,
                "share": edge.share,
                "tip": _edge_tip(edge, graph.names.get(edge.asset, edge.asset)),
            }
        )
    return edges


def _clusters(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r"""One entry per drawn cluster; a cluster that holds seeds says so and is drawn seed red.

    Examples
    --------
    >>> items = [
    ...     {"id": "0xa", "cluster": "0xa", "role": "seed"},
    ...     {"id": "0xb", "cluster": "0xa", "role": "held"},
    ... ]
    >>> [(c["label"], c["tip"][1], c["colour"]) for c in _clusters(items)]
    [('2 in\ncluster\n1 seed', '2 addresses, 1 of them a seed; double-click to expand', '#d62728')]
    """
    members: dict[str, list[str]] = {}
    seeds: dict[str, int] = {}
    for item in nodes:
        if "cluster" in item:
            members.setdefault(item["cluster"], []).append(item["id"])
            seeds[item["cluster"]] = seeds.get(item["cluster"], 0) + (item["role"] == "seed")
    clusters = []
    for cluster_id, ids in sorted(members.items()):
        # Short labels: a database shape grows with its label.
        label, what, colour = f"{len(ids)} in\ncluster", f"{len(ids)} addresses", None
        held = seeds[cluster_id]
        if held:
            label += "\n1 seed" if held == 1 else f"\n{held} seeds"
            what += ", 1 of them a seed" if held == 1 else f", {held} of them seeds"
            colour = ROLE_STYLES["seed"][0]
        clusters.append(
            {
                "id": f"cluster:{cluster_id}",
                "key": cluster_id,
                "label": label,
                "tip": [f"cluster {cluster_id}", f"{what}; double-click to expand"],
                "members": ids,
                "colour": colour,
            }
        )
    return clusters


def _options(node_count: int, edge_count: int) -> dict[str, Any]:
    return {
        "layout": {"randomSeed": 7, "improvedLayout": False, "hierarchical": {"enabled": False}},
        "physics": {"enabled": False},
        "nodes": {"font": {"size": 13, "face": "sans-serif"}},
        "edges": {
            "arrows": {"to": {"enabled": True, "scaleFactor": 0.6}},
            "smooth": False,
            "color": {"color": "#8a8a8a", "highlight": "#d62728", "inherit": False},
            "font": {"size": 11, "align": "top", "face": "sans-serif"},
            "scaling": {"label": {"drawThreshold": 6}},
        },
        "interaction": {
            "hover": node_count + edge_count < 3000,
            "tooltipDelay": 150,
            "hideEdgesOnDrag": edge_count > 800,
            "hideEdgesOnZoom": edge_count > 800,
            "navigationButtons": False,
            "keyboard": False,
        },
    }


# What came in (seeded, swapped in) equals what went out (every other column), per asset.
_TOTAL_COLUMNS = (
    ("seeded", "left the seeds"),
    ("swapped_in", "came out of swaps"),
    ("endpoints", "reached endpoints"),
    ("held", "still held"),
    ("fees", "paid as fees"),
    ("below_min_value", "below the minimum value"),
    ("untraced", "not traced further"),
    ("swapped_out", "went into swaps"),
    ("dust", "rounding dust"),
)


def _recorded_totals(trace: Trace) -> dict[str, dict[str, int]]:
    """``trace.json``'s exact totals of the main taint model: asset -> column -> amount."""
    totals = trace.parameters.get("totals")
    model = parameter(trace, "taint")
    by_asset = totals.get(model) if isinstance(totals, dict) and model else None
    if not isinstance(by_asset, dict):
        return {}
    recorded: dict[str, dict[str, int]] = {}
    for asset, columns in by_asset.items():
        if isinstance(columns, dict):
            recorded[str(asset)] = {str(k): int(v) for k, v in columns.items() if str(v).isdigit()}
    return recorded


def _totals(trace: Trace, graph: HopGraph) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Header and rows of the totals table: ``trace.json``'s totals, else sums of the CSVs."""
    totals = _recorded_totals(trace)
    if not totals:
        columns: dict[str, dict[str, int]] = {"seeded": dict(graph.seeded)}
        for key, frame in (("endpoints", trace.exposure), ("held", trace.held)):
            summed = sum_values(frame.lazy(), by=["asset"], column="tainted_value").collect()
            columns[key] = {a: int(v) for a, v in summed.iter_rows()}
        for key, amounts in columns.items():
            for asset, amount in amounts.items():
                totals.setdefault(asset, {})[key] = amount
    shown = [(k, h) for k, h in _TOTAL_COLUMNS if any(k in t for t in totals.values())]
    rows = []
    for asset in sorted(totals):
        decimals = graph.decimals.get(asset)
        cells = [format_units(totals[asset].get(k, 0), decimals) for k, _ in shown]
        rows.append((graph.names.get(asset, asset), cells))
    return [h for _, h in shown], rows


def _exposure_rows(trace: Trace, names: dict[str, str], *, limit: int) -> list[dict[str, str]]:
    rows = []
    ordered = trace.exposure.sort(
        ["share_of_seed_value", "address", "asset"],
        descending=[True, False, False],
        nulls_last=True,
    ).head(limit)
    for row in ordered.iter_rows(named=True):
        share = row["share_of_seed_value"]
        reached = row["first_reached_at"]
        rows.append(
            {
                "address": row["address"],
                "label": row["label"] or "",
                "category": row["category"] or "",
                "amount": f"{format_units(row['tainted_value'], row['decimals'])} "
                f"{names.get(row['asset'], row['asset'])}",
                "share": f"{share:.2%}" if share is not None else "",
                "hop": "" if row["min_hop"] is None else str(row["min_hop"]),
                "reached": reached.strftime("%Y-%m-%d %H:%M:%S UTC") if reached else "",
                "paths": "" if row["paths"] is None else str(row["paths"]),
            }
        )
    return rows


_SHOWN_ELSEWHERE = frozenset(
    {"title", "seeds", "seeded", "decimals", "symbols", "totals", "tables"}
)


def _parameters(trace: Trace) -> list[tuple[str, str]]:
    """``trace.json`` as (key, text) rows: the trace parameters and the other facts.

    The engine writes the parameters under ``parameters``; a top-level key of the same name
    (``chain``: the chain actually traced) wins over the parameter. The seeds have their own
    table in the header (the ``seeds`` parameter is empty when they came from a seed file or
    the data directory, which would read as "no seeds").
    """
    merged: dict[str, Any] = {}
    nested = trace.parameters.get("parameters")
    if isinstance(nested, dict):
        merged.update((k, v) for k, v in nested.items() if k not in _SHOWN_ELSEWHERE)
    merged.update(
        (k, v)
        for k, v in trace.parameters.items()
        if k not in _SHOWN_ELSEWHERE and k != "parameters"
    )
    rows = []
    for key, value in sorted(merged.items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        rows.append((str(key), text))
    return rows


def _compare_rows(trace: Trace, names: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    """compare.csv (one column per taint model) with amounts in whole units."""
    frame = trace.compare
    if frame is None or frame.is_empty():
        return [], []
    fixed = ("address", "label", "category", "asset")
    models = [c for c in frame.columns if c not in (*fixed, "chain", "decimals")]
    rows = []
    for row in frame.iter_rows(named=True):
        decimals = int(row["decimals"]) if row.get("decimals") else None
        cells = [row.get(c) or "" for c in fixed]
        cells[3] = names.get(cells[3], cells[3])  # the asset
        cells += [format_units(row[m], decimals) if row[m] else "" for m in models]
        rows.append(cells)
    return [*fixed, *models], rows


def _cut_note(cut: Cut | None) -> str | None:
    if cut is None:
        return None
    return (
        f"This trace reached {cut.total_nodes:,} addresses over {cut.total_edges:,} "
        f"(sender, receiver, asset) edges. To stay readable the graph shows the seeds, the "
        f"addresses on the top paths by tainted value and the largest endpoints, "
        f"{cut.kept_nodes:,} addresses in all (limit {cut.max_nodes:,}); the other "
        f"{cut.grouped_addresses:,} addresses are grouped into {cut.groups:,} dashed boxes, one "
        f"per hop and category, with their count"
        + (
            f", and {cut.inner_transfers:,} transfers between addresses of the same group are "
            "not drawn"
            if cut.inner_transfers
            else ""
        )
        + ". graph.json, graph.graphml and graph.gexf hold the full graph."
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(trace: Trace, *, title: str | None = None, max_nodes: int = 250) -> str:
    """The report page for a trace, as a string (see :func:`render_report`)."""
    full = build_graph(trace)
    graph, cut = reduce_graph(full, paths=trace.paths, max_nodes=max_nodes)
    net = Network(height="78vh", width="100%", directed=True, cdn_resources="in_line", heading="")
    # Bulk assignment: pyvis's add_node/add_edge are quadratic (WestHealth/pyvis#304).
    net.nodes = _vis_nodes(graph)
    net.edges = _vis_edges(graph)
    net.options = _options(len(net.nodes), len(net.edges))
    nodes, edges, _, height, width, options = net.get_network_data()
    seeds = [n for n in full.nodes.values() if n.role == "seed"]
    clusters = _clusters(nodes)
    case_title = title or str(trace.parameters.get("title") or "")
    case_title = case_title or f"Trace from {len(seeds)} seed address(es)"
    data = {
        "nodes": nodes,
        "edges": edges,
        "clusters": clusters,
        "options": json.loads(options),
        "total": {"nodes": len(full.nodes), "edges": len(full.edges)},
    }
    script = (_TEMPLATES / "report.js").read_text(encoding="utf-8")
    vis_js = _asset_text("vis-network.min.js")
    csp = (
        "default-src 'none'; "
        f"script-src {_csp_hash(vis_js)} {_csp_hash(script)}; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'"
    )
    categories = sorted({item["category"] for item in nodes})
    roles = {item["role"] for item in nodes}
    total_columns, totals = _totals(trace, full)
    compare_columns, compare = _compare_rows(trace, full.names)
    # Markup (not escaped): pyvis's own files, checked by _asset_text to hold no closing tag,
    # and tracer's script. Everything else goes through autoescape or embed_json.
    return (
        _environment()
        .get_template("report.html")
        .render(
            title=case_title,
            csp=csp,
            vis_css=markupsafe.Markup(_asset_text("vis-network.css")),
            vis_js=markupsafe.Markup(vis_js),
            script=markupsafe.Markup(script),
            data=embed_json(data),
            height=height,
            width=width,
            seeds=[(n.id, n.label or "") for n in seeds],
            direction=full.direction,
            total_columns=total_columns,
            totals=totals,
            compare_columns=compare_columns,
            compare=compare,
            parameters=_parameters(trace),
            exposure=_exposure_rows(trace, full.names, limit=_MAX_EXPOSURE_ROWS),
            exposure_total=trace.exposure.height,
            note=_cut_note(cut),
            shown_nodes=len(nodes),
            shown_edges=len(edges),
            legend_roles=[(c, s, t) for key, (c, s, t) in ROLE_STYLES.items() if key in roles],
            legend_categories=[
                (c, s, t) for key, (c, s, t) in CATEGORY_STYLES.items() if key in categories
            ],
            categories=categories,
            has_clusters=bool(clusters),
            has_held=any(n.held for n in graph.nodes.values()),
            held_border=_HELD_BORDER,
            version=version("tracer"),
        )
    )


def render_report(
    trace_dir: Path,
    *,
    title: str | None = None,
    html_path: Path | None = None,
    max_nodes: int = 250,
) -> Path:
    """Render ``report.html`` (or ``html_path``) from a trace's output directory.

    Parameters
    ----------
    trace_dir
        The directory ``tracer trace --out`` wrote (``flows.csv``, ``nodes.csv``, ...).
    title
        The case title for the header (default: ``trace.json``'s ``title``).
    html_path
        Where to write the page (default ``trace_dir / "report.html"``).
    max_nodes
        Above this many addresses, keep the top paths and group the rest.

    Returns
    -------
    Path
        The page written; the same outputs give a byte-identical page.
    """
    page = render_html(read_trace(trace_dir), title=title, max_nodes=max_nodes)
    target = html_path if html_path is not None else trace_dir / "report.html"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
