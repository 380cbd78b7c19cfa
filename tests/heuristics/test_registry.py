"""The registry, the decorator's provenance contract, and the docs that describe each rule."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from heuristics import MODULES, REGISTRY, applicable_heuristics, heuristic, run_heuristics
from tracer.errors import InputError
from tracer.schema import LINKS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "heuristics.md"


def test_one_identifier_everywhere() -> None:
    assert sorted(REGISTRY) == sorted(MODULES)
    for name, h in REGISTRY.items():
        assert h.function.__name__ == name
        assert h.function.__module__ == f"heuristics.{name}"
        assert h.reference
        assert h.version >= 1


def test_every_heuristic_documented_with_its_version() -> None:
    text = DOCS.read_text()
    for name, h in REGISTRY.items():
        assert f"\n## {name}\n" in text
        row = re.search(rf"\| \[{name}\]\(#{name}\) \| [^|]+ \| (\d+) \|", text)
        assert row is not None, name
        assert int(row.group(1)) == h.version
    assert "\n## peel_chain\n" in text


def test_output_conforms_and_carries_provenance() -> None:
    tables = {
        "utxo_inputs": pl.LazyFrame(
            {
                "chain": ["bitcoin"] * 2,
                "block_number": [3, 3],
                "transaction_hash": ["t", "t"],
                "address": ["1b", "1a"],
            }
        )
    }
    out = run_heuristics(tables, ["multi_input"]).collect()
    assert out.schema == LINKS
    assert out.select("heuristic", "heuristic_version", "evidence_transaction_hash").rows() == [
        ("multi_input", 1, "t")
    ]


def test_every_heuristic_runs_on_empty_tables() -> None:
    out = run_heuristics({}, sorted(REGISTRY)).collect()
    assert out.schema == LINKS
    assert out.is_empty()


def test_unknown_heuristic_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown heuristic"):
        run_heuristics({}, ["nope"])


def test_registering_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        heuristic(name="multi_input", version=1, reference="x", tables=["utxo_inputs"])(
            lambda utxo_inputs: utxo_inputs
        )


def test_applicable_heuristics() -> None:
    assert applicable_heuristics(["transfers"]) == ["airdrop_multi_participation", "gas_funding"]
    assert applicable_heuristics(["transfers", "labels", "approvals"]) == [
        "airdrop_multi_participation",
        "deposit_address_reuse",
        "gas_funding",
        "self_authorization",
    ]
