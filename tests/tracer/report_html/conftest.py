"""Fixtures of the report tests: the hand-written trace of report_fixture.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tracer.report_html.report_fixture import write_fixture_trace


@pytest.fixture
def fixture_trace(tmp_path: Path) -> Path:
    """A trace output directory: 8 addresses, 9 edges, a 2-address cluster, hostile labels."""
    return write_fixture_trace(tmp_path / "trace")
