"""Shared test fixtures: paths to the real public data in ../shared/data, tiny frames, Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.report import ARGS, CHROMIUM  # one launch setup for the report tests and its benchmark

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the fixture cases' expected outputs instead of comparing with them",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real public data (see its SOURCES.md)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: CI clones main with ../shared beside it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def etl_resources(shared_data: Path) -> Path:
    """ethereum-etl's own test resources: real mainnet RPC responses and expected outputs."""
    return shared_data / "txdata" / "ethereum-etl" / "tests" / "resources"


@pytest.fixture(scope="session")
def btc_resources(shared_data: Path) -> Path:
    """bitcoin-etl's own test resources: real bitcoind responses and expected outputs."""
    return shared_data / "txdata" / "bitcoin-etl" / "tests" / "resources"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's, ``make chromium``), one per test module."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield launched
        launched.close()
