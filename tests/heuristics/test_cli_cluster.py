"""``tracer cluster`` and ``tracer explain`` end to end on a store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from click.testing import CliRunner

from tracer.cli import cli
from tracer.store import Store

ETH = 10**18
EXCHANGE = "0x" + "e" * 40
DEPOSIT = "0x" + "d" * 40
S1, S2, FUNDED = ("0x" + c * 40 for c in "12f")
OTHER = "0x" + "9" * 40


def make_store(path: Path, make_transfers: Callable[..., pl.LazyFrame], make_labels: Any) -> Store:
    store = Store(path)
    store.commit(
        {
            "transfers": make_transfers(
                [
                    (100, "0xt1", S1, DEPOSIT, ETH),
                    (110, "0xt2", DEPOSIT, EXCHANGE, ETH - 10**15),
                    (200, "0xt3", S2, DEPOSIT, 3 * ETH),
                    (210, "0xt4", DEPOSIT, EXCHANGE, 3 * ETH - 10**15),
                    (50, "0xt0", S2, FUNDED, ETH),
                    (40, "0xta", EXCHANGE, S1, 5 * ETH),
                    (41, "0xtb", EXCHANGE, S2, 5 * ETH),
                ]
            ),
            "labels": make_labels([(EXCHANGE, "Binance", "exchange")]),
        }
    )
    return store


def test_cluster_then_explain(tmp_path: Path, make_transfers: Any, make_labels: Any) -> None:
    data = tmp_path / "case"
    store = make_store(data, make_transfers, make_labels)
    runner = CliRunner()
    out = tmp_path / "clusters.csv"
    result = runner.invoke(cli, ["cluster", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "deposit_address_reuse v1" in result.output
    # FUNDED by S2 only: S1 funding DEPOSIT is a deposit into an exchange's wallet, which the
    # deposit matching recognised first, not ownership of it.
    assert "links gas_funding: 1" in result.output
    clusters = pl.read_csv(out)
    assert set(clusters.get_column("cluster_id")) == {S1}
    assert sorted(clusters.get_column("address")) == [S1, S2, FUNDED]
    assert store.scan("links").collect().height == 2
    labels = store.scan("labels").filter(pl.col("category") == "deposit_wallet").collect()
    assert labels.get_column("address").to_list() == [DEPOSIT]

    result = runner.invoke(
        cli, ["explain", S1.upper().replace("0X", "0x"), FUNDED, "--data", str(data)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("linked in 2 step(s):")
    assert "deposit_address_reuse v1, tx 0xt3, block 200, confidence 80" in lines[1]
    assert lines[1].endswith(f", both paid deposit address {DEPOSIT}, which forwards to Binance")
    assert lines[2].endswith("gas_funding v1, tx 0xt0, block 50, confidence 60")

    result = runner.invoke(cli, ["explain", S1, OTHER, "--data", str(data)])
    assert result.exit_code == 0
    assert result.output.strip() == f"{S1} and {OTHER} are not linked."


def test_cluster_one_heuristic_and_bad_input(
    tmp_path: Path, make_transfers: Any, make_labels: Any
) -> None:
    data = tmp_path / "case"
    store = make_store(data, make_transfers, make_labels)
    runner = CliRunner()
    result = runner.invoke(cli, ["cluster", "--data", str(data), "--heuristic", "gas_funding"])
    assert result.exit_code == 0, result.output
    assert set(store.scan("links").collect().get_column("heuristic")) == {"gas_funding"}
    result = runner.invoke(cli, ["cluster", "--data", str(data), "--heuristic", "nope"])
    assert result.exit_code == 2
    assert "Invalid value for '--heuristic'" in result.output
    result = runner.invoke(cli, ["explain", "0x123", S1, "--data", str(data)])
    assert result.exit_code == 2
    assert "Error:" in result.output


def test_explain_without_links_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["explain", S1, S2, "--data", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "has no links table" in result.output


def test_deposit_steps_name_the_deposit_their_evidence_paid(
    make_transfers: Any, make_labels: Any
) -> None:
    from tracer.clustering import deposit_addresses

    d2, d3 = "0x" + "c" * 40, "0x" + "b" * 40
    steps = pl.DataFrame(
        {
            "step": [1, 2],
            "from_address": [S1, S2],
            "to_address": [S2, FUNDED],
            "heuristic": ["deposit_address_reuse", "gas_funding"],
            "evidence_transaction_hash": ["0xt3", "0xt0"],
        }
    )
    transfers = make_transfers(
        [
            (200, "0xt3", S2, DEPOSIT, ETH),
            (200, "0xt3", S2, d2, ETH),  # the same transaction paid two: the smaller is named
            (200, "0xt3", OTHER, d3, ETH),  # not from the step's addresses
            (50, "0xt0", S2, DEPOSIT, ETH),  # a gas_funding step names nothing
        ]
    )
    labels = make_labels(
        [(a, f"Exchange {a[2]}", "deposit_wallet") for a in (DEPOSIT, d2, d3)]
        + [(d2, "Another", "deposit_wallet")]
    )
    got = deposit_addresses(steps, transfers, labels, chain="ethereum")
    assert got.select("step", "via_address", "via_label").rows() == [
        (1, d2, "Another"),
        (2, None, None),
    ]
