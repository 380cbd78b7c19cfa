"""An ingest SIGKILLed at any point and run again gives exactly the uninterrupted tables."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.tracer.ingest_rpc.rpc_chain import Chain
from tracer.ingest.rpc import ingest_rpc
from tracer.schema import KEYS, TABLES
from tracer.store import Store

pytestmark = pytest.mark.anvil

CHUNK = 3

# Runs one ingest in a child process and SIGKILLs it at the point named by argv[3].
CHILD = r"""
import os, signal, sys, threading, time
from tracer.store import Store
from tracer.ingest.rpc import ingest_rpc

url, data, point, to_block = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kill = lambda: os.kill(os.getpid(), signal.SIGKILL)
on_chunk = None
if point.startswith("after_chunk:"):
    wanted = int(point.split(":")[1])
    seen = []
    def on_chunk(lo, hi):
        seen.append(lo)
        if len(seen) == wanted:
            kill()
elif point == "mid_apply":
    # the journal is written; the kill lands after the first part is moved into place
    original = Store._apply
    calls = []
    def _apply(self, stage):
        calls.append(stage)
        if len(calls) == 2:
            import json, pathlib
            plan = json.loads((stage / "COMMIT").read_text())
            src, dst = plan["moves"][0]
            target = self.root / dst
            target.parent.mkdir(parents=True, exist_ok=True)
            (self.root / src).replace(target)
            kill()
        return original(self, stage)
    Store._apply = _apply
elif point == "mid_staging":
    # parts are being staged, no journal yet: the commit must vanish
    original_stage = Store._stage
    staged = []
    def _stage(self, stage, table, frame):
        staged.append(table)
        if len(staged) == 8:
            kill()
        return original_stage(self, stage, table, frame)
    Store._stage = _stage
elif point.startswith("timer:"):
    delay = float(point.split(":")[1])
    threading.Thread(target=lambda: (time.sleep(delay), kill()), daemon=True).start()
ingest_rpc(Store(data), url, from_block=0, to_block=to_block, chunk_size=3, on_chunk=on_chunk)
"""


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, with the address ids checked and left out.

    Ids number addresses in the order they were first written, which a resume changes; what
    must hold is that each id names its row's address and that no id is given twice.
    """
    out = {}
    addresses = store.scan("addresses").collect()
    assert addresses.get_column("address_id").sort().to_list() == list(range(addresses.height))
    for table in TABLES:
        frame = store.scan(table).collect()
        if table == "transfers":
            for side in ("from", "to"):
                named = frame.join(
                    addresses,
                    left_on=f"{side}_id",
                    right_on="address_id",
                    how="left",
                    maintain_order="left",
                ).get_column("address")
                assert named.to_list() == frame.get_column(f"{side}_address").to_list()
            frame = frame.drop("from_id", "to_id")
        if table == "addresses":
            frame = frame.drop("address_id")
        out[table] = frame.sort(list(KEYS[table]), nulls_last=True).rows()
    return out


@pytest.fixture(scope="module")
def reference(
    scenario: Chain, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[tuple[object, ...]]]:
    store = Store(tmp_path_factory.mktemp("reference"))
    ingest_rpc(store, scenario.node.url, from_block=0, to_block=len(scenario.txs), chunk_size=CHUNK)
    return snapshot(store)


@pytest.mark.parametrize(
    "point", ["after_chunk:1", "after_chunk:3", "mid_apply", "mid_staging", "timer:1.3"]
)
def test_killed_ingest_resumes_exactly(
    scenario: Chain,
    reference: dict[str, list[tuple[object, ...]]],
    tmp_path: Path,
    point: str,
) -> None:
    data = tmp_path / "data"
    head = len(scenario.txs)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, scenario.node.url, str(data), point, str(head)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if not point.startswith("timer"):
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
        partial = snapshot(Store(data))
        assert 0 < len(partial["blocks"]) < head + 1  # killed half-way, something committed
        # whatever was committed is whole: every logged range has all of its blocks
        logged = {
            b
            for lo, hi in Store(data)
            .scan("ingest_log")
            .select("from_block", "to_block")
            .collect()
            .rows()
            for b in range(lo, hi + 1)
        }
        assert {row[1] for row in partial["blocks"]} == logged
    ingest_rpc(Store(data), scenario.node.url, from_block=0, to_block=head, chunk_size=CHUNK)
    assert snapshot(Store(data)) == reference
    assert not (data / ".staging").exists()


def test_parts_are_never_duplicated_by_a_resume(
    scenario: Chain, reference: dict[str, list[tuple[object, ...]]], tmp_path: Path
) -> None:
    # ingest the range in three overlapping requests: each re-run only adds what is missing
    store = Store(tmp_path / "data")
    head = len(scenario.txs)
    ingest_rpc(store, scenario.node.url, from_block=3, to_block=8, chunk_size=CHUNK)
    ingest_rpc(store, scenario.node.url, from_block=0, to_block=10, chunk_size=CHUNK)
    ingest_rpc(store, scenario.node.url, from_block=0, to_block=head, chunk_size=CHUNK)
    got = snapshot(store)
    for table in ("blocks", "transactions", "transfers", "approvals", "tokens", "contracts"):
        assert got[table] == reference[table], table
    blocks = store.scan("blocks").select(pl.len()).collect().item()
    assert blocks == head + 1
