"""Clustering the benchmark's synthetic world: deterministic, ids well formed, deposits apart."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from bench.gen_transfers import generate_labels, generate_transfers
from tracer.clustering import ClusterRun, cluster_tables

N = 6_000


def run(*, shuffle_seed: int | None = None) -> ClusterRun:
    transfers = generate_transfers(N, seed=11).collect()
    labels = generate_labels(N, seed=11).collect()
    if shuffle_seed is not None:
        transfers = transfers.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)
        labels = labels.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)
    return cluster_tables({"transfers": transfers.lazy(), "labels": labels.lazy()})


def test_row_order_does_not_change_anything() -> None:
    first, again = run(), run(shuffle_seed=5)
    assert first.links.height > 0
    for table in ("links", "clusters", "cuts", "deposit_labels"):
        assert_frame_equal(getattr(first, table), getattr(again, table))


def test_cluster_ids_sizes_and_deposit_wallets() -> None:
    result = run()
    clusters = result.clusters
    check = clusters.group_by("cluster_id").agg(
        pl.col("address").min().alias("smallest"),
        pl.len().alias("n"),
        pl.col("cluster_size").unique().alias("sizes"),
    )
    assert (check.get_column("cluster_id") == check.get_column("smallest")).all()
    assert check.get_column("sizes").to_list() == [[n] for n in check.get_column("n")]
    # Each link is stored once, normalised, between two addresses of one cluster.
    links = result.links
    assert (links.get_column("address_a") < links.get_column("address_b")).all()
    assert (
        not links.select("address_a", "address_b", "heuristic", "evidence_transaction_hash")
        .is_duplicated()
        .any()
    )
    ids = dict(clusters.select("address", "cluster_id").iter_rows())
    assert all(ids[a] == ids[b] for a, b in links.select("address_a", "address_b").iter_rows())
    # The world's deposit addresses are found, and none of them is in a cluster.
    deposits = set(result.deposit_labels.get_column("address").to_list())
    assert len(deposits) > N // 100
    assert deposits.isdisjoint(ids)


def test_the_stores_address_ids_give_the_same_clustering_as_computed_keys(
    tmp_path: Path,
) -> None:
    from tracer.store import Store

    # Ingested in two commits, the second one reversed: ids in an order unlike the strings'.
    store = Store(tmp_path)
    transfers = generate_transfers(N, seed=11).collect()
    store.commit({"transfers": transfers.tail(N // 2).reverse()})
    store.commit({"transfers": transfers.head(N // 2), "labels": generate_labels(N, seed=11)})
    scanned = {t: store.scan(t) for t in ("transfers", "labels")}
    assert scanned["transfers"].select(pl.col("from_id").null_count()).collect().item() == 0
    with_ids = cluster_tables(scanned)
    named = cluster_tables(scanned, addresses=store.scan("addresses"))  # strings never read
    computed = cluster_tables(
        {**scanned, "transfers": scanned["transfers"].drop("from_id", "to_id")}
    )
    assert with_ids.links.height > 0
    for table in ("links", "clusters", "cuts", "deposit_labels"):
        assert_frame_equal(getattr(with_ids, table), getattr(computed, table))
        assert_frame_equal(getattr(named, table), getattr(computed, table))
    assert_frame_equal(run().links, with_ids.links)


def test_a_directory_partly_written_before_address_ids_clusters_alike(tmp_path: Path) -> None:
    from tracer.clustering import cluster_store
    from tracer.schema import TRANSFERS
    from tracer.store import Store

    store = Store(tmp_path)
    transfers = generate_transfers(N, seed=11).collect()
    store.commit({"transfers": transfers.head(N // 2), "labels": generate_labels(N, seed=11)})
    old = transfers.tail(N // 2).match_to_schema(TRANSFERS)  # as the store wrote it before
    old.write_parquet(tmp_path / "transfers" / "part-old.parquet")
    assert not store.has_address_ids()
    result = cluster_store(store, write=False)
    for table in ("links", "clusters", "cuts", "deposit_labels"):
        assert_frame_equal(getattr(result, table), getattr(run(), table))
