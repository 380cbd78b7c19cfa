"""The crawl crosses swap venues through the swap transaction instead of fetching them."""

from __future__ import annotations

from pathlib import Path

from tests.tracer.trace_engine.trace_tables import transfers_frame
from tracer.ingest.crawl import _neighbours
from tracer.store import Store

T, P1, P2, R, U, V = ("0x" + c * 40 for c in "12345e")
# T swaps 5 ETH at pool P1 for TOK, routed through pool P2, and the TOK goes to R. In another
# transaction an unrelated trader U swaps at P1 and gets paid V: nothing of the case.
ROWS = [
    {"from": T, "to": P1, "value": 5, "block": 1, "tx": "0xswap"},
    {"from": P1, "to": P2, "value": 7, "block": 1, "tx": "0xswap", "kind": "token", "idx": 1},
    {"from": P2, "to": R, "value": 9, "block": 1, "tx": "0xswap", "kind": "token", "idx": 2},
    {"from": U, "to": P1, "value": 1, "block": 2, "tx": "0xother"},
    {"from": P1, "to": V, "value": 2, "block": 2, "tx": "0xother", "kind": "token", "idx": 1},
]


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "data")
    store.commit({"transfers": transfers_frame(ROWS)})
    return store


def near(store: Store, frontier: set[str], direction: str, *venues: str) -> set[str]:
    return _neighbours(
        store,
        frontier,
        chain="ethereum",
        direction=direction,  # type: ignore[arg-type]
        lo=0,
        hi=9,
        venues=frozenset(venues),
    )


def test_forward_through_a_route_of_pools_to_the_receiver(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert near(store, {T}, "forward") == {P1}
    assert near(store, {T}, "forward", P1, P2) == {R}


def test_backward_from_the_receiver_to_who_paid_the_pools(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert near(store, {R}, "backward") == {P2}
    assert near(store, {R}, "backward", P1, P2) == {T}
    # Both directions from T: the swap's receiver, never the other trader's.
    assert near(store, {T}, "both", P1, P2) == {R}
