"""Fixtures of the RPC ingest tests: anvil on a free loopback port, the scripted chain, and
fault servers (the helpers are in rpc_chain.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.tracer.ingest_rpc.rpc_chain import Behaviour, Chain, FaultServer, build_scenario
from tracer.devnode import DevNode, start_anvil


@pytest.fixture(scope="session")
def scenario() -> Iterator[Chain]:
    """anvil with the scripted chain built (shared by the tests that only read it)."""
    with start_anvil() as node:
        chain = Chain(node)
        build_scenario(chain)
        yield chain


@pytest.fixture
def fresh_node() -> Iterator[DevNode]:
    """An anvil of the test's own (for tests that kill it or change it)."""
    with start_anvil() as node:
        yield node


@pytest.fixture
def make_server() -> Iterator[Callable[[str | None, Behaviour], FaultServer]]:
    servers: list[FaultServer] = []

    def make(upstream: str | None, behaviour: Behaviour) -> FaultServer:
        server = FaultServer(upstream, behaviour)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
