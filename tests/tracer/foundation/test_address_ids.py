"""The store numbers the addresses of the transfers it writes: one id per (chain, address)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.schema import TRANSFERS
from tracer.store import Store


def _transfers(rows: list[tuple[str, str, str | None]], *, tx: str = "t") -> pl.DataFrame:
    """(chain, from, to) -> schema.TRANSFERS rows, one transaction each."""
    return pl.DataFrame(
        [
            (c, 1, None, f"{tx}{i}", 0, "native", 0, a, b, "ETH", None, None, "1", 18)
            for i, (c, a, b) in enumerate(rows)
        ],
        schema=TRANSFERS,
        orient="row",
    )


def _check(store: Store) -> pl.DataFrame:
    """Assert that the ids are dense, unique, and name each row's addresses; return the table."""
    addresses = store.scan("addresses").collect()
    ids = addresses.get_column("address_id").sort().to_list()
    assert ids == list(range(addresses.height))
    assert addresses.select("chain", "address").is_unique().all()
    transfers = store.scan("transfers").collect()
    for side in ("from", "to"):  # the id names the row's address on the row's chain
        named = transfers.join(
            addresses,
            left_on=["chain", f"{side}_id"],
            right_on=["chain", "address_id"],
            how="left",
            maintain_order="left",
        )
        assert named.get_column("address").to_list() == transfers[f"{side}_address"].to_list()
    return addresses


def test_a_second_ingest_reuses_known_ids_and_numbers_new_ones_after(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"transfers": _transfers([("ethereum", "0xa", "0xb")])})
    first = dict(_check(store).select("address", "address_id").rows())
    assert sorted(first.values()) == [0, 1]
    store.commit({"transfers": _transfers([("ethereum", "0xb", "0xc")], tx="u")})
    after = dict(_check(store).select("address", "address_id").rows())
    assert after == {**first, "0xc": 2}


def test_one_address_on_two_chains_gets_two_ids(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"transfers": _transfers([("ethereum", "0xa", "0xb"), ("polygon", "0xa", "0xb")])})
    assert _check(store).height == 4


def test_a_null_address_has_a_null_id(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"transfers": _transfers([("ethereum", "0xa", None)])})
    _check(store)
    assert store.scan("transfers").select("to_id").collect().item() is None
    assert store.scan("addresses").collect().height == 1


def test_re_ingesting_adds_no_address(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rows = _transfers([("ethereum", "0xa", "0xb")])
    store.commit({"transfers": rows})
    assert store.commit({"transfers": rows}) == {"transfers": 0}
    assert len(store.parts("addresses")) == 1


def test_ids_given_by_the_caller_are_replaced(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rows = _transfers([("ethereum", "0xa", "0xb")]).with_columns(
        pl.lit(7, dtype=pl.UInt32).alias("from_id"), pl.lit(7, dtype=pl.UInt32).alias("to_id")
    )
    store.commit({"transfers": rows})
    _check(store)


def test_the_addresses_table_is_the_stores_own(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rows = pl.DataFrame({"chain": ["ethereum"], "address": ["0xa"], "address_id": [0]})
    with pytest.raises(ValueError, match="numbered by the store"):
        store.commit({"addresses": rows})


def test_a_directory_written_before_ids_reads_them_as_null(tmp_path: Path) -> None:
    (tmp_path / "transfers").mkdir()
    _transfers([("ethereum", "0xa", "0xb")]).write_parquet(tmp_path / "transfers/part-0.parquet")
    frame = Store(tmp_path).scan("transfers").collect()
    assert frame.select("from_id", "to_id").rows() == [(None, None)]


_ADDRESS = st.sampled_from(["0xa", "0xb", "0xc", "0xd", None])
_ROW = st.tuples(st.sampled_from(["ethereum", "polygon"]), _ADDRESS.filter(bool), _ADDRESS)


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(_ROW, min_size=1, max_size=6), min_size=1, max_size=4),
    writers=st.lists(st.integers(0, 1), min_size=4, max_size=4),
)
def test_ids_stay_consistent_over_any_sequence_of_ingests(
    batches: list[list[tuple[str, str, str | None]]],
    writers: list[int],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Two writers on one directory: each keeps the addresses it read in memory between its
    # commits, and must notice the other's.
    root = tmp_path_factory.mktemp("ids")
    stores = [Store(root), Store(root)]
    for n, batch in enumerate(batches):
        stores[writers[n]].commit({"transfers": _transfers(batch, tx=f"b{n}-")})
    store = stores[0]
    addresses = _check(store)
    used = {(c, a) for batch in batches for c, x, y in batch for a in (x, y) if a is not None}
    assert set(addresses.select("chain", "address").rows()) == used


def test_the_store_knows_whether_every_part_has_its_ids(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert not store.has_address_ids()  # no transfers at all
    store.commit({"transfers": _transfers([("ethereum", "0xa", "0xb")])})
    assert store.has_address_ids()
    _transfers([("ethereum", "0xc", "0xd")], tx="old").write_parquet(
        tmp_path / "transfers/part-old.parquet"  # written before the store numbered addresses
    )
    assert not store.has_address_ids()
