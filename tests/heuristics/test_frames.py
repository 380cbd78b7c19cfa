"""heuristics._frames: the lookups and gathers the heuristics build on, against plain Polars."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from heuristics._frames import among, take

CHUNKS = st.lists(st.lists(st.text(max_size=20), max_size=6), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(CHUNKS, st.data())
def test_take_is_a_gather_in_one_chunk(chunks: list[list[str]], data: st.DataObject) -> None:
    column = pl.concat([pl.Series(c, dtype=pl.String) for c in chunks], rechunk=False)
    rows = sorted(data.draw(st.sets(st.integers(0, max(column.len() - 1, 0)))))
    rows = [r for r in rows if r < column.len()]
    got = take(column, np.array(rows, dtype=np.int64))
    assert got.to_list() == column.gather(rows).to_list()
    assert got.n_chunks() == 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.none() | st.integers(0, 50), max_size=40),
    st.lists(st.none() | st.integers(0, 60), max_size=10),
)
def test_among_is_membership_with_null_never_a_member(
    keys: list[int | None], members: list[int | None]
) -> None:
    got = among(pl.Series(keys, dtype=pl.UInt32), pl.Series(members, dtype=pl.UInt32))
    wanted = {m for m in members if m is not None}
    assert got.tolist() == [k is not None and k in wanted for k in keys]
