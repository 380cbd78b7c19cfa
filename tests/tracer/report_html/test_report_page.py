"""The report page as text: offline, escaped, deterministic; the graph reduced above a limit."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.tracer.report_html.report_fixture import (
    BRIDGE,
    DEPOSIT,
    HOSTILE,
    SEED,
    TITLE,
    TOKEN,
    big_trace,
    page_data,
)
from tracer.report.graph import (
    build_graph,
    layout_by_hop,
    read_trace,
    reduce_graph,
    short_address,
)
from tracer.report.html import embed_json, render_html, render_report


def test_page_is_self_contained(fixture_trace: Path) -> None:
    page = render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8")
    # Nothing is loaded from anywhere: no src/href attribute, no URL in a stylesheet import.
    assert re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page) is None
    assert "@import" not in page
    # Outside the inlined vis-network script (whose licence comments name web sites), no URL.
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    vis = max(scripts, key=len)
    assert re.search(r"https?://", page.replace(vis, "")) is None
    # The vis-network script shipped in pyvis is inlined.
    assert "vis-network" in page
    assert len(page) > 400_000
    assert page.count("</script>") == 3  # the data block, vis-network, the report script


def test_csp_allows_exactly_the_page_scripts(fixture_trace: Path) -> None:
    page = render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8")
    bodies = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(bodies) == 2
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    policy = csp.group(1).replace("&#39;", "'")
    for body in bodies:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "connect-src 'none'" in policy
    assert "unsafe-inline' ;" not in policy
    assert "script-src 'unsafe" not in policy


def test_hostile_strings_never_reach_the_page_raw(fixture_trace: Path) -> None:
    page = render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8")
    for text in HOSTILE:
        if "<" in text:
            assert text not in page
    assert "<img" not in page
    assert "<b>co</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # escaped in the HTML
    # ... and exact in the data block, once decoded.
    data = page_data(page)
    labels = {n["id"]: n["tip"][0] for n in data["nodes"]}
    assert labels[SEED] == "Lazarus " + HOSTILE[0]
    assert labels[DEPOSIT] == HOSTILE[1]
    assert labels[BRIDGE] == "Bridge & <b>co</b>"


def test_page_is_deterministic(fixture_trace: Path, tmp_path: Path) -> None:
    first = render_report(fixture_trace, title=TITLE).read_bytes()
    other = tmp_path / "again"
    shutil.copytree(fixture_trace, other)
    (other / "report.html").unlink()
    assert render_report(other, title=TITLE).read_bytes() == first


def test_title_and_html_path(fixture_trace: Path, tmp_path: Path) -> None:
    target = render_report(fixture_trace, title="Ronin & co", html_path=tmp_path / "r.html")
    assert target == tmp_path / "r.html"
    assert "<title>Ronin &amp; co</title>" in target.read_text(encoding="utf-8")
    assert not (fixture_trace / "report.html").exists()


def test_page_shows_header_totals_and_exposure(fixture_trace: Path) -> None:
    page = render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8")
    totals = page[page.index('id="totals"') : page.index("</table>", page.index('id="totals"'))]
    # ETH: 15 left the seed, 4 + 5 + 3 reached endpoints, 3 still held; exact whole units.
    assert re.search(
        r">ETH</td><td class=\"num\">15</td><td class=\"num\">12</td>"
        r"<td class=\"num\">3</td>",
        totals,
    )
    exposure = page[page.index('id="exposure"') :]
    assert exposure.index(DEPOSIT) < exposure.index(BRIDGE)  # by share, largest first
    assert "33.33%" in exposure
    assert "haircut" in page


def test_edges_carry_exact_amounts_and_tooltips(fixture_trace: Path) -> None:
    data = page_data(render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8"))
    edges = {(e["from"], e["to"], e["asset"]): e for e in data["edges"]}
    seed_a = edges[(SEED, "0x" + "b2" * 20, "ETH")]
    assert seed_a["label"] == "10 ETH"
    assert seed_a["tip"][0] == "10 ETH tainted in 1 transfer(s)"
    assert seed_a["tip"][3].startswith("0x" + "01" * 32 + " · 2022-03-23 10:00:00 UTC · 10 ETH")
    assert seed_a["width"] > edges[(SEED, "0x" + "c3" * 20, "ETH")]["width"]


@given(st.text())
def test_embed_json_cannot_close_a_script(text: str) -> None:
    embedded = str(embed_json({"t": text}))
    assert "<" not in embedded
    assert ">" not in embedded
    assert "&" not in embedded
    assert json.loads(embedded) == {"t": text}


def test_large_graph_is_reduced_and_says_so(tmp_path: Path) -> None:
    trace = read_trace(big_trace(tmp_path / "big", width=100, hops=5))
    full = build_graph(trace)
    assert len(full.nodes) == 501
    reduced, cut = reduce_graph(full, paths=trace.paths, max_nodes=60)
    assert cut is not None
    assert cut.kept_nodes == 60
    assert cut.grouped_addresses == 441
    assert SEED in reduced.nodes
    groups = [n for n in reduced.nodes.values() if n.is_group]
    assert sum(g.members for g in groups) == 441
    assert len(groups) == cut.groups
    # Every transfer is either drawn (possibly merged) or counted as inside a group.
    drawn = sum(e.transfers for e in reduced.edges.values())
    assert drawn + cut.inner_transfers == trace.flows.height
    # The tainted value drawn leaving the seed is unchanged by the grouping.
    out_full = sum(e.tainted_value for e in full.edges.values() if e.source == SEED)
    out_reduced = sum(e.tainted_value for e in reduced.edges.values() if e.source == SEED)
    assert out_full == out_reduced
    page = render_html(trace, max_nodes=60)
    assert 'id="cut-note"' in page
    assert "441 addresses are grouped" in page
    assert len(page_data(page)["nodes"]) == 60 + cut.groups


def test_small_graph_is_not_reduced(fixture_trace: Path) -> None:
    graph = build_graph(read_trace(fixture_trace))
    reduced, cut = reduce_graph(graph, max_nodes=8)
    assert cut is None
    assert reduced is graph
    assert 'id="cut-note"' not in render_report(fixture_trace, title=TITLE).read_text(
        encoding="utf-8"
    )


def test_layout_is_by_hop_and_deterministic(tmp_path: Path) -> None:
    trace = read_trace(big_trace(tmp_path / "big", width=30, hops=3))
    graph = build_graph(trace)
    positions = layout_by_hop(graph)
    assert positions == layout_by_hop(build_graph(read_trace(tmp_path / "big")))
    step = positions[next(n for n in graph.nodes if graph.nodes[n].hop == 1)][0]
    assert step >= 320.0
    for node_id, (x, _) in positions.items():
        assert x == graph.nodes[node_id].hop * step
    column = sorted(y for node_id, (_, y) in positions.items() if graph.nodes[node_id].hop == 2)
    assert len(set(column)) == 30  # no two nodes on the same spot
    graph.direction = "backward"
    mirrored = layout_by_hop(graph)
    back = -mirrored[next(n for n in graph.nodes if graph.nodes[n].hop == 1)][0]
    assert back >= 320.0
    assert all(mirrored[n][0] == -graph.nodes[n].hop * back for n in positions)


def test_totals_come_from_trace_json_with_every_column(fixture_trace: Path) -> None:
    page = render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8")
    totals = page[page.index('id="totals"') : page.index("</table>", page.index('id="totals"'))]
    headers = re.findall(r'<th class="num">([^<]*)</th>', totals)
    assert headers == [
        "left the seeds",
        "reached endpoints",
        "still held",
        "paid as fees",
        "not traced further",
        "rounding dust",
    ]
    # The parameters nested under "parameters" are listed one per row, the stats too.
    params = page[page.index('id="parameters"') :]
    assert "<th>taint</th><td><code>haircut</code>" in params
    assert "<th>stats</th>" in params
    assert "<th>totals</th>" not in params


def test_compare_table_escapes_and_formats(fixture_trace: Path) -> None:
    (fixture_trace / "compare.csv").write_text(
        "chain,address,asset,decimals,label,category,poison,haircut,fifo\n"
        f'ethereum,{DEPOSIT},ETH,18,"{HOSTILE[1].replace(chr(34), chr(34) * 2)}",'
        f"deposit_wallet,{4 * 10**18},{35 * 10**17},{4 * 10**18}\n",
        encoding="utf-8",
    )
    page = render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8")
    compare = page[page.index('id="compare"') :]
    assert "<th>poison</th><th>haircut</th><th>fifo</th>" in compare
    assert '<td class="num">3.5</td>' in compare
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in compare


def test_marks_seeds_endpoints_and_holders(fixture_trace: Path) -> None:
    data = page_data(render_report(fixture_trace, title=TITLE).read_text(encoding="utf-8"))
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes[SEED]["shape"] == "star"
    assert nodes[SEED]["borderWidth"] == 5
    assert nodes[DEPOSIT]["shape"] == "square"
    assert nodes[DEPOSIT]["color"]["border"] == "#222222"
    assert nodes[BRIDGE]["shape"] == "diamond"
    held = nodes["0x" + "18" * 20]
    assert held["color"]["border"] == "#e377c2"
    assert held["borderWidth"] == 4
    assert "still held: 3 ETH" in held["tip"]
    # Size follows the largest share of any asset's seeded value: the seed and A (all of the
    # token) are the largest; B (5 of 15 ETH) is larger than the holder (3 of 15 ETH).
    assert nodes[SEED]["size"] == nodes["0x" + "b2" * 20]["size"] == 30.0
    assert nodes["0x" + "c3" * 20]["size"] == round(8 + 22 * (5 / 15) ** 0.5, 2)
    assert held["size"] == round(8 + 22 * (3 / 15) ** 0.5, 2)


def _with_symbols(trace_dir: Path, symbols: dict[str, str]) -> Path:
    path = trace_dir / "trace.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**recorded, "symbols": symbols}), encoding="utf-8")
    return trace_dir


def test_a_token_is_shown_by_its_symbol_and_its_contract(fixture_trace: Path) -> None:
    page = render_report(_with_symbols(fixture_trace, {TOKEN: "VUSD"})).read_text()
    edges = [e for e in page_data(page)["edges"] if e["asset"] == TOKEN]
    assert edges
    assert {e["tag"] for e in edges} == {"VUSD"}
    assert all(e["label"].startswith("1,000 VUSD") for e in edges)
    assert all(e["tip"][0].startswith(f"1000 VUSD ({TOKEN}) tainted") for e in edges)
    # The tables name the contract beside the symbol (escaped: the asset is hostile here).
    exposure = page[page.index('id="exposure"') :]
    assert f"1000 VUSD ({html.escape(TOKEN, quote=False)})" in exposure
    # Without trace.json's symbols, the contract alone, as before.
    plain = render_report(_with_symbols(fixture_trace, {})).read_text()
    assert {e["tag"] for e in page_data(plain)["edges"] if e["asset"] == TOKEN} == {
        short_address(TOKEN)
    }


def test_a_symbol_posing_as_a_coin_or_hiding_characters_is_not_trusted(
    fixture_trace: Path,
) -> None:
    # A token calling itself ETH keeps its contract on labels; control characters and a
    # right-to-left override are dropped, a long symbol cut.
    for symbol, tag, name in (
        ("eth", short_address(TOKEN), "eth"),
        ("US\u202eDT\n", "USDT", "USDT"),
        ("claim at rewards.example", "claim at re…", "claim at re…"),
    ):
        page = render_report(_with_symbols(fixture_trace, {TOKEN: symbol})).read_text()
        edges = [e for e in page_data(page)["edges"] if e["asset"] == TOKEN]
        assert {e["tag"] for e in edges} == {tag}, symbol
        assert all(e["tip"][0].startswith(f"1000 {name} ({TOKEN})") for e in edges), symbol
