"""The fast path from JSON-RPC answers to the intermediate frames: columns first, checks in Polars.

:mod:`tracer.ingest.rpc` maps a node's answers row by row with pure functions that check every
field as they go (``map_transactions``, ``map_logs``, ``map_parity_traces``): 0.30 ms of CPU
per block of 10 transactions with their receipts and traces, CPU that on a small machine is
taken from the node. This module builds the same frames in 0.17 ms by only copying the raw
values into columns in Python and doing every conversion and check at once in Polars: hex
quantities, exact decimal amounts (``Int128`` up to 31 hex digits, Python ints beyond),
addresses, hashes and timestamps. List columns (topics, trace addresses) go through Arrow.

It accepts only what is plainly well formed. Anything else (a wrong type, an odd hex string, a
missing receipt, Geth call frames) raises :class:`Fallback`, and the caller maps the chunk with
the row functions instead, which give the same frames for good input and the precise error for
bad input. So the fast path never changes what an ingest yields, only how long it takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from tracer.ingest import evm

__all__ = ["REFUSALS", "Fallback", "fast_frames", "list_column"]

_ADDRESS = r"^0x[0-9a-f]{40}$"
_HASH = r"^0x[0-9a-fA-F]{64}$"
_QUANTITY = r"^0x[0-9a-fA-F]{0,15}$"  # fits Int64 with room to spare; longer ones fall back
_AMOUNT = r"^0x[0-9a-fA-F]*$"
_INT128_DIGITS = 31  # hex digits that always fit a signed 128-bit integer


class Fallback(Exception):
    """The answers are not plainly well formed: map them with the row functions instead."""


REFUSALS: tuple[type[Exception], ...] = (
    Fallback,
    AttributeError,  # a transaction or trace that is not an object
    KeyError,
    OverflowError,
    TypeError,
    ValueError,
    pl.exceptions.PolarsError,
    pa.ArrowException,
)
"""What :func:`fast_frames` may raise on odd answers; the caller then maps row by row."""


def _transaction_fields(tx: Mapping[str, Any]) -> tuple[Any, ...]:
    get = tx.get  # a transaction that is only a hash has no .get: the caller falls back
    return (
        get("hash"),
        get("transactionIndex"),
        get("from"),
        get("to"),
        get("value", "0x0"),
        get("gas"),
        get("gasPrice"),
        get("input"),
        get("nonce"),
    )


def _receipt_fields(receipt: Mapping[str, Any] | None) -> tuple[Any, ...]:
    if receipt is None:
        raise Fallback  # missing, or its hash differs in case only
    get = receipt.get
    return (get("gasUsed"), get("effectiveGasPrice"), get("status"), get("contractAddress"))


def _log_fields(log: Mapping[str, Any]) -> tuple[Any, ...]:
    get = log.get
    return (
        get("blockNumber"),
        get("transactionHash"),
        get("transactionIndex"),
        get("logIndex"),
        get("address"),
        get("topics"),
        get("data"),
    )


def _transpose(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Columns of ``rows`` (``width`` empty columns when there are none)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _series(name: str, values: list[Any]) -> pl.Series:
    try:
        return pl.Series(name, values)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as e:
        raise Fallback(name) from e  # mixed types: let the row functions judge each value


def list_column(name: str, values: Sequence[Any], inner: pl.DataType) -> pl.Series:
    """A ``List(inner)`` column (``inner`` String or Int64) from Python lists, through Arrow.

    Polars builds a list column from Python lists one inner Series at a time, about 20 times
    slower than Arrow's builder.

    Examples
    --------
    >>> list_column("trace_address", [[], [0, 1]], pl.Int64()).to_list()
    [[], [0, 1]]
    """
    kind = pa.string() if inner == pl.String() else pa.int64()
    return pl.Series(name, pa.array(values, type=pa.list_(kind)))


def _lists(name: str, values: list[Any], inner: pl.DataType) -> pl.Series:
    if not all(type(v) is list for v in values):
        raise Fallback(name)  # Arrow would take a string for a list of characters
    try:
        lists = list_column(name, values, inner)
    except (TypeError, ValueError, OverflowError, pa.ArrowException) as e:
        raise Fallback(name) from e
    if lists.list.eval(pl.element().is_null()).list.any().any():
        raise Fallback(name)
    return lists


class _Columns:
    """Raw columns of one frame, checked and converted in one Polars pass each.

    Every ``add_*`` method takes one output column's raw values as the node sent them; the
    conversions mirror the row helpers of :mod:`tracer.ingest.rpc` (``_hex_int``,
    ``_hex_dec``, ``_address``, ``_hash``) on the values those accept as plainly well formed,
    and :meth:`convert` raises :class:`Fallback` when any value is not.
    """

    def __init__(self) -> None:
        self.raw: list[pl.Series] = []
        self.checks: list[pl.Expr] = []
        self.values: list[pl.Expr] = []
        self.long: dict[str, tuple[list[Any], pl.Expr]] = {}

    def _column(self, name: str, values: list[Any]) -> tuple[pl.Expr, pl.DataType]:
        if not values:  # no rows: any type will do, and strings take every path below
            series = pl.Series(f"raw {name}", [], dtype=pl.String())
        else:
            series = _series(f"raw {name}", values)
        self.raw.append(series)
        return pl.col(series.name), series.dtype

    def _valid(self, ok: pl.Expr, *, required: bool) -> None:
        self.checks.append(ok.fill_null(value=not required).all())

    def typed(self, series: pl.Series) -> None:
        """A column already converted (lists, values repeated from the blocks)."""
        self.raw.append(series)
        self.values.append(pl.col(series.name))

    def quantity(self, name: str, values: list[Any], *, required: bool) -> None:
        """``0x`` hex quantities or plain integers -> Int64 (``_hex_int``, ``_opt_int``)."""
        col, dtype = self._column(name, values)
        if dtype == pl.Null():
            if required and values:
                raise Fallback(name)
            self.values.append(pl.lit(None, dtype=pl.Int64()).alias(name))
        elif dtype.is_integer():
            as_int = col.cast(pl.Int64(), strict=False)
            self._valid(as_int.is_not_null() | col.is_null(), required=True)
            if required:
                self._valid(col.is_not_null(), required=True)
            self.values.append(as_int.alias(name))
        elif dtype == pl.String():
            self._valid(col.str.contains(_QUANTITY), required=required)
            digits = col.str.slice(2)
            value = (
                pl.when(digits.str.len_bytes() == 0)
                .then(pl.lit(0, dtype=pl.Int64()))
                .otherwise(digits.str.to_integer(base=16, strict=False))
            )
            self.values.append(value.cast(pl.Int64()).alias(name))
        else:
            raise Fallback(name)

    def amount(self, name: str, values: list[Any], *, required: bool) -> None:
        """``0x`` hex unsigned integers -> exact decimal strings (``_hex_dec``, ``_opt_dec``)."""
        col, dtype = self._column(name, values)
        if dtype == pl.Null():
            if required and values:
                raise Fallback(name)
            self.values.append(pl.lit(None, dtype=pl.String()).alias(name))
            return
        if dtype != pl.String():
            raise Fallback(name)  # plain integers are rare here: the row functions take them
        self._valid(col.str.contains(_AMOUNT), required=required)
        digits = col.str.slice(2).str.strip_chars_start("0")
        value = (
            pl.when(digits.str.len_bytes() == 0)
            .then(pl.lit("0"))
            .otherwise(
                digits.str.to_integer(base=16, dtype=pl.Int128(), strict=False).cast(pl.String())
            )
        )
        self.values.append(value.alias(name))
        self.long[name] = (values, (digits.str.len_bytes() > _INT128_DIGITS).any())

    def address(self, name: str, values: list[Any]) -> None:
        """Addresses, lower-cased; None and "" become null (``_address``)."""
        col, dtype = self._column(name, values)
        if dtype == pl.Null():
            self.values.append(pl.lit(None, dtype=pl.String()).alias(name))
            return
        if dtype != pl.String():
            raise Fallback(name)
        lower = col.str.to_lowercase()
        value = pl.when(lower != "").then(lower)
        self._valid(value.str.contains(_ADDRESS), required=False)
        self.values.append(value.alias(name))

    def hash(self, name: str, values: list[Any], *, required: bool = True) -> None:
        """32-byte hashes, lower-cased (``_hash``)."""
        col, dtype = self._column(name, values)
        if dtype == pl.Null() and not required:
            self.values.append(pl.lit(None, dtype=pl.String()).alias(name))
            return
        if dtype != pl.String():
            raise Fallback(name)
        self._valid(col.str.contains(_HASH), required=required)
        self.values.append(col.str.to_lowercase().alias(name))

    def text(self, name: str, values: list[Any]) -> None:
        """Strings kept as they are."""
        col, dtype = self._column(name, values)
        if dtype not in (pl.Null(), pl.String()):
            raise Fallback(name)
        self.values.append(col.cast(pl.String()).alias(name))

    def convert(self) -> pl.DataFrame:
        """The converted columns; :class:`Fallback` when a check fails."""
        raw = pl.DataFrame(self.raw)
        flags = [e.alias(f"check {i}") for i, e in enumerate(self.checks)]
        flags += [e.alias(f"long {name}") for name, (_, e) in self.long.items()]
        verdict = raw.select(flags).row(0) if flags else ()
        if not all(verdict[: len(self.checks)]):
            raise Fallback(str(verdict))
        out = raw.select(self.values)
        for (name, (values, _)), is_long in zip(
            self.long.items(), verdict[len(self.checks) :], strict=True
        ):
            if is_long:  # beyond Int128: Python's ints, exactly
                exact = [None if v is None else str(int(v, 16)) for v in values]
                out = out.with_columns(pl.Series(name, exact, dtype=pl.String()))
        return out


def _frame(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    try:
        return evm.intermediate(frame, kind)
    except (ValueError, OverflowError, pl.exceptions.PolarsError) as e:
        raise Fallback(kind) from e


def parity_endpoints(trace: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """``(from, to, value)`` of a Parity-style trace, as its ``type`` places them.

    A create's recipient is the created contract (``result.address``), a self-destruct's the
    refund address (paying its ``balance``), a block reward's the author (from nobody).

    Examples
    --------
    >>> parity_endpoints({"type": "suicide", "action": {"address": "a", "refundAddress": "b"}})
    ('a', 'b', None)
    """
    action = trace.get("action") or {}
    kind = str(trace.get("type", "")).lower()
    if kind in ("create", "create2"):
        result = trace.get("result") or {}
        return action.get("from"), result.get("address"), action.get("value")
    if kind in ("suicide", "selfdestruct"):
        return action.get("address"), action.get("refundAddress"), action.get("balance")
    if kind == "reward":
        return None, action.get("author"), action.get("value")
    return action.get("from"), action.get("to"), action.get("value")  # call, and the rest


def fast_frames(
    items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]], Any]],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """``blocks`` columns and the transactions, logs and traces frames of ``items``.

    Parameters
    ----------
    items
        Per block: the ``eth_getBlockByNumber(n, true)`` result, its receipts, and its
        ``trace_block`` result (or None when traces were not fetched).

    Returns
    -------
    tuple
        A frame of the block columns (``block_number``, ``block_hash``, ``parent_hash``,
        ``block_timestamp``, ``miner``, ``transaction_count``, ``base_fee_per_gas``), then
        the ``transactions``, ``logs`` and ``traces`` intermediate frames of
        :mod:`tracer.ingest.evm` (traces None when any block has none).

    Raises
    ------
    Fallback
        When a value is not plainly well formed: map with the row functions instead.
    """
    heads: list[tuple[Any, ...]] = []
    receipt_hashes: list[Any] = []
    tx_rows: list[tuple[Any, ...]] = []
    receipt_rows: list[tuple[Any, ...]] = []
    tx_block: list[int] = []
    positions: list[int] = []
    log_rows: list[tuple[Any, ...]] = []
    log_block: list[int] = []
    trace_rows: list[tuple[Any, ...]] = []
    trace_block: list[int] = []
    have_traces = True
    for at, (block, receipts, traces) in enumerate(items):
        transactions = block.get("transactions") or []
        heads.append(
            (
                block.get("number"),
                block.get("hash"),
                block.get("parentHash"),
                block.get("timestamp"),
                block.get("miner") or block.get("author"),
                len(transactions),
                block.get("baseFeePerGas"),
            )
        )
        by_hash = {r.get("transactionHash"): r for r in receipts}
        if len(by_hash) != len(receipts):
            raise Fallback
        receipt_hashes += by_hash
        tx_rows += map(_transaction_fields, transactions)
        receipt_rows += [_receipt_fields(by_hash.get(t.get("hash"))) for t in transactions]
        tx_block += [at] * len(transactions)
        positions += range(len(transactions))
        for receipt in receipts:
            for log in receipt.get("logs") or []:
                if not log.get("removed"):
                    log_rows.append(_log_fields(log))
                    log_block.append(at)
        if traces is None:
            have_traces = False
            continue
        trace_block += [at] * len(traces)
        for trace in traces:
            action = trace.get("action") or {}
            kind = str(trace.get("type", "")).lower()
            src, dst, value = parity_endpoints(trace)
            trace_rows.append(
                (
                    trace.get("blockNumber"),
                    trace.get("transactionHash"),
                    trace.get("transactionPosition"),
                    trace.get("traceAddress") or [],
                    kind,
                    action.get("callType"),
                    src,
                    dst,
                    value or "0x0",
                    trace.get("error") or None,
                )
            )
    n, h, p, t_, m, c, f = _transpose(heads, 7)
    tx_h, tx_i, tx_from, tx_to, tx_value, tx_gas, tx_price, tx_input, tx_nonce = _transpose(
        tx_rows, 9
    )
    used, eff, status, created = _transpose(receipt_rows, 4)
    lg_n, lg_h, lg_i, lg_li, lg_a, lg_tp, lg_d = _transpose(log_rows, 7)
    tr_n, tr_h, tr_i, tr_ta, tr_type, tr_ct, tr_src, tr_dst, tr_v, tr_e = _transpose(trace_rows, 10)

    receipts_ok = _Columns()
    receipts_ok.hash("transactionHash", receipt_hashes)  # as the row functions, check them all
    receipts_ok.convert()

    head = _Columns()
    head.quantity("block_number", n, required=True)
    head.hash("block_hash", h)
    head.hash("parent_hash", p)
    head.quantity("block_timestamp", t_, required=True)
    head.address("miner", m)
    head.typed(pl.Series("transaction_count", c, dtype=pl.Int64()))
    head.amount("base_fee_per_gas", f, required=False)
    blocks = head.convert()
    seconds = pl.col("block_timestamp")
    if blocks.select(((seconds < 0) | (seconds >= 2**37)).any()).item():
        raise Fallback  # before 1970 or after year 6325: the row functions decide
    blocks = blocks.with_columns(
        pl.from_epoch("block_timestamp", time_unit="s")
        .dt.replace_time_zone("UTC")
        .cast(pl.Datetime("us", "UTC"))
    )

    def per_row(column: str, at: Sequence[int]) -> pl.Series:
        return blocks[column].gather(pl.Series(at, dtype=pl.UInt32()))

    t = _Columns()
    for column in ("block_number", "block_hash", "block_timestamp"):
        t.typed(per_row(column, tx_block))
    t.hash("transaction_hash", tx_h)
    t.quantity("transaction_index", tx_i, required=False)
    t.typed(pl.Series("position", positions, dtype=pl.Int64()))
    t.address("from_address", tx_from)
    t.address("to_address", tx_to)
    t.amount("value", tx_value, required=True)
    t.quantity("gas", tx_gas, required=False)
    t.amount("gas_price", tx_price, required=False)
    t.text("input", [v if isinstance(v, str) else None for v in tx_input])
    t.quantity("nonce", tx_nonce, required=False)
    t.quantity("receipt_gas_used", used, required=False)
    t.amount("receipt_effective_gas_price", eff, required=False)
    t.quantity("receipt_status", status, required=False)
    t.address("receipt_contract_address", created)
    transactions = _frame(
        t.convert().with_columns(pl.col("transaction_index").fill_null(pl.col("position"))),
        "transactions",
    )

    lc = _Columns()
    lc.quantity("block_number", lg_n, required=True)
    lc.typed(per_row("block_timestamp", log_block))
    lc.hash("transaction_hash", lg_h)
    lc.quantity("transaction_index", lg_i, required=False)
    lc.quantity("log_index", lg_li, required=True)
    lc.address("address", lg_a)
    lc.typed(_lists("topics", [v or [] for v in lg_tp], pl.String()))
    lc.text("data", [v if isinstance(v, str) else "0x" for v in lg_d])
    logs = _frame(
        lc.convert().with_columns(pl.col("topics").list.eval(pl.element().str.to_lowercase())),
        "logs",
    )

    trace_frame = None
    if have_traces:
        rc = _Columns()
        rc.quantity("block_number", tr_n, required=True)
        rc.typed(per_row("block_timestamp", trace_block))
        rc.hash("transaction_hash", tr_h, required=False)
        rc.quantity("transaction_index", tr_i, required=False)
        rc.typed(_lists("trace_address", tr_ta, pl.Int64()))
        rc.typed(pl.Series("trace_type", tr_type, dtype=pl.String()))
        rc.text("call_type", tr_ct)
        rc.address("from_address", tr_src)
        rc.address("to_address", tr_dst)
        rc.amount("value", tr_v, required=True)
        rc.text("error", tr_e)
        trace_frame = _frame(rc.convert(), "traces")
    return blocks, transactions, logs, trace_frame
