"""Trace stolen funds hop by hop, forward or backward, under a taint model.

``run_trace(inputs, spec)`` expands from the seeds with Polars semi-joins
(:mod:`tracer.trace.expand`), replays the reached transfers in time order under the poison,
haircut or fifo model (:mod:`tracer.trace.models`), converting taint from one asset to another
at swap venues (:mod:`tracer.trace.swaps`), and builds the flows, exposure, paths, held and
nodes tables (:mod:`tracer.trace.outputs`). See docs/tracing.md.
"""

from tracer.trace.engine import run_trace
from tracer.trace.labelled import CrawlLimits, crawl_limits, labelled_stops, labelled_venues
from tracer.trace.load import load_trace_inputs, trace_store
from tracer.trace.models import TAINT_MODELS, Taint, TaintPlan, fifo, haircut, poison
from tracer.trace.outputs import COMPARE, TraceResult, trace_manifest, write_trace_outputs
from tracer.trace.spec import (
    DEFAULT_STOP_AT,
    DIRECTIONS,
    TAINT_MODEL_NAMES,
    TraceInputs,
    TraceSpec,
)
from tracer.trace.swaps import (
    SWAP_CATEGORIES,
    converted_taint,
    find_swaps,
    swap_venues,
)

__all__ = [
    "COMPARE",
    "DEFAULT_STOP_AT",
    "DIRECTIONS",
    "SWAP_CATEGORIES",
    "TAINT_MODELS",
    "TAINT_MODEL_NAMES",
    "CrawlLimits",
    "Taint",
    "TaintPlan",
    "TraceInputs",
    "TraceResult",
    "TraceSpec",
    "converted_taint",
    "crawl_limits",
    "fifo",
    "find_swaps",
    "haircut",
    "labelled_stops",
    "labelled_venues",
    "load_trace_inputs",
    "poison",
    "run_trace",
    "swap_venues",
    "trace_manifest",
    "trace_store",
    "write_trace_outputs",
]
