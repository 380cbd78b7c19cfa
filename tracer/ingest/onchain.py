"""Check traced flows against a node: each transaction exists, with the same parties and amount.

``tracer verify`` calls :func:`check_flows` for a case with an RPC source. A flow row names a
transaction and one value movement inside it (``kind`` and ``idx``, as in ``transfers``); the
check asks the node for that transaction, its receipt and (for internal transfers) its call
trace, and reports every flow whose movement the chain does not show:

* ``native``: the transaction's ``from``, ``to`` and ``value``, and a successful receipt;
* ``token``: the receipt's log at ``logIndex == idx`` is a ``Transfer`` of ``asset`` with
  the same sender, receiver and amount (ERC-20 data, or ERC-721 token id in the fourth topic);
* ``internal``: a call frame that did not revert (nor any frame above it) with the same
  sender, receiver and value (``trace_transaction``, else ``debug_traceTransaction``).

Flows of other chains or with synthetic hashes (rows built from exports without one) are not
checkable and are skipped, never counted as confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from tracer.errors import RpcError
from tracer.ingest._jsonrpc import RpcClient
from tracer.ingest.rpc import flatten_call_trace, map_parity_traces, open_client

__all__ = ["check_flows", "flow_mismatches"]

_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def check_flows(rpc_url: str, flows: pl.DataFrame) -> list[str]:
    """One message per flow of ``flows`` (``flows.csv`` as strings) the node does not confirm."""
    with open_client(rpc_url) as client:
        return flow_mismatches(client, flows)


def flow_mismatches(client: RpcClient, flows: pl.DataFrame) -> list[str]:
    """:func:`check_flows` over an open client."""
    rows = [
        row
        for row in flows.unique(["transaction_hash", "kind", "idx"], maintain_order=True).iter_rows(
            named=True
        )
        if str(row["transaction_hash"]).startswith("0x")
        and len(str(row["transaction_hash"])) == 66
        and row["kind"] in ("native", "token", "internal")
    ]
    hashes = sorted({row["transaction_hash"] for row in rows})
    calls: list[tuple[str, Sequence[Any]]] = []
    for tx_hash in hashes:
        calls += [("eth_getTransactionByHash", [tx_hash]), ("eth_getTransactionReceipt", [tx_hash])]
    answers = client.batch(calls)
    found = {h: (answers[2 * i], answers[2 * i + 1]) for i, h in enumerate(hashes)}
    internal = sorted({r["transaction_hash"] for r in rows if r["kind"] == "internal"})
    frames = _call_frames(client, internal, found)

    problems = []
    for row in rows:
        tx, receipt = found[row["transaction_hash"]]
        where = f"flow {row['transaction_hash']} {row['kind']} #{row['idx']}"
        if tx is None or receipt is None:
            problems.append(f"{where}: the node has no such transaction")
            continue
        if int(str(receipt.get("status", "0x1")), 16) != 1:
            problems.append(f"{where}: the transaction failed on chain, so it moved nothing")
            continue
        wanted = (row["from_address"], row["to_address"], int(row["value"]))
        seen = _movements(row, tx, receipt, frames.get(row["transaction_hash"], []))
        if wanted not in seen:
            shown = ", ".join(f"{a} -> {b}: {v}" for a, b, v in sorted(seen)) or "nothing"
            problems.append(
                f"{where}: the chain shows {shown}, not {wanted[0]} -> {wanted[1]}: {wanted[2]}"
            )
    return problems


def _movements(
    row: Mapping[str, Any],
    tx: Mapping[str, Any],
    receipt: Mapping[str, Any],
    frames: list[dict[str, Any]],
) -> set[tuple[str, str, int]]:
    """What the chain says moved for the flow's kind (and log index, for tokens)."""
    kind = row["kind"]
    if kind == "native":  # a contract creation pays the contract the receipt names
        to = tx.get("to") or receipt.get("contractAddress")
        return {(_lower(tx.get("from")), _lower(to), int(str(tx.get("value")), 16))}
    if kind == "token":
        moved = set()
        for log in receipt.get("logs") or []:
            topics = [str(t).lower() for t in log.get("topics") or []]
            if int(str(log.get("logIndex")), 16) != int(row["idx"]):
                continue
            if _lower(log.get("address")) != row["asset"] or len(topics) < 3:
                continue
            if topics[0] != _TRANSFER:
                continue
            data = str(log.get("data") or "0x")
            # ERC-721 (4 topics): one token moves; topic 3 is its id, not an amount.
            amount = 1 if len(topics) == 4 else int(data, 16) if data != "0x" else 0
            moved.add(("0x" + topics[1][-40:], "0x" + topics[2][-40:], amount))
        return moved
    return {
        (f["from_address"], f["to_address"], int(f["value"]))
        for f in _live_frames(frames)
        if int(f["value"]) > 0
    }


def _call_frames(
    client: RpcClient, hashes: list[str], found: Mapping[str, tuple[Any, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Parity-style trace rows of each transaction: ``trace_transaction``, else callTracer."""
    if not hashes:
        return {}
    try:
        results = client.batch([("trace_transaction", [h]) for h in hashes])
        return {h: map_parity_traces(r or []) for h, r in zip(hashes, results, strict=True)}
    except RpcError:
        pass
    results = client.batch(
        [("debug_traceTransaction", [h, {"tracer": "callTracer"}]) for h in hashes]
    )
    frames = {}
    for h, top in zip(hashes, results, strict=True):
        tx = found[h][0] or {}
        block = int(str(tx.get("blockNumber") or "0x0"), 16)
        frames[h] = flatten_call_trace(top or {}, transaction_hash=h, block_number=block)
    return frames


def _live_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Frames neither reverted themselves nor below a reverted frame."""
    failed = [tuple(f["trace_address"]) for f in frames if f["error"]]
    return [f for f in frames if not any(tuple(f["trace_address"])[: len(p)] == p for p in failed)]


def _lower(value: Any) -> str:
    return str(value).lower() if value is not None else ""
