r"""Any CSV of transfers, with a column map: ``--format mapped --map from_address=From,...``.

For exports from other tools (Dune, Flipside, BigQuery, spreadsheets). ``options`` maps a
``transfers`` column to the file's header; keys ``default.<column>`` give a constant for a column
that the file lacks (``--map default.decimals=6``).

========================  ========================================================================
transfers column          from the file
========================  ========================================================================
``from_address``          required
``to_address``            required
``value`` or ``amount``   required, exactly one: ``value`` in base units (wei), or ``amount`` in
                          whole units (``1.5`` ETH, ``1,234.5``, ``1e-05``), converted exactly
                          with ``decimals``
``block_timestamp``       unix seconds or ISO 8601; this or ``block_number`` is required
``block_number``          optional (null when not mapped)
``transaction_hash``      optional: when not mapped, a synthetic id (below)
``asset``                 default: the chain's native symbol (ETH); else a token contract
``decimals``              default: the native asset's (18 for ETH); a token needs it mapped or
                          ``default.decimals``
``kind``                  default: ``native`` for the native asset, ``token`` for a contract
``token_standard``        default: null for native, ``erc20`` for a token
``token_id``              optional
``idx``                   default: the row's occurrence among rows with the same transaction,
                          kind, sender and receiver (0 for the first)
``transaction_index``     optional
========================  ========================================================================

Addresses are checked for ``--chain`` (EIP-55 on mixed case) and lower-cased; Postgres/Dune
``bytea`` text (``\x098b...``) is read as ``0x098b...``.

Rows without a transaction hash get ``transaction_hash = "synthetic:" + sha256`` of the row's
chain, time, block, sender, receiver, asset, token id, exact value and its occurrence among
identical rows of the file. The ``synthetic:`` prefix keeps it from ever being taken for (or
joined with) a real hash, and the same file always gives the same ids, so re-ingesting it adds
nothing. Amounts that the exporting tool rounded (Dune's ``total_eth`` is a double) are converted
exactly as written; digits the tool lost are not recovered.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracer.addresses import EVM_CHAINS, UTXO_CHAINS, is_evm, normalize
from tracer.amounts import parse_uint
from tracer.errors import InputError, SchemaMismatch
from tracer.ingest._export_csv import CsvFile, open_csv, parse_timestamp, to_base_units
from tracer.schema import TRANSFER_KINDS, TRANSFERS

__all__ = ["NATIVE_ASSETS", "TARGETS", "read", "synthetic_hash"]

# chain -> (native symbol, decimals)
NATIVE_ASSETS: Mapping[str, tuple[str, int]] = {
    **dict.fromkeys(
        ("ethereum", "sepolia", "holesky", "anvil", "arbitrum", "optimism", "base"), ("ETH", 18)
    ),
    "bsc": ("BNB", 18),
    "polygon": ("POL", 18),
    "avalanche": ("AVAX", 18),
    "ethereum_classic": ("ETC", 18),
    "fantom": ("FTM", 18),
    "gnosis": ("XDAI", 18),
    "bitcoin": ("BTC", 8),
    "bitcoin_testnet": ("BTC", 8),
    "litecoin": ("LTC", 8),
    "bitcoin_cash": ("BCH", 8),
    "dogecoin": ("DOGE", 8),
}

TARGETS = (
    "transaction_hash",
    "block_number",
    "block_timestamp",
    "transaction_index",
    "from_address",
    "to_address",
    "value",
    "amount",
    "asset",
    "decimals",
    "kind",
    "idx",
    "token_id",
    "token_standard",
)
_DEFAULTABLE = ("asset", "decimals", "kind", "token_standard")
_SYNTHETIC = "synthetic:"
_EXAMPLE = (
    "--map block_timestamp=block_time,from_address=from,to_address=to,amount=total_eth "
    "(table column=file header; default.<column>=value for a constant)"
)
_HASH = re.compile(r"0x[0-9a-f]{64}")
_UTXO_HASH = re.compile(r"[0-9a-f]{64}")


def synthetic_hash(fields: Sequence[object]) -> str:
    """A stable id for a transfer whose export has no transaction hash.

    Examples
    --------
    >>> synthetic_hash(["ethereum", "2022-03-29T21:41:18+00:00", "0xab", "0xcd", "1", 0])[:18]
    'synthetic:cfeaa7f8'
    """
    text = "\x1f".join("" if f is None else str(f) for f in fields)
    return _SYNTHETIC + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plan(
    options: Mapping[str, str], chain: str
) -> tuple[dict[str, str], dict[str, str], str, int | None]:
    """Split options into column mappings and constants; check them. Returns the native asset."""
    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    for key, header in options.items():
        target = key.removeprefix("default.")
        allowed = _DEFAULTABLE if key.startswith("default.") else TARGETS
        if target not in allowed:
            msg = "not a column this format can fill"
            raise InputError(
                msg,
                field="--map",
                value=key,
                fix=f"Map one of {', '.join(allowed)}, e.g. {_EXAMPLE}",
            )
        (constants if key.startswith("default.") else columns)[target] = header
    missing = [c for c in ("from_address", "to_address") if c not in columns]
    if "value" not in columns and "amount" not in columns:
        missing.append("value (or amount)")
    if "block_timestamp" not in columns and "block_number" not in columns:
        missing.append("block_timestamp (or block_number)")
    if missing:
        msg = f"required column(s) not mapped: {', '.join(missing)}"
        raise SchemaMismatch(msg, field="--map", fix=f"Pass e.g. {_EXAMPLE}")
    if "value" in columns and "amount" in columns:
        msg = "map value (base units) or amount (whole units), not both"
        raise InputError(msg, field="--map", fix=f"Pass e.g. {_EXAMPLE}")
    if chain not in NATIVE_ASSETS:
        msg = "unknown chain"
        raise InputError(
            msg,
            field="--chain",
            value=chain,
            fix=f"Use one of {', '.join(sorted(EVM_CHAINS | UTXO_CHAINS))}",
        )
    symbol, decimals = NATIVE_ASSETS[chain]
    return columns, constants, symbol, decimals


def _address(text: str, chain: str, *, field: str) -> str:
    s = text.strip()
    if s[:2] in ("\\x", "\\X") and is_evm(chain):
        s = "0x" + s[2:]
    try:
        return normalize(s, chain)
    except InputError as e:
        raise e.at(field=field) from None


def _tx_hash(text: str, chain: str) -> str:
    s = text.strip().lower()
    if s.startswith("\\x"):
        s = "0x" + s[2:]
    if (is_evm(chain) and _HASH.fullmatch(s)) or (not is_evm(chain) and _UTXO_HASH.fullmatch(s)):
        return s
    msg = "not a transaction hash"
    raise InputError(
        msg,
        field="transaction_hash",
        value=text,
        fix="A transaction hash is 0x followed by 64 hex digits",
    )


def _int(text: str, *, field: str) -> int:
    s = text.strip()
    if not s.isdigit() or not s.isascii():
        msg = "not a non-negative integer"
        raise InputError(msg, field=field, value=text, fix="Write it as decimal digits")
    return int(s)


class _Rows:
    """Turns the rows of one file into ``transfers`` rows."""

    def __init__(
        self, file: CsvFile, chain: str, columns: dict[str, str], constants: dict[str, str]
    ) -> None:
        self.file, self.chain, self.columns, self.constants = file, chain, columns, constants
        absent = {c: h for c, h in columns.items() if not file.has(h)}
        if absent:
            shown = ", ".join(f"{c}={h}" for c, h in absent.items())
            msg = f"mapped header(s) not in the file: {shown}"
            raise SchemaMismatch(
                msg,
                source=file.path,
                line=1,
                field="--map",
                fix=f"The file's headers are {', '.join(file.header)}",
            )
        self.seen: Counter[tuple[object, ...]] = Counter()

    def cell(self, row: Mapping[str, str], target: str) -> str | None:
        if target in self.columns:
            text = row[self.columns[target]].strip()
            return text or None
        return self.constants.get(target)

    def convert(
        self, row: Mapping[str, str], symbol: str, native_decimals: int | None
    ) -> dict[str, Any]:
        chain = self.chain
        asset_text = self.cell(row, "asset")
        if asset_text is None or asset_text.upper() == symbol:
            asset, native = symbol, True
        else:
            try:
                asset, native = _address(asset_text, chain, field="asset"), False
            except InputError as e:
                msg = f"asset is neither {symbol} nor a token contract address"
                raise InputError(
                    msg,
                    field="asset",
                    value=asset_text,
                    fix="Map asset to a column of token contract addresses",
                ) from e
        decimals_text = self.cell(row, "decimals")
        decimals = (
            _int(decimals_text, field="decimals")
            if decimals_text is not None
            else (native_decimals if native else None)
        )
        value_text, amount_text = self.cell(row, "value"), self.cell(row, "amount")
        if value_text is not None:
            value = parse_uint(value_text, field="value")
        elif amount_text is not None:
            if decimals is None:
                msg = "amount in whole units of a token whose decimals are unknown"
                raise InputError(
                    msg,
                    field="decimals",
                    value=asset,
                    fix="Map decimals=<header> or pass --map default.decimals=<n> for this token",
                )
            value = to_base_units(amount_text, decimals, field="amount")
        else:
            msg = "empty amount"
            raise InputError(msg, field="value", fix="Every row needs an amount")
        kind = self.cell(row, "kind") or ("native" if native else "token")
        if kind not in TRANSFER_KINDS:
            msg = "unknown transfer kind"
            raise InputError(msg, field="kind", value=kind, fix=f"Use one of {TRANSFER_KINDS}")
        sender, receiver = self.cell(row, "from_address"), self.cell(row, "to_address")
        if sender is None or receiver is None:
            msg = "empty address"
            raise InputError(msg, field="from_address" if sender is None else "to_address")
        from_address = _address(sender, chain, field="from_address")
        to_address = _address(receiver, chain, field="to_address")
        when_text, block_text = self.cell(row, "block_timestamp"), self.cell(row, "block_number")
        when: datetime | None = None if when_text is None else parse_timestamp(when_text)
        block = None if block_text is None else _int(block_text, field="block_number")
        token_id = self.cell(row, "token_id")
        hash_text = self.cell(row, "transaction_hash")
        identity = (
            chain,
            when and when.isoformat(),
            block,
            from_address,
            to_address,
            asset,
            token_id,
            value,
        )
        if hash_text is None:
            occurrence = self.seen[identity]
            self.seen[identity] += 1
            tx_hash = synthetic_hash([*identity, occurrence])
        else:
            tx_hash = _tx_hash(hash_text, chain)
        idx_text = self.cell(row, "idx")
        if idx_text is None:
            group = ("idx", tx_hash, kind, from_address, to_address, token_id)
            idx = self.seen[group]
            self.seen[group] += 1
        else:
            idx = _int(idx_text, field="idx")
        position = self.cell(row, "transaction_index")
        return {
            "chain": chain,
            "block_number": block,
            "block_timestamp": when,
            "transaction_hash": tx_hash,
            "transaction_index": None
            if position is None
            else _int(position, field="transaction_index"),
            "kind": kind,
            "idx": idx,
            "from_address": from_address,
            "to_address": to_address,
            "asset": asset,
            "token_standard": self.cell(row, "token_standard") or (None if native else "erc20"),
            "token_id": token_id,
            "value": str(value),
            "decimals": decimals,
        }


def _where(e: InputError, file: CsvFile, line: int, columns: Mapping[str, str]) -> InputError:
    header = columns.get(e.field or "", e.field)
    field = f"{header} (mapped to {e.field})" if header != e.field else e.field
    return e.at(source=file.path, line=line, field=field)


def read(
    paths: Sequence[Path], *, chain: str, options: Mapping[str, str] | None = None
) -> dict[str, pl.DataFrame]:
    """Read CSV files through a column map into ``transfers``.

    Parameters
    ----------
    paths
        CSV files with a header row.
    chain
        The chain the transfers happened on (``--chain``).
    options
        ``{transfers column: file header}`` and ``default.<column>: constant`` (``--map``).

    Returns
    -------
    dict[str, pl.DataFrame]
        ``transfers``, sorted by time, block, transaction hash and ``idx``.
    """
    columns, constants, symbol, native_decimals = _plan(dict(options or {}), chain)
    rows: list[dict[str, Any]] = []
    for path in paths:
        file = open_csv(path)
        converter = _Rows(file, chain, columns, constants)
        for line, row in file.rows:
            try:
                rows.append(converter.convert(row, symbol, native_decimals))
            except InputError as e:
                raise _where(e, file, line, columns) from None
    frame = pl.DataFrame(
        {name: [r[name] for r in rows] for name in TRANSFERS.names()}, schema=TRANSFERS
    )
    order = ["block_timestamp", "block_number", "transaction_hash", "kind", "idx", "from_address"]
    return {"transfers": frame.sort(order, maintain_order=True, nulls_last=True)}
