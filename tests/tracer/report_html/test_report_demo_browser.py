"""The demo case's report in headless Chromium: clusters open in place, clicks show details.

The case is fixtures/evm-exchange-hack (`make demo`, docs/tutorial.md): its attacker cluster
holds both seeds and 17 more wallets, all at hop 0, and paid the bridge from two of them. The
hand-made trace of test_report_cluster_edges.py checks the same behaviour on exact numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.tracer.report_html.report_fixture import page_data
from tests.tracer.report_html.test_report_browser import (
    Visit,
    node_point,
    open_report,
    wait_until,
)
from tracer.case import investigate

pytestmark = pytest.mark.browser

CASE = Path(__file__).resolve().parents[3] / "fixtures" / "evm-exchange-hack" / "case.toml"
ATTACKERS = "cluster:0x009b893e77188db287e50134902755f8f85cdf28"
BRIDGE = "0x7b93856c55c80c0bc01ad3cd178fdd21e1f2320c"
# The attacker cluster's node is gone once it is opened (isCluster would log an error).
OPENED = f"() => window.tracerReport.network.body.nodes['{ATTACKERS}'] === undefined"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    investigate(CASE, out=out)
    return out


def positions(page: Any, ids: list[str]) -> dict[str, tuple[float, float]]:
    found: dict[str, dict[str, float]] = page.evaluate(
        "(ids) => window.tracerReport.network.getPositions(ids)", ids
    )
    return {k: (v["x"], v["y"]) for k, v in found.items()}


def near(p: tuple[float, float], q: tuple[float, float]) -> bool:
    """Within a pixel: vis-network rounds the positions it reports."""
    return abs(p[0] - q[0]) <= 1 and abs(p[1] - q[1]) <= 1


def test_clusters_say_what_they_hold_and_open_in_place(browser: Any, demo: Path) -> None:
    html = demo / "report.html"
    data = page_data(html.read_text(encoding="utf-8"))
    clusters = {c["id"]: c for c in data["clusters"]}
    assert clusters[ATTACKERS]["label"] == "19 in\ncluster\n2 seeds"
    assert clusters[ATTACKERS]["colour"] == "#d62728"
    laid_out = {n["id"]: (n["x"], n["y"]) for n in data["nodes"]}
    visit = Visit()
    page = open_report(browser, html, visit)
    # A closed cluster sits on one of its members' places, never on another address.
    place = positions(page, [ATTACKERS])[ATTACKERS]
    members = clusters[ATTACKERS]["members"]
    assert any(near(place, laid_out[m]) for m in members)
    assert not any(near(place, p) for a, p in laid_out.items() if a not in members)
    # Opened, every member is back at its own laid-out place (vis-network would pile them all
    # on the cluster's position).
    page.mouse.dblclick(*node_point(page, ATTACKERS))
    wait_until(page, OPENED)
    opened = positions(page, members)
    page.context.close()
    assert sorted(opened) == sorted(members)
    assert all(near(opened[m], laid_out[m]) for m in members)
    assert len({(round(x), round(y)) for x, y in opened.values()}) == 19
    assert visit.errors == []
    assert visit.requests == []


def test_a_click_shows_details_with_every_transaction_hash(browser: Any, demo: Path) -> None:
    flows = pl.read_csv(demo / "flows.csv", infer_schema=False)
    ether = flows.filter((pl.col("to_address") == BRIDGE) & (pl.col("asset") == "ETH"))
    into_bridge = sorted(ether["transaction_hash"])
    assert len(into_bridge) == 2
    visit = Visit()
    page = open_report(browser, demo / "report.html", visit)
    assert "Click an address" in page.inner_text("#details")
    # The edge from the closed attacker cluster to the bridge stands for both transfers.
    a = node_point(page, ATTACKERS)
    b = node_point(page, BRIDGE)
    page.mouse.click((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    wait_until(page, "() => document.getElementById('details').innerText.includes('tainted in')")
    edge = page.inner_text("#details")
    page.mouse.click(*b)
    wait_until(page, "() => document.getElementById('details').innerText.startsWith('BridgeLock')")
    node = page.inner_text("#details")
    page.mouse.click(*a)
    wait_until(page, "() => document.getElementById('details').innerText.startsWith('cluster')")
    cluster = page.inner_text("#details")
    page.context.close()
    assert all(tx in edge for tx in into_bridge)
    assert "15 ETH tainted in 1 transfer(s)" in edge
    assert "80 ETH tainted in 1 transfer(s)" in edge
    assert "tainted in: " in node
    assert "95 ETH" in node
    assert f"address: {BRIDGE}" in node
    assert "19 addresses, 2 of them seeds" in cluster
    assert "0x23cf8b575cee224b5fbf411844ad4f1e875904ce · seed" in cluster
    assert len(cluster.splitlines()) == 2 + 19
    assert visit.errors == []
    assert visit.requests == []


def test_search_tells_two_deposit_addresses_of_one_exchange_apart(browser: Any, demo: Path) -> None:
    visit = Visit()
    page = open_report(browser, demo / "report.html", visit)
    page.fill("#search", "northpeak")
    page.click("#search-form button[type=submit]")
    buttons = page.locator("#search-results button").all_inner_texts()
    page.context.close()
    assert sorted(buttons) == [
        "NorthPeak hot wallet 0x400c…9259 (hop 1)",
        "NorthPeak hot wallet 0xeada…6c15 (hop 1)",
    ]
    assert visit.errors == []
