"""``--format ethereum-etl``: ethereum-etl exports and BigQuery ``crypto_ethereum`` tables.

Reads blocks, transactions (with or without ``receipt_*`` columns), receipts, logs,
token_transfers, traces, contracts and tokens, as CSV or JSON lines: ethereum-etl's item stream
(``{"type": "transaction", ...}`` per line, several kinds in one file) and plain files of one
kind. Each file's kind comes from its records' ``type`` field, else from its columns, else from
its name; a file that is none of them is an error naming what was expected.

Amounts stay exact: JSON lines are parsed with Python's :mod:`json` (integers of any size) and
CSV columns are read as strings, so ``"value": 7400000000000000000`` is never a float or an
Int64 on its way to a table. The rows are then mapped to the intermediate frames of
:mod:`tracer.ingest.evm`, which decides what moved value; ``docs/ingest-files-etl.md`` says
which column becomes which table and what is dropped.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tracer.addresses import EVM_CHAINS, normalize_column
from tracer.amounts import parse_uint
from tracer.errors import InputError, InvalidAddress, InvalidAmount, SchemaMismatch, UnknownFormat
from tracer.ingest import evm
from tracer.schema import KEYS, conform, empty

__all__ = ["KINDS", "Ingested", "detect_kind", "extract", "read"]

KINDS = (
    "blocks",
    "transactions",
    "receipts",
    "logs",
    "token_transfers",
    "traces",
    "contracts",
    "tokens",
)
_TYPES: Mapping[str, str] = {
    "block": "blocks",
    "transaction": "transactions",
    "receipt": "receipts",
    "log": "logs",
    "token_transfer": "token_transfers",
    "trace": "traces",
    "contract": "contracts",
    "token": "tokens",
}
_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "blocks": ("number", "timestamp"),
    "transactions": ("hash", "block_number", "from_address", "to_address", "value"),
    "receipts": ("transaction_hash", "status"),
    "logs": ("log_index", "transaction_hash", "block_number", "address", "data", "topics"),
    "token_transfers": (
        "token_address",
        "from_address",
        "to_address",
        "value",
        "transaction_hash",
        "log_index",
        "block_number",
    ),
    "traces": (
        "transaction_hash",
        "block_number",
        "trace_address",
        "trace_type",
        "from_address",
        "to_address",
        "value",
    ),
    "contracts": ("address",),
    "tokens": ("address",),
}
# The columns each kind's mapper reads; the others are dropped when a file is read.
_USED: Mapping[str, tuple[str, ...]] = {
    "blocks": (
        "number",
        "timestamp",
        "hash",
        "parent_hash",
        "miner",
        "transaction_count",
        "base_fee_per_gas",
    ),
    "transactions": (
        "hash",
        "block_number",
        "from_address",
        "to_address",
        "value",
        "block_hash",
        "block_timestamp",
        "transaction_index",
        "gas",
        "gas_price",
        "input",
        "nonce",
        "receipt_gas_used",
        "receipt_effective_gas_price",
        "receipt_status",
        "receipt_contract_address",
    ),
    "receipts": (
        "transaction_hash",
        "status",
        "gas_used",
        "contract_address",
        "effective_gas_price",
    ),
    "logs": (
        "log_index",
        "transaction_hash",
        "block_number",
        "address",
        "data",
        "topics",
        "block_timestamp",
        "transaction_index",
    ),
    "token_transfers": (
        "token_address",
        "from_address",
        "to_address",
        "value",
        "transaction_hash",
        "log_index",
        "block_number",
        "block_timestamp",
        "transaction_index",
    ),
    "traces": (
        "transaction_hash",
        "block_number",
        "trace_address",
        "trace_type",
        "from_address",
        "to_address",
        "value",
        "block_timestamp",
        "transaction_index",
        "call_type",
        "error",
        "status",
    ),
    "contracts": ("address", "block_number", "is_erc20", "is_erc721"),
    "tokens": ("address", "symbol", "name", "decimals"),
}
_OUTPUTS = ("blocks", "transactions", "transfers", "approvals", "contracts", "tokens")
_EXPECTED = (
    "Give ethereum-etl / BigQuery crypto_ethereum exports of blocks, transactions, receipts, "
    "logs, token_transfers, traces, contracts or tokens (CSV or JSON lines)"
)
_DIGITS = r"^[0-9]+$"
_HASH = r"^0x[0-9a-f]{64}$"
_LINE = "__line"


@dataclass
class Ingested:
    """What :func:`extract` read: the tables, and the candidate rows skipped by reason."""

    tables: dict[str, pl.DataFrame]
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class _Part:
    kind: str
    source: Path
    frame: pl.DataFrame  # String columns, plus __line (1-based line of the record)


# --- reading files ---------------------------------------------------------------------------


def _bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as zipped:
            return zipped.read()
    return path.read_bytes()


def _is_json(path: Path, head: bytes) -> bool:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1] in (".json", ".jsonl", ".ndjson"):
        return True
    if suffixes and suffixes[-1] == ".csv":
        return False
    return head.lstrip().startswith(b"{")


def _text(value: object) -> str | None:
    """A JSON value as the string a CSV export would hold (lists comma-joined).

    Numbers arrive as their source text (the decoder's ``parse_int``/``parse_float`` are
    ``str``), so an integer of any size stays exact and a float is refused later by its text.
    """
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list) and all(type(v) is str for v in value):
        return ",".join(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_DECODER = json.JSONDecoder(parse_int=str, parse_float=str)


def _json_records(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, object]]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        msg = "not UTF-8 text"
        raise InputError(msg, source=path, fix="Export the file again as UTF-8") from e
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            record = _DECODER.decode(line)
        except json.JSONDecodeError as e:
            msg = f"not a complete JSON object ({e.msg} at column {e.colno})"
            raise InputError(
                msg,
                source=path,
                line=number,
                value=line[:60],
                fix="The file is truncated or not JSON lines; export it again",
            ) from None
        if not isinstance(record, dict):
            msg = "a JSON line that is not an object"
            raise InputError(msg, source=path, line=number, value=line[:60], fix=_EXPECTED)
        yield number, record


def detect_kind(columns: Sequence[str], *, name: str = "") -> str | None:
    """The ethereum-etl kind a file holds, from its columns, else from its name.

    Examples
    --------
    >>> detect_kind(["hash", "nonce", "from_address", "to_address", "value", "input"])
    'transactions'
    >>> detect_kind(["a", "b"], name="eth_token_transfers_000.csv")
    'token_transfers'
    >>> detect_kind(["a", "b"], name="notes.csv") is None
    True
    """
    have = set(columns)
    if {"token_address", "from_address", "to_address", "log_index"} <= have:
        return "token_transfers"
    if {"trace_address", "trace_type"} <= have:
        return "traces"
    if {"topics", "data", "log_index"} <= have:
        return "logs"
    if {"hash", "from_address", "to_address", "nonce"} <= have:
        return "transactions"
    if {"transaction_hash", "status"} <= have and (
        {"cumulative_gas_used", "gas_used", "contract_address"} & have
    ):
        return "receipts"
    if {"number", "timestamp"} <= have and {"hash", "parent_hash", "miner"} & have:
        return "blocks"
    if {"address", "bytecode"} <= have or {"address", "is_erc20"} <= have:
        return "contracts"
    if {"address", "symbol"} <= have or {"address", "decimals"} <= have:
        return "tokens"
    stem = name.lower()
    for kind in ("token_transfers", "transactions", "receipts", "traces", "contracts", "logs"):
        if kind in stem:
            return kind
    for kind in ("blocks", "tokens"):
        if kind in stem:
            return kind
    return None


def _unknown(path: Path, columns: Sequence[str], line: int | None = None) -> UnknownFormat:
    msg = "not an ethereum-etl file of any known kind"
    shown = ", ".join(list(columns)[:12])
    return UnknownFormat(msg, source=path, line=line, value=f"columns: {shown}", fix=_EXPECTED)


def _record_kind(path: Path, number: int, record: dict[str, object]) -> str:
    typed = record.get("type")
    if isinstance(typed, str) and typed in _TYPES:
        return _TYPES[typed]
    if typed is not None:
        msg = "unknown ethereum-etl item type"
        raise UnknownFormat(
            msg,
            source=path,
            line=number,
            field="type",
            value=typed,
            fix=f"Item types are {', '.join(_TYPES)}",
        )
    kind = detect_kind(list(record), name=path.name)
    if kind is None:
        raise _unknown(path, list(record), number)
    return kind


def _read_json(path: Path, data: bytes) -> list[_Part]:
    rows: dict[str, list[tuple[str | None, ...]]] = {}
    lines: dict[str, list[int]] = {}
    seen: dict[str, set[str]] = {}
    for number, record in _json_records(path, data):
        kind = _record_kind(path, number, record)
        used = _USED[kind]
        rows.setdefault(kind, []).append(tuple(_text(record.get(c)) for c in used))
        lines.setdefault(kind, []).append(number)
        seen.setdefault(kind, set()).update(record)
    parts = []
    for kind, values in rows.items():
        used = _USED[kind]
        frame = pl.DataFrame(
            values, schema=dict.fromkeys(used, pl.String()), orient="row"
        ).with_columns(pl.Series(_LINE, lines[kind], dtype=pl.Int64))
        present = [c for c in used if c in seen[kind]]
        parts.append(_Part(kind, path, frame.select(*present, _LINE)))
    return parts


def _read_csv(path: Path, data: bytes) -> list[_Part]:
    try:
        frame = pl.read_csv(data, infer_schema=False, raise_if_empty=False)
    except pl.exceptions.ComputeError as e:
        msg = f"not a readable CSV file ({str(e).splitlines()[0]})"
        raise InputError(msg, source=path, fix="Export the file again as CSV") from None
    kind = detect_kind(frame.columns, name=path.name)
    if kind is None:
        raise _unknown(path, frame.columns)
    frame = frame.with_row_index(_LINE, offset=2).with_columns(pl.col(_LINE).cast(pl.Int64))
    return [_Part(kind, path, frame)]


def _read_file(path: Path) -> list[_Part]:
    data = _bytes(path)
    if _is_json(path, data[:64]):
        return _read_json(path, data)
    return _read_csv(path, data)


# --- validating columns ----------------------------------------------------------------------


def _line_of(frame: pl.DataFrame, row: int) -> int:
    return int(frame[_LINE][row])


def _first_bad(frame: pl.DataFrame, ok: pl.Expr, column: str) -> tuple[int, str] | None:
    bad = frame.select(pl.col(_LINE), pl.col(column), ok.alias("__ok")).filter(
        pl.col(column).is_not_null() & ~pl.col("__ok").fill_null(False)
    )
    if bad.height == 0:
        return None
    return int(bad[_LINE][0]), str(bad[column][0])


def _require(part: _Part, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in part.frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        msg = f"missing column(s) of an ethereum-etl {part.kind} file: [{shown}]"
        raise SchemaMismatch(
            msg,
            source=part.source,
            fix=f"Export {part.kind} with ethereum-etl's default columns "
            f"(it needs {', '.join(_REQUIRED[part.kind])})",
        )


def _present(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    """``frame`` with every column in ``names`` (missing ones as null strings)."""
    missing = [pl.lit(None, dtype=pl.String).alias(n) for n in names if n not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def _not_null(part: _Part, frame: pl.DataFrame, column: str) -> None:
    nulls = frame.filter(pl.col(column).is_null())
    if nulls.height:
        msg = "empty value in a required column"
        raise InputError(
            msg,
            source=part.source,
            line=int(nulls[_LINE][0]),
            field=column,
            value="",
            fix="Every row needs this field; export the file again",
        )


def _check(
    part: _Part, frame: pl.DataFrame, ok: pl.Expr, column: str, problem: str, fix: str
) -> None:
    """Raise for the first row of ``column`` where ``ok`` fails, naming its line and value."""
    bad = _first_bad(frame, ok, column)
    if bad is not None:
        raise InputError(
            problem, source=part.source, line=bad[0], field=column, value=bad[1], fix=fix
        )


def _integers(part: _Part, frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    for column in columns:
        text = pl.col(column).str.strip_chars()
        number = text.str.replace(r"\.0+$", "").str.to_integer(dtype=pl.Int64, strict=False)
        fix = "The field holds a whole number; export the file again"
        _check(part, frame, number.is_not_null(), column, "not an integer", fix)
        frame = frame.with_columns(number.alias(column))
    return frame


def _amounts(part: _Part, frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Canonical decimal strings; anything but plain digits goes through ``parse_uint``."""
    for column in columns:
        text = pl.col(column).str.strip_chars()
        plain = text.str.contains(_DIGITS) & (text.str.len_bytes() <= 77)
        odd = frame.filter(pl.col(column).is_not_null() & ~plain.fill_null(False))
        fixed: dict[int, str] = {}
        for line, value in odd.select(_LINE, column).iter_rows():
            try:
                fixed[line] = str(parse_uint(value, field=column))
            except InvalidAmount as e:
                raise e.at(source=part.source, line=line, field=column) from None
        canonical = text.str.strip_chars_start("0")
        canonical = pl.when(canonical == "").then(pl.lit("0")).otherwise(canonical)
        frame = frame.with_columns(pl.when(plain).then(canonical).alias(column))
        if fixed:
            lookup = pl.DataFrame(
                {_LINE: list(fixed), "__fixed": list(fixed.values())},
                schema={_LINE: pl.Int64(), "__fixed": pl.String()},
            )
            frame = (
                frame.join(lookup, on=_LINE, how="left", maintain_order="left")
                .with_columns(pl.coalesce(column, "__fixed").alias(column))
                .drop("__fixed")
            )
    return frame


def _addresses(part: _Part, frame: pl.DataFrame, chain: str, *columns: str) -> pl.DataFrame:
    for column in columns:
        blanked = frame.with_columns(
            pl.when(pl.col(column).str.strip_chars() != "").then(pl.col(column)).alias(column),
            pl.lit(chain).alias("__chain"),
        )
        try:
            frame = normalize_column(blanked, column, chain_column="__chain").drop("__chain")
        except InvalidAddress as e:
            line = _line_of(blanked, (e.line or 1) - 1)
            raise e.at(source=part.source, line=line, field=column) from None
    return frame


def _hashes(part: _Part, frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    for column in columns:
        lowered = pl.col(column).str.strip_chars().str.to_lowercase()
        fix = "Hashes are 0x followed by 64 hex digits"
        _check(part, frame, lowered.str.contains(_HASH), column, "not a 32-byte 0x hash", fix)
        frame = frame.with_columns(lowered.alias(column))
    return frame


_TS = pl.Datetime("us", "UTC")


def _timestamps(part: _Part, frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Unix seconds (ethereum-etl) or ``2023-05-02 12:19:59 UTC`` / ISO (BigQuery) -> UTC."""
    text = pl.col(column).str.strip_chars()
    iso = (
        text.str.replace(r"\s*(UTC|Z|\+00:?00)$", "")
        .str.replace("T", " ")
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False)
        .dt.replace_time_zone("UTC")
    )
    epoch = pl.from_epoch(text.str.to_integer(strict=False), time_unit="s").dt.replace_time_zone(
        "UTC"
    )
    parsed = pl.when(text.str.contains(_DIGITS)).then(epoch).otherwise(iso).cast(_TS)
    fix = "Give Unix seconds or 'YYYY-MM-DD HH:MM:SS UTC'"
    _check(part, frame, parsed.is_not_null(), column, "not a timestamp", fix)
    return frame.with_columns(parsed.alias(column))


def _topics(part: _Part, frame: pl.DataFrame) -> pl.DataFrame:
    split = (
        pl.when(pl.col("topics").str.strip_chars() == "")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("topics").str.strip_chars("[] ").str.split(","))
    )
    cleaned = split.list.eval(pl.element().str.strip_chars(" \"'").str.to_lowercase())
    return frame.with_columns(
        pl.when(pl.col("topics").is_null())
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(cleaned)
        .alias("topics")
    )


def _trace_address(part: _Part, frame: pl.DataFrame) -> pl.DataFrame:
    text = pl.col("trace_address").str.strip_chars("[] ").fill_null("")
    _check(
        part,
        frame.with_columns(text.alias("trace_address")),
        pl.col("trace_address").str.contains(r"^([0-9]+(\s*,\s*[0-9]+)*)?$"),
        "trace_address",
        "not a trace address",
        "A trace address is empty or comma-separated call positions such as 0,1",
    )
    as_list = (
        pl.when(text == "")
        .then(pl.lit([], dtype=pl.List(pl.Int64)))
        .otherwise(
            text.str.split(",").list.eval(
                pl.element().str.strip_chars().cast(pl.Int64, strict=False)
            )
        )
    )
    return frame.with_columns(as_list.alias("trace_address"))


# --- one frame per kind ----------------------------------------------------------------------


def _blocks(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    _not_null(part, f, "number")
    f = _integers(part, f, "number", "transaction_count")
    f = _timestamps(part, f, "timestamp")
    f = _hashes(part, f, "hash", "parent_hash")
    f = _addresses(part, f, chain, "miner")
    f = _amounts(part, f, "base_fee_per_gas")
    return f.select(
        pl.col("number").alias("block_number"),
        pl.col("hash").alias("block_hash"),
        "parent_hash",
        pl.col("timestamp").alias("block_timestamp"),
        "miner",
        "transaction_count",
        "base_fee_per_gas",
    )


def _transactions(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    for column in ("hash", "block_number", "from_address", "value"):
        _not_null(part, f, column)
    f = _hashes(part, f, "hash", "block_hash")
    f = _integers(part, f, "block_number", "transaction_index", "gas", "nonce", "receipt_gas_used")
    f = _integers(part, f, "receipt_status")
    f = _addresses(part, f, chain, "from_address", "to_address", "receipt_contract_address")
    f = _amounts(part, f, "value", "gas_price", "receipt_effective_gas_price")
    f = _timestamps(part, f, "block_timestamp")
    return f.rename({"hash": "transaction_hash"}).select(*evm.TRANSACTION_FRAME, _LINE)


def _receipts(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    _not_null(part, f, "transaction_hash")
    f = _hashes(part, f, "transaction_hash")
    f = _integers(part, f, "gas_used", "status")
    f = _addresses(part, f, chain, "contract_address")
    f = _amounts(part, f, "effective_gas_price")
    return f.select(
        "transaction_hash",
        pl.col("gas_used").alias("r_gas_used"),
        pl.col("effective_gas_price").alias("r_effective_gas_price"),
        pl.col("status").alias("r_status"),
        pl.col("contract_address").alias("r_contract_address"),
    )


def _logs(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    for column in ("transaction_hash", "block_number", "log_index", "address"):
        _not_null(part, f, column)
    f = _hashes(part, f, "transaction_hash")
    f = _integers(part, f, "block_number", "log_index", "transaction_index")
    f = _addresses(part, f, chain, "address")
    f = _timestamps(part, f, "block_timestamp")
    f = _topics(part, f)
    return f.select(*evm.LOG_FRAME, _LINE)


def _traces(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    _not_null(part, f, "block_number")
    f = _hashes(part, f, "transaction_hash")
    f = _integers(part, f, "block_number", "transaction_index", "status")
    f = _addresses(part, f, chain, "from_address", "to_address")
    f = _amounts(part, f, "value")
    f = _timestamps(part, f, "block_timestamp")
    f = _trace_address(part, f)
    f = f.with_columns(
        pl.col("trace_type").str.to_lowercase(),
        pl.col("call_type").str.to_lowercase(),
        pl.when(pl.col("error").str.strip_chars() != "").then(pl.col("error")).alias("error"),
        pl.col("value").fill_null("0"),
    )
    return f.select(*evm.TRACE_FRAME, _LINE)


def _token_transfers(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    for column in ("transaction_hash", "log_index", "value"):
        _not_null(part, f, column)
    f = _hashes(part, f, "transaction_hash")
    f = _integers(part, f, "block_number", "log_index", "transaction_index")
    f = _addresses(part, f, chain, "token_address", "from_address", "to_address")
    f = _amounts(part, f, "value")
    f = _timestamps(part, f, "block_timestamp")
    return f.select(
        "block_number",
        "block_timestamp",
        "transaction_hash",
        "transaction_index",
        pl.col("log_index").alias("idx"),
        "from_address",
        "to_address",
        pl.col("token_address").alias("asset"),
        "value",
    )


def _contracts(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    f = _addresses(part, f, chain, "address")
    f = _integers(part, f, "block_number")
    standard = (
        pl.when(pl.col("is_erc721").str.to_lowercase().is_in(["true", "1"]))
        .then(pl.lit("erc721"))
        .when(pl.col("is_erc20").str.to_lowercase().is_in(["true", "1"]))
        .then(pl.lit("erc20"))
    )
    return f.select("address", "block_number", standard.alias("token_standard"))


def _tokens(part: _Part, chain: str) -> pl.DataFrame:
    f = part.frame
    f = _addresses(part, f, chain, "address")
    # ethereum-etl writes whatever decimals() returned; a value outside 0..255 is unknown.
    decimals = pl.col("decimals").str.strip_chars().str.to_integer(strict=False)
    return f.select(
        pl.col("address").alias("token_address"),
        pl.when(pl.col("symbol") != "").then(pl.col("symbol")).alias("symbol"),
        pl.when(pl.col("name") != "").then(pl.col("name")).alias("name"),
        pl.when(decimals.is_between(0, 255)).then(decimals).cast(pl.Int32).alias("decimals"),
    )


_MAPPERS = {
    "blocks": _blocks,
    "transactions": _transactions,
    "receipts": _receipts,
    "logs": _logs,
    "traces": _traces,
    "token_transfers": _token_transfers,
    "contracts": _contracts,
    "tokens": _tokens,
}


# --- putting the kinds together --------------------------------------------------------------


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def _fill_timestamps(
    frame: pl.DataFrame, times: pl.DataFrame | None, column: str = "block_timestamp"
) -> pl.DataFrame:
    if times is None or frame.height == 0:
        return frame
    return (
        frame.join(times, on="block_number", how="left", maintain_order="left")
        .with_columns(pl.coalesce(column, "__ts").alias(column))
        .drop("__ts")
    )


def _block_times(
    blocks: pl.DataFrame | None, transactions: pl.DataFrame | None
) -> pl.DataFrame | None:
    parts = []
    if blocks is not None:
        parts.append(blocks.select("block_number", pl.col("block_timestamp").alias("__ts")))
    if transactions is not None:
        parts.append(transactions.select("block_number", pl.col("block_timestamp").alias("__ts")))
    if not parts:
        return None
    return (
        pl.concat(parts)
        .filter(pl.col("__ts").is_not_null())
        .unique("block_number", keep="first", maintain_order=True)
    )


def _join_receipts(transactions: pl.DataFrame, receipts: pl.DataFrame | None) -> pl.DataFrame:
    if receipts is None:
        return transactions
    receipts = receipts.unique("transaction_hash", keep="first", maintain_order=True)
    return (
        transactions.join(receipts, on="transaction_hash", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("receipt_status", pl.col("r_status").cast(pl.Int8)).alias("receipt_status"),
            pl.coalesce("receipt_gas_used", "r_gas_used").alias("receipt_gas_used"),
            pl.coalesce("receipt_effective_gas_price", "r_effective_gas_price").alias(
                "receipt_effective_gas_price"
            ),
            pl.coalesce("receipt_contract_address", "r_contract_address").alias(
                "receipt_contract_address"
            ),
        )
        .drop("r_status", "r_gas_used", "r_effective_gas_price", "r_contract_address")
    )


def _check_status(transactions: pl.DataFrame, sources: Mapping[int, Path]) -> None:
    bad = transactions.filter(~pl.col("receipt_status").is_in([0, 1]).fill_null(True))
    if bad.height:
        part = int(bad["__part"][0])
        msg = "a receipt status is 1 (success) or 0 (failure)"
        raise InputError(
            msg,
            source=sources[part],
            line=int(bad[_LINE][0]),
            field="receipt_status",
            value=str(bad["receipt_status"][0]),
            fix="Export the receipts again",
        )


def _unique(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    keys = [k for k in KEYS[table] if k in frame.columns]
    return frame.unique(keys, keep="first", maintain_order=True)


def _transactions_table(transactions: pl.DataFrame, chain: str) -> pl.DataFrame:
    method = pl.when(pl.col("input").str.len_bytes() >= 10).then(
        pl.col("input").str.slice(0, 10).str.to_lowercase()
    )
    rows = transactions.with_columns(
        pl.lit(chain).alias("chain"),
        pl.col("receipt_gas_used").alias("gas_used"),
        pl.col("receipt_effective_gas_price").alias("effective_gas_price"),
        method.alias("method_id"),
        pl.col("receipt_contract_address").alias("contract_address"),
    )
    return conform(rows, "transactions").collect()


def extract(paths: Sequence[Path], *, chain: str = "ethereum") -> Ingested:
    """Read ethereum-etl files into canonical tables, with counts of what was skipped.

    Parameters
    ----------
    paths
        Files (CSV or JSON lines, optionally gzipped) of any of :data:`KINDS`, in any mix.
    chain
        The EVM chain the files describe.

    Returns
    -------
    Ingested
        ``tables``: ``blocks, transactions, transfers, approvals, contracts, tokens``;
        ``skipped``: rows that were read but move nothing (failed transactions, reverted
        traces, rewards, malformed events), by reason.

    Raises
    ------
    InputError
        Naming the file, line, field, value and fix, for anything malformed.
    """
    if chain not in EVM_CHAINS:
        msg = "ethereum-etl files describe an EVM chain"
        raise InputError(
            msg, field="--chain", value=chain, fix=f"Use one of {', '.join(sorted(EVM_CHAINS))}"
        )
    by_kind: dict[str, list[pl.DataFrame]] = {kind: [] for kind in KINDS}
    sources: dict[int, Path] = {}
    for path in paths:
        for part in _read_file(Path(path)):
            _require(part, _REQUIRED[part.kind])
            number = len(sources)
            sources[number] = part.source
            # every column a mapper reads exists from here on (optional ones as nulls)
            part.frame = _present(part.frame, *_USED[part.kind])
            frame = _MAPPERS[part.kind](part, chain)
            if _LINE in frame.columns:
                frame = frame.with_columns(pl.lit(number).alias("__part"))
            by_kind[part.kind].append(frame)
    return _assemble({k: _concat(v) for k, v in by_kind.items()}, chain, sources)


def _assemble(
    kinds: Mapping[str, pl.DataFrame | None], chain: str, sources: Mapping[int, Path]
) -> Ingested:
    blocks = kinds["blocks"]
    if blocks is not None:
        blocks = blocks.unique("block_number", keep="first", maintain_order=True)
    transactions = kinds["transactions"]
    if transactions is not None:
        transactions = _join_receipts(transactions, kinds["receipts"])
        transactions = transactions.unique("transaction_hash", keep="first", maintain_order=True)
        _check_status(transactions, sources)
    times = _block_times(blocks, transactions)
    if transactions is not None:
        transactions = _fill_timestamps(transactions, times)
    traces = kinds["traces"]
    if traces is not None:
        # The same trace in two files once: depth-first positions need each trace once.
        identity = ["block_number", "transaction_hash", "trace_address", "trace_type"]
        identity += ["from_address", "to_address", "value"]
        traces = _fill_timestamps(traces.unique(identity, keep="first", maintain_order=True), times)
    logs = kinds["logs"]
    if logs is not None:
        logs = _fill_timestamps(
            logs.unique(["transaction_hash", "log_index"], keep="first", maintain_order=True),
            times,
        )

    skipped: dict[str, int] = {}

    def count(part: Mapping[str, int], prefix: str) -> None:
        for reason, n in part.items():
            skipped[f"{prefix}.{reason}"] = skipped.get(f"{prefix}.{reason}", 0) + n

    transfers: list[pl.DataFrame] = []
    txs = evm.intermediate(transactions, "transactions") if transactions is not None else None
    trs = evm.intermediate(traces, "traces") if traces is not None else None
    lgs = evm.intermediate(logs, "logs") if logs is not None else None
    if txs is not None:
        native = evm.native_transfers(txs, chain=chain, traces=trs)
        transfers.append(native.rows)
        count(native.skipped, "native")
    if trs is not None:
        internal = evm.internal_transfers(trs, chain=chain, transactions=txs)
        transfers.append(internal.rows)
        count(internal.skipped, "internal")
    approval_rows = empty("approvals")
    if lgs is not None:
        tokens_out = evm.token_transfers(lgs, chain=chain, transactions=txs)
        transfers.append(tokens_out.rows)
        count(tokens_out.skipped, "token")
        approved = evm.approvals(lgs, chain=chain, transactions=txs)
        approval_rows = approved.rows
        count(approved.skipped, "approval")
    contract_files = kinds["contracts"]
    if kinds["token_transfers"] is not None:
        extra, dropped = _etl_token_transfers(
            kinds["token_transfers"], lgs, txs, contract_files, times, chain
        )
        transfers.append(extra)
        if dropped:
            count({"failed_transaction": dropped}, "token_transfers_file")

    token_rows = _tokens_table(kinds["tokens"], contract_files, chain)
    transfer_rows = _with_token_decimals(
        pl.concat(transfers, how="vertical") if transfers else empty("transfers"), token_rows
    )
    tables = {
        "blocks": _blocks_table(blocks, chain),
        "transactions": (
            _transactions_table(txs, chain) if txs is not None else empty("transactions")
        ),
        "transfers": _unique(transfer_rows, "transfers").sort(
            "block_number", "transaction_index", "transaction_hash", "kind", "idx", "token_id"
        ),
        "approvals": approval_rows,
        "contracts": _contracts_table(txs, trs, contract_files, chain),
        "tokens": token_rows,
    }
    return Ingested({name: tables[name] for name in _OUTPUTS}, dict(sorted(skipped.items())))


def _blocks_table(blocks: pl.DataFrame | None, chain: str) -> pl.DataFrame:
    if blocks is None:
        return empty("blocks")
    rows = blocks.with_columns(pl.lit(chain).alias("chain"))
    return conform(rows, "blocks").collect().sort("block_number")


def _etl_token_transfers(
    rows: pl.DataFrame,
    logs: pl.DataFrame | None,
    transactions: pl.DataFrame | None,
    contract_files: pl.DataFrame | None,
    times: pl.DataFrame | None,
    chain: str,
) -> tuple[pl.DataFrame, int]:
    """ethereum-etl's own decoded token transfers, for events no logs file covers.

    ethereum-etl writes ERC-721 token ids in ``value`` and does not say which standard a row
    is; a contracts file's ``is_erc721`` / ``is_erc20`` flags tell, otherwise the standard is
    left null.
    """
    if logs is not None:
        rows = rows.join(
            logs.select("transaction_hash", pl.col("log_index").alias("idx")),
            on=["transaction_hash", "idx"],
            how="anti",
        )
    dropped = 0
    if transactions is not None:
        outcomes = evm.transaction_outcomes(transactions)
        failed = outcomes.filter(pl.col("succeeded") == False)["transaction_hash"]  # noqa: E712
        kept = rows.filter(~pl.col("transaction_hash").is_in(failed.implode()))
        dropped = rows.height - kept.height
        rows = kept
    standards = pl.DataFrame(schema={"asset": pl.String(), "token_standard": pl.String()})
    if contract_files is not None:
        standards = (
            contract_files.filter(pl.col("token_standard").is_not_null())
            .select(pl.col("address").alias("asset"), "token_standard")
            .unique("asset", keep="first", maintain_order=True)
        )
    rows = rows.join(standards, on="asset", how="left", maintain_order="left")
    nft = pl.col("token_standard") == "erc721"
    rows = _fill_timestamps(rows, times).with_columns(
        pl.lit(chain).alias("chain"),
        pl.lit("token").alias("kind"),
        pl.when(nft).then(pl.col("value")).alias("token_id"),
        pl.when(nft).then(pl.lit("1")).otherwise(pl.col("value")).alias("value"),
        pl.when(nft).then(pl.lit(0, dtype=pl.Int32)).alias("decimals"),
    )
    return conform(rows, "transfers").collect(), dropped


def _tokens_table(
    tokens: pl.DataFrame | None, contract_files: pl.DataFrame | None, chain: str
) -> pl.DataFrame:
    if tokens is None:
        return empty("tokens")
    rows = tokens.unique("token_address", keep="first", maintain_order=True)
    if contract_files is not None:
        standards = contract_files.select(
            pl.col("address").alias("token_address"), "token_standard"
        ).unique("token_address", keep="first", maintain_order=True)
        rows = rows.join(standards, on="token_address", how="left", maintain_order="left")
    else:
        rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias("token_standard"))
    rows = rows.with_columns(pl.lit(chain).alias("chain"))
    return conform(rows, "tokens").collect().sort("token_address")


def _with_token_decimals(transfers: pl.DataFrame, tokens: pl.DataFrame) -> pl.DataFrame:
    if tokens.height == 0 or transfers.height == 0:
        return transfers
    decimals = tokens.select(pl.col("token_address").alias("asset"), pl.col("decimals")).rename(
        {"decimals": "__decimals"}
    )
    joined = transfers.join(decimals, on="asset", how="left", maintain_order="left")
    fungible = pl.col("kind") == "token"
    return joined.with_columns(
        pl.when(fungible & pl.col("decimals").is_null())
        .then(pl.col("__decimals"))
        .otherwise(pl.col("decimals"))
        .alias("decimals")
    ).drop("__decimals")


def _contracts_table(
    transactions: pl.DataFrame | None,
    traces: pl.DataFrame | None,
    contract_files: pl.DataFrame | None,
    chain: str,
) -> pl.DataFrame:
    found = evm.contracts(chain=chain, transactions=transactions, traces=traces)
    if contract_files is None:
        return found
    listed = contract_files.select(
        pl.lit(chain).alias("chain"),
        "address",
        "block_number",
        pl.lit(None, dtype=pl.String).alias("transaction_hash"),
        pl.lit(None, dtype=pl.String).alias("creator"),
    )
    both = pl.concat([found, conform(listed, "contracts").collect()], how="vertical")
    return both.unique("address", keep="first", maintain_order=True).sort("address")


def read(
    paths: Sequence[str | Path], *, chain: str = "ethereum", options: Mapping[str, str]
) -> dict[str, pl.DataFrame]:
    """Read ethereum-etl exports into rows per canonical table (see :func:`extract`).

    ``options`` is accepted for the common reader signature; this format takes none.
    """
    if options:
        msg = "--format ethereum-etl takes no --map"
        raise InputError(
            msg, field="--map", value=",".join(options), fix="Drop --map for ethereum-etl files"
        )
    return extract([Path(p) for p in paths], chain=chain).tables
