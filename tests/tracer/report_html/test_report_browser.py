"""The report in a real browser: headless Debian Chromium, network off, hostile labels inert."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.tracer.report_html.report_fixture import HOSTILE, SEED, TITLE, TOKEN, big_trace
from tracer.report.html import render_report

pytestmark = pytest.mark.browser


@dataclass
class Visit:
    """What happened while a page was open: blocked requests, console errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_report(browser: Any, path: Path, visit: Visit) -> Any:
    """Open ``path`` from file:// with every non-file request aborted and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith("file://"):
            r.continue_()
        else:
            visit.requests.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on(
        "request",
        lambda req: None if req.url.startswith("file://") else visit.requests.append(req.url),
    )
    page.on("console", lambda msg: visit.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: visit.errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        visit.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.resolve().as_uri())
    wait_until(page, "() => Boolean(window.tracerReport && window.tracerReport.drawn)", timeout=15)
    return page


def test_report_offline_no_errors_counts(browser: Any, fixture_trace: Path, tmp_path: Path) -> None:
    html = render_report(fixture_trace, title=TITLE)
    visit = Visit()
    page = open_report(browser, html, visit)
    counts = page.evaluate(
        """() => {
          const r = window.tracerReport;
          return {
            dataNodes: r.data.nodes.length, dataEdges: r.data.edges.length,
            setNodes: r.nodes.length, setEdges: r.edges.length,
            clusters: r.data.clusters.length,
            visible: r.network.body.nodeIndices.length,
            canvas: document.querySelectorAll("#graph canvas").length,
          };
        }"""
    )
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.context.close()
    assert visit.requests == []
    assert visit.errors == []
    assert visit.dialogs == []
    assert counts["dataNodes"] == counts["setNodes"] == 8
    assert counts["dataEdges"] == counts["setEdges"] == 9
    # B and C form one cluster, drawn as a single node: 8 - 2 + 1.
    assert counts["clusters"] == 1
    assert counts["visible"] == 7
    assert counts["canvas"] == 1
    assert (tmp_path / "report.png").stat().st_size > 10_000


def wait_until(page: Any, predicate: str, *, timeout: float = 5.0) -> None:
    """Poll a JS predicate with ``evaluate`` (the page's CSP forbids Playwright's eval polling)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {predicate}")
        page.wait_for_timeout(50)


def node_point(page: Any, node_id: str) -> tuple[float, float]:
    """Viewport coordinates of a node's centre, with the graph scrolled into view."""
    page.evaluate("() => document.getElementById('graph').scrollIntoView()")
    point: dict[str, float] = page.evaluate(
        """(id) => {
          const net = window.tracerReport.network;
          const p = net.canvasToDOM(net.getPosition(id));
          const box = document.querySelector("#graph canvas").getBoundingClientRect();
          return {x: box.left + p.x, y: box.top + p.y};
        }""",
        node_id,
    )
    return point["x"], point["y"]


def test_hostile_labels_stay_inert_text(browser: Any, fixture_trace: Path) -> None:
    visit = Visit()
    page = open_report(browser, render_report(fixture_trace, title=TITLE), visit)
    assert page.inner_text("#case-title") == TITLE
    exposure = page.inner_text("#exposure")
    assert HOSTILE[1] in exposure
    assert HOSTILE[2] in exposure
    assert "Bridge & <b>co</b>" in exposure
    assert page.inner_text("#seeds").count("Lazarus " + HOSTILE[0]) == 1
    # Hover the seed: its tooltip is text, built with textContent.
    x, y = node_point(page, SEED)
    page.mouse.move(x - 4, y - 4)
    page.mouse.move(x, y, steps=3)
    page.wait_for_selector("div.vis-tooltip", state="visible", timeout=5_000)
    tooltip = page.inner_text("div.vis-tooltip")
    assert tooltip.startswith("Lazarus " + HOSTILE[0])
    # Search for the hostile deposit label: the result button shows it literally.
    page.fill("#search", "onerror")
    page.click("#search-form button[type=submit]")
    assert page.inner_text("#search-results").startswith(HOSTILE[1][:20])
    page.wait_for_timeout(300)
    counts = page.evaluate(
        """() => ({
          img: document.querySelectorAll("img").length,
          scripts: document.querySelectorAll("script").length,
          bold: document.querySelectorAll("b").length,
          selected: window.tracerReport.network.getSelectedNodes(),
        })"""
    )
    page.context.close()
    assert counts["img"] == 0
    assert counts["bold"] == 0
    assert counts["scripts"] == 3
    assert counts["selected"] == ["0x" + "e5" * 20]
    assert visit.dialogs == []
    assert visit.errors == []
    assert visit.requests == []


def test_a_hostile_token_symbol_stays_inert_text(browser: Any, fixture_trace: Path) -> None:
    # A symbol is whatever the token's contract returns: markup and a right-to-left override.
    path = fixture_trace / "trace.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))
    recorded["symbols"] = {TOKEN: "\u202e" + HOSTILE[1]}
    path.write_text(json.dumps(recorded), encoding="utf-8")
    visit = Visit()
    page = open_report(browser, render_report(fixture_trace), visit)
    shown = HOSTILE[1][:11] + "…"  # cut at 12 characters, the override dropped
    assert f"1000 {shown} ({TOKEN})" in page.inner_text("#exposure")
    assert f"{shown} ({TOKEN})" in page.inner_text("#totals")
    labels = page.evaluate(
        "() => window.tracerReport.data.edges.filter(e => e.tag).map(e => e.label)"
    )
    counts = page.evaluate(
        """() => ({img: document.querySelectorAll("img").length,
                  scripts: document.querySelectorAll("script").length})"""
    )
    page.context.close()
    assert any(label.startswith("1,000 " + shown) for label in labels)
    assert counts == {"img": 0, "scripts": 3}
    assert visit.dialogs == []
    assert visit.errors == []


def test_cluster_expands_and_filters_hide(browser: Any, fixture_trace: Path) -> None:
    visit = Visit()
    page = open_report(browser, render_report(fixture_trace, title=TITLE), visit)
    visible = "() => window.tracerReport.network.body.nodeIndices.length"
    assert page.evaluate(visible) == 7
    page.mouse.dblclick(*node_point(page, "cluster:0x" + "c3" * 20))
    wait_until(page, f"() => ({visible})() === 8")
    # Searching for a member of a closed cluster opens it and selects the member.
    page.reload()
    wait_until(page, "() => Boolean(window.tracerReport && window.tracerReport.drawn)")
    assert page.evaluate(visible) == 7
    page.fill("#search", "d4d4d4")
    page.click("#search-form button[type=submit]")
    assert page.evaluate(visible) == 8
    assert page.evaluate("() => window.tracerReport.network.getSelectedNodes()") == [
        "0x" + "d4" * 20
    ]
    # Edges under 4.5 units disappear, and with them the nodes left without an edge.
    page.fill("#min-value", "4.5")
    page.dispatch_event("#min-value", "change")
    hidden = page.evaluate(
        """() => ({
          edges: window.tracerReport.edges.get({filter: e => e.hidden}).length,
          nodes: window.tracerReport.nodes.get({filter: n => n.hidden}).map(n => n.id).sort(),
        })"""
    )
    assert hidden["edges"] == 3  # 4 ETH to the deposit wallet, 3 to the bridge, 3 held
    assert sorted(hidden["nodes"]) == sorted(["0x" + "07" * 20, "0x" + "18" * 20])
    page.uncheck("input[data-category=mixing_service]")
    hidden_nodes = page.evaluate(
        "() => window.tracerReport.nodes.get({filter: n => n.hidden}).length"
    )
    page.context.close()
    assert hidden_nodes == 3
    assert visit.errors == []
    assert visit.requests == []


def test_reduced_large_graph_draws_with_its_note(browser: Any, tmp_path: Path) -> None:
    trace_dir = big_trace(tmp_path / "big", width=120, hops=5)  # 601 addresses, ~1,150 edges
    visit = Visit()
    page = open_report(browser, render_report(trace_dir, max_nodes=80), visit)
    counts = page.evaluate(
        """() => ({
          nodes: window.tracerReport.nodes.length,
          groups: window.tracerReport.data.nodes.filter(n => n.role === "group").length,
          total: window.tracerReport.data.total,
        })"""
    )
    note = page.inner_text("#cut-note")
    page.context.close()
    assert counts["total"]["nodes"] == 601
    assert counts["nodes"] == 80 + counts["groups"]
    assert "521 addresses are grouped" in note
    assert visit.errors == []
    assert visit.requests == []
