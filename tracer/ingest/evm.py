"""EVM value semantics: which movements of value happened, from transactions, traces and logs.

This module is the one place that decides what an EVM chain's raw data means for the money:
which transactions moved ether, which internal calls did, which logs are token transfers or
ERC-20 approvals, which contracts were created. Every reader of EVM data (ethereum-etl files in
:mod:`tracer.ingest.etl`, JSON-RPC in :mod:`tracer.ingest.rpc`) maps its input to the three
*intermediate frames* below and hands them to the pure functions here, so the rules are written
once.

The intermediate frames
-----------------------
Column names follow ethereum-etl. Every producer guarantees: addresses lower-case ``0x`` + 40
hex (or null), amounts canonical decimal strings (``"0"``, ``"7400000000000000000"``; never
floats, never hex), hashes lower-case ``0x`` hex. :func:`intermediate` checks the required
columns, adds missing optional ones as null and casts to the dtypes of :data:`TRANSACTION_FRAME`,
:data:`TRACE_FRAME` and :data:`LOG_FRAME`.

``transactions`` (one row per transaction, receipt fields joined in)
    required: ``transaction_hash, block_number, from_address, to_address, value``;
    optional: ``block_hash, block_timestamp, transaction_index, gas, gas_price, input, nonce,
    receipt_gas_used, receipt_effective_gas_price, receipt_status, receipt_contract_address``.
    ``to_address`` is null for a contract creation. ``receipt_status`` is 1 (success), 0
    (failure) or null (before Byzantium, block 4,370,000 on mainnet, receipts had no status).
``traces`` (one row per Parity-style trace, as ``trace_block`` and ethereum-etl give them)
    required: ``transaction_hash, block_number, trace_address, trace_type, from_address,
    to_address, value``; optional: ``block_timestamp, transaction_index, call_type, error,
    status``. ``trace_address`` is a ``List(Int64)`` (``[]`` for the top-level call);
    ``trace_type`` is one of ``call, create, suicide, reward, genesis, daofork`` (``create2``
    and ``selfdestruct`` are accepted as synonyms); ``call_type`` is one of ``call, callcode,
    delegatecall, staticcall`` for calls; ``error`` is the node's error text or null; ``status``
    is ethereum-etl's 1/0 (0 when the trace or an ancestor failed) or null. Rewards, genesis
    allocations and the DAO fork have a null ``transaction_hash``.
``logs`` (one row per receipt log)
    required: ``transaction_hash, block_number, log_index, address, topics, data``; optional:
    ``block_timestamp, transaction_index``. ``topics`` is a ``List(String)`` of ``0x`` + 64 hex
    words, ``data`` the ``0x`` hex payload.

The rules
---------
* A transaction *failed* when ``receipt_status == 0``. When ``receipt_status`` is null it failed
  when its top-level trace (``trace_address == []``) has an ``error`` or ``status == 0``; when no
  trace of it is known either, its outcome is unknown and it is treated as successful (what
  the chain's receipts say for every pre-Byzantium transaction that did not run out of gas);
  such rows are counted as ``status_unknown``. A failed transaction moves nothing.
* A trace is *reverted* when it, or any ancestor (a trace whose ``trace_address`` is a prefix of
  its own), has an ``error`` or ``status == 0``. A reverted trace moves nothing.
* Native transfers: one row (kind ``native``, idx 0) per transaction with ``value > 0`` that did
  not fail, from ``from_address`` to ``to_address`` (to the created contract for a creation).
* Internal transfers: one row (kind ``internal``) per non-reverted sub-trace (non-empty
  ``trace_address``) with ``value > 0`` that is a ``call``/``callcode`` call, a ``create`` or a
  ``suicide``, in a transaction that did not fail; ``delegatecall`` and ``staticcall`` never
  move value. ``idx`` is the trace's position in its transaction's depth-first (pre-order) list
  of traces, the top-level trace being 0. The top-level trace is skipped: it is the native
  transfer. Rewards, genesis and DAO-fork traces are not transfers and are counted.
* Token transfers (kind ``token``, idx = ``log_index``): ERC-20 ``Transfer`` (3 topics, 32 data
  bytes), ERC-721 ``Transfer`` (4 topics, no data; ``token_id`` set, value ``"1"``), ERC-1155
  ``TransferSingle`` and ``TransferBatch`` (one row per id; equal ids within one batch are
  summed). Any other shape of these events (unindexed fields, wrong data length, an address
  word with non-zero upper bytes, a batch whose arrays disagree) is counted and skipped.
  Zero-value token transfers are kept: the event happened, and zero-value transfers are the
  footprint of address-poisoning scams.
* Approvals: ERC-20 ``Approval`` (3 topics, 32 data bytes). The ERC-721 ``Approval`` shares the
  topic but has 4 topics; it is counted as ``erc721_approval`` and skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import polars as pl

from tracer.errors import SchemaMismatch
from tracer.schema import conform, empty

__all__ = [
    "APPROVAL_TOPIC",
    "LOG_FRAME",
    "NATIVE_DECIMALS",
    "TRACE_FRAME",
    "TRANSACTION_FRAME",
    "TRANSFER_BATCH_TOPIC",
    "TRANSFER_SINGLE_TOPIC",
    "TRANSFER_TOPIC",
    "Extracted",
    "approvals",
    "contracts",
    "decimal_to_hex",
    "hex_to_decimal",
    "intermediate",
    "internal_transfers",
    "native_asset",
    "native_transfers",
    "token_transfers",
    "transaction_outcomes",
    "word_to_address",
]

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
APPROVAL_TOPIC = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
TRANSFER_SINGLE_TOPIC = "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62"
TRANSFER_BATCH_TOPIC = "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb"

NATIVE_DECIMALS = 18
_NATIVE_SYMBOLS: Mapping[str, str] = {
    "bsc": "BNB",
    "polygon": "POL",
    "avalanche": "AVAX",
    "ethereum_classic": "ETC",
    "fantom": "FTM",
    "gnosis": "XDAI",
}

_TS = pl.Datetime("us", "UTC")

TRANSACTION_FRAME = pl.Schema(
    {
        "block_number": pl.Int64(),
        "block_hash": pl.String(),
        "block_timestamp": _TS,
        "transaction_hash": pl.String(),
        "transaction_index": pl.Int64(),
        "from_address": pl.String(),
        "to_address": pl.String(),
        "value": pl.String(),
        "gas": pl.Int64(),
        "gas_price": pl.String(),
        "input": pl.String(),
        "nonce": pl.Int64(),
        "receipt_gas_used": pl.Int64(),
        "receipt_effective_gas_price": pl.String(),
        "receipt_status": pl.Int8(),
        "receipt_contract_address": pl.String(),
    }
)
TRACE_FRAME = pl.Schema(
    {
        "block_number": pl.Int64(),
        "block_timestamp": _TS,
        "transaction_hash": pl.String(),
        "transaction_index": pl.Int64(),
        "trace_address": pl.List(pl.Int64()),
        "trace_type": pl.String(),
        "call_type": pl.String(),
        "from_address": pl.String(),
        "to_address": pl.String(),
        "value": pl.String(),
        "error": pl.String(),
        "status": pl.Int8(),
    }
)
LOG_FRAME = pl.Schema(
    {
        "block_number": pl.Int64(),
        "block_timestamp": _TS,
        "transaction_hash": pl.String(),
        "transaction_index": pl.Int64(),
        "log_index": pl.Int64(),
        "address": pl.String(),
        "topics": pl.List(pl.String()),
        "data": pl.String(),
    }
)
_FRAMES: Mapping[str, pl.Schema] = {
    "transactions": TRANSACTION_FRAME,
    "traces": TRACE_FRAME,
    "logs": LOG_FRAME,
}
_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "transactions": ("transaction_hash", "block_number", "from_address", "to_address", "value"),
    "traces": (
        "transaction_hash",
        "block_number",
        "trace_address",
        "trace_type",
        "from_address",
        "to_address",
        "value",
    ),
    "logs": ("transaction_hash", "block_number", "log_index", "address", "topics", "data"),
}

_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_WORD = r"^0x[0-9a-f]{64}$"
_ADDRESS_WORD = r"^0x0{24}[0-9a-f]{40}$"
_TRACE_KEY_WIDTH = 7  # least digits per trace_address component in the depth-first sort key


class Extracted(NamedTuple):
    """Rows of a canonical table, and how many candidate rows were skipped, by reason."""

    rows: pl.DataFrame
    skipped: dict[str, int]


# --- exact hex <-> decimal -------------------------------------------------------------------


def hex_to_decimal(text: str) -> str:
    """The decimal string of a ``0x`` hex unsigned integer (``"0x"`` is zero), exactly.

    Raises ``ValueError`` on anything that is not ``0x`` followed by hex digits.

    Examples
    --------
    >>> hex_to_decimal("0x66b214cb09e400000")
    '118400000000000000000'
    >>> hex_to_decimal("0x")
    '0'
    """
    if _HEX.fullmatch(text) is None:
        msg = f"not 0x hex: {text!r}"
        raise ValueError(msg)
    return str(int(text[2:], 16)) if len(text) > 2 else "0"


def decimal_to_hex(text: str) -> str:
    """The minimal ``0x`` hex form of a decimal string (``"0"`` -> ``"0x0"``), exactly.

    Examples
    --------
    >>> decimal_to_hex("118400000000000000000")
    '0x66b214cb09e400000'
    """
    if not (text.isascii() and text.isdigit()):
        msg = f"not a decimal integer: {text!r}"
        raise ValueError(msg)
    return hex(int(text))


def word_to_address(word: str) -> str | None:
    """The address in a 32-byte ABI word, or None when the word cannot hold one.

    An ABI-encoded address is 12 zero bytes then 20 address bytes; any other word (non-zero
    upper bytes, wrong length, not hex) is not an address and is not guessed at.

    Examples
    --------
    >>> word_to_address("0x0000000000000000000000006b75d8af000000e20b7a7ddf000ba900b4009a80")
    '0x6b75d8af000000e20b7a7ddf000ba900b4009a80'
    >>> word_to_address("0x1000000000000000000000006b75d8af000000e20b7a7ddf000ba900b4009a80")
    """
    w = word.lower()
    if len(w) != 66 or not w.startswith("0x" + "0" * 24):
        return None
    body = w[26:]
    if not all(c in "0123456789abcdef" for c in body):
        return None
    return "0x" + body


def native_asset(chain: str) -> str:
    """The ``asset`` of a chain's native coin in ``transfers``: ``"ETH"`` unless listed.

    Examples
    --------
    >>> native_asset("ethereum"), native_asset("bsc")
    ('ETH', 'BNB')
    """
    return _NATIVE_SYMBOLS.get(chain, "ETH")


# --- intermediate frames ---------------------------------------------------------------------


def intermediate(frame: pl.DataFrame, kind: str, *, source: str | None = None) -> pl.DataFrame:
    """Check and cast a producer's frame to the intermediate frame ``kind``.

    Parameters
    ----------
    frame
        The producer's rows; extra columns are dropped.
    kind
        ``"transactions"``, ``"traces"`` or ``"logs"``.
    source
        Where the rows came from, for the error message.

    Returns
    -------
    pl.DataFrame
        The columns of :data:`TRANSACTION_FRAME`, :data:`TRACE_FRAME` or :data:`LOG_FRAME`;
        optional columns the producer did not give are null.

    Raises
    ------
    SchemaMismatch
        When a required column is missing.

    Examples
    --------
    >>> intermediate(pl.DataFrame({"transaction_hash": ["0xab"]}), "transactions")
    Traceback (most recent call last):
    ...
    tracer.errors.SchemaMismatch: missing column(s) of the transactions frame: ['block_number', ...
    """
    schema = _FRAMES[kind]
    missing = [c for c in _REQUIRED[kind] if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        msg = f"missing column(s) of the {kind} frame: [{shown}]"
        raise SchemaMismatch(
            msg, source=source, fix=f"Give the {kind} columns listed in tracer.ingest.evm"
        )
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(dtype, strict=True).alias(c)
        for c, dtype in schema.items()
    )


def _positive(column: str = "value") -> pl.Expr:
    return pl.col(column).str.strip_chars_start("0").str.len_bytes().fill_null(0) > 0


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.height == 0:
        return {}
    grouped = frame.group_by(column).len().sort(column)
    return {str(k): int(n) for k, n in grouped.iter_rows()}


def _merge(*parts: Mapping[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return {k: v for k, v in sorted(total.items()) if v}


def transaction_outcomes(
    transactions: pl.DataFrame | None = None, traces: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Whether each known transaction succeeded: ``transaction_hash``, ``succeeded``.

    ``succeeded`` is ``receipt_status == 1`` when the receipt has a status; otherwise the
    absence of an error (and of ``status == 0``) on the transaction's top-level trace; null when
    neither is known.

    Parameters
    ----------
    transactions
        A ``transactions`` intermediate frame, or None.
    traces
        A ``traces`` intermediate frame, or None.

    Examples
    --------
    >>> txs = pl.DataFrame(
    ...     {"transaction_hash": ["0xa", "0xb", "0xc"], "receipt_status": [1, None, None]}
    ... )
    >>> trs = pl.DataFrame(
    ...     {
    ...         "transaction_hash": ["0xb"],
    ...         "trace_address": [[]],
    ...         "error": ["Out of gas"],
    ...         "status": [None],
    ...     }
    ... )
    >>> transaction_outcomes(txs, trs).rows()
    [('0xa', True), ('0xb', False), ('0xc', None)]
    """
    by_trace = pl.DataFrame(
        schema={"transaction_hash": pl.String(), "trace_succeeded": pl.Boolean()}
    )
    if traces is not None:
        by_trace = (
            traces.filter(
                pl.col("transaction_hash").is_not_null() & (pl.col("trace_address").list.len() == 0)
            )
            .group_by("transaction_hash", maintain_order=True)
            .agg(
                (pl.col("error").is_null() & (pl.col("status").cast(pl.Int8) != 0).fill_null(True))
                .all()
                .alias("trace_succeeded")
            )
        )
    if transactions is None:
        return by_trace.rename({"trace_succeeded": "succeeded"})
    return (
        transactions.select("transaction_hash", pl.col("receipt_status").cast(pl.Int8))
        .join(by_trace, on="transaction_hash", how="left", maintain_order="left")
        .select(
            "transaction_hash",
            pl.when(pl.col("receipt_status").is_not_null())
            .then(pl.col("receipt_status") == 1)
            .otherwise(pl.col("trace_succeeded"))
            .alias("succeeded"),
        )
    )


def _transfer_rows(frame: pl.DataFrame, *, chain: str) -> pl.DataFrame:
    rows = conform(frame.with_columns(pl.lit(chain).alias("chain")), "transfers").collect()
    return rows.sort("block_number", "transaction_index", "transaction_hash", "kind", "idx")


def native_transfers(
    transactions: pl.DataFrame, *, chain: str, traces: pl.DataFrame | None = None
) -> Extracted:
    """The ether that transactions moved: one ``transfers`` row per successful value transfer.

    Parameters
    ----------
    transactions
        A ``transactions`` intermediate frame.
    chain
        The chain, for the ``chain`` and ``asset`` columns.
    traces
        The transactions' traces when known: they decide the outcome of transactions whose
        receipt has no status (before Byzantium).

    Returns
    -------
    Extracted
        ``transfers`` rows of kind ``native`` (idx 0, decimals 18); skipped counts
        ``failed`` (value > 0 in a failed transaction) and ``no_recipient`` (a creation whose
        contract address is unknown), plus ``status_unknown`` for rows kept without a status.

    Examples
    --------
    >>> txs = intermediate(
    ...     pl.DataFrame(
    ...         {
    ...             "transaction_hash": ["0xa", "0xb", "0xc"],
    ...             "block_number": [1, 1, 1],
    ...             "from_address": ["0x" + "1" * 40] * 3,
    ...             "to_address": ["0x" + "2" * 40] * 3,
    ...             "value": ["5", "7", "0"],
    ...             "receipt_status": [1, 0, 1],
    ...         }
    ...     ),
    ...     "transactions",
    ... )
    >>> out = native_transfers(txs, chain="ethereum")
    >>> out.rows.select("transaction_hash", "kind", "value").rows(), out.skipped
    ([('0xa', 'native', '5')], {'failed': 1})
    """
    outcomes = transaction_outcomes(transactions, traces)
    moving = (
        transactions.filter(_positive())
        .join(outcomes, on="transaction_hash", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("to_address", "receipt_contract_address").alias("to_address"),
            pl.when(pl.col("succeeded") == False)  # noqa: E712 - null means unknown
            .then(pl.lit("failed"))
            .when(pl.coalesce("to_address", "receipt_contract_address").is_null())
            .then(pl.lit("no_recipient"))
            .alias("skip"),
        )
    )
    kept = moving.filter(pl.col("skip").is_null())
    rows = kept.with_columns(
        pl.lit("native").alias("kind"),
        pl.lit(0, dtype=pl.Int64).alias("idx"),
        pl.lit(native_asset(chain)).alias("asset"),
        pl.lit(None, dtype=pl.String).alias("token_standard"),
        pl.lit(None, dtype=pl.String).alias("token_id"),
        pl.lit(NATIVE_DECIMALS, dtype=pl.Int32).alias("decimals"),
    )
    unknown = {"status_unknown": int(kept["succeeded"].is_null().sum())}
    return Extracted(
        _transfer_rows(rows, chain=chain),
        _merge(_counts(moving.filter(pl.col("skip").is_not_null()), "skip"), unknown),
    )


def _trace_keys(traces: pl.DataFrame) -> pl.DataFrame:
    """Add ``row``, ``depth``, ``key`` (a string that sorts traces depth-first) and ``width``.

    Each ``trace_address`` component is zero-padded to the same width, so that comparing keys
    as strings is comparing the addresses as lists (a prefix sorts before its extensions).
    """
    largest = traces["trace_address"].explode().max() if traces.height else None
    width = max(_TRACE_KEY_WIDTH, len(str(largest)) if largest is not None else 0)
    return traces.with_row_index("row").with_columns(
        pl.lit(width, dtype=pl.Int64).alias("width"),
        pl.col("trace_address").list.len().cast(pl.Int64).alias("depth"),
        pl.col("trace_address")
        .list.eval(pl.element().cast(pl.String).str.zfill(width))
        .list.join(",")
        .alias("key"),
    )


def _reverted_rows(keyed: pl.DataFrame) -> pl.Series:
    """Rows (of :func:`_trace_keys`) whose trace or an ancestor failed."""
    width = int(keyed["width"][0]) if keyed.height else _TRACE_KEY_WIDTH
    failed_keys = keyed.filter(
        pl.col("error").is_not_null() | (pl.col("status").cast(pl.Int8) == 0).fill_null(False)
    ).select("transaction_hash", pl.col("key").alias("prefix"))
    prefixes = (
        keyed.select(
            "row", "transaction_hash", "key", pl.int_ranges(0, pl.col("depth") + 1).alias("d")
        )
        .explode("d")
        .select(
            "row",
            "transaction_hash",
            pl.when(pl.col("d") == 0)
            .then(pl.lit(""))
            .otherwise(pl.col("key").str.slice(0, pl.col("d") * (width + 1) - 1))
            .alias("prefix"),
        )
    )
    hit = prefixes.join(failed_keys, on=["transaction_hash", "prefix"], how="semi")
    return hit["row"].unique()


_VALUE_CALLS = ("call", "callcode")
_CREATES = ("create", "create2")
_SUICIDES = ("suicide", "selfdestruct")
_NOT_TRANSFERS = ("reward", "genesis", "daofork")


def internal_transfers(
    traces: pl.DataFrame, *, chain: str, transactions: pl.DataFrame | None = None
) -> Extracted:
    """The ether that internal calls, creations and self-destructs moved.

    Parameters
    ----------
    traces
        A ``traces`` intermediate frame holding every trace of each transaction it covers (the
        depth-first positions and the ancestor rule need the whole tree).
    chain
        The chain, for the ``chain`` and ``asset`` columns.
    transactions
        The transactions when known: a transaction whose receipt says it failed moves nothing.

    Returns
    -------
    Extracted
        ``transfers`` rows of kind ``internal``; skipped counts of value-moving traces by
        reason: ``reverted``, ``failed_transaction``, ``no_recipient``, and the non-transfers
        ``reward``, ``genesis``, ``daofork``.

    Examples
    --------
    >>> a, b, c = ("0x" + d * 40 for d in "abc")
    >>> trs = intermediate(
    ...     pl.DataFrame(
    ...         {
    ...             "transaction_hash": ["0x1"] * 4,
    ...             "block_number": [9] * 4,
    ...             "trace_address": [[], [0], [0, 0], [1]],
    ...             "trace_type": ["call"] * 4,
    ...             "call_type": ["call", "call", "call", "delegatecall"],
    ...             "from_address": [a, b, c, b],
    ...             "to_address": [b, c, a, c],
    ...             "value": ["9", "4", "1", "3"],
    ...             "error": [None, None, None, None],
    ...         }
    ...     ),
    ...     "traces",
    ... )
    >>> internal_transfers(trs, chain="ethereum").rows.select("idx", "value").rows()
    [(1, '4'), (2, '1')]
    """
    skipped: list[Mapping[str, int]] = []
    kinds = pl.col("trace_type").str.to_lowercase()
    skipped.append(_counts(traces.filter(kinds.is_in(_NOT_TRANSFERS) & _positive()), "trace_type"))
    in_tx = traces.filter(pl.col("transaction_hash").is_not_null())
    keyed = _trace_keys(in_tx).with_columns(
        pl.col("key").rank("ordinal").over("transaction_hash").sub(1).cast(pl.Int64).alias("idx")
    )
    reverted = _reverted_rows(keyed)
    call_type = pl.col("call_type").str.to_lowercase()
    moving = keyed.filter(
        (pl.col("depth") > 0)
        & _positive()
        & (
            ((kinds == "call") & call_type.is_in(_VALUE_CALLS))
            | kinds.is_in(_CREATES)
            | kinds.is_in(_SUICIDES)
        )
    )
    failed_expr = pl.col("transaction_hash").is_in(_failed_hashes(transactions).implode())
    moving = moving.with_columns(
        pl.when(failed_expr)
        .then(pl.lit("failed_transaction"))
        .when(pl.col("row").is_in(reverted.implode()))
        .then(pl.lit("reverted"))
        .when(pl.col("to_address").is_null())
        .then(pl.lit("no_recipient"))
        .alias("skip")
    )
    skipped.append(_counts(moving.filter(pl.col("skip").is_not_null()), "skip"))
    rows = moving.filter(pl.col("skip").is_null()).with_columns(
        pl.lit("internal").alias("kind"),
        pl.lit(native_asset(chain)).alias("asset"),
        pl.lit(None, dtype=pl.String).alias("token_standard"),
        pl.lit(None, dtype=pl.String).alias("token_id"),
        pl.lit(NATIVE_DECIMALS, dtype=pl.Int32).alias("decimals"),
    )
    return Extracted(_transfer_rows(rows, chain=chain), _merge(*skipped))


# --- logs ------------------------------------------------------------------------------------


def _failed_hashes(transactions: pl.DataFrame | None) -> pl.Series:
    if transactions is None:
        return pl.Series("transaction_hash", [], dtype=pl.String)
    outcomes = transaction_outcomes(transactions, None)
    return outcomes.filter(pl.col("succeeded") == False)["transaction_hash"]  # noqa: E712


def _decimal(words: Iterable[str | None]) -> list[str | None]:
    """Decimal strings of hex words that a Polars filter has already checked."""
    return [None if w is None else str(int(w, 16)) for w in words]


def _topic(i: int) -> pl.Expr:
    return pl.col("topics").list.get(i, null_on_oob=True).str.to_lowercase()


def _is_address_topic(i: int) -> pl.Expr:
    return _topic(i).str.contains(_ADDRESS_WORD).fill_null(False)


def _address_topic(i: int) -> pl.Expr:
    return pl.when(_topic(i).str.contains(_ADDRESS_WORD)).then(
        pl.lit("0x") + _topic(i).str.slice(26)
    )


def _data_words(n: int) -> pl.Expr:
    return pl.col("data").str.contains(rf"^0x[0-9a-fA-F]{{{64 * n}}}$").fill_null(False)


def _no_data() -> pl.Expr:
    return pl.col("data").is_null() | pl.col("data").is_in(["0x", ""])


def _prepared(logs: pl.DataFrame, transactions: pl.DataFrame | None) -> pl.DataFrame:
    failed = _failed_hashes(transactions)
    return logs.filter(~pl.col("transaction_hash").is_in(failed.implode())).with_columns(
        _topic(0).alias("topic0"),
        pl.col("topics").list.len().alias("n_topics"),
        pl.col("topics")
        .list.eval(pl.element().str.to_lowercase().str.contains(_WORD))
        .list.all()
        .alias("topics_ok"),
    )


def _decode_batch(data: str) -> list[tuple[str, str]] | None:
    """(id, value) pairs of an ERC-1155 ``TransferBatch`` payload, or None if malformed."""
    if len(data) < 2 or (len(data) - 2) % 64:
        return None
    try:
        words = [int(data[i : i + 64], 16) for i in range(2, len(data), 64)]
    except ValueError:
        return None

    def array(offset: int) -> list[int] | None:
        if offset % 32 or offset // 32 >= len(words):
            return None
        start = offset // 32
        length = words[start]
        if start + 1 + length > len(words):
            return None
        return words[start + 1 : start + 1 + length]

    if len(words) < 2:
        return None
    ids, values = array(words[0]), array(words[1])
    if ids is None or values is None or len(ids) != len(values):
        return None
    if len(words) != 4 + 2 * len(ids):  # two offsets, two lengths, the two arrays
        return None
    summed: dict[int, int] = {}
    for token_id, value in zip(ids, values, strict=True):
        summed[token_id] = summed.get(token_id, 0) + value
    return [(str(k), str(v)) for k, v in summed.items()]


def token_transfers(
    logs: pl.DataFrame, *, chain: str, transactions: pl.DataFrame | None = None
) -> Extracted:
    """Decode ERC-20, ERC-721 and ERC-1155 transfer events into ``transfers`` rows.

    Parameters
    ----------
    logs
        A ``logs`` intermediate frame.
    chain
        The chain, for the ``chain`` column.
    transactions
        The transactions when known: logs of a failed transaction are dropped (nodes do not
        return any; this guards against inconsistent input).

    Returns
    -------
    Extracted
        ``transfers`` rows of kind ``token`` with ``asset = token_address`` and
        ``token_standard`` ``erc20`` / ``erc721`` / ``erc1155``; ``decimals`` is 0 for ERC-721
        and ERC-1155 and null for ERC-20 (fill it from the tokens table). Skipped counts:
        ``transfer_malformed``, ``transfer_single_malformed``, ``transfer_batch_malformed``.

    Examples
    --------
    >>> word = lambda n: "0x" + format(n, "064x")
    >>> logs = intermediate(
    ...     pl.DataFrame(
    ...         {
    ...             "transaction_hash": ["0x1", "0x1"],
    ...             "block_number": [5, 5],
    ...             "log_index": [0, 1],
    ...             "address": ["0x" + "c" * 40] * 2,
    ...             "topics": [[TRANSFER_TOPIC, word(0xA), word(0xB)], [TRANSFER_TOPIC, word(0xA)]],
    ...             "data": [word(10**30), word(1)],
    ...         }
    ...     ),
    ...     "logs",
    ... )
    >>> out = token_transfers(logs, chain="ethereum")
    >>> out.rows.select("idx", "value").rows(), out.skipped
    ([(0, '1000000000000000000000000000000')], {'transfer_malformed': 1})
    """
    prepared = _prepared(logs, transactions)
    skipped: Counter[str] = Counter()
    parts: list[pl.DataFrame] = []

    transfer = prepared.filter(pl.col("topic0") == TRANSFER_TOPIC)
    parties = _is_address_topic(1) & _is_address_topic(2)
    erc20_shape = (pl.col("n_topics") == 3) & _data_words(1) & parties
    erc721_shape = (pl.col("n_topics") == 4) & _no_data() & parties
    erc20 = transfer.filter(erc20_shape & pl.col("topics_ok"))
    erc721 = transfer.filter(erc721_shape & pl.col("topics_ok"))
    parts.append(
        erc20.with_columns(
            _address_topic(1).alias("from_address"),
            _address_topic(2).alias("to_address"),
            pl.Series("value", _decimal(erc20["data"].to_list()), dtype=pl.String),
            pl.lit(None, dtype=pl.String).alias("token_id"),
            pl.lit("erc20").alias("token_standard"),
            pl.lit(None, dtype=pl.Int32).alias("decimals"),
        )
    )
    parts.append(
        erc721.with_columns(
            _address_topic(1).alias("from_address"),
            _address_topic(2).alias("to_address"),
            pl.lit("1").alias("value"),
            pl.Series(
                "token_id", _decimal(erc721["topics"].list.get(3).to_list()), dtype=pl.String
            ),
            pl.lit("erc721").alias("token_standard"),
            pl.lit(0, dtype=pl.Int32).alias("decimals"),
        )
    )
    skipped["transfer_malformed"] += transfer.height - erc20.height - erc721.height

    single_all = prepared.filter(pl.col("topic0") == TRANSFER_SINGLE_TOPIC)
    parties_1155 = _is_address_topic(2) & _is_address_topic(3)
    single = single_all.filter(
        (pl.col("n_topics") == 4) & _data_words(2) & pl.col("topics_ok") & parties_1155
    )
    skipped["transfer_single_malformed"] += single_all.height - single.height
    data = single["data"].to_list()
    parts.append(
        single.with_columns(
            _address_topic(2).alias("from_address"),
            _address_topic(3).alias("to_address"),
            pl.Series("token_id", _decimal("0x" + d[2:66] for d in data), dtype=pl.String),
            pl.Series("value", _decimal("0x" + d[66:130] for d in data), dtype=pl.String),
            pl.lit("erc1155").alias("token_standard"),
            pl.lit(0, dtype=pl.Int32).alias("decimals"),
        )
    )

    batch_all = prepared.filter(pl.col("topic0") == TRANSFER_BATCH_TOPIC)
    batch = batch_all.filter(
        (pl.col("n_topics") == 4) & pl.col("topics_ok") & parties_1155
    ).with_row_index("batch_row")
    pairs: list[tuple[int, str, str]] = []
    bad_batches = batch_all.height - batch.height
    for row, payload in batch.select("batch_row", "data").iter_rows():
        decoded = _decode_batch(payload) if payload else None
        if decoded is None:
            bad_batches += 1
            continue
        pairs += [(row, token_id, value) for token_id, value in decoded]
    skipped["transfer_batch_malformed"] += bad_batches
    exploded = pl.DataFrame(
        pairs,
        schema={"batch_row": pl.UInt32(), "token_id": pl.String(), "value": pl.String()},
        orient="row",
    )
    parts.append(
        batch.join(exploded, on="batch_row", how="inner", maintain_order="left").with_columns(
            _address_topic(2).alias("from_address"),
            _address_topic(3).alias("to_address"),
            pl.lit("erc1155").alias("token_standard"),
            pl.lit(0, dtype=pl.Int32).alias("decimals"),
        )
    )

    columns = [
        "block_number",
        "block_timestamp",
        "transaction_hash",
        "transaction_index",
        pl.col("log_index").alias("idx"),
        "from_address",
        "to_address",
        pl.col("address").alias("asset"),
        "token_standard",
        "token_id",
        "value",
        "decimals",
    ]
    rows = pl.concat([p.select(columns) for p in parts], how="vertical").with_columns(
        pl.lit("token").alias("kind")
    )
    rows = _transfer_rows(rows, chain=chain).sort(
        "block_number", "transaction_index", "transaction_hash", "idx", "token_id"
    )
    return Extracted(rows, _merge(skipped))


def approvals(
    logs: pl.DataFrame, *, chain: str, transactions: pl.DataFrame | None = None
) -> Extracted:
    """Decode ERC-20 ``Approval(owner, spender, value)`` events into ``approvals`` rows.

    Parameters
    ----------
    logs
        A ``logs`` intermediate frame.
    chain
        The chain, for the ``chain`` column.
    transactions
        The transactions when known: logs of a failed transaction are dropped.

    Returns
    -------
    Extracted
        ``approvals`` rows; skipped counts ``erc721_approval`` (4 topics: an NFT approval, not
        an allowance) and ``approval_malformed``.

    Examples
    --------
    >>> word = lambda n: "0x" + format(n, "064x")
    >>> logs = intermediate(
    ...     pl.DataFrame(
    ...         {
    ...             "transaction_hash": ["0x1", "0x1"],
    ...             "block_number": [5, 5],
    ...             "log_index": [3, 4],
    ...             "address": ["0x" + "c" * 40] * 2,
    ...             "topics": [
    ...                 [APPROVAL_TOPIC, word(1), word(2)],
    ...                 [APPROVAL_TOPIC, word(1), word(2), word(7)],
    ...             ],
    ...             "data": [word(2**256 - 1), "0x"],
    ...         }
    ...     ),
    ...     "logs",
    ... )
    >>> out = approvals(logs, chain="ethereum")
    >>> out.rows["value"].to_list() == [str(2**256 - 1)], out.skipped
    (True, {'erc721_approval': 1})
    """
    prepared = _prepared(logs, transactions).filter(pl.col("topic0") == APPROVAL_TOPIC)
    parties = _is_address_topic(1) & _is_address_topic(2)
    good = prepared.filter(
        (pl.col("n_topics") == 3) & _data_words(1) & pl.col("topics_ok") & parties
    )
    nft = prepared.filter((pl.col("n_topics") == 4) & _no_data() & pl.col("topics_ok")).height
    rows = good.select(
        pl.lit(chain).alias("chain"),
        "block_number",
        "block_timestamp",
        "transaction_hash",
        "log_index",
        _address_topic(1).alias("owner"),
        _address_topic(2).alias("spender"),
        pl.col("address").alias("token_address"),
        pl.Series("value", _decimal(good["data"].to_list()), dtype=pl.String),
    )
    out = conform(rows, "approvals").collect().sort("block_number", "transaction_hash", "log_index")
    malformed = prepared.height - nft - good.height
    return Extracted(out, _merge({"erc721_approval": nft, "approval_malformed": malformed}))


def contracts(
    *,
    chain: str,
    transactions: pl.DataFrame | None = None,
    traces: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Contracts created by successful transactions and non-reverted ``create`` traces.

    Parameters
    ----------
    chain
        The chain, for the ``chain`` column.
    transactions
        A ``transactions`` intermediate frame: ``receipt_contract_address`` of a transaction
        that did not fail, created by ``from_address``.
    traces
        A ``traces`` intermediate frame: ``to_address`` of each non-reverted ``create`` trace,
        created by its ``from_address`` (a factory contract for a sub-trace).

    Returns
    -------
    pl.DataFrame
        ``contracts`` rows, one per address (its earliest creation), sorted by address.

    Examples
    --------
    >>> txs = intermediate(
    ...     pl.DataFrame(
    ...         {
    ...             "transaction_hash": ["0x1", "0x2"],
    ...             "block_number": [5, 6],
    ...             "from_address": ["0x" + "a" * 40] * 2,
    ...             "to_address": [None, None],
    ...             "value": ["0", "0"],
    ...             "receipt_status": [1, 0],
    ...             "receipt_contract_address": ["0x" + "c" * 40, "0x" + "d" * 40],
    ...         }
    ...     ),
    ...     "transactions",
    ... )
    >>> contracts(chain="ethereum", transactions=txs)["address"].to_list() == ["0x" + "c" * 40]
    True
    """
    parts: list[pl.DataFrame] = []
    columns = ["address", "block_number", "transaction_hash", "creator", "order", "order_depth"]
    if transactions is not None:
        outcomes = transaction_outcomes(transactions, traces)
        parts.append(
            transactions.join(outcomes, on="transaction_hash", how="left", maintain_order="left")
            .filter(
                pl.col("receipt_contract_address").is_not_null()
                & (pl.col("succeeded") != False).fill_null(True)  # noqa: E712
            )
            .select(
                pl.col("receipt_contract_address").alias("address"),
                "block_number",
                "transaction_hash",
                pl.col("from_address").alias("creator"),
                pl.col("transaction_index").fill_null(-1).alias("order"),
                pl.lit(0, dtype=pl.Int64).alias("order_depth"),
            )
        )
    if traces is not None:
        in_tx = traces.filter(pl.col("transaction_hash").is_not_null())
        keyed = _trace_keys(in_tx)
        reverted = _reverted_rows(keyed)
        parts.append(
            keyed.filter(
                pl.col("trace_type").str.to_lowercase().is_in(_CREATES)
                & pl.col("to_address").is_not_null()
                & ~pl.col("row").is_in(reverted.implode())
            ).select(
                pl.col("to_address").alias("address"),
                "block_number",
                "transaction_hash",
                pl.col("from_address").alias("creator"),
                pl.col("transaction_index").fill_null(-1).alias("order"),
                pl.col("depth").cast(pl.Int64).alias("order_depth"),
            )
        )
    if not parts:
        return empty("contracts")
    found = (
        pl.concat([p.select(columns) for p in parts], how="vertical")
        .sort("block_number", "order", "order_depth", "transaction_hash", maintain_order=True)
        .unique("address", keep="first", maintain_order=True)
        .with_columns(pl.lit(chain).alias("chain"))
    )
    return conform(found, "contracts").collect().sort("address")
