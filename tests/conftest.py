"""Shared test fixtures: paths to the real public data in ../shared/data, tiny frames."""

from __future__ import annotations

from pathlib import Path

import pytest

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
