"""Clusters: connected components of the heuristics' links, guarded against super-clusters.

Addresses become dense integer ids through a 64-bit hash key with a collision check (a string
join costs several times more at 20M links), components come from scipy's
``connected_components`` (never naive label propagation, which needs hundreds of rounds on a
long peel chain), and each cluster is named by its smallest address, so cluster ids are stable
across runs and row orders.

Two guards keep one wrong link from merging thousands of unrelated users:

* a link touching an address labelled as a service (exchange, mixer, bridge, DeFi, deposit
  wallet) is cut: clusters never merge through a service. The exception is a heuristic whose
  links prove common control (``joins_services``: multi-input, where one party signed for
  every input): its link makes the other address part of the service's cluster;
* each heuristic has a size cap: a component that one heuristic's links alone would make
  larger than its cap is not trusted, and that heuristic's links inside it are cut.

What was cut is returned, so that the caller can report it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from heuristics import LINK_KEYS, NOT_OWNED_CATEGORIES, REGISTRY
from heuristics._frames import consistent_ids
from tracer.schema import CLUSTERS, LINKS, conform

__all__ = [
    "CUTS",
    "EXPLANATION",
    "Clustering",
    "cluster_addresses",
    "components",
    "explain_link",
]

#: Columns of the cut report.
CUTS = pl.Schema(
    {
        "chain": pl.String(),
        "heuristic": pl.String(),
        "reason": pl.String(),  # "service" or "size_cap"
        "address": pl.String(),  # the service, or the smallest address of the cut component
        "component_size": pl.Int64(),  # null for a service cut
        "links_cut": pl.Int64(),
    }
)

#: Columns of an explanation: one row per step from ``address_a`` to ``address_b``.
EXPLANATION = pl.Schema(
    {
        "step": pl.Int32(),
        "from_address": pl.String(),
        "to_address": pl.String(),
        "heuristic": pl.String(),
        "heuristic_version": pl.Int32(),
        "evidence_transaction_hash": pl.String(),
        "block_number": pl.Int64(),
        "confidence": pl.Int32(),
    }
)


class Clustering(NamedTuple):
    """The result of :func:`cluster_addresses`."""

    clusters: pl.LazyFrame
    """Rows of ``schema.CLUSTERS``, sorted by chain and address."""
    links: pl.LazyFrame
    """The links the clusters were built from (the input minus what was cut), sorted."""
    cuts: pl.DataFrame
    """What the guards cut (:data:`CUTS`), sorted."""


def components(
    address_a: pl.Series, address_b: pl.Series
) -> tuple[pl.Series, npt.NDArray[np.int64]]:
    """Connected components of the undirected graph whose edges are ``address_a - address_b``.

    Returns
    -------
    tuple
        The distinct addresses, sorted, and aligned with them each one's component number;
        components are numbered in the order of their smallest address, so the first member
        of each component (in the returned order) is its smallest address.

    Examples
    --------
    >>> nodes, comp = components(pl.Series(["x", "c", "a"]), pl.Series(["y", "b", "b"]))
    >>> dict(zip(nodes.to_list(), comp.tolist(), strict=True))
    {'a': 0, 'b': 0, 'c': 0, 'x': 1, 'y': 1}
    """
    nodes, ia, ib = _dense_ids(address_a, address_b)
    n = nodes.len()
    if n == 0:
        return nodes, np.zeros(0, dtype=np.int64)
    labels = _component_labels(ia, ib, n)
    # Renumber components by their smallest node id, i.e. by their smallest address.
    first = np.unique(labels, return_index=True)[1]
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    return nodes, rank[labels]


def _component_labels(
    ia: npt.NDArray[np.int64], ib: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.int32]:
    """Component label of each of ``n`` node ids, given edges ``ia - ib`` (scipy)."""
    # scipy's sparse routines index with int32 when they can: int64 ids would be converted
    # on every step (about a fifth of the time at 20M links).
    index = np.int32 if n < 2**31 else np.int64
    edges = (ia.astype(index, copy=False), ib.astype(index, copy=False))
    graph = coo_matrix((np.ones(ia.shape[0], dtype=np.int8), edges), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1]  # type: ignore[no-any-return]


_SEEDS = (0x7472616365, 0x756E696F6E)


def _dense_ids(
    address_a: pl.Series, address_b: pl.Series, keys: tuple[pl.Series, pl.Series] | None = None
) -> tuple[pl.Series, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted distinct addresses, and each endpoint's position among them.

    ``keys``, when given, are integer ids of the two columns' addresses (the store's address
    ids: equal exactly when the addresses are), and find the distinct addresses at the cost
    of one pass over small integers. Otherwise a 64-bit hash of each address stands in for it
    (an integer sort instead of a string join); a second, independent hash checks the result
    (:func:`heuristics._frames.consistent_ids`), and if two distinct addresses share the
    first hash the exact string path is taken instead.
    """
    both = pl.concat([address_a, address_b]).rename("address")
    if both.null_count():
        return _dense_ids_exact(address_a, address_b)
    if keys is not None and not (keys[0].null_count() or keys[1].null_count()):
        inverse = _compacted(np.concatenate([k.to_numpy() for k in keys]))
    else:
        inverse = (both.hash(seed=_SEEDS[0]).rank("dense").cast(pl.Int64) - 1).to_numpy()
        if not consistent_ids(inverse, both.hash(seed=_SEEDS[1]).to_numpy()):
            return _dense_ids_exact(address_a, address_b)  # two addresses share a 64-bit hash
    n_nodes = int(inverse.max()) + 1 if inverse.shape[0] else 0
    first = np.empty(n_nodes, dtype=np.int64)
    first[inverse] = np.arange(inverse.shape[0], dtype=np.int64)  # any occurrence will do
    # Gathered in row order: the strings read from Parquet come in many chunks, and a
    # gather that jumps between them costs several times more.
    by_row = np.argsort(first)
    nodes = both.gather(first[by_row])  # node j is the id by_row[j]
    order = _string_order(nodes)
    position = np.empty(n_nodes, dtype=np.int64)
    position[by_row[order]] = np.arange(n_nodes, dtype=np.int64)
    ids = position[inverse]
    half = address_a.len()
    return nodes.gather(order), ids[:half], ids[half:]


def _compacted(keys: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """``keys`` renumbered 0, 1, ... over the distinct values, in the values' order.

    Examples
    --------
    >>> _compacted(np.array([7, 3, 7, 9])).tolist()
    [1, 0, 1, 2]
    """
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    present = np.zeros(int(keys.max()) + 1, dtype=np.bool_)
    present[keys] = True
    if present.all():  # already 0, 1, ... (the store numbers a whole chain's addresses)
        return keys.astype(np.int64)
    number = np.cumsum(present, dtype=np.int64) - 1
    return number[keys]  # type: ignore[no-any-return]


def _string_order(strings: pl.Series) -> npt.NDArray[np.int64]:
    """The permutation that sorts ``strings`` (no nulls) in byte order, as ``arg_sort`` would.

    Sorting 42-byte strings compares them byte by byte. Sorting on two integers made of
    their first 16 bytes (big-endian, padded with zero bytes, so that the integers' order
    is the bytes' order) settles almost every comparison on integers; only runs of strings
    whose first 16 bytes are equal are then sorted by the strings themselves. Several times
    faster than a string sort.

    Examples
    --------
    >>> _string_order(pl.Series(["0xb", "0xa", "", "0xa0", "0x"])).tolist()
    [2, 4, 1, 3, 0]
    >>> _string_order(pl.Series(["x" * 20 + "b", "x" * 20 + "a", "x" * 16])).tolist()
    [2, 1, 0]
    """
    short = strings.str.len_bytes().min()
    long_enough = short is None or (isinstance(short, int) and short >= 16)
    padded = (strings if long_enough else strings.str.pad_end(16, "\x00")).cast(pl.Binary)
    prefixes = {
        f"p{i}": padded.bin.slice(8 * i, 8).bin.reinterpret(dtype=pl.UInt64, endianness="big")
        for i in (0, 1)
    }
    ranked = pl.DataFrame(prefixes).with_row_index().sort("p0", "p1")
    order = ranked.get_column("index").to_numpy().astype(np.int64)
    p0, p1 = (ranked.get_column(c).to_numpy() for c in prefixes)
    same = (p0[1:] == p0[:-1]) & (p1[1:] == p1[:-1])  # sorted position i + 1 ties with i
    if same.any():
        tied = np.zeros(order.shape[0], dtype=np.bool_)
        tied[1:] |= same
        tied[:-1] |= same
        at = np.flatnonzero(tied)
        run = np.cumsum(np.concatenate([[True], ~same]))[at]  # runs stay in their positions
        settled = (
            pl.DataFrame({"run": run, "s": strings.gather(order[at]), "i": order[at]})
            .sort("run", "s")
            .get_column("i")
        )
        order[at] = settled.to_numpy()
    return order


def _dense_ids_exact(
    address_a: pl.Series, address_b: pl.Series
) -> tuple[pl.Series, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    nodes = pl.concat([address_a, address_b]).drop_nulls().unique().sort().rename("address")
    index = pl.DataFrame({"address": nodes, "id": np.arange(nodes.len(), dtype=np.int64)})
    ids = [
        pl.DataFrame({"address": side.rename("address")})
        .join(index, on="address", how="left", maintain_order="left")
        .get_column("id")
        .to_numpy()
        for side in (address_a, address_b)
    ]
    return nodes, ids[0], ids[1]


def _default_caps() -> dict[str, int | None]:
    return {name: h.size_cap for name, h in REGISTRY.items()}


def _cut_services(
    links: pl.DataFrame,
    ids: tuple[pl.Series, npt.NDArray[np.int64], npt.NDArray[np.int64]],
    services: pl.DataFrame,
) -> tuple[npt.NDArray[np.bool_], list[pl.DataFrame]]:
    """Which links to keep: none that touches a service, unless its heuristic joins services.

    ``ids`` are the links' node ids (:func:`_dense_ids`): services are looked up among the
    distinct addresses once, not at every link end.
    """
    nodes, ia, ib = ids
    keep = np.ones(links.height, dtype=np.bool_)
    if services.is_empty():
        return keep, []
    service = nodes.is_in(services.get_column("address").implode()).to_numpy()
    joining = [name for name, h in REGISTRY.items() if h.joins_services]
    guarded = ~links.get_column("heuristic").is_in(joining).to_numpy()
    touches_a = service[ia] & guarded
    cut = touches_a | (service[ib] & guarded)
    if not cut.any():
        return keep, []
    rows = np.flatnonzero(cut)
    report = (
        pl.DataFrame(
            {
                "chain": links.get_column("chain").gather(rows),
                "heuristic": links.get_column("heuristic").gather(rows),
                "address": nodes.gather(np.where(touches_a[rows], ia[rows], ib[rows])),
            }
        )
        .group_by("chain", "heuristic", "address")
        .agg(pl.len().cast(pl.Int64).alias("links_cut"))
        .with_columns(
            pl.lit("service").alias("reason"), pl.lit(None, dtype=pl.Int64).alias("component_size")
        )
    )
    return ~cut, [report.select(list(CUTS))]


def _cut_oversized(
    links: pl.DataFrame,
    ids: tuple[pl.Series, npt.NDArray[np.int64], npt.NDArray[np.int64]],
    keep: npt.NDArray[np.bool_],
    heuristic: str,
    cap: int,
) -> tuple[npt.NDArray[np.bool_], list[pl.DataFrame]]:
    """Drop (from ``keep``) the links of ``heuristic`` in its own components above ``cap``."""
    nodes, ia, ib = ids
    own = keep & (links.get_column("heuristic") == heuristic).to_numpy()
    if int(own.sum()) < cap:  # n links make at most n + 1 addresses: nothing can exceed the cap
        return keep, []
    labels = _component_labels(ia[own], ib[own], nodes.len())
    sizes = np.bincount(labels)
    big = sizes > cap
    if not big.any():
        return keep, []
    cut = own.copy()
    cut[own] = big[labels[ia[own]]]
    heads = np.unique(labels, return_index=True)[1]  # smallest node id of each component
    cut_labels = labels[ia[cut]]
    per = np.bincount(cut_labels, minlength=sizes.shape[0])
    which = np.flatnonzero(big)
    report = pl.DataFrame(
        {
            "chain": [links.get_column("chain")[0]] * which.shape[0],
            "heuristic": [heuristic] * which.shape[0],
            "reason": ["size_cap"] * which.shape[0],
            "address": nodes.gather(heads[which]),
            "component_size": sizes[which].astype(np.int64),
            "links_cut": per[which].astype(np.int64),
        },
        schema=CUTS,
    )
    return keep & ~cut, [report]


def _sorted_links(links: pl.LazyFrame, order: pl.DataFrame) -> pl.LazyFrame:
    """The rows of ``links`` named in ``order`` (``__row``), sorted by their key, when collected.

    ``order`` has each kept row's chain number, its addresses' ids, which number the
    addresses of a chain in sorted order (:func:`_dense_ids`), and its heuristic's rank among
    the names: integers are sorted, and the evidence hashes are read only where they decide
    (a pair linked by one heuristic more than once).
    """
    key = ["__chain", "__a", "__b", "__heuristic"]

    def in_order() -> pl.DataFrame:
        ranked = order.sort(key)
        tied = ranked.select(pl.struct(key).is_duplicated()).to_series()
        rows = ranked.get_column("__row").to_numpy().copy()
        if tied.any():  # tied rows stay in their runs, sorted by evidence within them
            ties = ranked.filter(tied)
            evidence = pl.col("evidence_transaction_hash").gather(ties.get_column("__row"))
            ties = ties.with_columns(links.select(evidence).collect().to_series())
            ties = ties.sort([*key, "evidence_transaction_hash"])
            rows[tied.to_numpy()] = ties.get_column("__row").to_numpy()
        return conform(links.select(pl.all().gather(pl.Series(rows))), LINKS).collect()

    return pl.defer(in_order, schema=LINKS)


def _labels_for(clusters: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    best = (
        clusters.select("chain", "address", "cluster_id")
        .join(labels, on=["chain", "address"], how="inner")
        .sort(
            ["chain", "cluster_id", "is_cluster_definer", "confidence", "label", "category"],
            descending=[False, False, True, True, False, False],
            nulls_last=True,
        )
        .unique(subset=["chain", "cluster_id"], keep="first", maintain_order=True)
        .select("chain", "cluster_id", "label", "category")
    )
    if best.is_empty():  # no clustered address is labelled: no join over every address
        return clusters.with_columns(
            pl.lit(None, dtype=pl.String).alias("label"),
            pl.lit(None, dtype=pl.String).alias("category"),
        )
    return clusters.join(best, on=["chain", "cluster_id"], how="left", maintain_order="left")


def cluster_addresses(
    links: pl.LazyFrame,
    labels: pl.LazyFrame,
    *,
    size_caps: Mapping[str, int | None] | None = None,
    service_categories: Sequence[str] = NOT_OWNED_CATEGORIES,
) -> Clustering:
    """Union the links into clusters (connected components), with the guards applied.

    Parameters
    ----------
    links
        Rows of ``schema.LINKS`` from any heuristics (advisory ones included only if the
        caller wants them used). They may also carry ``key_a`` and ``key_b``: integer ids
        of the two addresses, equal exactly when the ``(chain, address)`` pairs are (the
        store's address ids); the union then numbers addresses by them instead of by hashes.
        ``links`` is read twice (the union's columns now, the kept rows when the returned
        links are collected): pass a frame that is cheap to read again (in memory, Parquet).
    labels
        Rows of ``schema.LABELS``: services are never merged through, and a cluster takes the
        best label found inside it (cluster definers first, then the highest confidence, then
        the label's name).
    size_caps
        Largest component each heuristic's links alone may form; ``None`` for a heuristic
        means no cap. Missing heuristics take their registered default
        (:attr:`heuristics.Heuristic.size_cap`).
    service_categories
        Label categories that make an address a service.

    Returns
    -------
    Clustering
        ``clusters`` (``schema.CLUSTERS``: every linked address, its cluster id -- the smallest
        address of its component --, the cluster's size, label and category), the ``links``
        that were used and the ``cuts`` report.

    Examples
    --------
    >>> lk = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 2,
    ...         "address_a": ["1a", "1b"],
    ...         "address_b": ["1b", "1c"],
    ...         "heuristic": ["multi_input"] * 2,
    ...         "heuristic_version": [1, 1],
    ...         "evidence_transaction_hash": ["t1", "t2"],
    ...         "block_number": [1, 2],
    ...         "confidence": [90, 90],
    ...     }
    ... )
    >>> lab = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"],
    ...         "address": ["1c"],
    ...         "label": ["Mt. Gox"],
    ...         "category": ["exchange"],
    ...         "source": ["demo"],
    ...         "confidence": [50],
    ...         "is_cluster_definer": [True],
    ...         "lastmod": [None],
    ...     }
    ... )
    >>> result = cluster_addresses(lk, lab)  # Mt. Gox signed for 1b and 1c: all three are its
    >>> result.clusters.select("address", "cluster_id", "cluster_size", "label").collect().rows()
    [('1a', '1a', 3, 'Mt. Gox'), ('1b', '1a', 3, 'Mt. Gox'), ('1c', '1a', 3, 'Mt. Gox')]
    >>> gas = lk.with_columns(pl.lit("gas_funding").alias("heuristic"))  # no proof of control
    >>> result = cluster_addresses(gas, lab)
    >>> result.clusters.select("address", "cluster_id", "cluster_size").collect().rows()
    [('1a', '1a', 2), ('1b', '1a', 2)]
    >>> result.cuts.select("heuristic", "reason", "address", "links_cut").rows()
    [('gas_funding', 'service', '1c', 1)]
    """
    caps = _default_caps()
    caps.update(size_caps or {})
    keyed = set(LINK_KEYS) <= set(links.collect_schema().names())
    # Only the columns the union needs are read now; the kept links are taken from ``links``
    # by row number when the caller collects them.
    numbered = conform(links, pl.Schema({**LINKS, **LINK_KEYS}) if keyed else LINKS).with_row_index(
        "__row"
    )
    columns = [
        "__row",
        "chain",
        "address_a",
        "address_b",
        "heuristic",
        *(LINK_KEYS if keyed else []),
    ]
    links_df = numbered.select(columns).collect()
    labels_df = labels.collect()
    services = labels_df.filter(pl.col("category").is_in(list(service_categories)))
    clusters: list[pl.DataFrame] = []
    kept_all: list[pl.DataFrame] = []
    cuts: list[pl.DataFrame] = []
    chains = sorted(links_df.get_column("chain").unique().drop_nulls().to_list())
    # Ranks the heuristics by name (an Enum's codes follow its categories' order).
    names = pl.Enum(sorted(links_df.get_column("heuristic").unique().drop_nulls().to_list()))
    for number, chain in enumerate(chains):
        one = chains == [chain] and links_df.get_column("chain").null_count() == 0
        kept = links_df if one else links_df.filter(pl.col("chain") == chain)  # no copy if one
        keys = (kept.get_column("key_a"), kept.get_column("key_b")) if keyed else None
        ids = _dense_ids(kept.get_column("address_a"), kept.get_column("address_b"), keys)
        kept = kept.drop(*LINK_KEYS, strict=False)
        nodes, ia, ib = ids
        keep, cut = _cut_services(kept, ids, services.filter(pl.col("chain") == chain))
        cuts += cut
        comp = _component_labels(ia[keep], ib[keep], nodes.len())
        # A heuristic's own components lie inside the union's: when no component of the
        # union exceeds a heuristic's cap, none of its own can (and nothing is cut).
        largest = int(np.bincount(comp).max(initial=0))
        capped = False
        for name in sorted(kept.get_column("heuristic").unique().to_list()):
            cap = caps.get(name)
            if cap is not None and largest > cap:
                keep, cut = _cut_oversized(kept, ids, keep, name, cap)
                cuts += cut
                capped = capped or bool(cut)
        if capped:
            comp = _component_labels(ia[keep], ib[keep], nodes.len())
        kept = kept if keep.all() else kept.filter(pl.Series(keep))
        kept_all.append(
            kept.select(
                "__row",
                pl.lit(number, dtype=pl.Int32).alias("__chain"),
                pl.Series("__a", ia[keep]),
                pl.Series("__b", ib[keep]),
                pl.col("heuristic").cast(names).to_physical().alias("__heuristic"),
            )
        )
        present = np.zeros(nodes.len(), dtype=np.bool_)
        present[ia[keep]] = True
        present[ib[keep]] = True
        members = np.flatnonzero(present)  # sorted ids, i.e. sorted addresses
        comp = comp[members]
        _, first, dense = np.unique(comp, return_index=True, return_inverse=True)
        heads = members[first]  # the smallest member of each
        frame = pl.DataFrame(
            {
                "address": nodes.gather(members),
                "component": dense,
                "cluster_id": nodes.gather(heads[dense]),
                "cluster_size": np.bincount(dense)[dense].astype(np.int64),
            }
        ).with_columns(pl.lit(chain, dtype=pl.String).alias("chain"))
        clusters.append(frame.drop("component"))
    cluster_df = (
        pl.concat(clusters, how="vertical")
        if clusters
        else pl.DataFrame(
            schema={k: CLUSTERS[k] for k in ("address", "chain", "cluster_id")}
        ).with_columns(pl.lit(None, dtype=pl.Int64).alias("cluster_size"))
    )
    cluster_df = _labels_for(
        cluster_df,
        labels_df.select(
            "chain", "address", "label", "category", "is_cluster_definer", "confidence"
        ),
    )
    # In key order: each chain's links are sorted, and the chains are.
    out_links = (
        _sorted_links(numbered, pl.concat(kept_all, how="vertical"))
        if kept_all
        else pl.LazyFrame(schema=LINKS)
    )
    cut_df = (
        pl.concat([c.select(list(CUTS)).cast(CUTS) for c in cuts], how="vertical")
        if cuts
        else pl.DataFrame(schema=CUTS)
    ).sort("chain", "heuristic", "reason", "address")
    return Clustering(
        clusters=conform(cluster_df, CLUSTERS),  # already in (chain, address) order
        links=out_links,
        cuts=cut_df,
    )


def explain_link(
    links: pl.LazyFrame, address_a: str, address_b: str, *, chain: str | None = None
) -> pl.DataFrame | None:
    """The shortest chain of evidence linking two addresses, or ``None`` if they are not linked.

    A breadth-first search over the links (both directions), one frontier per round; between
    two addresses linked several times the step shows the most confident link (then the
    earliest block, then the smallest transaction hash), and among equally short chains the
    one through the smallest addresses is chosen, so the answer is deterministic.

    Parameters
    ----------
    links
        Rows of ``schema.LINKS`` (the links a clustering used).
    address_a, address_b
        The two addresses, as stored.
    chain
        Only links of this chain (default: all).

    Returns
    -------
    pl.DataFrame or None
        :data:`EXPLANATION` rows, one per step from ``address_a`` to ``address_b`` (no rows
        when the two are the same address).

    Examples
    --------
    >>> lk = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 2,
    ...         "address_a": ["1a", "1b"],
    ...         "address_b": ["1b", "1c"],
    ...         "heuristic": ["multi_input"] * 2,
    ...         "heuristic_version": [1, 1],
    ...         "evidence_transaction_hash": ["t1", "t2"],
    ...         "block_number": [1, 2],
    ...         "confidence": [90, 90],
    ...     }
    ... )
    >>> explain_link(lk, "1c", "1a").select(
    ...     "from_address", "to_address", "evidence_transaction_hash"
    ... ).rows()
    [('1c', '1b', 't2'), ('1b', '1a', 't1')]
    >>> explain_link(lk, "1a", "1z") is None
    True
    """
    if address_a == address_b:
        return pl.DataFrame(schema=EXPLANATION)
    lf = links if chain is None else links.filter(pl.col("chain") == chain)
    cols = ["heuristic", "heuristic_version", "evidence_transaction_hash", "block_number"]
    edges = pl.concat(
        [
            lf.select(
                pl.col("address_a").alias("src"),
                pl.col("address_b").alias("dst"),
                *cols,
                "confidence",
            ),
            lf.select(
                pl.col("address_b").alias("src"),
                pl.col("address_a").alias("dst"),
                *cols,
                "confidence",
            ),
        ]
    )
    edges_df = (
        edges.sort(
            ["src", "dst", "confidence", "block_number", "evidence_transaction_hash"],
            descending=[False, False, True, False, False],
        )
        .unique(subset=["src", "dst"], keep="first", maintain_order=True)
        .collect()
    )
    parent: dict[str, dict[str, object]] = {}
    seen = {address_a}
    frontier = [address_a]
    while frontier and address_b not in seen:
        step = (
            edges_df.filter(pl.col("src").is_in(frontier) & ~pl.col("dst").is_in(list(seen)))
            .sort("dst", "src")
            .unique(subset=["dst"], keep="first", maintain_order=True)
        )
        frontier = step.get_column("dst").to_list()
        for row in step.iter_rows(named=True):
            parent[row["dst"]] = row
        seen.update(frontier)
    if address_b not in seen:
        return None
    path = []
    node = address_b
    while node != address_a:
        row = parent[node]
        path.append(row)
        node = str(row["src"])
    path.reverse()
    return pl.DataFrame(
        [
            {
                "step": i + 1,
                "from_address": r["src"],
                "to_address": r["dst"],
                **{c: r[c] for c in [*cols, "confidence"]},
            }
            for i, r in enumerate(path)
        ],
        schema=EXPLANATION,
    )
