"""Case files are validated before anything runs; each error names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer.casefile import load_case
from tracer.errors import CaseError

GOOD = """
[case]
title = "t"
chain = "ethereum"

[seeds]
addresses = ["0x098B716B8Aaf21512996dC57EB0615e2383E2f96"]

[data]
files = ["data.csv"]
format = "ethereum-etl"

[trace]
max_hops = 4
min_value = "0.5"
taint = "fifo"
stop_at = ["exchange"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data.csv").write_text("x\n1\n")
    path = tmp_path / "case.toml"
    path.write_text(text)
    return path


def test_a_good_case_parses(tmp_path: Path) -> None:
    case = load_case(_write(tmp_path, GOOD))
    assert case.seed_addresses == ("0x098b716b8aaf21512996dc57eb0615e2383e2f96",)
    assert case.data.files == ((tmp_path / "data.csv").resolve(),)
    assert case.trace.taint == "fifo"
    assert case.trace.max_hops == 4
    assert case.trace.min_value == "0.5"
    assert case.output_dir == (tmp_path / "out").resolve()


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (("max_hops = 4", "max_hop = 4"), "[trace] max_hop"),
        (("[trace]", "[tracing]"), "[tracing]"),
        (('taint = "fifo"', 'taint = "lifo"'), "[trace] taint"),
        (("max_hops = 4", "max_hops = 0"), "[trace] max_hops"),
        (("max_hops = 4", 'max_hops = "4"'), "[trace] max_hops"),
        (('min_value = "0.5"', "min_value = 0.5"), "[trace] min_value"),
        (('min_value = "0.5"', 'min_value = "half"'), "[trace] min_value"),
        (('stop_at = ["exchange"]', 'stop_at = ["casino"]'), "[trace] stop_at"),
        (('files = ["data.csv"]', 'files = ["missing.csv"]'), "[data] files"),
        (('format = "ethereum-etl"', 'format = "ethereum-etl"\nrpc_url = "env:X"'), "[data]"),
        (('chain = "ethereum"', 'chain = "dogechain"'), "[case] chain"),
        (
            (
                "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
                "0x098b716B8Aaf21512996dC57EB0615e2383E2f96",
            ),
            "[seeds] addresses",
        ),
    ],
)
def test_bad_case_errors_name_the_key(tmp_path: Path, edit: tuple[str, str], named: str) -> None:
    old, new = edit
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(CaseError) as e:
        load_case(path)
    assert named in str(e.value)
    assert str(path) in str(e.value)


def test_no_data_source(tmp_path: Path) -> None:
    text = GOOD.replace('files = ["data.csv"]\nformat = "ethereum-etl"\n', "")
    with pytest.raises(CaseError, match="no data source"):
        load_case(_write(tmp_path, text))


def test_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="not valid TOML"):
        load_case(_write(tmp_path, GOOD + "\n[[["))


def test_missing_case_file(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no such case file"):
        load_case(tmp_path / "nope.toml")
