"""A local anvil node on a free loopback port, for tests, benchmarks and fixture generators.

The binary comes from ``TRACER_ANVIL`` or the pinned npm install that ``make`` puts at
``.tools/node_modules/.bin/anvil`` (``@foundry-rs/anvil``). anvil runs in its own process
group, so :meth:`DevNode.stop` ends it and anything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tracer.errors import NodeUnavailable

__all__ = ["DEFAULT_ANVIL", "DevNode", "anvil_binary", "free_port", "start_anvil"]

DEFAULT_ANVIL = Path(__file__).resolve().parent.parent / ".tools/node_modules/.bin/anvil"
_FALLBACK = Path("/work/main/.tools/node_modules/.bin/anvil")


def anvil_binary() -> Path:
    """The anvil executable: ``$TRACER_ANVIL``, else the pinned install beside the checkout."""
    env = os.environ.get("TRACER_ANVIL")
    candidates = [Path(env)] if env else [DEFAULT_ANVIL, _FALLBACK]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    msg = (
        f"anvil not found (looked at {', '.join(str(c) for c in candidates)}): run `make anvil` "
        "or set TRACER_ANVIL to the binary"
    )
    raise NodeUnavailable(msg)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevNode:
    """A running anvil process; use as a context manager or call :meth:`stop`.

    Attributes
    ----------
    url
        ``http://127.0.0.1:<port>``.
    port
        The loopback port it listens on.
    process
        The anvil process (leader of its own process group).
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call with the standard library (for setup code, not for ingestion)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            msg = f"{method} failed on the dev node: {answer['error']}"
            raise NodeUnavailable(msg)
        return answer["result"]

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def group_alive(self) -> list[int]:
        """Pids of the node's process group still running (zombies excluded; Linux /proc)."""
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, pgid = fields[0], int(fields[2])
            if pgid == self.process.pid and state not in ("Z", "X"):
                alive.append(int(stat.parent.name))
        return sorted(alive)

    def stop(self, *, timeout: float = 10.0) -> None:
        """End the node's whole process group: SIGTERM, then SIGKILL after ``timeout``.

        The npm package's ``anvil`` is a Node.js launcher with the real binary as its child,
        so the group is signalled, and waited for, as a whole.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.process.poll()
            if self.process.returncode is not None and not self.group_alive():
                return
            time.sleep(0.02)
        self.kill()

    def kill(self) -> None:
        """End the node at once (SIGKILL to its process group), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self) -> DevNode:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_anvil(
    *,
    args: Sequence[str] = (),
    binary: str | Path | None = None,
    timeout: float = 30.0,
    attempts: int = 3,
) -> DevNode:
    """Start anvil on a free loopback port and wait until it answers ``eth_chainId``.

    Parameters
    ----------
    args
        Extra anvil arguments (``--block-time``, ``--accounts``, ``--balance``...).
    binary
        The anvil executable; :func:`anvil_binary` when not given.
    timeout
        Seconds to wait for the node to answer.
    attempts
        Tries with a new port if another process takes the chosen one first.
    """
    exe = Path(binary) if binary is not None else anvil_binary()
    last = ""
    for _ in range(attempts):
        port = free_port()
        process = subprocess.Popen(
            [str(exe), "--host", "127.0.0.1", "--port", str(port), "--silent", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        node = DevNode(process, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last = (process.stderr.read() if process.stderr else b"").decode(errors="replace")
                break
            try:
                node.rpc("eth_chainId")
            except (OSError, urllib.error.URLError, NodeUnavailable):
                time.sleep(0.05)
                continue
            if process.stderr is not None:
                process.stderr.close()
            return node
        else:
            node.stop()
            last = f"no answer within {timeout:g} s"
    msg = f"anvil did not start: {last.strip()[-300:]}"
    raise NodeUnavailable(msg)
