"""Etherscan CSV exports (an address page's "Download CSV") -> canonical tables.

Three exports are recognised from their header, in the variants Etherscan has used over the
years (``Txhash`` became ``Transaction Hash``, ``DateTime`` became ``DateTime (UTC)``, the ERC-20
``Value`` became ``TokenValue``; BscScan and PolygonScan write ``Value_IN(BNB)`` and so on).
Around 2024-2025 the transaction exports switched to a layout with one ``Amount`` column that
carries its unit (``1,234.5 ETH``, ``7 wei``), ``Status`` ``Success``/``Failed``, name tags, and
``Parent Transaction Hash`` for internal transactions; both layouts are read.

* normal transactions (``Value_IN(ETH)``/``Value_OUT(ETH)`` or ``Amount``, ``Status``,
  ``ErrCode``, ``Method``) -> ``transactions`` and ``transfers`` of kind ``native`` (``idx`` 0);
* internal transactions (``ParentTxFrom``, ``TxTo``, ``Type``; or ``Parent Transaction Hash``)
  -> ``transfers`` of kind ``internal``;
* ERC-20 token transfers (``TokenValue``, ``TokenName``, ``TokenSymbol``) -> ``transfers`` of kind
  ``token`` and ``tokens``.

Amounts are whole units written as decimals (``1,234.5``); they become base units exactly, with
decimal arithmetic. An amount with more fractional digits than its asset has decimals is an
error. The native coin has 18 decimals. Token exports do not say a token's decimals: they come
from ``options`` (``--map decimals.<contract>=6``), else from :data:`KNOWN_DECIMALS`, else the
read fails naming the token.

A failed transaction (``Status`` ``Error(...)``/``Failed``, or an ``ErrCode``) keeps its
``transactions`` row with ``receipt_status`` 0 and moves nothing; a reverted internal call is
skipped. Zero-value
native and internal rows move nothing and give no ``transfers`` row (the transaction row still
records the call); zero-value token transfers are kept, because they are real ``Transfer`` logs
(address-poisoning spam is made of them).

What the exports do not carry stays null: ``block_hash``, ``transaction_index``, gas and nonce;
the fee column (``TxnFee``) has no place in the ``transactions`` table and is not kept. The
internal and token exports give no trace or log position: their ``idx`` is the row's occurrence
among the file's rows with the same transaction, sender and receiver (0 for the first). Token
names and symbols are copied as untrusted text into ``tokens``; nothing here interprets them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracer.addresses import EVM_CHAINS, is_evm, normalize
from tracer.errors import InputError, UnknownFormat
from tracer.ingest._export_csv import CsvFile, open_csv, parse_timestamp, to_base_units
from tracer.ingest.mapped import NATIVE_ASSETS
from tracer.schema import TABLES

__all__ = ["KNOWN_DECIMALS", "detect_export", "read"]

# Decimals of well-known Ethereum mainnet tokens, as each contract's decimals() returns them
# (verified source on etherscan.io): USDT TetherToken(_decimals=6), USDC FiatToken initialized
# with 6, DAI `uint8 public constant decimals = 18`, WETH9 `uint8 public decimals = 18`,
# WBTC DetailedERC20("Wrapped BTC", "WBTC", 8).
KNOWN_DECIMALS: Mapping[tuple[str, str], int] = {
    ("ethereum", "0xdac17f958d2ee523a2206206994597c13d831ec7"): 6,  # USDT
    ("ethereum", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"): 6,  # USDC
    ("ethereum", "0x6b175474e89094c44da98b954eedeac495271d0f"): 18,  # DAI
    ("ethereum", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"): 18,  # WETH
    ("ethereum", "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599"): 8,  # WBTC
}

_ALIASES: Mapping[str, tuple[str, ...]] = {
    "hash": ("Transaction Hash", "Txhash", "TxHash", "Parent Transaction Hash"),
    "block": ("Blockno", "BlockNo", "Block No"),
    "unix": ("UnixTimestamp",),
    "datetime": ("DateTime (UTC)", "DateTime"),
    "token_value": ("TokenValue", "Value", "Quantity"),
}
_VALUE_IN = re.compile(r"Value_IN\((\w+)\)")
_METHOD_ID = re.compile(r"0x[0-9a-fA-F]{8}")
_KNOWN_SYMBOLS: Mapping[str, frozenset[str]] = {"polygon": frozenset({"POL", "MATIC"})}
_OK_STATUS = frozenset({"", "success", "ok", "0"})  # "0": the API's isError convention


def _first(file: CsvFile, key: str) -> str | None:
    return next((h for h in _ALIASES[key] if file.has(h)), None)


def detect_export(header: Sequence[str]) -> str | None:
    """Which Etherscan export a header belongs to: ``normal``, ``internal``, ``token`` or None.

    Examples
    --------
    >>> detect_export(["Txhash", "From", "To", "Value", "ContractAddress", "TokenSymbol"])
    'token'
    >>> detect_export(["Txhash", "Blockno", "From", "TxTo", "Value_IN(ETH)", "Value_OUT(ETH)"])
    'internal'
    >>> detect_export(["Transaction Hash", "Status", "From", "To", "Amount", "Txn Fee"])
    'normal'
    >>> detect_export(["hash", "from", "to"]) is None
    True
    """
    names = set(header)
    has_value = any(_VALUE_IN.fullmatch(h) for h in names) or "Amount" in names
    if {"From", "To", "ContractAddress"} <= names and names & {"TokenSymbol", "TokenName"}:
        return "token"
    if has_value and (
        {"From", "TxTo"} <= names or {"Parent Transaction Hash", "From", "To"} <= names
    ):
        return "internal"
    if {"From", "To"} <= names and has_value and not names & {"TxTo", "ParentTxFrom"}:
        return "normal"
    return None


def _option_decimals(options: Mapping[str, str], chain: str) -> dict[str, int]:
    """``decimals.<contract>=n`` options, by normalised contract address."""
    found: dict[str, int] = {}
    for key, text in options.items():
        field = f"--map {key}"
        if not key.startswith("decimals."):
            msg = "not an option of --format etherscan"
            raise InputError(
                msg, field=field, value=text, fix="Pass only --map decimals.<token contract>=<n>"
            )
        try:
            contract = normalize(key.removeprefix("decimals."), chain)
        except InputError as e:
            raise e.at(field=field) from None
        if not (text.strip().isdigit() and text.strip().isascii()) or int(text) > 255:
            msg = "decimals must be an integer 0..255"
            raise InputError(msg, field=field, value=text, fix="e.g. --map decimals.<contract>=6")
        found[contract] = int(text)
    return found


class _Export:
    """One export file: its kind, the columns it uses and the row converters."""

    def __init__(self, file: CsvFile, chain: str, options: Mapping[str, str]) -> None:
        self.file, self.chain = file, chain
        kind = detect_export(file.header)
        hash_column = _first(file, "hash")
        if kind is None or hash_column is None:
            msg = "not an Etherscan transactions, internal transactions or token transfers export"
            raise UnknownFormat(
                msg,
                source=file.path,
                line=1,
                value=",".join(file.header),
                fix="Download the CSV from an address page on Etherscan, or use --format mapped",
            )
        if kind == "token" and file.has("TokenId"):
            msg = "NFT (ERC-721/ERC-1155) exports are not supported by --format etherscan"
            raise UnknownFormat(
                msg,
                source=file.path,
                line=1,
                value=",".join(file.header),
                fix="Use --format mapped with token_id=TokenId and kind, token_standard defaults",
            )
        self.kind, self.hash_column = kind, hash_column
        self.block_column = _first(file, "block")
        self.time_column = _first(file, "unix") or _first(file, "datetime")
        if self.time_column is None:
            msg = "no time column (UnixTimestamp or DateTime)"
            raise UnknownFormat(msg, source=file.path, line=1, value=",".join(file.header))
        self.symbol, self.value_in, self.value_out, self.to_column = "", "", "", "To"
        self.allowed_units: frozenset[str] = frozenset()
        if kind != "token":
            self._native_columns()
        else:
            token_value = _first(file, "token_value")
            if token_value is None:
                msg = "token export without a TokenValue column"
                raise UnknownFormat(msg, source=file.path, line=1, value=",".join(file.header))
            self.token_value = token_value
        self.seen: Counter[tuple[str, ...]] = Counter()
        self.decimals = _option_decimals(options, chain)

    def _native_columns(self) -> None:
        expected = NATIVE_ASSETS.get(self.chain, ("", 0))[0]
        self.symbol = expected
        self.allowed_units = _KNOWN_SYMBOLS.get(self.chain, frozenset({expected}))
        self.to_column = "TxTo" if self.file.has("TxTo") else "To"
        found = next((m for h in self.file.header if (m := _VALUE_IN.fullmatch(h))), None)
        if found is None:  # the 2024+ layout: one "Amount" column, "0.5 ETH"
            self.value_in = "Amount"
            return
        symbol = found.group(1).upper()
        if symbol not in self.allowed_units:
            msg = f"the export counts in {symbol}, which is not the native coin of --chain"
            raise InputError(
                msg,
                source=self.file.path,
                line=1,
                field="--chain",
                value=self.chain,
                fix="Pass the --chain the explorer serves (ethereum, bsc, polygon...)",
            )
        self.value_in, self.value_out = (
            f"Value_IN({found.group(1)})",
            f"Value_OUT({found.group(1)})",
        )
        if not self.file.has(self.value_out):
            msg = f"export has {self.value_in} but no {self.value_out}"
            raise UnknownFormat(
                msg, source=self.file.path, line=1, value=",".join(self.file.header)
            )

    # --- cells --------------------------------------------------------------------------------

    def _address(self, row: Mapping[str, str], column: str) -> str | None:
        text = row.get(column, "").strip()
        if not text:
            return None
        try:
            return normalize(text, self.chain)
        except InputError as e:
            raise e.at(field=column) from None

    def _hash(self, row: Mapping[str, str]) -> str:
        text = row[self.hash_column].strip()
        if re.fullmatch(r"0x[0-9a-fA-F]{64}", text):
            return text.lower()
        msg = "not a transaction hash"
        raise InputError(
            msg, field=self.hash_column, value=text, fix="Expected 0x followed by 64 hex digits"
        )

    def _block(self, row: Mapping[str, str]) -> int | None:
        if self.block_column is None:
            return None
        text = row[self.block_column].strip()
        if not text.isdigit() or not text.isascii():
            msg = "not a block number"
            raise InputError(msg, field=self.block_column, value=text, fix="Export it again")
        return int(text)

    def _time(self, row: Mapping[str, str]) -> datetime:
        column = str(self.time_column)
        try:
            return parse_timestamp(row[column], field=column)
        except InputError as e:
            raise e.at(field=column) from None

    def _amount(self, row: Mapping[str, str], column: str, decimals: int) -> int:
        text = row[column].strip()
        if not text:
            return 0
        try:
            return to_base_units(text, decimals, field=column)
        except InputError as e:
            raise e.at(field=column) from None

    def _amount_with_unit(self, row: Mapping[str, str]) -> int:
        """The 2024+ layout's ``Amount``: ``"1,234.5 ETH"``, or ``"5 wei"`` in base units."""
        text = row["Amount"].strip()
        number, _, unit = text.rpartition(" ")
        if not number:
            number, unit = unit, self.symbol
        if unit.lower() == "wei":
            return self._amount({"Amount": number}, "Amount", 0)
        if unit.upper() not in self.allowed_units:
            msg = f"an amount in {unit}, which is not the native coin of --chain {self.chain}"
            raise InputError(
                msg, field="Amount", value=text, fix="Pass the --chain the explorer serves"
            )
        return self._amount({"Amount": number}, "Amount", 18)

    def _native_value(self, row: Mapping[str, str]) -> int:
        if self.value_in == "Amount":
            return self._amount_with_unit(row)
        incoming = self._amount(row, self.value_in, 18)
        outgoing = self._amount(row, self.value_out, 18)
        if incoming and outgoing and incoming != outgoing:
            msg = f"both {self.value_in} and {self.value_out} are set and differ"
            raise InputError(
                msg,
                field=self.value_out,
                value=row[self.value_out],
                fix="One row is one transaction; export it again",
            )
        return incoming or outgoing

    def _failed(self, row: Mapping[str, str]) -> bool:
        status = row.get("Status", "").strip()
        error = row.get("ErrCode", "").strip()
        if status.lower() in _OK_STATUS:
            return bool(error)
        if status == "1" or status.lower().startswith(("error", "fail")):
            return True
        msg = "unknown Status"
        raise InputError(
            msg,
            field="Status",
            value=status,
            fix="Etherscan writes an empty Status (or 0) for success, Error(n) (or 1) for failure",
        )

    def _idx(self, tx_hash: str, from_address: str | None, to_address: str | None) -> int:
        key = (tx_hash, self.kind, from_address or "", to_address or "")
        idx = self.seen[key]
        self.seen[key] += 1
        return idx

    def _decimals(self, contract: str) -> int:
        if contract in self.decimals:
            return self.decimals[contract]
        known = KNOWN_DECIMALS.get((self.chain, contract))
        if known is None:
            msg = "token decimals unknown"
            raise InputError(
                msg,
                field="ContractAddress",
                value=contract,
                fix=f"Pass them with --map decimals.{contract}=<n> "
                "(the token contract's decimals(), shown on its Etherscan page)",
            )
        return known

    # --- rows ---------------------------------------------------------------------------------

    def convert(self, row: Mapping[str, str], out: dict[str, list[dict[str, Any]]]) -> None:
        tx_hash = self._hash(row)
        common = {
            "chain": self.chain,
            "block_number": self._block(row),
            "block_timestamp": self._time(row),
            "transaction_hash": tx_hash,
            "transaction_index": None,
        }
        if self.kind == "token":
            self._token(row, common, out)
            return
        from_address = self._address(row, "From")
        to_column = self.to_column
        contract = self._address(row, "ContractAddress")
        to_address = self._address(row, to_column) or contract
        value = self._native_value(row)
        failed = self._failed(row)
        if self.kind == "normal":
            method = row.get("Method", "").strip()
            out["transactions"].append(
                {
                    **common,
                    "block_hash": None,
                    "from_address": from_address,
                    "to_address": self._address(row, to_column),
                    "value": str(value),
                    "receipt_status": 0 if failed else 1,
                    "method_id": method.lower() if _METHOD_ID.fullmatch(method) else None,
                    "contract_address": contract,
                }
            )
        if failed or value == 0:
            return
        if from_address is None or to_address is None:
            msg = "transfer without a sender or receiver"
            raise InputError(msg, field="From" if from_address is None else to_column)
        out["transfers"].append(
            {
                **common,
                "kind": "native" if self.kind == "normal" else "internal",
                "idx": 0 if self.kind == "normal" else self._idx(tx_hash, from_address, to_address),
                "from_address": from_address,
                "to_address": to_address,
                "asset": self.symbol,
                "token_standard": None,
                "token_id": None,
                "value": str(value),
                "decimals": 18,
            }
        )

    def _token(
        self, row: Mapping[str, str], common: dict[str, Any], out: dict[str, list[dict[str, Any]]]
    ) -> None:
        contract = self._address(row, "ContractAddress")
        from_address, to_address = self._address(row, "From"), self._address(row, "To")
        if contract is None or from_address is None or to_address is None:
            field = (
                "ContractAddress" if contract is None else "From" if from_address is None else "To"
            )
            msg = "empty address"
            raise InputError(msg, field=field, fix="Every token transfer row names all three")
        decimals = self._decimals(contract)
        value = self._amount(row, self.token_value, decimals)
        out["transfers"].append(
            {
                **common,
                "kind": "token",
                "idx": self._idx(common["transaction_hash"], from_address, to_address),
                "from_address": from_address,
                "to_address": to_address,
                "asset": contract,
                "token_standard": "erc20",
                "token_id": None,
                "value": str(value),
                "decimals": decimals,
            }
        )
        out["tokens"].append(
            {
                "chain": self.chain,
                "token_address": contract,
                "symbol": row.get("TokenSymbol"),
                "name": row.get("TokenName"),
                "decimals": decimals,
                "token_standard": "erc20",
            }
        )


def _frame(rows: list[dict[str, Any]], table: str, order: Sequence[str]) -> pl.DataFrame:
    schema = TABLES[table]
    frame = pl.DataFrame({n: [r.get(n) for r in rows] for n in schema.names()}, schema=schema)
    return frame.sort(list(order), maintain_order=True, nulls_last=True)


def read(
    paths: Sequence[Path], *, chain: str, options: Mapping[str, str] | None = None
) -> dict[str, pl.DataFrame]:
    """Read Etherscan CSV exports (any mix of the three kinds) into canonical tables.

    Parameters
    ----------
    paths
        CSV files downloaded from Etherscan (or BscScan, PolygonScan...).
    chain
        The EVM chain the explorer serves (``--chain``).
    options
        ``decimals.<token contract>: n`` for tokens not in :data:`KNOWN_DECIMALS`.

    Returns
    -------
    dict[str, pl.DataFrame]
        ``transactions``, ``transfers`` and ``tokens`` (one row per token contract).
    """
    if not is_evm(chain):
        msg = "Etherscan exports describe an EVM chain"
        raise InputError(
            msg,
            field="--chain",
            value=chain,
            fix=f"Pass one of {', '.join(sorted(EVM_CHAINS))}",
        )
    opts = dict(options or {})
    out: dict[str, list[dict[str, Any]]] = {"transactions": [], "transfers": [], "tokens": []}
    for path in paths:
        export = _Export(open_csv(path), chain, opts)
        for line, row in export.file.rows:
            try:
                export.convert(row, out)
            except InputError as e:
                raise e.at(source=path, line=line) from None
    tokens: dict[str, dict[str, Any]] = {}
    for token in out["tokens"]:
        tokens.setdefault(token["token_address"], token)
    by_tx = ["block_number", "block_timestamp", "transaction_hash"]
    legs = [*by_tx, "kind", "idx", "from_address", "to_address", "asset"]
    return {
        "transactions": _frame(out["transactions"], "transactions", by_tx),
        "transfers": _frame(out["transfers"], "transfers", legs),
        "tokens": _frame(list(tokens.values()), "tokens", ["token_address"]),
    }
