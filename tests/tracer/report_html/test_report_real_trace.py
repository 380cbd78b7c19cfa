"""The report of a real trace: the peel-chain demo fixture through ingest and the trace engine.

fixtures/peel-chain-demo is the project's made-up theft on a local chain (see its generate.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.tracer.report_html.report_fixture import page_data
from tracer.ingest.files import ingest_files
from tracer.ingest.labels import ingest_labels
from tracer.ingest.seeds import ingest_seeds
from tracer.report import render_report, write_exports
from tracer.store import Store
from tracer.trace.load import trace_store
from tracer.trace.outputs import write_trace_outputs
from tracer.trace.spec import TraceSpec

CASE = Path(__file__).resolve().parents[3] / "fixtures" / "peel-chain-demo"


def test_report_of_the_peel_chain_demo(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    ingest_files(store, [CASE / "data"], fmt="ethereum-etl", chain="ethereum", options={})
    ingest_seeds(store, CASE / "seeds.csv", fmt="auto", chain=None)
    ingest_labels(store, CASE / "labels.csv", fmt="auto")
    seeds = tuple(pl.read_csv(CASE / "seeds.csv")["address"].to_list())
    out = tmp_path / "out"
    write_trace_outputs(trace_store(store, TraceSpec(seeds=seeds, compare=True)), out)

    page = render_report(out, title="peel chain").read_text(encoding="utf-8")
    write_exports(out)
    flows = pl.read_csv(out / "flows.csv", infer_schema=False)
    pairs = flows.select("from_address", "to_address", "asset").unique()
    addresses = set(flows["from_address"]) | set(flows["to_address"])
    data = page_data(page)
    assert len(data["edges"]) == pairs.height
    assert {n["id"] for n in data["nodes"]} == addresses
    graph = json.loads((out / "graph.json").read_text(encoding="utf-8"))
    assert len(graph["edges"]) == pairs.height
    # Every endpoint of exposure.csv is drawn with the endpoint's thick border.
    exposure = pl.read_csv(out / "exposure.csv", infer_schema=False)
    borders = {n["id"]: n["borderWidth"] for n in data["nodes"]}
    assert exposure.height > 0
    assert all(borders[a] == 5 for a in exposure["address"])
    assert 'id="compare"' in page
