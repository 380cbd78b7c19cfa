"""tracer.devnode: anvil on a free loopback port, stopped with its whole process group."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tracer.devnode import anvil_binary, start_anvil
from tracer.errors import NodeUnavailable

pytestmark = pytest.mark.anvil


def test_start_and_stop() -> None:
    node = start_anvil()
    try:
        assert node.url.startswith("http://127.0.0.1:")
        assert node.rpc("eth_chainId") == "0x7a69"
        assert os.getpgid(node.process.pid) == node.process.pid  # its own process group
        # the npm launcher (node) and the anvil binary it starts
        assert len(node.group_alive()) >= 1
    finally:
        node.stop()
    assert not node.alive()
    assert node.group_alive() == []  # the binary too, not only the launcher
    with socket.socket() as sock:  # nothing listens on the port any more
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", node.port))


def test_missing_binary_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACER_ANVIL", str(tmp_path / "no-anvil"))
    with pytest.raises(NodeUnavailable, match="make anvil"):
        anvil_binary()
