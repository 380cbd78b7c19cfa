"""A trace's output tables (flows, exposure, paths, held, nodes, compare) and how they are written.

Every table is sorted at this boundary and written with a fixed column order, so the same
trace gives the same bytes. Amounts are exact decimal strings of base units: exact taint
(fractions under haircut) is rounded down once, when a row is written; ``trace.json`` gives the
exact totals and the rounding dust.
"""

from __future__ import annotations

import heapq
import importlib.metadata
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from tracer.schema import EXPOSURE, FLOWS, HELD, NODES, PATHS, conform
from tracer.trace.models import Amount, Taint, TaintPlan
from tracer.trace.spec import TAINT_MODEL_NAMES, TraceSpec

__all__ = ["COMPARE", "TraceResult", "build_result", "write_trace_outputs"]

_INT64_MAX = 2**63 - 1
_MAX_PATH_POPS = 20_000  # best-first search budget per endpoint and asset

COMPARE = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "asset": pl.String(),
        "decimals": pl.Int32(),
        "label": pl.String(),
        "category": pl.String(),
        **{model: pl.String() for model in TAINT_MODEL_NAMES},
    }
)


@dataclass(frozen=True)
class TraceResult:
    """Everything a trace produced.

    Attributes
    ----------
    spec, chain
        The parameters and the chain traced.
    seeds
        ``address``, ``transaction_hash`` (null: traced as a whole address).
    flows, exposure, paths, held, nodes
        Rows of ``schema.FLOWS``, ``EXPOSURE``, ``PATHS``, ``HELD``, ``NODES`` under the main
        model (``spec.taint``).
    seeded
        Per asset: the taint put in at the seeds, in base units.
    decimals
        Per asset seeded or swapped into: its decimals (``None`` when unknown).
    totals
        Per model, per asset: ``seeded``, ``swapped_in``, ``endpoints``, ``held``, ``fees``,
        ``below_min_value``, ``untraced``, ``swapped_out`` (exact sums rounded down) and
        ``dust`` (``seeded + swapped_in`` minus the others: what rounding down left over; 0 for
        poison, which does not conserve).
    compare
        Rows of :data:`COMPARE` (endpoint x model) when ``spec.compare``, else ``None``.
    symbols
        Per token asset moved in the flows: its symbol as the ``tokens`` table has it
        (untrusted text from the chain, for display; assets without one are left out).
    stats
        Expansion rounds and replayed transfers.
    taints
        Each model's exact findings (:class:`~tracer.trace.models.Taint`), for checks and
        for callers that need the fractions; not written.
    """

    spec: TraceSpec
    chain: str
    seeds: pl.DataFrame
    flows: pl.DataFrame
    exposure: pl.DataFrame
    paths: pl.DataFrame
    held: pl.DataFrame
    nodes: pl.DataFrame
    seeded: dict[str, str]
    decimals: dict[str, int | None]
    totals: dict[str, dict[str, dict[str, str]]]
    compare: pl.DataFrame | None = None
    symbols: dict[str, str] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    taints: dict[str, Taint] = field(default_factory=dict, repr=False)

    def tables(self) -> dict[str, pl.DataFrame]:
        """The tables to write, by file stem."""
        out = {
            "flows": self.flows,
            "exposure": self.exposure,
            "paths": self.paths,
            "held": self.held,
            "nodes": self.nodes,
        }
        if self.compare is not None:
            out["compare"] = self.compare
        return out


#: Chain order, by time when an export gave no block numbers.
_FLOW_ORDER = [
    "block_number",
    "block_timestamp",
    "transaction_hash",
    "kind",
    "idx",
    "from_address",
    "to_address",
]


def _floor(amount: Amount) -> int:
    return int(amount) if isinstance(amount, int) else amount.numerator // amount.denominator


def _label_table(labels: pl.DataFrame, clusters: pl.DataFrame) -> dict[str, tuple[Any, ...]]:
    """Address -> (cluster_id, label, category): the address's own best label, else its cluster's.

    A deposit address in a cluster whose category is ``exchange`` (or any other category) is
    shown with its cluster's label and category: the deposit leads to its exchange.
    """
    best = (
        labels.sort(
            ["address", "confidence", "category", "label", "source"],
            descending=[False, True, False, False, False],
            nulls_last=True,
        )
        .group_by("address", maintain_order=True)
        .first()
    )
    own = {a: (lab, cat) for a, lab, cat in best.select("address", "label", "category").iter_rows()}
    cl = (
        {
            a: (cid, lab, cat)
            for a, cid, lab, cat in clusters.select(
                "address", "cluster_id", "label", "category"
            ).iter_rows()
        }
        if clusters.height
        else {}
    )
    out: dict[str, tuple[Any, ...]] = {}
    for address in set(own) | set(cl):
        label, category = own.get(address, (None, None))
        cid, c_label, c_category = cl.get(address, (None, None, None))
        if category is None or (category == "deposit_wallet" and c_category is not None):
            label, category = (c_label or label), (c_category or category)
        out[address] = (cid, label, category)
    return out


def _path_counts(
    flows: list[tuple[int, str, str, str]],
    seeds: set[str],
    swap_sources: Mapping[int, tuple[int, ...]],
) -> dict[tuple[str, str], int]:
    """(address, asset) -> number of time-ordered walks of tainted flows from a seed.

    A swap's out-leg continues every walk that ended in one of the swap's in-legs.
    """
    counts: dict[tuple[str, str], int] = {}
    walks: dict[int, int] = {}
    for i, src, dst, asset in flows:
        if i in swap_sources:
            n = sum(walks.get(j, 0) for j in swap_sources[i])
        else:
            n = counts.get((src, asset), 1 if src in seeds else 0)
            if src in seeds:
                counts.setdefault((src, asset), 1)
        walks[i] = n
        if n:
            counts[(dst, asset)] = counts.get((dst, asset), 0) + n
    return counts


def _incoming(flows: list[tuple[int, str, str, str]]) -> dict[tuple[str, str], list[int]]:
    """(address, asset) -> indices of the tainted flows into it, in time order."""
    incoming: dict[tuple[str, str], list[int]] = {}
    for i, _, dst, asset in flows:
        incoming.setdefault((dst, asset), []).append(i)
    return incoming


def _top_paths(
    incoming: Mapping[tuple[str, str], list[int]],
    src_of: Mapping[int, str],
    exact: Mapping[int, Amount],
    seeds: set[str],
    endpoint: str,
    asset: str,
    k: int,
    *,
    asset_of: Mapping[int, str],
    swap_sources: Mapping[int, tuple[int, ...]],
) -> list[tuple[Amount, list[int]]]:
    """The ``k`` widest time-ordered paths of tainted flows from a seed to ``endpoint``.

    A path's value is its narrowest flow (the most taint it can have carried), in the
    endpoint's asset. Best-first search backwards from the endpoint, each step to a strictly
    earlier flow, no address twice in one asset. Before a swap's out-leg come the swap's
    in-legs (another asset); from there on a flow's taint counts in the endpoint's asset at the
    swap's rate (the out-leg's taint over the taint of all the swap's in-legs).
    """
    heap: list[tuple[Amount, tuple[int, ...], str, Amount]] = []
    for i in incoming.get((endpoint, asset), []):
        heapq.heappush(heap, (-exact[i], (i,), src_of[i], 1))
    found: list[tuple[Amount, list[int]]] = []
    pops = 0
    while heap and len(found) < k and pops < _MAX_PATH_POPS:
        pops += 1
        neg, path, node, rate = heapq.heappop(heap)
        if node in seeds:
            found.append((-neg, list(reversed(path))))
            continue
        # An address may appear once per asset: a swapper paying itself is A (ETH) then A (TOK).
        visited = {(src_of[i], asset_of[i]) for i in path} | {(endpoint, asset)}
        last = path[-1]
        before = incoming.get((node, asset_of[last]), [])
        if last in swap_sources:
            before = list(swap_sources[last])
            rate = rate * Fraction(exact[last]) / sum(Fraction(exact[j]) for j in before)
        for j in before:
            if j < last and (src_of[j], asset_of[j]) not in visited:
                width = min(-neg, exact[j] * rate)
                heapq.heappush(heap, (-width, (*path, j), src_of[j], rate))
    return found


_SOURCES = ("seeded", "swapped_in")  # what puts taint into an asset; the rest takes it out


def _fmt_totals(taint: Taint, *, conserving: bool) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for asset, buckets in taint.totals().items():
        floors = {name: _floor(v) for name, v in buckets.items()}
        row = {name: str(v) for name, v in floors.items()}
        parts = sum(v for name, v in floors.items() if name not in _SOURCES)
        into = _floor(sum((buckets[name] for name in _SOURCES), 0))
        row["dust"] = str(into - parts) if conserving else "0"
        out[asset] = row
    return out


def build_result(
    *,
    spec: TraceSpec,
    chain: str,
    seeds: pl.DataFrame,
    events: pl.DataFrame,
    plan: TaintPlan,
    taints: Mapping[str, Taint],
    labels: pl.DataFrame,
    clusters: pl.DataFrame,
    stats: Mapping[str, int],
    tokens: pl.DataFrame | None = None,
) -> TraceResult:
    """Turn the models' findings into the output tables (see :class:`TraceResult`).

    ``tokens`` (rows of ``schema.TOKENS`` of the chain) name the token assets of the flows.
    """
    main = taints[spec.taint]
    seed_set = set(seeds["address"].to_list())
    named = _label_table(labels, clusters)
    decimals: dict[str, int | None] = {}
    for asset, dec in events.select("asset", "decimals").unique(maintain_order=True).iter_rows():
        if decimals.get(asset) is None:
            decimals[asset] = dec

    # flows
    flows = conform(main.flows.with_columns(pl.lit(chain).alias("chain")), FLOWS).collect()
    flows = flows.sort(_FLOW_ORDER, nulls_last=True)

    # exposure
    ts = events["block_timestamp"].to_list()
    f = main.flows
    flow_list = list(
        zip(
            f["_i"].to_list(),
            f["_src_address"].to_list(),
            f["_dst_address"].to_list(),
            f["asset"].to_list(),
            strict=True,
        )
    )
    counts = _path_counts(flow_list, seed_set, main.swap_sources)
    seeded = {a: _floor(v) for a, v in main.seeded.items()}
    exposure_rows = []
    for (address, asset), amount in main.received.items():
        cid, label, category = named.get(address, (None, None, None))
        # The taint that ever entered the asset: seeded, or converted into it by swaps.
        total = main.seeded.get(asset, 0) + main.swapped_in.get(asset, 0)
        exposure_rows.append(
            {
                "chain": chain,
                "address": address,
                "cluster_id": cid,
                "label": label,
                "category": category,
                "asset": asset,
                "decimals": decimals.get(asset),
                "tainted_value": str(_floor(amount)),
                "share_of_seed_value": float(Fraction(amount) / total) if total else None,
                "min_hop": plan.hops.get(address),
                "first_reached_at": ts[main.first_reached[(address, asset)]],
                "paths": min(counts.get((address, asset), 0), _INT64_MAX),
                "_exact": amount,
            }
        )
    exposure_rows.sort(key=lambda r: (r["asset"], -r["_exact"], r["address"]))
    exposure = conform(
        pl.DataFrame(
            [{k: v for k, v in r.items() if k != "_exact"} for r in exposure_rows],
            schema=EXPOSURE,
        ),
        EXPOSURE,
    ).collect()

    # paths
    tx_of = dict(zip(f["_i"].to_list(), f["transaction_hash"].to_list(), strict=True))
    src_of = {i: (s, d) for i, s, d, _ in flow_list}
    sender = {i: s for i, s, _, _ in flow_list}
    incoming = _incoming(flow_list)
    asset_of = {i: a for i, _, _, a in flow_list}
    path_rows = []
    if spec.top_k_paths:
        for (address, asset), _amount in sorted(main.received.items()):
            top = _top_paths(
                incoming,
                sender,
                main.exact,
                seed_set,
                address,
                asset,
                spec.top_k_paths,
                asset_of=asset_of,
                swap_sources=main.swap_sources,
            )
            for rank, (width, steps) in enumerate(top, start=1):
                hops_path = [src_of[steps[0]][0]] + [src_of[i][1] for i in steps]
                shown = [a for a in hops_path if a not in plan.tx_nodes]
                hashes: list[str] = []
                for i in steps:
                    if not hashes or hashes[-1] != tx_of[i]:
                        hashes.append(tx_of[i])
                path_rows.append(
                    {
                        "chain": chain,
                        "endpoint": address,
                        "asset": asset,
                        "rank": rank,
                        "tainted_value": str(_floor(width)),
                        "hop_count": sum(0 if a in plan.tx_nodes else 1 for a in hops_path[1:]),
                        "addresses": ">".join(shown),
                        "transaction_hashes": ">".join(hashes),
                    }
                )
    paths = conform(pl.DataFrame(path_rows, schema=PATHS), PATHS).collect()
    paths = paths.sort("endpoint", "asset", "rank")

    # held
    last = (
        pl.concat(
            [
                events.select(a=pl.col("from_address"), b="block_number", t="block_timestamp"),
                events.select(a=pl.col("to_address"), b="block_number", t="block_timestamp"),
            ]
        )
        .filter(pl.col("a").is_not_null())
        .group_by("a")
        .agg(pl.col("b").max(), pl.col("t").max())
    )
    last_of = {a: (b, t) for a, b, t in last.iter_rows()}
    held_rows = []
    for (address, asset), amount in main.held.items():
        if _floor(amount) < 1:
            continue
        block, at = last_of.get(address, (None, None))
        held_rows.append(
            {
                "chain": chain,
                "address": address,
                "asset": asset,
                "decimals": decimals.get(asset),
                "tainted_value": str(_floor(amount)),
                "hop": plan.hops.get(address),
                "last_block_number": block,
                "last_activity_at": at,
                "_exact": amount,
            }
        )
    held_rows.sort(key=lambda r: (r["asset"], -r["_exact"], r["address"]))
    held = conform(
        pl.DataFrame(
            [{k: v for k, v in r.items() if k != "_exact"} for r in held_rows], schema=HELD
        ),
        HELD,
    ).collect()

    # nodes
    holders = set(held["address"].to_list())
    absorbed = {address for address, _ in main.received}
    touched = seed_set | {s for _, s, _, _ in flow_list} | {d for _, _, d, _ in flow_list}
    node_rows = []
    for address in sorted(touched - plan.tx_nodes):
        cid, label, category = named.get(address, (None, None, None))
        if address in seed_set:
            role = "seed"
        elif address in plan.endpoints or address in absorbed:
            role = "endpoint"
        elif address in holders:
            role = "held"
        else:
            role = "intermediate"
        node_rows.append(
            {
                "chain": chain,
                "address": address,
                "cluster_id": cid,
                "label": label,
                "category": category,
                "role": role,
                "min_hop": 0 if address in seed_set else plan.hops.get(address),
            }
        )
    nodes = conform(pl.DataFrame(node_rows, schema=NODES), NODES).collect()
    nodes = nodes.sort("min_hop", "address", nulls_last=True)

    # compare
    compare = None
    if spec.compare:
        keys = sorted({key for t in taints.values() for key in t.received})
        compare_rows = []
        for address, asset in keys:
            _, label, category = named.get(address, (None, None, None))
            row: dict[str, Any] = {
                "chain": chain,
                "address": address,
                "asset": asset,
                "decimals": decimals.get(asset),
                "label": label,
                "category": category,
            }
            for model in TAINT_MODEL_NAMES:
                got = taints[model].received.get((address, asset), 0) if model in taints else 0
                row[model] = str(_floor(got))
            compare_rows.append(row)
        compare = pl.DataFrame(compare_rows, schema=COMPARE)

    totals = {m: _fmt_totals(t, conserving=m != "poison") for m, t in taints.items()}
    return TraceResult(
        spec=spec,
        chain=chain,
        seeds=seeds,
        flows=flows,
        exposure=exposure,
        paths=paths,
        held=held,
        nodes=nodes,
        seeded={a: str(v) for a, v in sorted(seeded.items())},
        decimals={a: decimals.get(a) for a in sorted(set(seeded) | set(main.swapped_in))},
        totals=totals,
        compare=compare,
        symbols=_symbols(tokens, flows),
        stats=dict(stats),
        taints=dict(taints),
    )


def _symbols(tokens: pl.DataFrame | None, flows: pl.DataFrame) -> dict[str, str]:
    """Token asset -> symbol, for the assets of ``flows`` that ``tokens`` names."""
    if tokens is None or tokens.is_empty():
        return {}
    named = (
        tokens.filter(
            pl.col("token_address").is_in(flows.get_column("asset").unique().implode())
            & pl.col("symbol").is_not_null()
        )
        .sort("token_address", "symbol")
        .unique(subset="token_address", keep="first", maintain_order=True)
    )
    return dict(named.select("token_address", "symbol").iter_rows())


def _tracer_version() -> str:
    # Read from the distribution, like tracer.__version__: under pytest ``tests/tracer`` can
    # shadow the package's ``__init__`` (a namespace package), so do not import it from there.
    try:
        return importlib.metadata.version("tracer")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source tree only
        return "0.0.0"


def trace_manifest(result: TraceResult) -> dict[str, Any]:
    """The content of ``trace.json``: parameters, seeds, seeded and exact totals, version."""
    return {
        "tracer_version": _tracer_version(),
        "chain": result.chain,
        "parameters": result.spec.to_json(),
        "seeds": [{"address": a, "transaction_hash": t} for a, t in result.seeds.iter_rows()],
        "seeded": result.seeded,
        "decimals": result.decimals,
        "symbols": result.symbols,
        "totals": result.totals,
        "stats": result.stats,
        "tables": sorted(f"{name}.csv" for name in result.tables()),
    }


def write_trace_outputs(result: TraceResult, out_dir: str | Path) -> list[Path]:
    """Write the tables as CSV and ``trace.json`` into ``out_dir``; return the paths written.

    Every file is written under a temporary name first and renamed into place only once all
    of them are written, so an interrupted run leaves no half-written table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, frame in result.tables().items():
            final = out / f"{name}.csv"
            tmp = out / f".{name}.csv.tmp"
            frame.write_csv(tmp, datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")
            staged.append((tmp, final))
        final = out / "trace.json"
        tmp = out / ".trace.json.tmp"
        tmp.write_text(json.dumps(trace_manifest(result), indent=2, sort_keys=True) + "\n")
        staged.append((tmp, final))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    if result.compare is None:
        (out / "compare.csv").unlink(missing_ok=True)
    for tmp, final in staged:
        tmp.replace(final)
    return [final for _, final in staged]


__all__ += ["trace_manifest"]
