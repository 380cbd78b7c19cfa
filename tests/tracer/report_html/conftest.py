"""Fixtures of the report tests: the hand-written trace of report_fixture.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# tests/tracer and tests/heuristics (no __init__.py) shadow the real packages as namespace
# packages when only tests/ is on sys.path; the repository root must come first. Remove once
# pyproject sets [tool.pytest.ini_options] pythonpath = ["."].
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from report_fixture import write_fixture_trace  # noqa: E402


@pytest.fixture
def fixture_trace(tmp_path: Path) -> Path:
    """A trace output directory: 8 addresses, 9 edges, a 2-address cluster, hostile labels."""
    return write_fixture_trace(tmp_path / "trace")
