"""Benchmark of clustering: ``python -m bench.cluster [N_TRANSFERS]``.

N defaults to ``$TRACER_BENCH_TRANSFERS``, else 20,000,000 (``python -m bench cluster`` and
``make bench`` take the default). Generates N synthetic transfers (:mod:`bench.gen_transfers`:
heavy-tailed degrees, exchanges with many deposit addresses, gas funders) into a case data
directory, then measures, in fresh processes (so that their peaks of memory are their own):

* the baseline: reading what the clustering reads (best of 3): the transfers' columns the
  heuristics use, address ids instead of address strings, and the ``addresses`` table;
* the whole clustering (``tracer.clustering.cluster_store`` without writing: every default
  heuristic, the guards, connected components, labels) and its peak resident memory;
* the union alone (``heuristics.cluster.cluster_addresses``) on the links it produced, against
  scanning those links' two address columns (best of 3) and against networkx's
  ``connected_components`` on the same links;
* the union at scale: every transfer taken as a link (N links, the worst case; no labels, so
  nothing is cut), against scanning the two address columns (best of 3) and against networkx.
  Both are given integer ids: tracer the store's address ids of the transfers (``from_id``,
  ``to_id``, as clustering reads them), networkx a dense numbering (its best case); networkx
  is timed building its graph and finding the components.

The data are written as ingest would leave them: transfers with the address ids the store
assigns (:func:`tracer.address_ids.with_address_ids`) and the ``addresses`` table.

networkx must find as many components as tracer, or the benchmark fails. The timed runs of
tracer and networkx are single runs; the 1-minute load average before and after is printed,
because other work on the machine's cores slows every timing of the run alike.

Targets (issue "Clustering heuristics with provenance"): at most 3x the scan, at least 10x
faster than networkx, under 8 GiB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from tracer.clustering import TRANSFER_COLUMNS
from tracer.store import Store

#: Transfers generated when no size is given (the issue's scale: at least 20M).
N_DEFAULT = 20_000_000

#: What the clustering reads of a directory whose transfers carry the store's address ids: the
#: transfers' columns without the address strings, and the addresses table (which names them).
SCAN_COLUMNS = [
    *(c for c in TRANSFER_COLUMNS if c not in ("from_address", "to_address")),
    "from_id",
    "to_id",
]


def _scan(store: Store) -> int:
    """Read what the clustering reads (the baseline)."""
    transfers = store.scan("transfers").select(SCAN_COLUMNS).collect()
    addresses = store.scan("addresses").collect()
    return transfers.height + addresses.height


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _best_of(runs: int, func: Callable[[], object]) -> float:
    """Fastest of ``runs`` timings of ``func`` (for the cheap baselines: conservative ratios)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def _networkx(address_a: pl.Series, address_b: pl.Series) -> tuple[float, int, int]:
    """networkx ``connected_components`` over the same links, given integer ids (its best case).

    Returns the seconds (building the graph and its components), the number of components and
    the number of distinct addresses.
    """
    import networkx as nx

    from heuristics.cluster import _dense_ids

    nodes, ia, ib = _dense_ids(address_a, address_b)
    a_ids, b_ids = ia.tolist(), ib.tolist()
    del ia, ib
    started = time.perf_counter()
    graph: Any = nx.Graph()
    graph.add_edges_from(zip(a_ids, b_ids, strict=True))
    n_components = sum(1 for _ in nx.connected_components(graph))
    seconds = time.perf_counter() - started
    return seconds, n_components, nodes.len()


def measure(directory: Path) -> dict[str, Any]:
    """Run every timing over the data directory ``directory`` (in this process)."""
    from heuristics.cluster import cluster_addresses
    from tracer.clustering import cluster_store

    store = Store(directory)
    out: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    started = time.perf_counter()
    run = cluster_store(store, write=False)
    out["cluster_s"] = time.perf_counter() - started
    out["peak_gib"] = _peak_gib()  # the clustering is the first thing this process ran
    out["scan_s"] = _best_of(3, lambda: _scan(store))
    out["transfers"] = store.scan("transfers").select(pl.len()).collect().item()
    out["heuristics"] = list(run.heuristics)
    out["links"] = run.links.height
    out["links_by_heuristic"] = dict(run.links.group_by("heuristic").len().sort("heuristic").rows())
    out["clusters"] = run.clusters.get_column("cluster_id").n_unique()
    out["clustered_addresses"] = run.clusters.height
    largest = run.clusters.get_column("cluster_size").max()
    out["largest_cluster"] = largest if isinstance(largest, int) else 0
    out["cut_links"] = int(run.cuts.get_column("links_cut").sum())
    out["deposit_wallets"] = run.deposit_labels.height

    # The union alone, on the links the heuristics produced (nothing left to cut in them).
    links_path = directory / "bench-links.parquet"
    run.links.write_parquet(links_path)
    del run
    labels = store.scan("labels")
    out["links_scan_s"] = _best_of(
        3, lambda: pl.scan_parquet(links_path).select("address_a", "address_b").collect()
    )
    started = time.perf_counter()
    union = cluster_addresses(pl.scan_parquet(links_path), labels).clusters.collect()
    out["union_s"] = time.perf_counter() - started
    union_components = union.get_column("cluster_id").n_unique()
    del union
    pairs = pl.read_parquet(links_path, columns=["address_a", "address_b"])
    out["networkx_s"], nx_components, _ = _networkx(pairs["address_a"], pairs["address_b"])
    del pairs
    if nx_components != union_components:
        msg = f"networkx found {nx_components} components, tracer {union_components}"
        raise AssertionError(msg)
    return out


def measure_at_scale(directory: Path) -> dict[str, Any]:
    """Every transfer taken as a link (the worst case): tracer's union against networkx.

    No labels are passed, so no guard cuts anything and both union exactly the same links.
    Runs in a process of its own, after :func:`measure`'s has ended, so that the two peaks
    of memory never add up.
    """
    from heuristics.cluster import cluster_addresses
    from tracer.schema import LABELS

    store = Store(directory)
    out: dict[str, Any] = {}
    path = directory / "bench-pairs.parquet"
    store.scan("transfers").select(
        "chain",
        pl.col("from_address").alias("address_a"),
        pl.col("to_address").alias("address_b"),
        pl.lit("bench_pairs").alias("heuristic"),
        pl.lit(1, dtype=pl.Int32).alias("heuristic_version"),
        pl.col("transaction_hash").alias("evidence_transaction_hash"),
        "block_number",
        pl.lit(50, dtype=pl.Int32).alias("confidence"),
        pl.col("from_id").alias("key_a"),  # the store's address ids, as clustering has them
        pl.col("to_id").alias("key_b"),
    ).sink_parquet(path)
    out["pairs_scan_s"] = _best_of(
        3, lambda: pl.scan_parquet(path).select("address_a", "address_b").collect()
    )
    started = time.perf_counter()
    result = cluster_addresses(
        pl.scan_parquet(path), pl.LazyFrame(schema=LABELS), size_caps={"bench_pairs": None}
    )
    out["pairs_clusters"] = result.clusters.collect().get_column("cluster_id").n_unique()
    out["pairs_union_s"] = time.perf_counter() - started
    out["union_peak_gib"] = _peak_gib()
    del result
    pairs = pl.read_parquet(path, columns=["address_a", "address_b"])
    seconds, components, n_addresses = _networkx(pairs["address_a"], pairs["address_b"])
    out["pairs"] = pairs.height
    out["addresses"] = n_addresses
    out["pairs_networkx_s"] = seconds
    if components != out["pairs_clusters"]:
        msg = f"networkx found {components} components, tracer {out['pairs_clusters']}"
        raise AssertionError(msg)
    out["networkx_peak_gib"] = _peak_gib()
    out["load_after"] = os.getloadavg()[0]
    return out


def report(result: dict[str, Any]) -> None:
    """Print the measurements as ratios against the baselines of the same run."""
    r = result
    print(
        f"transfers: {r['transfers']:,} over {r['addresses']:,} addresses; "
        f"heuristics: {', '.join(r['heuristics'])}"
    )
    print(f"links: {r['links']:,} {r['links_by_heuristic']}; cut by the guards: {r['cut_links']:,}")
    print(
        f"clusters: {r['clusters']:,} over {r['clustered_addresses']:,} addresses, "
        f"largest {r['largest_cluster']:,}; deposit wallets found: {r['deposit_wallets']:,}"
    )
    print(f"reading what the clustering reads: {r['scan_s']:.2f} s (best of 3)")
    ratio = r["cluster_s"] / r["scan_s"]
    print(
        f"clustering, heuristics included: {r['cluster_s']:.2f} s = {ratio:.1f}x the scan "
        "(target <= 3x)"
    )
    ratio = r["union_s"] / r["links_scan_s"]
    print(
        f"union of its {r['links']:,} links alone: {r['union_s']:.2f} s ({ratio:.1f}x scanning "
        f"them, {r['links_scan_s']:.2f} s); networkx on the same links: {r['networkx_s']:.2f} s "
        f"({r['networkx_s'] / r['union_s']:.1f}x slower)"
    )
    ratio = r["pairs_union_s"] / r["pairs_scan_s"]
    print(
        f"union of all {r['pairs']:,} transfers taken as links: {r['pairs_union_s']:.2f} s "
        f"({ratio:.1f}x scanning their two address columns, {r['pairs_scan_s']:.2f} s), "
        f"{r['pairs_clusters']:,} clusters"
    )
    speedup = r["pairs_networkx_s"] / r["pairs_union_s"]
    print(
        f"networkx connected_components on the same links (given integer ids): "
        f"{r['pairs_networkx_s']:.2f} s: tracer {speedup:.1f}x faster (target >= 10x)"
    )
    print(f"peak memory of the clustering: {r['peak_gib']:.2f} GiB (target < 8 GiB)")
    print(
        f"peak memory of the union at scale: {r['union_peak_gib']:.2f} GiB "
        f"(networkx then: {r['networkx_peak_gib']:.2f} GiB)"
    )
    print(
        f"load average (1 min) before/after: {r['load_before']:.1f}/{r['load_after']:.1f} "
        "on this machine's cores (other work on them slows every timing alike)"
    )


def _child(mode: str, directory: str) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, "-m", "bench.cluster", mode, directory],
        check=True,
        stdout=subprocess.PIPE,  # stderr passes through: a failure shows its traceback
        text=True,
    )
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> None:
    """Generate the data, measure in fresh processes, print the report."""
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(Path(argv[1]))))
        return
    if argv[:1] == ["--measure-scale"]:
        print(json.dumps(measure_at_scale(Path(argv[1]))))
        return
    n = int(argv[0]) if argv else int(os.environ.get("TRACER_BENCH_TRANSFERS", N_DEFAULT))
    with tempfile.TemporaryDirectory(prefix="tracer-bench-cluster-") as tmp:
        started = time.perf_counter()
        # In a process of its own too: the generator's memory is not held while others run.
        subprocess.run(
            [sys.executable, "-m", "bench.gen_transfers", str(n), tmp], check=True, text=True
        )
        print(f"generated {n:,} transfers in {time.perf_counter() - started:.1f} s", flush=True)
        result = _child("--measure", tmp)
        result.update(_child("--measure-scale", tmp))
        report(result)


if __name__ == "__main__":
    main(sys.argv[1:])
