"""Benchmark: `tracer ingest rpc` against ethereum-etl on the same local anvil chain.

Builds a chain on a fresh anvil (default 2,000 blocks x 10 transactions: native transfers,
ERC-20 transfers, and value forwarded by a contract, i.e. internal transfers), then ingests the
same range with tracer and with ethereum-etl (the peer, in its own venv under .tools/: blocks
and transactions, receipts and logs, token transfers, traces) and prints blocks/s for both and
the ratio.

It also prints what bounds the ratio. For each tool: its wall time, the CPU seconds it spent
itself (the client) and the CPU seconds the node spent answering it (read from /proc for the
anvil process group). And the node's floor: tracer's exact calls (``eth_getBlockByNumber(n,
true)``, ``eth_getBlockReceipts``, ``trace_block``, the same batches and workers) posted by a
bare client that reads the answers and does nothing with them, per method. On a machine whose
cores are busy with other work, wall time tends to the CPU a tool needs in all (client plus
node), so the CPU ratio is the one to compare there. web3.py's ``make_batch_request``
transport is measured against the standard-library one too (web3.py's per-request layer is
known to cost far more than the node: ethereum/web3.py#2176).

Run: ``python -m bench.ingest_rpc [--blocks N] [--txs-per-block K] [--skip-peer]``
(``make bench`` runs it at full size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from tracer.devnode import DevNode, start_anvil
from tracer.ingest._jsonrpc import Call, HttpTransport, RpcClient
from tracer.ingest.rpc import Capabilities, fetch_blocks, ingest_rpc
from tracer.store import Store

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = json.loads(
    (ROOT / "tests/tracer/ingest_rpc/contracts/bytecode.json").read_text()
)  # built from tests/tracer/ingest_rpc/contracts/TestContracts.sol
PEER_VENV = ROOT / ".tools" / "ethereum-etl-venv"
PEER_VERSION = "2.4.2"
ACCOUNTS = 20
CHUNK = 500  # blocks per commit: 5,000 transactions here, fewer than 100 mainnet blocks hold
BATCH = 25  # calls per JSON-RPC batch (tracer's default)
WORKERS = 4  # batches in flight (tracer's default)


def _call(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + keccak(text=signature)[:4].hex() + encode(types, args).hex()


def _wait_receipt(node: DevNode, tx_hash: str) -> dict[str, Any]:
    for _ in range(1000):
        receipt = node.rpc("eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            return dict(receipt)
        time.sleep(0.01)
    msg = f"no receipt for {tx_hash}"
    raise RuntimeError(msg)


def build_chain(node: DevNode, *, blocks: int, per_block: int) -> int:
    """Mine ``blocks`` blocks of ``per_block`` transactions; return the last block number."""
    accounts = node.rpc("eth_accounts")[:ACCOUNTS]
    owner = accounts[0]
    token_code = (
        CONTRACTS["Token"]["bytecode"]
        + encode(["string", "string", "uint8", "uint256"], ["Bench", "BNCH", 18, 10**30]).hex()
    )
    token = _wait_receipt(
        node, node.rpc("eth_sendTransaction", {"from": owner, "data": token_code})
    )["contractAddress"]
    forwarder = _wait_receipt(
        node,
        node.rpc(
            "eth_sendTransaction", {"from": owner, "data": CONTRACTS["Forwarder"]["bytecode"]}
        ),
    )["contractAddress"]
    for account in accounts[1:]:
        data = _call("transfer(address,uint256)", ["address", "uint256"], [account, 10**24])
        _wait_receipt(
            node, node.rpc("eth_sendTransaction", {"from": owner, "to": token, "data": data})
        )
    node.rpc("evm_setAutomine", False)
    transport = HttpTransport(node.url)
    sent = 0
    try:
        for b in range(blocks):
            calls: list[Call] = []
            for i in range(per_block):
                sender = accounts[(b * per_block + i) % ACCOUNTS]
                to = accounts[(b * per_block + i + 7) % ACCOUNTS]
                kind = i % 5
                if kind in (0, 1, 2):  # native
                    tx = {"from": sender, "to": to, "value": hex(10**15 + b), "gas": hex(21000)}
                elif kind == 3:  # ERC-20
                    data = _call(
                        "transfer(address,uint256)", ["address", "uint256"], [to, 10**18 + b]
                    )
                    tx = {"from": sender, "to": token, "data": data, "gas": hex(80_000)}
                else:  # internal: the forwarder splits the value between two accounts
                    other = accounts[(b + i + 3) % ACCOUNTS]
                    data = _call("split(address,address)", ["address", "address"], [to, other])
                    tx = {
                        "from": sender,
                        "to": forwarder,
                        "value": hex(10**15 + i),
                        "data": data,
                        "gas": hex(120_000),
                    }
                calls.append(("eth_sendTransaction", [tx]))
            answers = transport.send(calls)
            errors = [a["error"] for a in answers if "error" in a]
            if errors:
                msg = f"block {b}: {errors[0]}"
                raise RuntimeError(msg)
            transport.send([("evm_mine", [])])
            sent += per_block
            if b % 200 == 0:
                print(f"  built {b}/{blocks} blocks", file=sys.stderr)
    finally:
        transport.close()
    head = int(node.rpc("eth_blockNumber"), 16)
    print(f"chain: {head} blocks, {sent} bench transactions (+ setup)")
    return head


@dataclass
class Cost:
    """What one run cost: wall seconds, the client's CPU seconds, the node's CPU seconds."""

    wall: float
    client: float
    node: float

    @property
    def cpu(self) -> float:
        """Client and node CPU together."""
        return self.client + self.node


class Meter:
    """Wall clock, this process's (or its children's) CPU, and the node's CPU, between marks."""

    def __init__(self, node: DevNode, *, children: bool = False) -> None:
        self._node = node
        self._who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        usage = resource.getrusage(self._who)
        return time.perf_counter(), usage.ru_utime + usage.ru_stime, node_cpu(self._node)

    def cost(self) -> Cost:
        """The cost since this meter was made."""
        end = self._read()
        return Cost(*(b - a for a, b in zip(self._start, end, strict=True)))


def node_cpu(node: DevNode) -> float:
    """CPU seconds used so far by the node's process group (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in node.group_alive():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def fetch_calls(lo: int, hi: int) -> dict[str, list[Call]]:
    """tracer's calls for blocks ``lo..hi`` on anvil, by method."""
    numbers = range(lo, hi + 1)
    return {
        "eth_getBlockByNumber": [("eth_getBlockByNumber", [hex(n), True]) for n in numbers],
        "eth_getBlockReceipts": [("eth_getBlockReceipts", [hex(n)]) for n in numbers],
        "trace_block": [("trace_block", [hex(n)]) for n in numbers],
    }


def bare_post(url: str, calls: list[Call], *, batch_size: int, workers: int) -> int:
    """Post ``calls`` as tracer does (batches, workers) and only read the answers; bytes read."""
    transport = HttpTransport(url)
    bodies = [
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}
                for i, (method, params) in enumerate(calls[start : start + batch_size])
            ]
        ).encode()
        for start in range(0, len(calls), batch_size)
    ]
    try:
        with ThreadPoolExecutor(workers) as pool:
            return sum(len(answer[2]) for answer in pool.map(transport.post, bodies))
    finally:
        transport.close()


def measure_floor(node: DevNode, lo: int, hi: int, *, batch_size: int, workers: int) -> Cost:
    """The node's floor: what answering tracer's calls costs it, with a client that does nothing.

    Prints the cost per method; returns the cost of all of them, posted as tracer posts them.
    """
    calls = fetch_calls(lo, hi)
    for method, some in calls.items():
        meter = Meter(node)
        size = bare_post(node.url, some, batch_size=batch_size, workers=workers)
        cost = meter.cost()
        print(
            f"  node alone, {method}: {cost.wall:.2f} s wall ({len(some) / cost.wall:,.0f} "
            f"blocks/s), node CPU {cost.node:.2f} s, {size / 1e6:.0f} MB"
        )
    meter = Meter(node)
    bare_post(
        node.url,
        [c for some in calls.values() for c in some],
        batch_size=batch_size,
        workers=workers,
    )
    return meter.cost()


def measure_fetch(url: str, lo: int, hi: int, *, transport: str) -> float:
    """Calls/s of the raw fetch (no mapping, no writing) over ``lo..hi``."""
    from tracer.ingest.rpc import Web3Transport

    chosen = HttpTransport(url) if transport == "raw" else Web3Transport(url)
    caps = Capabilities(chain_id=31337, receipts="eth_getBlockReceipts", traces="trace_block")
    with RpcClient(url, transport=chosen, batch_size=25, workers=WORKERS) as client:
        start = time.perf_counter()
        for s in range(lo, hi + 1, 100):
            fetch_blocks(client, range(s, min(s + 99, hi) + 1), caps)
        seconds = time.perf_counter() - start
        return client.calls / seconds


def run_tracer(node: DevNode, lo: int, hi: int, data: Path) -> Cost:
    """tracer's ingest of ``lo..hi`` (all tables), timed and metered."""
    meter = Meter(node)
    report = ingest_rpc(
        Store(data),
        node.url,
        from_block=lo,
        to_block=hi,
        chunk_size=CHUNK,
        batch_size=BATCH,
        workers=WORKERS,
        progress=False,
    )
    cost = meter.cost()
    print(
        f"tracer: {report.fetched_blocks} blocks in {cost.wall:.2f} s, "
        f"{report.calls} calls in {report.requests} requests, added {report.added}"
    )
    return cost


def ensure_peer() -> Path:
    exe = PEER_VENV / "bin" / "ethereumetl"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(PEER_VENV / "bin" / "pip"), "install", "--quiet", f"ethereum-etl=={PEER_VERSION}"],
            check=True,
        )
        # ethereum-etl 2.4.2 pins eth-abi 2.2, whose parsimonious 0.8 imports
        # inspect.getargspec (gone in Python 3.11); 0.10 has the same API without it.
        subprocess.run(
            [str(PEER_VENV / "bin" / "pip"), "install", "--quiet", "parsimonious==0.10.0"],
            check=True,
        )
    return exe


def run_peer(node: DevNode, lo: int, hi: int, out: Path) -> Cost:
    """ethereum-etl: blocks+transactions, receipts+logs, token transfers, traces."""
    url = node.url
    exe = str(ensure_peer())
    out.mkdir(parents=True, exist_ok=True)
    common = ["--provider-uri", url, "--max-workers", "4"]
    span = ["--start-block", str(lo), "--end-block", str(hi)]
    steps = [
        [
            exe,
            "export_blocks_and_transactions",
            *span,
            *common,
            "--batch-size",
            "100",
            "--blocks-output",
            str(out / "blocks.csv"),
            "--transactions-output",
            str(out / "txs.csv"),
        ],
        [
            exe,
            "extract_csv_column",
            "--input",
            str(out / "txs.csv"),
            "--column",
            "hash",
            "--output",
            str(out / "hashes.txt"),
        ],
        [
            exe,
            "export_receipts_and_logs",
            "--transaction-hashes",
            str(out / "hashes.txt"),
            *common,
            "--batch-size",
            "100",
            "--receipts-output",
            str(out / "receipts.csv"),
            "--logs-output",
            str(out / "logs.json"),
        ],
        [
            exe,
            "extract_token_transfers",
            "--logs",
            str(out / "logs.json"),
            "--output",
            str(out / "token_transfers.csv"),
        ],
        [
            exe,
            "export_traces",
            *span,
            *common,
            "--batch-size",
            "10",
            "--output",
            str(out / "traces.csv"),
        ],
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    meter = Meter(node, children=True)
    steps_seconds = []
    for step in steps:
        started = time.perf_counter()
        done = subprocess.run(step, capture_output=True, env=env, check=False)
        if done.returncode != 0:
            msg = f"ethereum-etl {step[1]} failed: {done.stderr.decode()[-800:]}"
            raise RuntimeError(msg)
        steps_seconds.append(f"{step[1]} {time.perf_counter() - started:.1f} s")
    cost = meter.cost()
    lines = sum(1 for _ in (out / "txs.csv").open()) - 1
    print(f"ethereum-etl {PEER_VERSION}: {hi - lo + 1} blocks in {cost.wall:.2f} s ({lines} txs)")
    print(f"  steps: {', '.join(steps_seconds)}")
    return cost


def line(name: str, blocks: int, cost: Cost) -> str:
    """One row of the summary table."""
    return (
        f"  {name:<30} {blocks / cost.wall:>8,.1f} {cost.wall:>8.2f} {cost.client:>8.2f} "
        f"{cost.node:>8.2f} {cost.cpu:>8.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--txs-per-block", type=int, default=10)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tracer-bench-"))
    try:
        with start_anvil(args=["--accounts", str(ACCOUNTS), "--balance", "10000000"]) as node:
            t0 = time.perf_counter()
            head = build_chain(node, blocks=args.blocks, per_block=args.txs_per_block)
            print(f"built in {time.perf_counter() - t0:.1f} s")
            lo, hi = 1, head
            blocks = hi - lo + 1
            sample = min(hi, lo + 299)
            raw = measure_fetch(node.url, lo, sample, transport="raw")
            web3 = measure_fetch(node.url, lo, sample, transport="web3")
            print(
                f"fetch only, {sample - lo + 1} blocks: raw batches {raw:,.0f} calls/s, "
                f"web3 {web3:,.0f} calls/s"
            )
            floor = measure_floor(node, lo, hi, batch_size=BATCH, workers=WORKERS)
            ours = run_tracer(node, lo, hi, work / "tracer")
            theirs = run_peer(node, lo, hi, work / "etl") if not args.skip_peer else None
            print(f"\n{blocks} blocks, {os.cpu_count()} cores; seconds (CPU: client, node, both)")
            print(f"  {'':<30} {'blocks/s':>8} {'wall':>8} {'client':>8} {'node':>8} {'CPU':>8}")
            print(line("node alone, tracer's calls", blocks, floor))
            print(line("tracer", blocks, ours))
            if theirs is not None:
                print(line(f"ethereum-etl {PEER_VERSION}", blocks, theirs))
                print(
                    f"ratio tracer / ethereum-etl: {theirs.wall / ours.wall:.2f}x wall "
                    f"(target >= 3x), {theirs.cpu / ours.cpu:.2f}x CPU"
                )
                print(
                    f"bound: with a client that cost nothing, tracer would take the node's "
                    f"{floor.wall:.2f} s ({floor.node:.2f} s of node CPU): at most "
                    f"{theirs.wall / floor.wall:.1f}x wall, {theirs.cpu / floor.node:.1f}x CPU"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
