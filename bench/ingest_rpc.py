"""Benchmark: `tracer ingest rpc` against ethereum-etl on the same local anvil chain.

Builds a chain on a fresh anvil (default 2,000 blocks x 10 transactions: native transfers,
ERC-20 transfers, and value forwarded by a contract, i.e. internal transfers), then ingests the
same range with tracer and with ethereum-etl (the peer, in its own venv under .tools/: blocks
and transactions, receipts and logs, token transfers, traces) and prints blocks/s for both and
the ratio. Also measures where tracer's time goes: the raw fetch rate, and web3.py's
``make_batch_request`` transport against the standard-library one (web3.py's per-request layer
is known to cost far more than the node: ethereum/web3.py#2176).

Run: ``python -m bench.ingest_rpc [--blocks N] [--txs-per-block K] [--skip-peer]``
(``make bench`` runs it at full size).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
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


def measure_fetch(url: str, lo: int, hi: int, *, transport: str) -> float:
    """Calls/s of the raw fetch (no mapping, no writing) over ``lo..hi``."""
    from tracer.ingest.rpc import Web3Transport

    chosen = HttpTransport(url) if transport == "raw" else Web3Transport(url)
    caps = Capabilities(chain_id=31337, receipts="eth_getBlockReceipts", traces="trace_block")
    with RpcClient(url, transport=chosen, batch_size=100, workers=4) as client:
        start = time.perf_counter()
        for s in range(lo, hi + 1, 100):
            fetch_blocks(client, range(s, min(s + 99, hi) + 1), caps)
        seconds = time.perf_counter() - start
        return client.calls / seconds


def run_tracer(url: str, lo: int, hi: int, data: Path, *, transport: str = "raw") -> float:
    start = time.perf_counter()
    report = ingest_rpc(
        Store(data),
        url,
        from_block=lo,
        to_block=hi,
        chunk_size=200,
        transport=transport,  # type: ignore[arg-type]
        progress=False,
    )
    seconds = time.perf_counter() - start
    print(
        f"tracer ({transport}): {report.fetched_blocks} blocks in {seconds:.2f} s, "
        f"{report.calls} calls, added {report.added}"
    )
    return seconds


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


def run_peer(url: str, lo: int, hi: int, out: Path) -> float:
    """ethereum-etl: blocks+transactions, receipts+logs, token transfers, traces."""
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
    start = time.perf_counter()
    for step in steps:
        done = subprocess.run(step, capture_output=True, env=env, check=False)
        if done.returncode != 0:
            msg = f"ethereum-etl {step[1]} failed: {done.stderr.decode()[-800:]}"
            raise RuntimeError(msg)
    seconds = time.perf_counter() - start
    lines = sum(1 for _ in (out / "txs.csv").open()) - 1
    print(f"ethereum-etl {PEER_VERSION}: {hi - lo + 1} blocks in {seconds:.2f} s ({lines} txs)")
    return seconds


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
            raw = measure_fetch(node.url, lo, min(hi, lo + 299), transport="raw")
            web3 = measure_fetch(node.url, lo, min(hi, lo + 299), transport="web3")
            print(
                f"fetch only, 300 blocks: raw batches {raw:,.0f} calls/s, web3 {web3:,.0f} calls/s"
            )
            ours = run_tracer(node.url, lo, hi, work / "tracer")
            print(f"tracer: {blocks / ours:,.1f} blocks/s")
            if not args.skip_peer:
                theirs = run_peer(node.url, lo, hi, work / "etl")
                print(f"ethereum-etl: {blocks / theirs:,.1f} blocks/s")
                print(f"ratio tracer / ethereum-etl: {theirs / ours:.2f}x (target >= 3x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
