"""The thin loader between a data directory and the engine: the only I/O of ``tracer.trace``."""

from __future__ import annotations

from pathlib import Path

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


def trace_store(data: str | Path | Store, spec: TraceSpec) -> TraceResult:
    """Run :func:`~tracer.trace.engine.run_trace` over a data directory."""
    store = data if isinstance(data, Store) else Store(data)
    return run_trace(load_trace_inputs(store), spec)
