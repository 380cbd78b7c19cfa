"""The data directory: atomic multi-table commits, dedupe on keys, recovery after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tracer.errors import DataMissing, SchemaMismatch
from tracer.store import Store


def _labels(n: int, *, start: int = 0, source: str = "test") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "chain": ["ethereum"] * n,
            "address": [f"0x{i:040x}" for i in range(start, start + n)],
            "label": [f"wallet {i}" for i in range(start, start + n)],
            "category": ["exchange"] * n,
            "source": [source] * n,
            "confidence": [50] * n,
            "is_cluster_definer": [True] * n,
            "lastmod": [None] * n,
        }
    )


def _seeds(n: int, *, start: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "chain": ["ethereum"] * n,
            "address": [f"0x{i:040x}" for i in range(start, start + n)],
            "attribution": ["Lazarus"] * n,
            "incident": ["test"] * n,
            "source": ["test"] * n,
            "source_date": [None] * n,
            "transaction_hash": [None] * n,
        }
    )


def test_append_dedupes_on_key(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.commit({"labels": _labels(3)}) == {"labels": 3}
    assert store.commit({"labels": _labels(5)}) == {"labels": 2}
    assert store.commit({"labels": pl.concat([_labels(5), _labels(5)])}) == {"labels": 0}
    assert store.scan("labels").collect().height == 5
    # the same address from another source is another row
    assert store.commit({"labels": _labels(1, source="other")}) == {"labels": 1}


def test_scan_of_missing_table_is_empty_with_schema(tmp_path: Path) -> None:
    frame = Store(tmp_path).scan("transfers").collect()
    assert frame.height == 0
    assert "value" in frame.columns
    with pytest.raises(DataMissing, match="no transfers table"):
        Store(tmp_path).require("transfers")


def test_replace_swaps_the_whole_table(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"labels": _labels(5)})
    store.commit(replace={"labels": _labels(2, start=100)})
    assert store.scan("labels").collect()["address"].to_list() == [
        f"0x{i:040x}" for i in (100, 101)
    ]
    store.commit(replace={"labels": _labels(0)})
    assert store.scan("labels").collect().height == 0


def test_a_bad_table_commits_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"labels": _labels(2)})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(SchemaMismatch):
        store.commit({"seeds": _seeds(2), "labels": _labels(2).drop("category")})
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_commit_is_atomic_across_tables_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    calls = {"n": 0}
    real_replace = Path.replace

    def dying_replace(self: Path, target: str | os.PathLike[str]) -> Path:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process dies between two renames
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        store.commit({"labels": _labels(3), "seeds": _seeds(4)})
    monkeypatch.undo()
    # Half the parts are in place; reopening finishes the journaled commit.
    reopened = Store(tmp_path)
    assert reopened.scan("labels").collect().height == 3
    assert reopened.scan("seeds").collect().height == 4
    assert not (tmp_path / ".staging").exists()


def test_unjournaled_staging_is_discarded(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.commit({"labels": _labels(1)})
    orphan = tmp_path / ".staging" / "dead" / "labels"
    orphan.mkdir(parents=True)
    _labels(9).write_parquet(orphan / "part-x.parquet")
    assert Store(tmp_path).scan("labels").collect().height == 1
    assert not (tmp_path / ".staging").exists()


_WRITER = """
import sys, polars as pl
from tracer.store import Store
store = Store(sys.argv[1])
for k in range(10_000):
    n = 50
    labels = pl.DataFrame({
        "chain": ["ethereum"] * n,
        "address": [f"0x{k * n + i:040x}" for i in range(n)],
        "label": ["x"] * n, "category": ["other"] * n, "source": ["s"] * n,
        "confidence": [1] * n, "is_cluster_definer": [False] * n, "lastmod": [None] * n,
    })
    seeds = labels.select("chain", "address").with_columns(
        attribution=pl.lit("a"), incident=pl.lit("i"), source=pl.lit("s"),
        source_date=pl.lit(None), transaction_hash=pl.lit(None))
    store.commit({"labels": labels, "seeds": seeds})
    print(k, flush=True)
"""


@pytest.mark.parametrize("delay", [0.8, 1.3, 2.1])
def test_sigkill_mid_commit_leaves_whole_commits_only(tmp_path: Path, delay: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.DEVNULL
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(tmp_path)
    labels = store.scan("labels").collect()
    seeds = store.scan("seeds").collect()
    # Every commit wrote 50 rows to both tables, all or nothing.
    assert labels.height % 50 == 0
    assert labels.height == seeds.height
    assert labels["address"].n_unique() == labels.height
    assert sorted(labels["address"]) == sorted(seeds["address"])


def test_require_names_the_command_that_fills_the_table(tmp_path: Path) -> None:
    store = Store(tmp_path / "case")
    with pytest.raises(DataMissing, match="run tracer cluster first"):
        store.require("links")
    with pytest.raises(DataMissing, match=r"run tracer ingest files\|rpc first"):
        store.require("transfers")
