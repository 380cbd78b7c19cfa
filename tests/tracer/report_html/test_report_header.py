"""The header: the totals table shows what swaps converted; seeds are listed once."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.tracer.report_html.report_fixture import TOKEN
from tracer.report.html import render_report

ETH = 10**18


def test_swapped_value_has_its_columns(fixture_trace: Path) -> None:
    # 15 ETH left the seeds; 2 of them went into a swap that paid out 1,000 tokens.
    manifest = json.loads((fixture_trace / "trace.json").read_text(encoding="utf-8"))
    manifest["totals"]["haircut"] = {
        "ETH": {
            "seeded": str(15 * ETH),
            "endpoints": str(10 * ETH),
            "held": str(3 * ETH),
            "swapped_out": str(2 * ETH),
            "swapped_in": "0",
        },
        TOKEN: {"seeded": "0", "swapped_in": "1000000000", "endpoints": "1000000000"},
    }
    (fixture_trace / "trace.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = render_report(fixture_trace).read_text(encoding="utf-8")
    totals = page[page.index('id="totals"') : page.index("</table>", page.index('id="totals"'))]
    headers = re.findall(r'<th class="num">([^<]*)</th>', totals)
    rows = [re.findall(r'<td class="num">([^<]*)</td>', row) for row in totals.split("<tr>")[2:]]
    assert headers == [
        "left the seeds",
        "came out of swaps",
        "reached endpoints",
        "still held",
        "went into swaps",
    ]
    # Assets in name order: the fixture token symbol ("<script>...") sorts before "ETH".
    assert rows == [["0", "1000", "1000", "0", "0"], ["15", "0", "10", "3", "2"]]


def test_seeds_are_not_repeated_as_an_empty_parameter(fixture_trace: Path) -> None:
    # A trace whose seeds came from a seed file records ``"seeds": []`` among its parameters;
    # the page lists the seeds in their own table and must not add a row saying "[]".
    manifest = json.loads((fixture_trace / "trace.json").read_text(encoding="utf-8"))
    manifest["parameters"]["seeds"] = []
    (fixture_trace / "trace.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = render_report(fixture_trace).read_text(encoding="utf-8")
    params = page[
        page.index('id="parameters"') : page.index("</table>", page.index('id="parameters"'))
    ]
    assert "<th>seeds</th>" not in params
    assert "<th>taint</th><td><code>haircut</code>" in params
    seeds = page[page.index('id="seeds"') : page.index("</table>", page.index('id="seeds"'))]
    assert "0x" + "a1" * 20 in seeds
