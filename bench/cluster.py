"""Benchmark of clustering: ``python -m bench.cluster [N_TRANSFERS]`` (default 20,000,000).

Generates N synthetic transfers (:mod:`bench.gen_transfers`: heavy-tailed degrees, exchanges
with many deposit addresses, gas funders) into a case data directory, then, in a fresh process
(so that its peak memory is its own):

* the baseline: scanning the Parquet columns the heuristics read;
* the whole clustering (``tracer.clustering.cluster_store`` without writing: every default
  heuristic, the guards, connected components, labels);
* the union alone (``heuristics.cluster.cluster_addresses``) on the links it produced, against
  scanning those links' two address columns from Parquet and against networkx's
  ``connected_components`` on the same links;
* the union at scale: every transfer taken as a link (N links, the worst case), against
  scanning the two address columns and against networkx (given integer ids, its best case);
* the peak resident memory of the clustering.

Targets (issue "Clustering heuristics with provenance"): at most 3x the scan, at least 10x
faster than networkx, under 8 GiB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

SCAN_COLUMNS = [
    "chain",
    "block_number",
    "transaction_hash",
    "transaction_index",
    "kind",
    "idx",
    "from_address",
    "to_address",
    "asset",
    "value",
    "decimals",
]


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(directory: Path) -> dict[str, Any]:
    import networkx as nx

    from heuristics.cluster import _dense_ids, cluster_addresses
    from tracer.clustering import cluster_store
    from tracer.store import Store

    store = Store(directory)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    run = cluster_store(store, write=False)
    out["cluster_s"] = time.perf_counter() - started
    out["peak_gib"] = _peak_gib()  # the clustering is the first thing this process ran
    started = time.perf_counter()
    scanned = store.scan("transfers").select(SCAN_COLUMNS).collect()
    out["scan_s"] = time.perf_counter() - started
    out["transfers"] = scanned.height
    del scanned
    out["heuristics"] = list(run.heuristics)
    out["links"] = run.links.height
    out["links_by_heuristic"] = dict(run.links.group_by("heuristic").len().sort("heuristic").rows())
    out["clusters"] = run.clusters.get_column("cluster_id").n_unique()
    out["clustered_addresses"] = run.clusters.height
    largest = run.clusters.get_column("cluster_size").max()
    out["largest_cluster"] = largest if isinstance(largest, int) else 0
    out["cut_links"] = int(run.cuts.get_column("links_cut").sum())

    links_path = directory / "bench-links.parquet"
    run.links.write_parquet(links_path)
    labels = store.scan("labels")
    started = time.perf_counter()
    pairs = pl.scan_parquet(links_path).select("address_a", "address_b").collect()
    out["links_scan_s"] = time.perf_counter() - started
    started = time.perf_counter()
    union = cluster_addresses(pl.scan_parquet(links_path), labels)
    union.clusters.collect()
    out["union_s"] = time.perf_counter() - started

    del run, union
    _, ia, ib = _dense_ids(pairs.get_column("address_a"), pairs.get_column("address_b"))
    started = time.perf_counter()
    graph: Any = nx.Graph()
    graph.add_edges_from(zip(ia.tolist(), ib.tolist(), strict=True))
    out["networkx_components"] = sum(1 for _ in nx.connected_components(graph))
    out["networkx_s"] = time.perf_counter() - started
    del graph, pairs
    peak = out["peak_gib"]
    out.update(_union_at_scale(store, directory, labels))
    out["union_peak_gib"] = out["peak_gib"]
    out["peak_gib"] = peak
    return out


def _union_at_scale(store: Any, directory: Path, labels: pl.LazyFrame) -> dict[str, Any]:
    """Every transfer taken as a link (the worst case): tracer's union against networkx."""
    import networkx as nx

    from heuristics.cluster import _dense_ids, cluster_addresses

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
    ).sink_parquet(path)
    started = time.perf_counter()
    pairs = pl.scan_parquet(path).select("address_a", "address_b").collect()
    out["pairs_scan_s"] = time.perf_counter() - started
    out["pairs"] = pairs.height
    started = time.perf_counter()
    result = cluster_addresses(pl.scan_parquet(path), labels, size_caps={"bench_pairs": None})
    out["pairs_clusters"] = result.clusters.collect().get_column("cluster_id").n_unique()
    out["pairs_union_s"] = time.perf_counter() - started
    out["peak_gib"] = _peak_gib()
    del result
    # networkx gets integer ids (cheaper for it than the strings tracer starts from).
    _, ia, ib = _dense_ids(pairs.get_column("address_a"), pairs.get_column("address_b"))
    del pairs
    started = time.perf_counter()
    graph: Any = nx.Graph()
    graph.add_edges_from(zip(ia.tolist(), ib.tolist(), strict=True))
    out["pairs_networkx_components"] = sum(1 for _ in nx.connected_components(graph))
    out["pairs_networkx_s"] = time.perf_counter() - started
    return out


def report(result: dict[str, Any]) -> None:
    r = result
    print(f"transfers: {r['transfers']:,}; heuristics: {', '.join(r['heuristics'])}")
    print(f"links: {r['links']:,} {r['links_by_heuristic']}; cut by the guards: {r['cut_links']:,}")
    print(
        f"clusters: {r['clusters']:,} over {r['clustered_addresses']:,} addresses, "
        f"largest {r['largest_cluster']:,}"
    )
    print(f"scan of the Parquet columns the heuristics read: {r['scan_s']:.2f} s")
    ratio = r["cluster_s"] / r["scan_s"]
    print(
        f"clustering, heuristics included: {r['cluster_s']:.2f} s = {ratio:.1f}x the scan "
        "(target <= 3x)"
    )
    ratio = r["union_s"] / r["links_scan_s"]
    print(
        f"union of its links alone: {r['union_s']:.2f} s ({ratio:.1f}x scanning them, "
        f"{r['links_scan_s']:.2f} s); networkx on the same links: {r['networkx_s']:.2f} s "
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
    print(f"peak memory after the union at scale: {r['union_peak_gib']:.2f} GiB")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(Path(argv[1]))))
        return
    n = int(argv[0]) if argv else 20_000_000
    from bench.gen_transfers import write_case

    with tempfile.TemporaryDirectory(prefix="tracer-bench-cluster-") as tmp:
        started = time.perf_counter()
        write_case(n, Path(tmp), seed=0)
        print(f"generated {n:,} transfers in {time.perf_counter() - started:.1f} s", flush=True)
        child = subprocess.run(
            [sys.executable, "-m", "bench.cluster", "--measure", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        report(json.loads(child.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main(sys.argv[1:])
