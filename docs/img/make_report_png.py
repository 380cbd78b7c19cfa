"""Regenerate docs/img/report.png: the report of the peel-chain demo fixture.

Run from the repository root: ``.venv/bin/python docs/img/make_report_png.py``. It needs
Debian's chromium (``make chromium``). The data is ``fixtures/peel-chain-demo`` (a made-up
theft on a local chain), ingested, traced with the default parameters and rendered.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import polars as pl
from playwright.sync_api import sync_playwright

from tracer.ingest.files import ingest_files
from tracer.ingest.labels import ingest_labels
from tracer.ingest.seeds import ingest_seeds
from tracer.report import render_report
from tracer.store import Store
from tracer.trace.load import trace_store
from tracer.trace.outputs import write_trace_outputs
from tracer.trace.spec import TraceSpec

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "fixtures" / "peel-chain-demo"
OUT = Path(__file__).resolve().parent / "report.png"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def main() -> None:
    """Trace the demo, render its report, screenshot it into docs/img/report.png."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "data")
        ingest_files(store, [CASE / "data"], fmt="ethereum-etl", chain="ethereum", options={})
        ingest_seeds(store, CASE / "seeds.csv", fmt="auto", chain=None)
        ingest_labels(store, CASE / "labels.csv", fmt="auto")
        seeds = tuple(pl.read_csv(CASE / "seeds.csv")["address"].to_list())
        result = trace_store(store, TraceSpec(seeds=seeds, max_hops=8, compare=True))
        out = Path(tmp) / "out"
        write_trace_outputs(result, out)
        page_path = render_report(out, title="VictimEx hot-wallet theft (peel-chain demo)")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(page_path.as_uri())
            deadline = time.monotonic() + 30
            while not page.evaluate("() => Boolean(window.tracerReport?.drawn)"):
                if time.monotonic() > deadline:
                    msg = "the report did not draw within 30 s"
                    raise SystemExit(msg)
                page.wait_for_timeout(50)
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
    print(OUT)


if __name__ == "__main__":
    main()
