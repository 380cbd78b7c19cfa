"""``tracer ingest rpc``: a block range from an Ethereum node into the case tables, resumably.

For each block the node gives (JSON-RPC, see ``docs/rpc.md``):

* ``eth_getBlockByNumber(n, true)``: the block and its transactions;
* ``eth_getBlockReceipts(n)`` where the node has it, else ``eth_getTransactionReceipt`` per
  transaction: status, gas used, created contract, logs;
* ``trace_block(n)`` (Parity-style traces: Erigon, Reth, Nethermind, anvil) or else
  ``debug_traceBlockByNumber(n, {"tracer": "callTracer"})`` (Geth), whose nested call frames
  :func:`flatten_call_trace` turns into the same Parity-style rows;
* ``eth_call`` of ``symbol()``, ``name()``, ``decimals()`` once per new token (cached in the
  ``tokens`` table; a token whose metadata is missing, reverts or is garbage gets nulls).

The raw dicts are mapped (pure functions, ethereum-etl style) into the intermediate frames of
:mod:`tracer.ingest.evm`, whose rules decide what moved: native and internal transfers (a
failed transaction or a reverted call moves nothing), token transfers (ERC-20/721/1155),
ERC-20 approvals and created contracts.

Resume and safety: the range is cut into chunks of ``chunk_size`` blocks. Each chunk's rows of
every table and one ``ingest_log`` row (``source_kind = "rpc"``, the chunk's block range) are
written in ONE :meth:`tracer.store.Store.commit`, so an ingest killed at any moment leaves
whole chunks or nothing, and a re-run fetches only the blocks no ``ingest_log`` row covers.
Only blocks at least ``confirmations`` behind the head are taken, so a reorg cannot leave rows
of orphaned blocks behind.

Calls travel as raw JSON-RPC batches (:mod:`tracer.ingest._jsonrpc`), several batches at once;
:class:`Web3Transport` sends them through web3.py's provider instead, for comparison.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from tracer.errors import InputError, RpcError
from tracer.ingest import evm
from tracer.ingest._jsonrpc import (
    Call,
    HttpTransport,
    RpcClient,
    Transport,
    TransportFault,
    is_unsupported,
)
from tracer.ingest._progress import Progress
from tracer.ingest._rpc_frames import REFUSALS, fast_frames, list_column, parity_endpoints
from tracer.redact import redact_url, scrub, scrub_logs
from tracer.schema import TABLES, conform
from tracer.store import Store

__all__ = [
    "DEV_CHAIN_IDS",
    "MAINNET_CONFIRMATIONS",
    "Capabilities",
    "IngestReport",
    "RawBlock",
    "ReplayTransport",
    "TokenCache",
    "Web3Transport",
    "covered_ranges",
    "detect_capabilities",
    "fetch_blocks",
    "flatten_call_trace",
    "ingest_rpc",
    "map_block",
    "map_logs",
    "map_parity_traces",
    "map_transactions",
    "missing_ranges",
    "open_client",
    "tables_for_blocks",
]

MAINNET_CONFIRMATIONS = 64
"""Default confirmations: two epochs, the depth after which a post-merge block is finalized."""

DEV_CHAIN_IDS = frozenset({31337, 1337})
"""anvil and Hardhat (31337) and Ganache/Geth --dev (1337): no reorgs, 0 confirmations."""

SOURCE_KIND = "rpc"

TraceMethod = Literal["trace_block", "debug_traceBlockByNumber"]
ReceiptMethod = Literal["eth_getBlockReceipts", "eth_getTransactionReceipt"]

_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_HEX = re.compile(r"^0x[0-9a-fA-F]*$")
_SYMBOL = "0x95d89b41"
_NAME = "0x06fdde03"
_DECIMALS = "0x313ce567"
_IS_ERC721 = "0x01ffc9a7" + "80ac58cd" + "0" * 56  # supportsInterface(ERC-721)
_IS_ERC1155 = "0x01ffc9a7" + "d9b67a26" + "0" * 56  # supportsInterface(ERC-1155)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_TEXT_LIMIT = 64


# --- parsing helpers -----------------------------------------------------------------------


class _Malformed(ValueError):
    """A field of a node's answer that is not what JSON-RPC promises."""


def _hex_int(value: Any, what: str) -> int:
    if isinstance(value, str) and value[:2] == "0x" and "_" not in value:
        try:
            return int(value, 16) if len(value) > 2 else 0
        except ValueError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        return value  # a few nodes answer plain integers for quantities
    msg = f"{what} is not a 0x hex quantity: {value!r:.80}"
    raise _Malformed(msg)


def _hex_dec(value: Any, what: str) -> str:
    return str(_hex_int(value, what))


def _opt_int(value: Any, what: str) -> int | None:
    return None if value is None else _hex_int(value, what)


def _opt_dec(value: Any, what: str) -> str | None:
    return None if value is None else _hex_dec(value, what)


def _address(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ADDRESS.match(value.lower()):
        msg = f"{what} is not an address: {value!r:.80}"
        raise _Malformed(msg)
    return value.lower()


def _hash(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) != 66:
        msg = f"{what} is not a 32-byte hash: {value!r:.80}"
        raise _Malformed(msg)
    return value.lower()


def _timestamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- mapping: pure functions from JSON-RPC dicts to rows -----------------------------------


def map_block(block: Mapping[str, Any], *, chain: str) -> dict[str, Any]:
    """One ``blocks`` row from an ``eth_getBlockByNumber`` result.

    Examples
    --------
    >>> row = map_block(
    ...     {
    ...         "number": "0x10",
    ...         "hash": "0x" + "ab" * 32,
    ...         "parentHash": "0x" + "cd" * 32,
    ...         "timestamp": "0x5",
    ...         "miner": "0x" + "EE" * 20,
    ...         "transactions": [],
    ...     },
    ...     chain="ethereum",
    ... )
    >>> row["block_number"], row["miner"], str(row["block_timestamp"])
    (16, '0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', '1970-01-01 00:00:05+00:00')
    """
    number = _hex_int(block.get("number"), "number")
    return {
        "chain": chain,
        "block_number": number,
        "block_hash": _hash(block.get("hash"), "hash"),
        "parent_hash": _hash(block.get("parentHash"), "parentHash"),
        "block_timestamp": _timestamp(_hex_int(block.get("timestamp"), "timestamp")),
        "miner": _address(block.get("miner") or block.get("author"), "miner"),
        "transaction_count": len(block.get("transactions") or []),
        "base_fee_per_gas": _opt_dec(block.get("baseFeePerGas"), "baseFeePerGas"),
    }


def map_transactions(
    block: Mapping[str, Any], receipts: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Rows of the ``transactions`` intermediate frame (:mod:`tracer.ingest.evm`).

    Parameters
    ----------
    block
        An ``eth_getBlockByNumber(n, true)`` result.
    receipts
        Receipts by lower-case transaction hash; every transaction of the block needs one.
    """
    number = _hex_int(block.get("number"), "number")
    block_hash = _hash(block.get("hash"), "hash")
    stamp = _timestamp(_hex_int(block.get("timestamp"), "timestamp"))
    rows = []
    for position, tx in enumerate(block.get("transactions") or []):
        if not isinstance(tx, Mapping):
            msg = "transactions are hashes, not objects (eth_getBlockByNumber needs `true`)"
            raise _Malformed(msg)
        tx_hash = _hash(tx.get("hash"), "transaction hash")
        receipt = receipts.get(tx_hash)
        if receipt is None:
            msg = f"no receipt for transaction {tx_hash}"
            raise _Malformed(msg)
        status = receipt.get("status")
        index = tx.get("transactionIndex")
        rows.append(
            {
                "block_number": number,
                "block_hash": block_hash,
                "block_timestamp": stamp,
                "transaction_hash": tx_hash,
                "transaction_index": position if index is None else _hex_int(index, "index"),
                "from_address": _address(tx.get("from"), "from"),
                "to_address": _address(tx.get("to"), "to"),
                "value": _hex_dec(tx.get("value", "0x0"), "value"),
                "gas": _opt_int(tx.get("gas"), "gas"),
                "gas_price": _opt_dec(tx.get("gasPrice"), "gasPrice"),
                "input": tx.get("input") if isinstance(tx.get("input"), str) else None,
                "nonce": _opt_int(tx.get("nonce"), "nonce"),
                "receipt_gas_used": _opt_int(receipt.get("gasUsed"), "gasUsed"),
                "receipt_effective_gas_price": _opt_dec(
                    receipt.get("effectiveGasPrice"), "effectiveGasPrice"
                ),
                "receipt_status": _opt_int(status, "status"),
                "receipt_contract_address": _address(
                    receipt.get("contractAddress"), "contractAddress"
                ),
            }
        )
    return rows


def map_logs(
    receipts: Iterable[Mapping[str, Any]], *, block_timestamp: datetime | None = None
) -> list[dict[str, Any]]:
    """Rows of the ``logs`` intermediate frame from receipts (removed logs are left out)."""
    rows = []
    for receipt in receipts:
        for log in receipt.get("logs") or []:
            if log.get("removed"):
                continue
            topics = log.get("topics") or []
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                msg = f"log topics are not a list of strings: {topics!r:.80}"
                raise _Malformed(msg)
            data = log.get("data")
            rows.append(
                {
                    "block_number": _hex_int(log.get("blockNumber"), "log blockNumber"),
                    "block_timestamp": block_timestamp,
                    "transaction_hash": _hash(log.get("transactionHash"), "log transactionHash"),
                    "transaction_index": _opt_int(
                        log.get("transactionIndex"), "log transactionIndex"
                    ),
                    "log_index": _hex_int(log.get("logIndex"), "logIndex"),
                    "address": _address(log.get("address"), "log address"),
                    "topics": [t.lower() for t in topics],
                    "data": data if isinstance(data, str) else "0x",
                }
            )
    return rows


def map_parity_traces(
    traces: Iterable[Mapping[str, Any]], *, block_timestamp: datetime | None = None
) -> list[dict[str, Any]]:
    """Rows of the ``traces`` intermediate frame from a ``trace_block`` result.

    Examples
    --------
    >>> a, b = "0x" + "a" * 40, "0x" + "b" * 40
    >>> rows = map_parity_traces(
    ...     [
    ...         {
    ...             "type": "call",
    ...             "action": {"callType": "call", "from": a, "to": b, "value": "0x10"},
    ...             "traceAddress": [0],
    ...             "transactionHash": "0x" + "1" * 64,
    ...             "transactionPosition": 0,
    ...             "blockNumber": 7,
    ...             "error": "Reverted",
    ...         }
    ...     ]
    ... )
    >>> rows[0]["trace_address"], rows[0]["value"], rows[0]["error"]
    ([0], '16', 'Reverted')
    """
    rows = []
    for trace in traces:
        action = trace.get("action") or {}
        kind = str(trace.get("type", "")).lower()
        src, dst, value = parity_endpoints(trace)
        tx_hash = trace.get("transactionHash")
        position = trace.get("transactionPosition")
        address = trace.get("traceAddress") or []
        rows.append(
            {
                "block_number": _hex_int(trace.get("blockNumber"), "trace blockNumber"),
                "block_timestamp": block_timestamp,
                "transaction_hash": None if tx_hash is None else _hash(tx_hash, "trace hash"),
                "transaction_index": None if position is None else _hex_int(position, "pos"),
                "trace_address": [int(i) for i in address],
                "trace_type": kind,
                "call_type": action.get("callType"),
                "from_address": _address(src, "trace from"),
                "to_address": _address(dst, "trace to"),
                "value": _hex_dec(value or "0x0", "trace value"),
                "error": trace.get("error") or None,
                "status": None,
            }
        )
    return rows


def flatten_call_trace(
    frame: Mapping[str, Any],
    *,
    transaction_hash: str | None,
    block_number: int,
    transaction_index: int | None = None,
    block_timestamp: datetime | None = None,
) -> list[dict[str, Any]]:
    """Geth ``callTracer`` call frames -> Parity-style ``traces`` rows, depth first.

    The nested frames become one row each with its ``trace_address`` (the path of child
    indexes from the top call, ``[]`` for the top call), so that the rules of
    :mod:`tracer.ingest.evm` apply unchanged: a frame with an ``error`` is reverted, and so is
    everything below it. ``CREATE``/``CREATE2`` become ``create`` (to the new address),
    ``SELFDESTRUCT`` becomes ``suicide``, the call kinds become ``call`` with ``call_type``.

    Examples
    --------
    >>> a, b, c = ("0x" + d * 40 for d in "abc")
    >>> top = {
    ...     "type": "CALL",
    ...     "from": a,
    ...     "to": b,
    ...     "value": "0x5",
    ...     "calls": [
    ...         {"type": "CALL", "from": b, "to": c, "value": "0x2", "error": "execution reverted"},
    ...         {"type": "DELEGATECALL", "from": b, "to": c},
    ...     ],
    ... }
    >>> rows = flatten_call_trace(top, transaction_hash=None, block_number=1)
    >>> for r in rows:
    ...     print(r["trace_address"], r["call_type"], r["value"], r["error"])
    [] call 5 None
    [0] call 2 execution reverted
    [1] delegatecall 0 None
    """
    rows: list[dict[str, Any]] = []
    stack: list[tuple[Mapping[str, Any], list[int]]] = [(frame, [])]
    while stack:
        node, address = stack.pop()
        kind = str(node.get("type", "CALL")).upper()
        if kind in ("CREATE", "CREATE2"):
            trace_type, call_type = "create", None
        elif kind in ("SELFDESTRUCT", "SUICIDE"):
            trace_type, call_type = "suicide", None
        else:
            trace_type, call_type = "call", kind.lower()
        rows.append(
            {
                "block_number": block_number,
                "block_timestamp": block_timestamp,
                "transaction_hash": transaction_hash,
                "transaction_index": transaction_index,
                "trace_address": address,
                "trace_type": trace_type,
                "call_type": call_type,
                "from_address": _address(node.get("from"), "trace from"),
                "to_address": _address(node.get("to"), "trace to"),
                "value": _hex_dec(node.get("value") or "0x0", "trace value"),
                "error": node.get("error") or None,
                "status": None,
            }
        )
        children = node.get("calls") or []
        stack.extend((child, [*address, i]) for i, child in reversed(list(enumerate(children))))
    return rows


# --- the node ------------------------------------------------------------------------------


class Web3Transport:
    """Sends batches through web3.py's ``HTTPProvider.make_batch_request`` (for comparison).

    Slower than :class:`~tracer.ingest._jsonrpc.HttpTransport` on every node measured (see
    ``docs/rpc.md``), but it is web3.py's own request stack, middlewares aside.
    """

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        from web3 import HTTPProvider

        self._url = url
        scrub_logs(url)  # web3.py and urllib3 log the URL and path at DEBUG level
        self._provider = HTTPProvider(url, request_kwargs={"timeout": timeout})

    def send(self, calls: Sequence[Call]) -> list[dict[str, Any]]:
        """Post ``calls`` with web3.py; return the responses in call order."""
        try:
            answers = self._provider.make_batch_request(
                [(method, list(params)) for method, params in calls]  # type: ignore[misc]
            )
        except Exception as e:  # web3 raises requests' and its own errors; all are transient
            text = scrub(str(e) or type(e).__name__, self._url)
            status = getattr(getattr(e, "response", None), "status_code", None)
            msg = f"web3 request failed ({text[:200]})"
            raise TransportFault(
                msg,
                retriable=status is None or status in (429, 502, 503, 504),
                code=status,
                unreachable="Connection refused" in text,
            ) from e
        if isinstance(answers, dict):
            error: dict[str, Any] = dict(answers.get("error") or {})
            msg = f"the node rejected the batch: {scrub(str(error), self._url)[:200]}"
            raise TransportFault(msg, retriable=False, code=error.get("code"))
        result: list[dict[str, Any]] = [dict(a) for a in answers]
        result.sort(key=lambda a: int(a.get("id") or 0))
        return result

    def close(self) -> None:
        """Nothing to release: web3's session cache is process-wide."""


class ReplayTransport:
    """Answers calls from recorded responses, as a recorded-response provider.

    The recordings are ethereum-etl's test resources: ``web3_response.<method>_<params>.json``,
    one full JSON-RPC response per file.

    A call with no recorded file is answered with JSON-RPC error -32601 (method not found), as
    a node without that method would, so capability detection and fallbacks run as they would
    against a real node; :attr:`missing` lists such calls.

    Parameters
    ----------
    directories
        Folders holding the recorded files (searched in order).
    answers
        Results for parameterless calls that were not recorded (``eth_chainId``,
        ``eth_blockNumber``).
    """

    def __init__(self, *directories: str | Path, answers: Mapping[str, Any] | None = None) -> None:
        self.directories = [Path(d) for d in directories]
        self.answers = dict(answers or {})
        self.missing: list[str] = []
        self.answered: list[str] = []

    @staticmethod
    def file_name(method: str, params: Sequence[Any]) -> str:
        """ethereum-etl's file name for a call (``eth_getBlockByNumber_0xb872_true``).

        Examples
        --------
        >>> ReplayTransport.file_name("eth_call", [{"to": "0xAB", "data": "0x1"}, "latest"])
        'web3_response.eth_call_data_0x1_to_0xab_latest.json'
        """

        def text(param: Any) -> str:
            if isinstance(param, Mapping):
                return "_".join(f"{k}_{text(param[k])}" for k in sorted(param))
            if isinstance(param, list | tuple):
                return "_".join(text(p) for p in param)
            return str(param).lower()

        return f"web3_response.{method}_{'_'.join(text(p) for p in params)}.json"

    def send(self, calls: Sequence[Call]) -> list[dict[str, Any]]:
        """Answer each call from its recorded file."""
        answers: list[dict[str, Any]] = []
        for i, (method, params) in enumerate(calls):
            if not params and method in self.answers:
                answers.append({"jsonrpc": "2.0", "id": i, "result": self.answers[method]})
                continue
            name = self.file_name(method, params)
            found = next((d / name for d in self.directories if (d / name).is_file()), None)
            if found is None:
                self.missing.append(name)
                answers.append(
                    {"id": i, "error": {"code": -32601, "message": f"{method} not recorded"}}
                )
                continue
            self.answered.append(name)
            recorded = json.loads(found.read_text())
            answers.append({**recorded, "id": i})
        return answers

    def close(self) -> None:
        """Nothing to release."""


def open_client(
    rpc_url: str,
    *,
    transport: Literal["raw", "web3"] | Transport = "raw",
    batch_size: int = 25,
    workers: int = 4,
    retries: int = 6,
    timeout: float = 60.0,
    backoff: float = 0.25,
) -> RpcClient:
    """An :class:`~tracer.ingest._jsonrpc.RpcClient` for ``rpc_url`` over the chosen transport."""
    chosen: Transport
    if transport == "raw":
        chosen = HttpTransport(rpc_url, timeout=timeout)
    elif transport == "web3":
        HttpTransport(rpc_url, timeout=timeout)  # validates the URL the same way
        chosen = Web3Transport(rpc_url, timeout=timeout)
    elif isinstance(transport, str):
        msg = "unknown transport"
        raise InputError(msg, field="--transport", value=transport, fix="Use raw or web3")
    else:
        chosen = transport
    return RpcClient(
        rpc_url,
        transport=chosen,
        batch_size=batch_size,
        workers=workers,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Capabilities:
    """What the node offers, detected once per ingest."""

    chain_id: int
    receipts: ReceiptMethod
    traces: TraceMethod | None


def detect_capabilities(
    client: RpcClient,
    probe_block: int,
    *,
    traces: Literal["auto", "trace_block", "debug_traceBlockByNumber", "none"] = "auto",
) -> Capabilities:
    """Ask the node which receipt and trace methods it has, using ``probe_block``.

    Raises
    ------
    RpcError
        When ``traces="auto"`` and the node has neither trace method (internal transfers
        cannot be known): pass ``traces="none"`` to ingest without them.
    """
    tag = hex(probe_block)
    probes: list[Call] = [("eth_chainId", []), ("eth_getBlockReceipts", [tag])]
    if traces in ("auto", "trace_block"):
        probes.append(("trace_block", [tag]))
    answers = client.batch(probes, errors="return")
    chain_id = answers[0]
    if isinstance(chain_id, RpcError):
        raise chain_id
    receipts: ReceiptMethod = "eth_getBlockReceipts"
    if isinstance(answers[1], RpcError) or not isinstance(answers[1], list):
        if isinstance(answers[1], RpcError) and not is_unsupported(answers[1]):
            raise answers[1]
        receipts = "eth_getTransactionReceipt"
    method: TraceMethod | None = None
    if traces in ("auto", "trace_block"):
        if isinstance(answers[2], list):
            method = "trace_block"
        elif isinstance(answers[2], RpcError) and not is_unsupported(answers[2]):
            raise answers[2]
    if method is None and traces in ("auto", "debug_traceBlockByNumber"):
        [debug] = client.batch(
            [("debug_traceBlockByNumber", [tag, {"tracer": "callTracer"}])], errors="return"
        )
        if isinstance(debug, list):
            method = "debug_traceBlockByNumber"
        elif isinstance(debug, RpcError) and not is_unsupported(debug):
            raise debug
    if method is None and traces != "none":
        msg = (
            f"the node at {client.url} offers neither trace_block nor debug_traceBlockByNumber, "
            "so internal transfers (value moved by contracts) cannot be ingested. Use a node "
            "with the trace or debug API (Erigon, Reth, Nethermind, Geth with --http.api debug), "
            "or pass --traces none to ingest without internal transfers"
        )
        raise RpcError(msg)
    return Capabilities(chain_id=_hex_int(chain_id, "chainId"), receipts=receipts, traces=method)


@dataclass
class RawBlock:
    """What the node said about one block: the block, its receipts and its traces."""

    block: dict[str, Any]
    receipts: list[dict[str, Any]]
    traces: list[dict[str, Any]] | None
    trace_format: TraceMethod | None


def fetch_blocks(
    client: RpcClient, numbers: Sequence[int], capabilities: Capabilities
) -> list[RawBlock]:
    """Blocks, receipts and traces of ``numbers`` in as few round trips as the node allows."""
    calls: list[Call] = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
    if capabilities.receipts == "eth_getBlockReceipts":
        calls += [("eth_getBlockReceipts", [hex(n)]) for n in numbers]
    if capabilities.traces == "trace_block":
        calls += [("trace_block", [hex(n)]) for n in numbers]
    elif capabilities.traces == "debug_traceBlockByNumber":
        calls += [("debug_traceBlockByNumber", [hex(n), {"tracer": "callTracer"}]) for n in numbers]
    answers = client.batch(calls)
    count = len(numbers)
    blocks = answers[:count]
    for n, block in zip(numbers, blocks, strict=True):
        if not isinstance(block, dict):
            msg = (
                f"the node at {client.url} has no block {n} (eth_getBlockByNumber returned "
                f"{json.dumps(block)[:40]}): is it synced that far?"
            )
            raise RpcError(msg)
    offset = count
    receipts: list[list[dict[str, Any]]]
    if capabilities.receipts == "eth_getBlockReceipts":
        receipts = [r if isinstance(r, list) else [] for r in answers[offset : offset + count]]
        offset += count
    else:
        hashes = [
            tx["hash"] if isinstance(tx, dict) else tx
            for block in blocks
            for tx in block.get("transactions") or []
        ]
        flat = client.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        receipts = []
        at = 0
        for block in blocks:
            n_tx = len(block.get("transactions") or [])
            receipts.append([r for r in flat[at : at + n_tx] if isinstance(r, dict)])
            at += n_tx
    traces: list[Any] = [None] * count
    if capabilities.traces is not None:
        traces = answers[offset : offset + count]
    return [
        RawBlock(
            block=block,
            receipts=receipt_list,
            traces=trace_list if isinstance(trace_list, list) else None,
            trace_format=capabilities.traces,
        )
        for block, receipt_list, trace_list in zip(blocks, receipts, traces, strict=True)
    ]


# --- tokens --------------------------------------------------------------------------------


def _decode_text(result: Any) -> str | None:
    """An ABI ``string`` or ``bytes32`` return value as clean text, or None."""
    if not isinstance(result, str) or not _HEX.match(result) or len(result) < 66:
        return None
    raw = bytes.fromhex(result[2:] if len(result) % 2 == 0 else result[2:-1])
    text: bytes
    offset = int.from_bytes(raw[:32], "big")
    if len(raw) >= 64 and offset == 32:
        length = int.from_bytes(raw[32:64], "big")
        if length > len(raw) - 64:
            return None
        text = raw[64 : 64 + length]
    else:
        text = raw[:32].rstrip(b"\x00")  # bytes32 (early tokens: MKR, SAI)
    decoded = _CONTROL.sub("", text.decode("utf-8", errors="replace")).strip()
    return decoded[:_TEXT_LIMIT] or None


def _decode_true(result: Any) -> bool:
    return isinstance(result, str) and result.lower() == "0x" + "0" * 63 + "1"


def _decode_decimals(result: Any) -> int | None:
    if not isinstance(result, str) or not _HEX.match(result) or len(result) < 3:
        return None
    digits = result[2:66]
    value = int(digits, 16) if digits else 0
    return value if value <= 255 else None


@dataclass
class TokenCache:
    """Token metadata known so far: the ``tokens`` table and this run's ``eth_call`` answers."""

    chain: str
    known: dict[str, tuple[str | None, str | None, int | None, str | None]] = field(
        default_factory=dict
    )

    @classmethod
    def from_store(cls, store: Store, *, chain: str) -> TokenCache:
        """The tokens already in ``store`` for ``chain``."""
        cache = cls(chain)
        rows = (
            store.scan("tokens")
            .filter(pl.col("chain") == chain)
            .select("token_address", "symbol", "name", "decimals", "token_standard")
            .collect()
        )
        for address, symbol, name, decimals, standard in rows.iter_rows():
            cache.known[address] = (symbol, name, decimals, standard)
        return cache

    def resolve(self, client: RpcClient, addresses: Iterable[str]) -> pl.DataFrame:
        """Fetch the metadata of the ``addresses`` not yet known; return the new ``tokens`` rows.

        ``symbol()``, ``name()``, ``decimals()`` and ERC-165 ``supportsInterface`` for ERC-721
        and ERC-1155, all by ``eth_call`` at ``latest``. The standard comes from the contract
        (ERC-165, else ``erc20`` when ``decimals()`` answers, else null), never from which
        events happened to be seen first, so the row does not depend on how an ingest was cut
        into chunks. A call that reverts, is missing or returns garbage gives null for that
        field; it never stops the ingest.
        """
        new = sorted({a for a in addresses if a not in self.known})
        if not new:
            return pl.DataFrame(schema=TABLES["tokens"])
        calls: list[Call] = []
        for address in new:
            calls += [
                ("eth_call", [{"to": address, "data": data}, "latest"])
                for data in (_SYMBOL, _NAME, _DECIMALS, _IS_ERC721, _IS_ERC1155)
            ]
        answers = client.batch(calls, errors="return")
        rows = []
        for i, address in enumerate(new):
            symbol, name, decimals, erc721, erc1155 = answers[5 * i : 5 * i + 5]
            places = _decode_decimals(decimals)
            standard = (
                "erc721"
                if _decode_true(erc721)
                else "erc1155"
                if _decode_true(erc1155)
                else "erc20"
                if places is not None
                else None
            )
            record = (_decode_text(symbol), _decode_text(name), places, standard)
            self.known[address] = record
            rows.append(
                {
                    "chain": self.chain,
                    "token_address": address,
                    "symbol": record[0],
                    "name": record[1],
                    "decimals": record[2],
                    "token_standard": record[3],
                }
            )
        return conform(pl.DataFrame(rows, schema=TABLES["tokens"]), "tokens").collect()

    def decimals(self) -> pl.DataFrame:
        """``asset``, ``token_decimals`` of every known token (to fill ERC-20 transfers)."""
        return pl.DataFrame(
            {
                "asset": list(self.known),
                "token_decimals": [v[2] for v in self.known.values()],
            },
            schema={"asset": pl.String(), "token_decimals": pl.Int32()},
        )


# --- raw blocks -> tables ------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]], kind: str) -> pl.DataFrame:
    schema = {"transactions": evm.TRANSACTION_FRAME, "traces": evm.TRACE_FRAME}.get(
        kind, evm.LOG_FRAME
    )
    columns = []
    for name, dtype in schema.items():
        values = [row[name] for row in rows]
        if isinstance(dtype, pl.List):
            inner = pl.String() if dtype.inner == pl.String() else pl.Int64()
            columns.append(list_column(name, values, inner))
        else:
            columns.append(pl.Series(name, values, dtype=dtype))
    return evm.intermediate(pl.DataFrame(columns), kind)


def _intermediate_frames(
    raw: Sequence[RawBlock], *, chain: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """The ``blocks`` table and the intermediate frames of ``raw``.

    Columnar when the answers are plainly well formed (:mod:`tracer.ingest._rpc_frames`), else
    row by row with every field checked, which names what is wrong.
    """
    if all(item.traces is None or item.trace_format == "trace_block" for item in raw):
        try:
            blocks, txs, logs, traces = fast_frames(
                [(item.block, item.receipts, item.traces) for item in raw]
            )
        except REFUSALS:
            pass  # the row functions below say exactly what is wrong, or map it
        else:
            blocks = blocks.with_columns(pl.lit(chain).alias("chain")).select(
                pl.col(name).cast(dtype) for name, dtype in TABLES["blocks"].items()
            )
            return blocks, txs, logs, traces
    return _row_frames(raw, chain=chain)


def _row_frames(
    raw: Sequence[RawBlock], *, chain: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    blocks: list[dict[str, Any]] = []
    txs: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    traces: list[dict[str, Any]] = []
    have_traces = True
    for item in raw:
        number = _hex_int(item.block.get("number"), "number")
        try:
            row = map_block(item.block, chain=chain)
            blocks.append(row)
            stamp = row["block_timestamp"]
            by_hash = {
                _hash(r.get("transactionHash"), "receipt transactionHash"): r for r in item.receipts
            }
            block_txs = map_transactions(item.block, by_hash)
            txs += block_txs
            logs += map_logs(item.receipts, block_timestamp=stamp)
            if item.traces is None:
                have_traces = False
            elif item.trace_format == "trace_block":
                traces += map_parity_traces(item.traces, block_timestamp=stamp)
            else:
                traces += _geth_traces(item.traces, block_txs, number, stamp)
        except (_Malformed, KeyError, TypeError, ValueError, AttributeError) as e:
            msg = f"malformed answer from the node for block {number}: {e}"
            raise RpcError(msg) from e
    trace_frame = _frame(traces, "traces") if have_traces else None
    block_frame = pl.DataFrame(blocks, schema=TABLES["blocks"], orient="row")
    return block_frame, _frame(txs, "transactions"), _frame(logs, "logs"), trace_frame


def _geth_traces(
    results: list[dict[str, Any]],
    transactions: list[dict[str, Any]],
    number: int,
    stamp: datetime,
) -> list[dict[str, Any]]:
    if len(results) != len(transactions):
        msg = f"{len(results)} call traces for {len(transactions)} transactions"
        raise _Malformed(msg)
    rows: list[dict[str, Any]] = []
    for position, (item, tx) in enumerate(zip(results, transactions, strict=True)):
        frame = item.get("result") if "result" in item or "txHash" in item else item
        if item.get("error") and not frame:
            msg = f"the node could not trace transaction {tx['transaction_hash']}: {item['error']}"
            raise _Malformed(msg)
        rows += flatten_call_trace(
            frame or {},
            transaction_hash=tx["transaction_hash"],
            block_number=number,
            transaction_index=tx["transaction_index"] if tx else position,
            block_timestamp=stamp,
        )
    return rows


def tables_for_blocks(
    raw: Sequence[RawBlock],
    *,
    chain: str,
    client: RpcClient | None = None,
    tokens: TokenCache | None = None,
) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    """The canonical tables for ``raw`` blocks, and the counts of what was skipped and why.

    Tables: ``blocks``, ``transactions``, ``transfers`` (native, internal, token), ``approvals``,
    ``contracts`` and the new ``tokens`` (metadata fetched with ``client`` when given).
    """
    blocks, txs, logs, traces = _intermediate_frames(raw, chain=chain)
    native = evm.native_transfers(txs, chain=chain, traces=traces)
    parts = [native.rows]
    skipped = [native.skipped]
    if traces is not None:
        internal = evm.internal_transfers(traces, chain=chain, transactions=txs)
        parts.append(internal.rows)
        skipped.append(internal.skipped)
    token = evm.token_transfers(logs, chain=chain, transactions=txs)
    approval = evm.approvals(logs, chain=chain, transactions=txs)
    skipped += [token.skipped, approval.skipped]
    cache = tokens if tokens is not None else TokenCache(chain)
    wanted = set(token.rows["asset"].to_list()) | set(approval.rows["token_address"].to_list())
    new_tokens = (
        cache.resolve(client, wanted)
        if client is not None
        else pl.DataFrame(schema=TABLES["tokens"])
    )
    token_rows = (
        token.rows.join(cache.decimals(), on="asset", how="left", maintain_order="left")
        .with_columns(pl.coalesce("decimals", "token_decimals").alias("decimals"))
        .drop("token_decimals")
    )
    parts.append(token_rows)
    transfers = pl.concat([conform(p, "transfers").collect() for p in parts], how="vertical")
    transactions = txs.with_columns(
        pl.lit(chain).alias("chain"),
        pl.col("receipt_gas_used").alias("gas_used"),
        pl.col("receipt_effective_gas_price").alias("effective_gas_price"),
        pl.when(pl.col("input").str.len_chars() >= 10)
        .then(pl.col("input").str.slice(0, 10).str.to_lowercase())
        .alias("method_id"),
        pl.col("receipt_contract_address").alias("contract_address"),
    )
    tables = {
        "blocks": blocks,
        "transactions": conform(transactions, "transactions").collect(),
        "transfers": transfers,
        "approvals": approval.rows,
        "contracts": evm.contracts(chain=chain, transactions=txs, traces=traces),
        "tokens": new_tokens,
    }
    total: dict[str, int] = {}
    for part in skipped:
        for reason, n in part.items():
            total[reason] = total.get(reason, 0) + n
    return tables, total


# --- resumable ingest ----------------------------------------------------------------------


def covered_ranges(
    store: Store, *, chain: str, source_kind: str = SOURCE_KIND
) -> list[tuple[int, int]]:
    """Block ranges already ingested from a node, merged and sorted."""
    rows = (
        store.scan("ingest_log")
        .filter((pl.col("chain") == chain) & (pl.col("source_kind") == source_kind))
        .select("from_block", "to_block")
        .drop_nulls()
        .sort("from_block", "to_block")
        .collect()
    )
    merged: list[tuple[int, int]] = []
    for lo, hi in rows.iter_rows():
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def missing_ranges(
    lo: int, hi: int, covered: Sequence[tuple[int, int]], *, chunk_size: int
) -> list[tuple[int, int]]:
    """Chunks of at most ``chunk_size`` blocks of ``lo..hi`` that ``covered`` leaves out.

    Examples
    --------
    >>> missing_ranges(0, 9, [(2, 4)], chunk_size=3)
    [(0, 1), (5, 7), (8, 9)]
    """
    gaps: list[tuple[int, int]] = []
    cursor = lo
    for a, b in covered:
        if b < cursor:
            continue
        if a > hi:
            break
        if a > cursor:
            gaps.append((cursor, min(a - 1, hi)))
        cursor = max(cursor, b + 1)
    if cursor <= hi:
        gaps.append((cursor, hi))
    chunks = []
    for a, b in gaps:
        chunks += [(s, min(s + chunk_size - 1, b)) for s in range(a, b + 1, chunk_size)]
    return chunks


@dataclass
class IngestReport:
    """What an ingest did."""

    from_block: int
    to_block: int | None
    fetched_blocks: int = 0
    chunks: int = 0
    added: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    unconfirmed: tuple[int, int] | None = None
    head: int | None = None
    capabilities: Capabilities | None = None
    calls: int = 0
    requests: int = 0
    seconds: float = 0.0


def _other_sources(store: Store, *, chain: str) -> bool:
    """Whether rows of ``chain`` came from anywhere but RPC block ranges (files, crawl)."""
    count = (
        store.scan("ingest_log")
        .filter((pl.col("chain") == chain) & (pl.col("source_kind") != SOURCE_KIND))
        .select(pl.len())
        .collect()
        .item()
    )
    return int(count) > 0


def ingest_rpc(
    store: Store,
    rpc_url: str,
    *,
    from_block: int,
    to_block: int | None = None,
    chain: str = "ethereum",
    confirmations: int | None = None,
    chunk_size: int = 100,
    batch_size: int = 25,
    workers: int = 4,
    traces: Literal["auto", "trace_block", "debug_traceBlockByNumber", "none"] = "auto",
    transport: Literal["raw", "web3"] | Transport = "raw",
    retries: int = 6,
    timeout: float = 60.0,
    progress: bool | None = None,
    client: RpcClient | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest blocks ``from_block..to_block`` from the node at ``rpc_url`` into ``store``.

    Parameters
    ----------
    store
        The case data directory.
    rpc_url
        The node's HTTP JSON-RPC URL (may hold an API key; it is never shown unredacted).
    from_block, to_block
        The inclusive range; ``to_block`` defaults to the newest confirmed block.
    chain
        The chain name for the ``chain`` columns.
    confirmations
        Only blocks at least this far behind the head are taken. Default: 0 on a dev chain
        (:data:`DEV_CHAIN_IDS`), else :data:`MAINNET_CONFIRMATIONS`.
    chunk_size
        Blocks per commit (the unit of resume).
    batch_size, workers
        Calls per JSON-RPC batch and batches in flight at once.
    traces
        Which trace method to use; ``auto`` detects it; ``none`` skips internal transfers.
    transport
        ``raw`` (standard-library HTTP batches, the fast default) or ``web3``.
    retries, timeout
        Retries after a transient failure, and seconds to wait for an answer.
    progress
        Draw a progress bar on stderr; by default only when stderr is a terminal.
    client
        An already open client (tests, crawl); ``rpc_url`` is then only used in messages.
    on_chunk
        Called with each committed chunk's block range (tests use it to kill mid-ingest).

    Returns
    -------
    IngestReport
        Rows added per table, blocks fetched, what was skipped, the unconfirmed tail.
    """
    if from_block < 0 or (to_block is not None and to_block < from_block):
        msg = "empty or negative block range"
        raise InputError(
            msg,
            field="--from-block/--to-block",
            value=f"{from_block}..{to_block}",
            fix="Pass 0 <= --from-block <= --to-block",
        )
    if chunk_size < 1:
        msg = "must be at least 1"
        raise InputError(msg, field="--chunk-size", value=chunk_size)
    started = time.monotonic()
    report = IngestReport(from_block=from_block, to_block=to_block)
    covered = covered_ranges(store, chain=chain)
    if to_block is not None and not missing_ranges(
        from_block, to_block, covered, chunk_size=chunk_size
    ):
        return report  # everything asked for is already here: no call to the node at all
    own = client is None
    rpc = client or open_client(
        rpc_url,
        transport=transport,
        batch_size=batch_size,
        workers=workers,
        retries=retries,
        timeout=timeout,
    )
    try:
        _ingest(
            store,
            rpc,
            report,
            chain=chain,
            confirmations=confirmations,
            chunk_size=chunk_size,
            traces=traces,
            progress=progress,
            on_chunk=on_chunk,
        )
    finally:
        report.calls, report.requests = rpc.calls, rpc.requests
        report.seconds = time.monotonic() - started
        if own:
            rpc.close()
    return report


def _ingest(
    store: Store,
    rpc: RpcClient,
    report: IngestReport,
    *,
    chain: str,
    confirmations: int | None,
    chunk_size: int,
    traces: Literal["auto", "trace_block", "debug_traceBlockByNumber", "none"],
    progress: bool | None,
    on_chunk: Callable[[int, int], None] | None,
) -> None:
    chain_id_raw, head_raw = rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
    chain_id = _hex_int(chain_id_raw, "chainId")
    head = _hex_int(head_raw, "blockNumber")
    report.head = head
    depth = confirmations
    if depth is None:
        depth = 0 if chain_id in DEV_CHAIN_IDS else MAINNET_CONFIRMATIONS
    safe = head - depth
    wanted_to = report.to_block if report.to_block is not None else safe
    if report.from_block > safe:
        msg = (
            f"block {report.from_block} is not yet {depth} blocks deep (the node's head is "
            f"{head}): wait, or lower --confirmations"
        )
        raise RpcError(msg)
    last = min(wanted_to, safe)
    if wanted_to > safe:
        report.unconfirmed = (safe + 1, wanted_to)
    report.to_block = last
    chunks = missing_ranges(
        report.from_block, last, covered_ranges(store, chain=chain), chunk_size=chunk_size
    )
    if not chunks:
        return
    # Probe a block past genesis where there is one: Geth refuses to trace the genesis block.
    capabilities = detect_capabilities(rpc, chunks[0][1], traces=traces)
    report.capabilities = capabilities
    tokens = TokenCache.from_store(store, chain=chain)
    dedupe = _other_sources(store, chain=chain)
    # A contract address can be created twice (CREATE2 after SELFDESTRUCT): keep the first.
    contracts = set(
        store.scan("contracts").filter(pl.col("chain") == chain).collect()["address"].to_list()
    )
    bar = Progress(
        sum(b - a + 1 for a, b in chunks),
        label=f"ingest {redact_url(rpc.url)}",
        enabled=progress,
    )
    with ThreadPoolExecutor(1, thread_name_prefix="tracer-prefetch") as prefetch:
        ahead: Future[list[RawBlock]] | None = None
        for i, (lo, hi) in enumerate(chunks):
            current = ahead or prefetch.submit(fetch_blocks, rpc, range(lo, hi + 1), capabilities)
            if i + 1 < len(chunks):
                nlo, nhi = chunks[i + 1]
                ahead = prefetch.submit(fetch_blocks, rpc, range(nlo, nhi + 1), capabilities)
            else:
                ahead = None
            try:
                raw = current.result()
            except BaseException:
                if ahead is not None:
                    ahead.cancel()
                raise
            tables, skipped = tables_for_blocks(raw, chain=chain, client=rpc, tokens=tokens)
            created = tables["contracts"]
            tables["contracts"] = created.filter(~pl.col("address").is_in(list(contracts)))
            contracts.update(created["address"].to_list())
            rows = sum(t.height for t in tables.values())
            log = pl.DataFrame(
                {
                    "chain": [chain],
                    "source_kind": [SOURCE_KIND],
                    "source_id": [f"blocks:{lo}-{hi}"],
                    "from_block": [lo],
                    "to_block": [hi],
                    "rows": [rows],
                }
            )
            added = store.commit({**tables, "ingest_log": log}, dedupe=dedupe)
            for table, n in added.items():
                if table != "ingest_log":
                    report.added[table] = report.added.get(table, 0) + n
            for reason, n in skipped.items():
                report.skipped[reason] = report.skipped.get(reason, 0) + n
            report.fetched_blocks += hi - lo + 1
            report.chunks += 1
            bar.advance(hi - lo + 1)
            if on_chunk is not None:
                on_chunk(lo, hi)
    bar.close()
