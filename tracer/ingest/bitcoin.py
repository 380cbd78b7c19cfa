"""bitcoin-etl JSON lines -> blocks, transactions, utxo_inputs, utxo_outputs and utxo transfers.

`bitcoin-etl <https://github.com/blockchain-etl/bitcoin-etl>`_ writes one JSON object a line:
blocks (``number``, ``hash``, ``timestamp``, ``transaction_count``...) and transactions with
nested ``inputs[]`` and ``outputs[]`` (``addresses``, ``value`` in satoshi, ``type``,
``spent_transaction_hash``/``spent_output_index``). ``export_blocks_and_transactions`` writes
blocks and transactions to two files; ``stream`` mixes both in one file with a ``type`` key.
Either works here: each line is classified by its keys. JSON exports of the same tables from
BigQuery (``bigquery-public-data.crypto_bitcoin``), which write integers as text and times as
``2009-01-03 18:15:05 UTC``, are read too.

How a Bitcoin transaction becomes ``transfers`` rows of kind ``utxo`` (see
:mod:`tracer.schema`): the transaction is a node of its own; each input is a leg
``address -> transaction_hash`` (``idx`` = input index) and each output a leg
``transaction_hash -> address`` (``idx`` = output index). The fee (inputs minus outputs) is what
is left at the transaction node; it is never a leg.

Addresses:

* Standard addresses are verified (base58check, bech32/bech32m; CashAddr for ``bitcoin_cash``)
  and kept as the chain writes them.
* bitcoin-etl names an output script it cannot decode ``nonstandard`` + 40 hex digits (a hash of
  the script). Such a name is kept as it is and flagged by ``script_type = "nonstandard"``.
* A bare multisig output lists several addresses. It becomes one canonical name,
  ``multisig:<m>-of-<n>:<address>,<address>...`` with the addresses sorted, so that the same keys
  and threshold always give the same node whatever order the script lists them in.
* Outputs without any address (``nulldata`` / OP_RETURN) keep a row in ``utxo_outputs`` with a
  null address and have no leg: their value, usually 0, stays at the transaction like the fee.

Inputs: bitcoin-etl fills an input's ``addresses`` and ``value`` only when it was run with
enrichment (``enrich_transactions`` or ``stream``). A plain export leaves them empty; this reader
then looks the spent output up among the transactions of the same batch and, when it is not
there, keeps the input with a null address and value and no leg (the fee of that transaction is
unknown, never guessed). Coinbase transactions have no inputs and so no input legs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracer.addresses import UTXO_CHAINS, validate_bitcoin
from tracer.amounts import parse_uint
from tracer.errors import InputError, InvalidAddress, InvalidAmount
from tracer.ingest._export_csv import parse_timestamp
from tracer.schema import TABLES

__all__ = [
    "NATIVE_SYMBOLS",
    "canonical_address",
    "read",
    "validate_cashaddr",
]

# Native asset per UTXO chain; all of them count in units of 10**-8.
NATIVE_SYMBOLS: Mapping[str, str] = {
    "bitcoin": "BTC",
    "bitcoin_testnet": "BTC",
    "litecoin": "LTC",
    "bitcoin_cash": "BCH",
    "dogecoin": "DOGE",
}
_DECIMALS = 8
_NONSTANDARD = re.compile(r"nonstandard[0-9a-f]{40}")
_FIX_LINE = (
    "Each line must be one JSON object as bitcoin-etl writes it "
    "(export_blocks_and_transactions or stream); re-export the file if it was cut short"
)

_CASHADDR = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CASHADDR_GEN = (0x98F2BC8E61, 0x79B76D99E2, 0xF33E5FB3C4, 0xAE2EABE2A8, 0x1E4F43E470)


def validate_cashaddr(address: str, prefix: str = "bitcoincash") -> str:
    """Return a Bitcoin Cash CashAddr unchanged if its BCH-code checksum is valid.

    The checksum is the 40-bit BCH code of the CashAddr specification (Bitcoin ABC,
    ``spec/cashaddr.md``).

    Examples
    --------
    >>> validate_cashaddr("bitcoincash:qzkddwa6hgh03skr4qsrygk7e087zjydxgqkpjnsw7")
    'bitcoincash:qzkddwa6hgh03skr4qsrygk7e087zjydxgqkpjnsw7'
    >>> validate_cashaddr("bitcoincash:qzkddwa6hgh03skr4qsrygk7e087zjydxgqkpjnsw8")
    Traceback (most recent call last):
    ...
    tracer.errors.InvalidAddress: bad CashAddr checksum: ...
    """
    given_prefix, sep, body = address.lower().partition(":")
    if not sep:
        given_prefix, body = prefix, given_prefix
    if given_prefix != prefix or not body or any(c not in _CASHADDR for c in body):
        msg = "not a CashAddr address"
        raise InvalidAddress(msg, value=address, fix="CashAddr looks like bitcoincash:q...")
    check = 1
    for d in [ord(c) & 0x1F for c in prefix] + [0] + [_CASHADDR.index(c) for c in body]:
        top = check >> 35
        check = ((check & 0x07FFFFFFFF) << 5) ^ d
        for i, g in enumerate(_CASHADDR_GEN):
            if (top >> i) & 1:
                check ^= g
    if check ^ 1:
        msg = "bad CashAddr checksum"
        raise InvalidAddress(msg, value=address, fix="Check the address for a typo")
    return address


def _validate_one(address: object, chain: str) -> str:
    if not isinstance(address, str):
        msg = "address is not a string"
        raise InvalidAddress(msg, value=address, fix="bitcoin-etl writes addresses as strings")
    return _validate_text(address, chain)


@functools.lru_cache(maxsize=1 << 16)
def _validate_text(address: str, chain: str) -> str:
    # Cached: a checksum is a pure function of the text, and busy addresses repeat a lot.
    if _NONSTANDARD.fullmatch(address):
        return address
    if chain == "bitcoin_cash" and ":" in address:
        return validate_cashaddr(address)
    return validate_bitcoin(address, chain)


def canonical_address(addresses: Sequence[object], chain: str, *, required: object = None) -> str:
    """The one address string for an output's ``addresses`` list (see the module notes).

    Parameters
    ----------
    addresses
        bitcoin-etl's ``addresses`` list (one address; several for bare multisig).
    chain
        A chain of :data:`tracer.addresses.UTXO_CHAINS`.
    required
        bitcoin-etl's ``required_signatures`` (the ``m`` of an m-of-n multisig).

    Examples
    --------
    >>> canonical_address(["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"], "bitcoin")
    '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'
    >>> canonical_address(
    ...     ["1HaHTfmvoUW6i6nhJf8jJs6tU4cHNmBQHQ", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"],
    ...     "bitcoin",
    ...     required=1,
    ... )
    'multisig:1-of-2:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,1HaHTfmvoUW6i6nhJf8jJs6tU4cHNmBQHQ'
    """
    checked = [_validate_one(a, chain) for a in addresses]
    if len(checked) == 1:
        return checked[0]
    m = required if isinstance(required, int) and not isinstance(required, bool) else "?"
    return f"multisig:{m}-of-{len(checked)}:{','.join(sorted(checked))}"


@dataclass(frozen=True)
class _Ctx:
    source: Path
    line: int
    chain: str


def _amount(value: object, ctx: _Ctx, field: str) -> int:
    if isinstance(value, float):
        msg = "satoshi amount written as a float"
        raise InvalidAmount(
            msg,
            source=ctx.source,
            line=ctx.line,
            field=field,
            value=value,
            fix="bitcoin-etl writes values as integers of satoshi; re-export without conversion",
        )
    try:
        return parse_uint(value, field=field)
    except InvalidAmount as e:
        raise e.at(source=ctx.source, line=ctx.line, field=field) from None


def _int(record: Mapping[str, Any], key: str, ctx: _Ctx, *, optional: bool = False) -> int | None:
    # bitcoin-etl writes integers; BigQuery's JSON export of the same tables writes them as text
    value = record.get(key)
    if value is None and optional:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    msg = "missing" if value is None else "not an integer"
    raise InputError(msg, source=ctx.source, line=ctx.line, field=key, value=value, fix=_FIX_LINE)


def _str(record: Mapping[str, Any], key: str, ctx: _Ctx, *, optional: bool = False) -> str | None:
    value = record.get(key)
    if value is None and optional:
        return None
    if isinstance(value, str) and value:
        return value
    msg = "missing" if value is None else "not a non-empty string"
    raise InputError(msg, source=ctx.source, line=ctx.line, field=key, value=value, fix=_FIX_LINE)


def _time(record: Mapping[str, Any], key: str, ctx: _Ctx) -> datetime:
    """Unix seconds (bitcoin-etl) or ``2009-01-03 18:15:05 UTC`` (BigQuery's JSON export)."""
    value = record.get(key)
    if isinstance(value, str) and not value.isdigit():
        try:
            return parse_timestamp(value, field=key)
        except InputError as e:
            raise e.at(source=ctx.source, line=ctx.line) from None
    return datetime.fromtimestamp(_int(record, key, ctx) or 0, tz=UTC)


def _address_of(item: Mapping[str, Any], ctx: _Ctx, field: str) -> str | None:
    addresses = item.get("addresses") or []
    if not isinstance(addresses, list):
        msg = "addresses is not a list"
        raise InputError(msg, source=ctx.source, line=ctx.line, field=field, value=addresses)
    if not addresses:
        return None
    try:
        required = _int(item, "required_signatures", ctx, optional=True)
        return canonical_address(addresses, ctx.chain, required=required)
    except InvalidAddress as e:
        raise e.at(source=ctx.source, line=ctx.line, field=field) from None


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                msg = f"not valid JSON ({e.msg} at column {e.colno})"
                raise InputError(
                    msg, source=path, line=number, value=text.strip(), fix=_FIX_LINE
                ) from None
            if not isinstance(record, dict):
                msg = "not a JSON object"
                raise InputError(msg, source=path, line=number, value=text.strip(), fix=_FIX_LINE)
            yield number, record


def _kind(record: Mapping[str, Any], ctx: _Ctx) -> str:
    declared = record.get("type")
    if declared in ("block", "transaction"):
        return str(declared)
    if "inputs" in record or "outputs" in record:
        return "transaction"
    if "merkle_root" in record or "transaction_count" in record:
        return "block"
    msg = "neither a bitcoin-etl block nor a transaction"
    raise InputError(
        msg,
        source=ctx.source,
        line=ctx.line,
        value=sorted(record)[:12],
        fix="Pass bitcoin-etl's blocks/transactions JSON (or a different --format)",
    )


@dataclass
class _Batch:
    blocks: list[dict[str, Any]]
    transactions: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    # (transaction_hash, output index) -> (address, value, script_type), to resolve inputs
    spendable: dict[tuple[str, int], tuple[str | None, int, str | None]]
    # where each input came from, for error messages during resolution
    input_ctx: list[_Ctx]


def _read_block(record: Mapping[str, Any], ctx: _Ctx, batch: _Batch) -> None:
    batch.blocks.append(
        {
            "chain": ctx.chain,
            "block_number": _int(record, "number", ctx),
            "block_hash": _str(record, "hash", ctx),
            "parent_hash": None,
            "block_timestamp": _time(record, "timestamp", ctx),
            "miner": None,
            "transaction_count": _int(record, "transaction_count", ctx, optional=True),
            "base_fee_per_gas": None,
        }
    )


def _read_transaction(record: Mapping[str, Any], ctx: _Ctx, batch: _Batch) -> None:
    tx_hash = _str(record, "hash", ctx)
    block_number = _int(record, "block_number", ctx)
    when = _time(record, "block_timestamp", ctx)
    position = _int(record, "index", ctx, optional=True)
    is_coinbase = bool(record.get("is_coinbase"))
    inputs, outputs = record.get("inputs") or [], record.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        msg = "inputs and outputs must be lists"
        raise InputError(msg, source=ctx.source, line=ctx.line, field="inputs", fix=_FIX_LINE)
    for key, items in (("input_count", inputs), ("output_count", outputs)):
        declared = _int(record, key, ctx, optional=True)
        if declared is not None and declared != len(items):
            msg = f"{key} says {declared} but the line lists {len(items)}"
            raise InputError(msg, source=ctx.source, line=ctx.line, field=key, fix=_FIX_LINE)
    common = {"chain": ctx.chain, "block_number": block_number, "block_timestamp": when}
    output_total = 0
    for position_in_tx, item in enumerate(outputs):
        field = f"outputs[{position_in_tx}]"
        index = _int(item, "index", ctx, optional=True)
        index = position_in_tx if index is None else index
        value = _amount(item.get("value"), ctx, f"{field}.value")
        output_total += value
        address = _address_of(item, ctx, f"{field}.addresses")
        script_type = item.get("type") if isinstance(item.get("type"), str) else None
        batch.outputs.append(
            {
                **common,
                "transaction_hash": tx_hash,
                "index": index,
                "address": address,
                "value": value,
                "script_type": script_type,
                "is_coinbase": is_coinbase,
                "transaction_index": position,
            }
        )
        batch.spendable[(str(tx_hash), index)] = (address, value, script_type)
    declared_out = record.get("output_value")
    if declared_out is not None and _amount(declared_out, ctx, "output_value") != output_total:
        msg = f"output_value differs from the sum of the outputs ({output_total})"
        raise InvalidAmount(
            msg, source=ctx.source, line=ctx.line, field="output_value", value=declared_out
        )
    for position_in_tx, item in enumerate(inputs):
        field = f"inputs[{position_in_tx}]"
        index = _int(item, "index", ctx, optional=True)
        raw_value = item.get("value")
        batch.inputs.append(
            {
                **common,
                "transaction_hash": tx_hash,
                "index": position_in_tx if index is None else index,
                "address": _address_of(item, ctx, f"{field}.addresses"),
                "value": None if raw_value is None else _amount(raw_value, ctx, f"{field}.value"),
                "script_type": item.get("type") if isinstance(item.get("type"), str) else None,
                "spent_transaction_hash": item.get("spent_transaction_hash"),
                "spent_output_index": _int(item, "spent_output_index", ctx, optional=True),
                "transaction_index": position,
            }
        )
        batch.input_ctx.append(ctx)
    batch.transactions.append(
        {
            **common,
            "block_hash": _str(record, "block_hash", ctx, optional=True),
            "transaction_hash": tx_hash,
            "transaction_index": position,
            "from_address": None,
            "to_address": None,
            "value": str(output_total),
            "gas": None,
            "gas_price": None,
            "gas_used": None,
            "effective_gas_price": None,
            "receipt_status": 1,
            "nonce": None,
            "method_id": None,
            "contract_address": None,
        }
    )


def _resolve_inputs(batch: _Batch) -> None:
    """Fill inputs that a plain (unenriched) export left empty from outputs in the batch."""
    for row, ctx in zip(batch.inputs, batch.input_ctx, strict=True):
        spent = batch.spendable.get((str(row["spent_transaction_hash"]), row["spent_output_index"]))
        if spent is None:
            continue
        address, value, script_type = spent
        if row["value"] is None:
            row["value"], row["address"], row["script_type"] = value, address, script_type
        elif row["value"] != value or (row["address"] is not None and row["address"] != address):
            msg = (
                f"input spends {row['spent_transaction_hash']}:{row['spent_output_index']}, "
                f"which this batch holds as {value} satoshi to {address}"
            )
            raise InvalidAmount(
                msg,
                source=ctx.source,
                line=ctx.line,
                field=f"inputs[{row['index']}]",
                value=row["value"],
                fix="The files disagree with each other; re-export them from one node",
            )


def _legs(batch: _Batch, asset: str) -> list[dict[str, Any]]:
    legs: list[dict[str, Any]] = []
    for row, from_tx in [(r, False) for r in batch.inputs] + [(r, True) for r in batch.outputs]:
        if row["address"] is None or row["value"] is None:
            continue
        legs.append(
            {
                "chain": row["chain"],
                "block_number": row["block_number"],
                "block_timestamp": row["block_timestamp"],
                "transaction_hash": row["transaction_hash"],
                "transaction_index": row["transaction_index"],
                "kind": "utxo",
                "idx": row["index"],
                "leg": int(from_tx),
                "from_address": row["transaction_hash"] if from_tx else row["address"],
                "to_address": row["address"] if from_tx else row["transaction_hash"],
                "asset": asset,
                "token_standard": None,
                "token_id": None,
                "value": str(row["value"]),
                "decimals": _DECIMALS,
            }
        )
    return legs


def _frame(rows: list[dict[str, Any]], table: str, order: Sequence[str]) -> pl.DataFrame:
    schema = TABLES[table]
    extra = {k: pl.Int64() for k in order if k not in schema}
    full = pl.Schema({**schema, **extra})
    data: dict[str, list[Any]] = {name: [r.get(name) for r in rows] for name in full.names()}
    if schema.get("value") == pl.String():
        data["value"] = [None if v is None else str(v) for v in data["value"]]
    frame = pl.DataFrame(data, schema=full)
    return frame.sort(list(order), maintain_order=True, nulls_last=True).select(schema.names())


def read(
    paths: Sequence[Path], *, chain: str, options: Mapping[str, str] | None = None
) -> dict[str, pl.DataFrame]:
    """Read bitcoin-etl JSON-lines files into canonical tables.

    Parameters
    ----------
    paths
        bitcoin-etl exports: blocks, transactions, or a ``stream`` file mixing both.
    chain
        One of :data:`tracer.addresses.UTXO_CHAINS` (``--chain bitcoin``).
    options
        Must be empty: bitcoin-etl files need no column map.

    Returns
    -------
    dict[str, pl.DataFrame]
        ``blocks``, ``transactions``, ``utxo_inputs``, ``utxo_outputs`` and ``transfers``
        (kind ``utxo``), each sorted by block, transaction and index.
    """
    if options:
        msg = "bitcoin-etl files take no --map options"
        raise InputError(msg, field="--map", value=",".join(options), fix="Drop --map")
    if chain not in UTXO_CHAINS:
        msg = "bitcoin-etl files need a UTXO chain"
        raise InputError(
            msg,
            field="--chain",
            value=chain,
            fix=f"Pass --chain with one of {', '.join(sorted(UTXO_CHAINS))}",
        )
    batch = _Batch([], [], [], [], {}, [])
    for path in paths:
        seen = False
        for number, record in _lines(path):
            seen = True
            ctx = _Ctx(path, number, chain)
            if _kind(record, ctx) == "block":
                _read_block(record, ctx, batch)
            else:
                _read_transaction(record, ctx, batch)
        if not seen:
            msg = "no JSON lines in file"
            raise InputError(msg, source=path, fix="Export the data again; the file has no rows")
    _resolve_inputs(batch)
    by_tx = ("block_number", "transaction_index", "transaction_hash")
    return {
        "blocks": _frame(batch.blocks, "blocks", ["block_number"]),
        "transactions": _frame(batch.transactions, "transactions", by_tx),
        "utxo_inputs": _frame(batch.inputs, "utxo_inputs", [*by_tx, "index"]),
        "utxo_outputs": _frame(batch.outputs, "utxo_outputs", [*by_tx, "index"]),
        "transfers": _frame(
            _legs(batch, NATIVE_SYMBOLS[chain]), "transfers", [*by_tx, "leg", "idx"]
        ),
    }
