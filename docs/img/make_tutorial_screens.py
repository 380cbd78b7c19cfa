"""Regenerate the screenshots of docs/tutorial.md: the report of the demo case.

Run from the repository root: ``.venv/bin/python docs/img/make_tutorial_screens.py``. It needs
Debian's chromium (``make chromium``). It runs ``fixtures/evm-exchange-hack/case.toml`` (what
``make demo`` runs) into a temporary directory, opens the report in headless Chromium and
writes four PNG files beside this script:

- ``tutorial-graph.png``: the legend, the controls and the hop graph as the page opens;
- ``tutorial-details.png``: the edge into the bridge clicked, its details under the graph;
- ``tutorial-exposure.png``: the exposure table;
- ``tutorial-cluster.png``: the attacker cluster opened by a double-click.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import ViewportSize, sync_playwright

from tracer.case import investigate

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "fixtures" / "evm-exchange-hack" / "case.toml"
IMG = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
WIDE: ViewportSize = {"width": 1600, "height": 900}
ATTACKERS = "cluster:0x009b893e77188db287e50134902755f8f85cdf28"
BRIDGE = "0x7b93856c55c80c0bc01ad3cd178fdd21e1f2320c"
MAX_BYTES = 300_000


def wait_for(page: Any, predicate: str, *, timeout: float = 30.0) -> None:
    """Poll a JS predicate (the page's CSP forbids Playwright's own eval-based polling)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {predicate}"
            raise SystemExit(msg)
        page.wait_for_timeout(50)


def point(page: Any, node_id: str) -> tuple[float, float]:
    """Viewport coordinates of a node's centre."""
    found: dict[str, float] = page.evaluate(
        """(id) => {
          const net = window.tracerReport.network;
          const p = net.canvasToDOM(net.getPosition(id));
          const box = document.querySelector("#graph canvas").getBoundingClientRect();
          return {x: box.left + p.x, y: box.top + p.y};
        }""",
        node_id,
    )
    return found["x"], found["y"]


def region(page: Any, selector: str) -> dict[str, float]:
    """An element's box in page coordinates."""
    found: dict[str, float] = page.evaluate(
        """(selector) => {
          const r = document.querySelector(selector).getBoundingClientRect();
          return {x: r.left + window.scrollX, y: r.top + window.scrollY,
                  width: r.width, height: r.height};
        }""",
        selector,
    )
    return found


def drawn(page: Any, *, margin: float = 40) -> dict[str, float]:
    """The box, in page coordinates, of the nodes on screen with their labels."""
    found: dict[str, float] = page.evaluate(
        """(margin) => {
          const net = window.tracerReport.network;
          const canvas = document.querySelector("#graph canvas").getBoundingClientRect();
          let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
          for (const id of net.body.nodeIndices) {
            const b = net.getBoundingBox(id);
            const a = net.canvasToDOM({x: b.left, y: b.top});
            const c = net.canvasToDOM({x: b.right, y: b.bottom});
            x0 = Math.min(x0, a.x); y0 = Math.min(y0, a.y);
            x1 = Math.max(x1, c.x); y1 = Math.max(y1, c.y);
          }
          const left = Math.max(0, x0 - margin), top = Math.max(0, y0 - margin);
          const right = Math.min(canvas.width, x1 + margin);
          const bottom = Math.min(canvas.height, y1 + margin);
          return {x: canvas.left + window.scrollX + left, y: canvas.top + window.scrollY + top,
                  width: right - left, height: bottom - top};
        }""",
        margin,
    )
    return found


def union(*boxes: dict[str, float], pad: float = 8) -> dict[str, float]:
    """The smallest box holding ``boxes``, ``pad`` pixels wider on every side."""
    x0 = max(0, min(b["x"] for b in boxes) - pad)
    y0 = max(0, min(b["y"] for b in boxes) - pad)
    x1 = max(b["x"] + b["width"] for b in boxes) + pad
    y1 = max(b["y"] + b["height"] for b in boxes) + pad
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def raise_drawing(page: Any, *, gap: float = 24) -> None:
    """Pan the view so that the drawing starts ``gap`` pixels below the top of the graph."""
    page.evaluate(
        """(gap) => {
          const net = window.tracerReport.network;
          let top = Infinity;
          for (const id of net.body.nodeIndices) {
            top = Math.min(top, net.canvasToDOM({x: 0, y: net.getBoundingBox(id).top}).y);
          }
          const centre = net.getViewPosition();
          const shift = (top - gap) / net.getScale();
          net.moveTo({position: {x: centre.x, y: centre.y + shift}, animation: false});
        }""",
        gap,
    )
    page.wait_for_timeout(200)


def fit(page: Any, ids: list[str]) -> None:
    """Zoom the graph onto these nodes, without animation."""
    page.evaluate("(ids) => window.tracerReport.network.fit({nodes: ids, animation: false})", ids)
    page.wait_for_timeout(200)


def shoot(page: Any, name: str, clip: dict[str, float]) -> Path:
    """Screenshot ``clip`` (page coordinates) into docs/img/NAME, mouse parked, no tooltip."""
    canvas = region(page, "#graph")
    page.evaluate("() => document.getElementById('graph').scrollIntoView()")
    top = page.evaluate("() => window.scrollY")
    page.mouse.move(canvas["x"] + 3, canvas["y"] - top + 3)  # an empty corner of the graph
    page.wait_for_timeout(300)
    path = IMG / name
    page.screenshot(path=str(path), clip=clip, full_page=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        msg = f"{path} is {size:,} bytes, over {MAX_BYTES:,}"
        raise SystemExit(msg)
    print(f"{path} ({size:,} bytes)")
    return path


def main() -> None:
    """Run the demo case and take the tutorial's four screenshots."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        investigate(CASE, out=out)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto((out / "report.html").as_uri())
            wait_for(page, "() => Boolean(window.tracerReport && window.tracerReport.drawn)")
            first_hop = page.evaluate(
                "() => window.tracerReport.data.nodes.filter(n => n.hop === 1).map(n => n.id)"
            )
            # The graph as it opens (the controls above it, the part of the canvas drawn on).
            raise_drawing(page)
            shoot(page, "tutorial-graph.png", union(region(page, "main > h2"), drawn(page)))
            # The exposure table, with its heading, in a window wide enough not to wrap it.
            page.set_viewport_size(WIDE)
            title, rows = region(page, "#exposure-title"), region(page, "#exposure")
            table = union({**title, "width": rows["width"]}, rows)  # the heading is page-wide
            shoot(page, "tutorial-exposure.png", table)
            page.set_viewport_size(VIEWPORT)
            # Hop 0 and hop 1 only; click the edge from the attacker cluster into the bridge.
            fit(page, [ATTACKERS, *first_hop])
            a, b = point(page, ATTACKERS), point(page, BRIDGE)
            page.mouse.click((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
            wait_for(page, "() => document.getElementById('details').innerText.includes('80 ETH')")
            shoot(page, "tutorial-details.png", union(drawn(page), region(page, "#details-box")))
            # Double-click the attacker cluster: its 19 wallets, the two seeds on top.
            page.mouse.dblclick(*point(page, ATTACKERS))
            opened = f"() => window.tracerReport.network.body.nodes['{ATTACKERS}'] === undefined"
            wait_for(page, opened)
            members = page.evaluate(
                "(id) => window.tracerReport.data.clusters.find(c => c.id === id).members",
                ATTACKERS,
            )
            fit(page, [*members, *first_hop])
            shoot(page, "tutorial-cluster.png", drawn(page, margin=20))
            browser.close()


if __name__ == "__main__":
    main()
