"""Helpers of the RPC ingest tests: a scripted chain on anvil, and a fault server.

The chain (``scenario``) holds one of each thing the ingest must get right: a native transfer,
value forwarded by a contract (internal transfers), a call that carries value to a contract
that reverts (caught: the transaction succeeds, the sub-call moves nothing), a transaction
that fails outright, ERC-20 transfers and approvals, a token whose metadata is hostile text, a
token with no metadata at all, ERC-721 and ERC-1155 events. The contracts are in
contracts/TestContracts.sol, compiled once into contracts/bytecode.json (see build.sh there).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from tracer.devnode import DevNode

CONTRACTS = json.loads((Path(__file__).parent / "contracts" / "bytecode.json").read_text())
ETHER = 10**18
HOSTILE_NAME = "<script>alert('x')</script>\x00\n"
HOSTILE_SYMBOL = "EVIL\u202e\u200bTKN"


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return selector(signature) + encode(types, args).hex()


@dataclass
class Chain:
    """Sends transactions to a dev node from its unlocked accounts and remembers their hashes."""

    node: DevNode
    accounts: list[str] = field(default_factory=list)
    txs: dict[str, str] = field(default_factory=dict)
    contracts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.accounts = [a.lower() for a in self.node.rpc("eth_accounts")]

    def send(self, name: str, sender: str, **tx: Any) -> dict[str, Any]:
        """Send a transaction, mine it (anvil automines), return its receipt."""
        payload = {"from": sender, **{k: v for k, v in tx.items() if v is not None}}
        tx_hash = self.node.rpc("eth_sendTransaction", payload)
        self.txs[name] = tx_hash
        deadline = time.monotonic() + 10
        while True:  # anvil automines, but the receipt can lag a moment under load
            receipt: dict[str, Any] | None = self.node.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert receipt is not None, f"{name}: no receipt"
        return receipt

    def deploy(self, name: str, contract: str, types: list[str], args: list[Any]) -> str:
        code = CONTRACTS[contract]["bytecode"] + encode(types, args).hex()
        receipt = self.send(f"deploy_{name}", self.accounts[0], data=code, gas=hex(3_000_000))
        address = str(receipt["contractAddress"]).lower()
        self.contracts[name] = address
        return address


def build_scenario(chain: Chain) -> None:
    """The scripted chain: one transaction per block (anvil automines)."""
    a, b, c, d = chain.accounts[:4]
    chain.send("native", a, to=b, value=hex(ETHER))
    fwd = chain.deploy("forwarder", "Forwarder", [], [])
    rev = chain.deploy("reverter", "Reverter", [], [])
    tok = chain.deploy(
        "token", "Token", ["string", "string", "uint8", "uint256"], ["Test Token", "TST", 6, 10**12]
    )
    evil = chain.deploy(
        "evil",
        "Token",
        ["string", "string", "uint8", "uint256"],
        [HOSTILE_NAME, HOSTILE_SYMBOL, 77, 10**30],
    )
    bare = chain.deploy("bare", "Bare", [], [])
    nft = chain.deploy("nft", "Nft", [], [])
    chain.send(
        "forward",
        a,
        to=fwd,
        value=hex(2 * ETHER),
        data=calldata("forward(address)", ["address"], [c]),
    )
    chain.send(
        "split",
        a,
        to=fwd,
        value=hex(5),
        data=calldata("split(address,address)", ["address", "address"], [c, d]),
    )
    chain.send(
        "try_reverted",
        a,
        to=fwd,
        value=hex(7 * ETHER),
        data=calldata("tryForward(address)", ["address"], [rev]),
    )
    chain.send(
        "failed",
        a,
        to=fwd,
        value=hex(ETHER),
        gas=hex(200_000),
        data=calldata("forward(address)", ["address"], [rev]),
    )
    chain.send(
        "erc20_transfer",
        a,
        to=tok,
        data=calldata("transfer(address,uint256)", ["address", "uint256"], [b, 1234]),
    )
    chain.send(
        "approve",
        a,
        to=tok,
        data=calldata("approve(address,uint256)", ["address", "uint256"], [c, 2**256 - 1]),
    )
    chain.send(
        "transfer_from",
        c,
        to=tok,
        data=calldata(
            "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [a, d, 100]
        ),
    )
    chain.send(
        "evil_transfer",
        a,
        to=evil,
        data=calldata("transfer(address,uint256)", ["address", "uint256"], [b, 5]),
    )
    chain.send(
        "bare_transfer",
        a,
        to=bare,
        data=calldata("emitTransfer(address,uint256)", ["address", "uint256"], [b, 9]),
    )
    chain.send(
        "erc1155",
        a,
        to=bare,
        data=calldata(
            "emitSingle(address,uint256,uint256)", ["address", "uint256", "uint256"], [b, 42, 3]
        ),
    )
    chain.send(
        "erc721",
        a,
        to=nft,
        data=calldata("mint(address,uint256)", ["address", "uint256"], [b, 7]),
    )


# --- a fault server on loopback --------------------------------------------------------------

Behaviour = Callable[[bytes, str], tuple[int, dict[str, str], bytes] | None]


class FaultServer:
    """An HTTP server on 127.0.0.1 that misbehaves as told, else forwards to ``upstream``.

    ``behaviour(body, path)`` returns ``(status, headers, body)`` to answer itself, or None to
    forward the request to the upstream node. Every request's path is recorded.
    """

    def __init__(self, upstream: str | None, behaviour: Behaviour) -> None:
        self.upstream = upstream
        self.behaviour = behaviour
        self.paths: list[str] = []
        self.bodies: list[bytes] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.paths.append(self.path)
                server.bodies.append(body)
                answer = server.behaviour(body, self.path)
                if answer is None:
                    answer = server.forward(body)
                status, headers, data = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        import urllib.request

        assert self.upstream is not None
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return 200, {"Content-Type": "application/json"}, response.read()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
