"""heuristics.cluster: components, guards, labels, explanations, and properties of the links."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from heuristics import finish_links
from heuristics.cluster import cluster_addresses, explain_link
from heuristics.multi_input import multi_input
from tracer.schema import LABELS, LINKS


def links(rows: list[tuple[str, str, str, str]]) -> pl.LazyFrame:
    """(a, b, heuristic, tx) -> schema.LINKS rows."""
    return pl.DataFrame(
        [
            {
                "chain": "bitcoin",
                "address_a": a,
                "address_b": b,
                "heuristic": h,
                "heuristic_version": 1,
                "evidence_transaction_hash": tx,
                "block_number": i,
                "confidence": 90,
            }
            for i, (a, b, h, tx) in enumerate(rows)
        ],
        schema=LINKS,
    ).lazy()


def labels(rows: list[tuple[str, str, str, int, bool]]) -> pl.LazyFrame:
    return pl.DataFrame(
        [
            {
                "chain": "bitcoin",
                "address": a,
                "label": lab,
                "category": cat,
                "source": "t",
                "confidence": conf,
                "is_cluster_definer": definer,
            }
            for a, lab, cat, conf, definer in rows
        ],
        schema=LABELS,
    ).lazy()


NO_LABELS = pl.LazyFrame(schema=LABELS)


def clusters_of(lk: pl.LazyFrame, lab: pl.LazyFrame = NO_LABELS, **kw: Any) -> dict[str, str]:
    out = cluster_addresses(lk, lab, **kw).clusters.collect()
    return dict(out.select("address", "cluster_id").iter_rows())


def test_components_and_smallest_address_as_id() -> None:
    lk = links(
        [
            ("b", "c", "multi_input", "t1"),
            ("c", "d", "multi_input", "t2"),
            ("x", "y", "multi_input", "t3"),
        ]
    )
    assert clusters_of(lk) == {"b": "b", "c": "b", "d": "b", "x": "x", "y": "x"}


def test_never_merges_through_a_service() -> None:
    lk = links([("a", "m", "gas_funding", "t1"), ("m", "z", "gas_funding", "t2")])
    lab = labels([("m", "Mixer", "mixing_service", 50, True)])
    result = cluster_addresses(lk, lab)
    assert result.clusters.collect().is_empty()
    assert result.cuts.select("reason", "address", "links_cut").rows() == [("service", "m", 2)]
    assert result.links.collect().is_empty()


def test_proof_of_control_joins_the_service_in_any_order() -> None:
    # An exchange co-spends its hot wallet with two deposit addresses: it holds all three keys.
    # The star of multi_input links points at the smallest input, whichever that is.
    for hot in ("1AHot", "1ZHot"):
        inputs = sorted([hot, "1Dep1", "1Dep2"])
        lk = links([(inputs[0], other, "multi_input", "t1") for other in inputs[1:]])
        lab = labels([(hot, "Exchange", "exchange", 50, True)])
        result = cluster_addresses(lk, lab)
        out = result.clusters.collect()
        assert sorted(out.get_column("address")) == inputs
        assert set(out.get_column("label")) == {"Exchange"}
        assert result.cuts.is_empty()


def test_size_cap_cuts_only_that_heuristic() -> None:
    star = [("h", f"s{i}", "gas_funding", f"g{i}") for i in range(5)]
    lk = links([*star, ("s0", "s1", "multi_input", "m1")])
    result = cluster_addresses(lk, NO_LABELS, size_caps={"gas_funding": 5})
    assert result.cuts.select(
        "heuristic", "reason", "address", "component_size", "links_cut"
    ).rows() == [("gas_funding", "size_cap", "h", 6, 5)]
    assert clusters_of(lk, size_caps={"gas_funding": 5}) == {"s0": "s0", "s1": "s0"}
    assert len(clusters_of(lk, size_caps={"gas_funding": 6})) == 6
    assert len(clusters_of(lk, size_caps={"gas_funding": None})) == 6


def test_size_cap_counts_the_heuristics_own_component_not_the_union() -> None:
    # gas_funding alone makes a component of 3 (h, s0, s1); with multi_input's links the
    # union has 6. A cap of 4 on gas_funding cuts nothing, a cap of 2 cuts its two links.
    lk = links(
        [
            ("h", "s0", "gas_funding", "g0"),
            ("h", "s1", "gas_funding", "g1"),
            ("s1", "m1", "multi_input", "m"),
            ("m1", "m2", "multi_input", "m"),
            ("m2", "m3", "multi_input", "m"),
        ]
    )
    roomy = cluster_addresses(lk, NO_LABELS, size_caps={"gas_funding": 4})
    assert roomy.cuts.is_empty()
    assert roomy.clusters.collect().get_column("cluster_size").to_list() == [6] * 6
    tight = cluster_addresses(lk, NO_LABELS, size_caps={"gas_funding": 2})
    assert tight.cuts.select("address", "component_size", "links_cut").rows() == [("h", 3, 2)]
    assert tight.clusters.collect().get_column("address").to_list() == ["m1", "m2", "m3", "s1"]


def test_label_from_inside_the_cluster() -> None:
    lk = links([("a", "b", "multi_input", "t1"), ("b", "c", "multi_input", "t2")])
    lab = labels(
        [
            ("a", "Hacker wallet", "perpetrator", 90, False),
            ("c", "Lazarus Group", "perpetrator", 60, True),
        ]
    )
    out = cluster_addresses(lk, lab).clusters.collect()
    assert set(out.get_column("label")) == {"Lazarus Group"}  # a cluster definer wins
    lab2 = labels([("a", "low", "other", 10, False), ("c", "high", "perpetrator", 60, False)])
    out2 = cluster_addresses(lk, lab2).clusters.collect()
    assert set(out2.select("label", "category").rows()) == {("high", "perpetrator")}
    assert out2.get_column("cluster_size").to_list() == [3, 3, 3]


def test_explain_shortest_chain() -> None:
    lk = links(
        [
            ("a", "b", "multi_input", "t1"),
            ("b", "c", "gas_funding", "t2"),
            ("c", "d", "multi_input", "t3"),
            ("a", "d", "multi_input", "t4"),
        ]
    )
    steps = explain_link(lk, "a", "c")
    assert steps is not None
    assert steps.select(
        "from_address", "to_address", "heuristic", "evidence_transaction_hash"
    ).rows() == [("a", "b", "multi_input", "t1"), ("b", "c", "gas_funding", "t2")]
    assert explain_link(lk, "a", "zz") is None
    assert explain_link(lk, "a", "a") is not None


# --- properties -------------------------------------------------------------------------------

ADDRESSES = st.sampled_from([f"1addr{i}" for i in range(12)])
TXS = st.lists(
    st.tuples(st.sampled_from([f"tx{i}" for i in range(8)]), ADDRESSES), min_size=1, max_size=40
)


def inputs_frame(rows: list[tuple[str, str]]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    ins = pl.DataFrame(
        {
            "chain": ["bitcoin"] * len(rows),
            "block_number": [int(t[2:]) for t, _ in rows],
            "transaction_hash": [t for t, _ in rows],
            "address": [a for _, a in rows],
        }
    ).lazy()
    outs = pl.DataFrame({"chain": ["bitcoin"], "transaction_hash": ["none"], "value": ["1"]}).lazy()
    return ins, outs


@settings(max_examples=40, deadline=None)
@given(TXS, st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_output(rows: list[tuple[str, str]], rnd: Any) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    first = multi_input(*inputs_frame(rows)).collect()
    second = multi_input(*inputs_frame(shuffled)).collect()
    assert_frame_equal(first, second)
    assert_frame_equal(
        cluster_addresses(first.lazy(), NO_LABELS).clusters.collect(),
        cluster_addresses(
            second.sample(fraction=1.0, shuffle=True, seed=1).lazy(), NO_LABELS
        ).clusters.collect(),
    )


@settings(max_examples=40, deadline=None)
@given(TXS, st.lists(ADDRESSES, min_size=2, max_size=4))
def test_unrelated_transaction_does_not_change_other_clusters(
    rows: list[tuple[str, str]], extra: list[str]
) -> None:
    new = [f"9new{a}" for a in extra]  # addresses no other transaction touches
    before = clusters_of(multi_input(*inputs_frame(rows)))
    after = clusters_of(multi_input(*inputs_frame(rows + [("tx99", a) for a in new])))
    assert {a: c for a, c in after.items() if a in before} == before


@settings(max_examples=40, deadline=None)
@given(TXS)
def test_each_link_stored_once_and_normalised(rows: list[tuple[str, str]]) -> None:
    out = multi_input(*inputs_frame(rows + rows)).collect()
    assert (out.get_column("address_a") < out.get_column("address_b")).all()
    key = ["address_a", "address_b", "heuristic", "evidence_transaction_hash"]
    assert out.select(key).is_unique().all()
    again = finish_links(out.lazy(), name="multi_input", version=1).collect()
    assert_frame_equal(out, again)


def test_hash_path_matches_the_exact_path() -> None:
    from heuristics.cluster import _dense_ids, _dense_ids_exact

    a = pl.Series([f"0x{i % 97:040x}" for i in range(500)])
    b = pl.Series([f"0x{(i * 7) % 131:040x}" for i in range(500)])
    fast, exact = _dense_ids(a, b), _dense_ids_exact(a, b)
    assert fast[0].to_list() == exact[0].to_list()
    assert (fast[1] == exact[1]).all()
    assert (fast[2] == exact[2]).all()


@settings(max_examples=40, deadline=None)
@given(TXS, st.randoms(use_true_random=False))
def test_address_ids_given_with_the_links_change_nothing(
    rows: list[tuple[str, str]], rnd: Any
) -> None:
    found = multi_input(*inputs_frame(rows)).collect()
    names = sorted({a for _, a in rows})
    numbers = rnd.sample(range(10 * len(names)), len(names))  # any numbering, gaps allowed
    ids = pl.DataFrame({"address": names, "id": numbers}, schema_overrides={"id": pl.UInt32})
    keyed = found
    for side, key in (("address_a", "key_a"), ("address_b", "key_b")):
        keyed = keyed.join(
            ids.rename({"address": side, "id": key}), on=side, how="left", maintain_order="left"
        )
    plain, with_ids = (
        cluster_addresses(frame.lazy(), labels([("1addr0", "x", "exchange", 50, True)]))
        for frame in (found, keyed)
    )
    assert_frame_equal(plain.clusters.collect(), with_ids.clusters.collect())
    assert_frame_equal(plain.links.collect(), with_ids.links.collect())
    assert_frame_equal(plain.cuts, with_ids.cuts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=24),
            st.text(alphabet="0x", max_size=20),  # long shared prefixes: ties on the integers
            st.from_regex(r"0x[0-9a-f]{40}", fullmatch=True),
        ),
        unique=True,
        max_size=40,
    )
)
def test_string_order_is_the_byte_order(strings: list[str]) -> None:
    from heuristics.cluster import _string_order

    series = pl.Series(strings, dtype=pl.String)
    got = [strings[i] for i in _string_order(series)]
    assert got == sorted(strings, key=lambda text: text.encode())


def test_first_hash_collision_takes_the_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from heuristics import cluster

    a = pl.Series([f"0x{i % 97:040x}" for i in range(500)])
    b = pl.Series([f"0x{(i * 7) % 131:040x}" for i in range(500)])
    real_hash = pl.Series.hash

    def collide(self: pl.Series, seed: int = 0) -> pl.Series:  # one first hash for all
        if seed == cluster._SEEDS[0]:
            return pl.Series(np.zeros(len(self), dtype=np.uint64))
        return real_hash(self, seed=seed)

    monkeypatch.setattr(pl.Series, "hash", collide)
    fast, exact = cluster._dense_ids(a, b), cluster._dense_ids_exact(a, b)
    assert fast[0].to_list() == exact[0].to_list()
    assert fast[0].len() == pl.concat([a, b]).n_unique()  # not one node for all
    assert (fast[1] == exact[1]).all()
    assert (fast[2] == exact[2]).all()


def test_chains_are_clustered_apart() -> None:
    lk = pl.concat(
        [
            links([("a", "b", "multi_input", "t1")]),
            links([("b", "c", "multi_input", "t2")]).with_columns(chain=pl.lit("litecoin")),
        ]
    )
    out = cluster_addresses(lk, NO_LABELS).clusters.collect()
    assert out.select("chain", "address", "cluster_id").rows() == [
        ("bitcoin", "a", "a"),
        ("bitcoin", "b", "a"),
        ("litecoin", "b", "b"),
        ("litecoin", "c", "b"),
    ]


LINK_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["1a", "1b", "1c", "1d"]),
        st.sampled_from(["1a", "1b", "1c", "1d"]),
        st.sampled_from(["t1", "t2", "t3"]),
        st.integers(0, 100),
    ),
    max_size=30,
)


def candidate_links(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    """(a, b, tx, confidence) -> candidate links, each address keyed by its letter."""
    return pl.DataFrame(
        {
            "chain": ["bitcoin"] * len(rows),
            "address_a": [a for a, _, _, _ in rows],
            "address_b": [b for _, b, _, _ in rows],
            "evidence_transaction_hash": [tx for _, _, tx, _ in rows],
            "block_number": [c % 7 for _, _, _, c in rows],  # ties on confidence, or not
            "confidence": [c for _, _, _, c in rows],
            "key_a": [ord(a[1]) for a, _, _, _ in rows],
            "key_b": [ord(b[1]) for _, b, _, _ in rows],
        },
        schema_overrides={"confidence": pl.Int32, "key_a": pl.UInt32, "key_b": pl.UInt32},
    )


@settings(max_examples=100, deadline=None)
@given(LINK_ROWS)
def test_unsorted_finish_keeps_the_same_links_and_their_keys(
    rows: list[tuple[str, str, str, int]],
) -> None:
    candidates = candidate_links(rows).lazy()
    sorted_ = finish_links(candidates, name="demo", version=1).collect()
    unsorted = finish_links(candidates, name="demo", version=1, sort=False).collect()
    assert_frame_equal(unsorted.drop("key_a", "key_b").sort(sorted_.columns), sorted_)
    for side in ("a", "b"):  # each key still names its address, after the swap
        addresses = unsorted.get_column(f"address_{side}").to_list()
        assert unsorted.get_column(f"key_{side}").to_list() == [ord(a[1]) for a in addresses]


@settings(max_examples=100, deadline=None)
@given(LINK_ROWS, st.randoms(use_true_random=False))
def test_kept_links_come_out_in_key_order_whatever_the_input_order(
    rows: list[tuple[str, str, str, int]], rnd: Any
) -> None:
    finished = [
        finish_links(candidate_links(rows).lazy(), name=h, version=1).collect()
        for h in ("gas_funding", "multi_input")
    ]
    found = pl.concat(finished)
    shuffled = found.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 99))
    out = cluster_addresses(shuffled.lazy(), NO_LABELS, size_caps={}).links.collect()
    assert_frame_equal(
        out,
        found.sort(["chain", "address_a", "address_b", "heuristic", "evidence_transaction_hash"]),
    )
