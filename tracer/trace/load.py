"""The thin loader between a data directory and the engine: the only I/O of ``tracer.trace``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from tracer.store import Store
from tracer.trace.engine import run_trace
from tracer.trace.outputs import TraceResult
from tracer.trace.spec import TraceInputs, TraceSpec

__all__ = ["load_trace_inputs", "trace_store"]


def load_trace_inputs(store: Store) -> TraceInputs:
    """The tables a trace reads, as LazyFrames over ``store`` (transfers are required)."""
    return TraceInputs(
        transfers=store.require("transfers"),
        transactions=store.scan("transactions"),
        labels=store.scan("labels"),
        clusters=store.scan("clusters"),
        seeds=store.scan("seeds"),
        tokens=store.scan("tokens"),
    )


def trace_store(
    data: str | Path | Store, spec: TraceSpec, *, peel_chains: pl.LazyFrame | None = None
) -> TraceResult:
    """Run :func:`~tracer.trace.engine.run_trace` over a data directory.

    ``peel_chains``: the peel-chain tags of the directory's UTXO data, which a trace of
    Bitcoin follows (``tracer.clustering.peel_chain_tags(store)``; the trace does not run
    heuristics itself). Without them every Bitcoin transaction counts a hop.
    """
    store = data if isinstance(data, Store) else Store(data)
    inputs = load_trace_inputs(store)
    if peel_chains is not None:
        inputs = replace(inputs, peel_chains=peel_chains)
    return run_trace(inputs, spec)
