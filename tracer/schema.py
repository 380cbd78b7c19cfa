"""One Polars schema per canonical table, and :func:`conform`, which makes a frame fit one.

These schemas are the contract between every part of tracer (DESIGN.md, "Tables"); the column
meanings are documented in ``docs/schema.md``, which a test keeps in step with this file.

Conventions:

* EVM addresses are lower-case ``0x`` + 40 hex; Bitcoin addresses as the chain writes them.
* Raw amounts (``value``, ``tainted_value``, ``gas_price``) are exact decimal strings of base
  units, never floats or 64-bit integers: see :mod:`tracer.amounts`.
* Times are UTC microsecond datetimes.
* In ``transfers`` of kind ``utxo`` a Bitcoin transaction is a node of its own: each input is a
  leg ``address -> transaction_hash`` and each output a leg ``transaction_hash -> address``, so
  that a many-to-many payment is represented exactly, with the fee left at the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from tracer.errors import SchemaMismatch

__all__ = [
    "ADDRESSES",
    "ADDRESS_IDS",
    "APPROVALS",
    "BLOCKS",
    "CATEGORIES",
    "CLUSTERS",
    "CONTRACTS",
    "EXPOSURE",
    "FLOWS",
    "HELD",
    "INGEST_LOG",
    "KEYS",
    "LABELS",
    "LINKS",
    "NODES",
    "PATHS",
    "PEEL_CHAIN_TAGS",
    "SEEDS",
    "STORED",
    "TABLES",
    "TOKENS",
    "TRANSACTIONS",
    "TRANSFERS",
    "TRANSFER_KINDS",
    "UTXO_INPUTS",
    "UTXO_OUTPUTS",
    "conform",
    "empty",
]

_TS = pl.Datetime("us", "UTC")

BLOCKS = pl.Schema(
    {
        "chain": pl.String(),
        "block_number": pl.Int64(),
        "block_hash": pl.String(),
        "parent_hash": pl.String(),
        "block_timestamp": _TS,
        "miner": pl.String(),
        "transaction_count": pl.Int64(),
        "base_fee_per_gas": pl.String(),
    }
)

TRANSACTIONS = pl.Schema(
    {
        "chain": pl.String(),
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
        "gas_used": pl.Int64(),
        "effective_gas_price": pl.String(),
        "receipt_status": pl.Int8(),
        "nonce": pl.Int64(),
        "method_id": pl.String(),
        "contract_address": pl.String(),
    }
)

TRANSFER_KINDS = ("native", "internal", "token", "utxo")

TRANSFERS = pl.Schema(
    {
        "chain": pl.String(),
        "block_number": pl.Int64(),
        "block_timestamp": _TS,
        "transaction_hash": pl.String(),
        "transaction_index": pl.Int64(),
        "kind": pl.String(),
        "idx": pl.Int64(),
        "from_address": pl.String(),
        "to_address": pl.String(),
        "asset": pl.String(),
        "token_standard": pl.String(),
        "token_id": pl.String(),
        "value": pl.String(),
        "decimals": pl.Int32(),
    }
)

# The integer id of each address of a transfer, which the store assigns when it writes the row
# (producers leave these out): heuristics group and join on these instead of hex strings.
ADDRESS_IDS = pl.Schema({"from_id": pl.UInt32(), "to_id": pl.UInt32()})

# The store's numbering of addresses: 0, 1, ... in the order they were first written.
ADDRESSES = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "address_id": pl.UInt32(),
    }
)

APPROVALS = pl.Schema(
    {
        "chain": pl.String(),
        "block_number": pl.Int64(),
        "block_timestamp": _TS,
        "transaction_hash": pl.String(),
        "log_index": pl.Int64(),
        "owner": pl.String(),
        "spender": pl.String(),
        "token_address": pl.String(),
        "value": pl.String(),
    }
)

_UTXO = pl.Schema(
    {
        "chain": pl.String(),
        "block_number": pl.Int64(),
        "block_timestamp": _TS,
        "transaction_hash": pl.String(),
        "index": pl.Int64(),
        "address": pl.String(),
        "value": pl.String(),
        "script_type": pl.String(),
    }
)
UTXO_INPUTS = pl.Schema(
    {**_UTXO, "spent_transaction_hash": pl.String(), "spent_output_index": pl.Int64()}
)
UTXO_OUTPUTS = pl.Schema({**_UTXO, "is_coinbase": pl.Boolean()})

TOKENS = pl.Schema(
    {
        "chain": pl.String(),
        "token_address": pl.String(),
        "symbol": pl.String(),
        "name": pl.String(),
        "decimals": pl.Int32(),
        "token_standard": pl.String(),
    }
)

CONTRACTS = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "block_number": pl.Int64(),
        "transaction_hash": pl.String(),
        "creator": pl.String(),
    }
)

SEEDS = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "attribution": pl.String(),
        "incident": pl.String(),
        "source": pl.String(),
        "source_date": pl.Date(),
        "transaction_hash": pl.String(),
    }
)

CATEGORIES = (
    "exchange",
    "deposit_wallet",
    "hot_wallet",
    "mixing_service",
    "defi_bridge",
    "defi_dex",
    "defi",
    "sanction",
    "perpetrator",
    "victim",
    "miner",
    "other",
)

LABELS = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "label": pl.String(),
        "category": pl.String(),
        "source": pl.String(),
        "confidence": pl.Int32(),
        "is_cluster_definer": pl.Boolean(),
        "lastmod": pl.Date(),
    }
)

LINKS = pl.Schema(
    {
        "chain": pl.String(),
        "address_a": pl.String(),
        "address_b": pl.String(),
        "heuristic": pl.String(),
        "heuristic_version": pl.Int32(),
        "evidence_transaction_hash": pl.String(),
        "block_number": pl.Int64(),
        "confidence": pl.Int32(),
    }
)

CLUSTERS = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "cluster_id": pl.String(),
        "cluster_size": pl.Int64(),
        "label": pl.String(),
        "category": pl.String(),
    }
)

FLOWS = pl.Schema(
    {
        "chain": pl.String(),
        "hop": pl.Int32(),
        "transaction_hash": pl.String(),
        "kind": pl.String(),
        "idx": pl.Int64(),
        "from_address": pl.String(),
        "to_address": pl.String(),
        "asset": pl.String(),
        "decimals": pl.Int32(),
        "value": pl.String(),
        "tainted_value": pl.String(),
        "block_number": pl.Int64(),
        "block_timestamp": _TS,
    }
)

EXPOSURE = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "cluster_id": pl.String(),
        "label": pl.String(),
        "category": pl.String(),
        "asset": pl.String(),
        "decimals": pl.Int32(),
        "tainted_value": pl.String(),
        "share_of_seed_value": pl.Float64(),
        "min_hop": pl.Int32(),
        "first_reached_at": _TS,
        "paths": pl.Int64(),
    }
)

# A trace's output directory also holds these three (DESIGN.md "Tables", issue: trace engine).
PATHS = pl.Schema(
    {
        "chain": pl.String(),
        "endpoint": pl.String(),
        "asset": pl.String(),
        "rank": pl.Int32(),
        "tainted_value": pl.String(),
        "hop_count": pl.Int32(),
        "addresses": pl.String(),  # "seed>a>b>endpoint"
        "transaction_hashes": pl.String(),  # "h1>h2>h3", one per transaction on the path
    }
)

HELD = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "asset": pl.String(),
        "decimals": pl.Int32(),
        "tainted_value": pl.String(),
        "hop": pl.Int32(),
        "last_block_number": pl.Int64(),
        "last_activity_at": _TS,
    }
)

# Every address a trace touched, with what the report needs to draw it.
NODES = pl.Schema(
    {
        "chain": pl.String(),
        "address": pl.String(),
        "cluster_id": pl.String(),
        "label": pl.String(),
        "category": pl.String(),
        "role": pl.String(),  # seed, intermediate, endpoint, held
        "min_hop": pl.Int32(),
    }
)

# A transaction of a Bitcoin peel chain (heuristics.peel_chain): computed, never stored; the
# trace follows its change (tracer.trace).
PEEL_CHAIN_TAGS = pl.Schema(
    {
        "chain": pl.String(),
        "transaction_hash": pl.String(),
        "block_number": pl.Int64(),
        "previous_transaction_hash": pl.String(),
        "next_transaction_hash": pl.String(),
        "change_output_index": pl.Int64(),
        "peel_output_index": pl.Int64(),
    }
)

# One row per unit of input already ingested (a file by its sha256, an RPC block range), so that
# re-ingesting it adds nothing and a killed ingest resumes where its last commit ended.
INGEST_LOG = pl.Schema(
    {
        "chain": pl.String(),
        "source_kind": pl.String(),
        "source_id": pl.String(),
        "from_block": pl.Int64(),
        "to_block": pl.Int64(),
        "rows": pl.Int64(),
    }
)

TABLES: Mapping[str, pl.Schema] = {
    "blocks": BLOCKS,
    "transactions": TRANSACTIONS,
    "transfers": TRANSFERS,
    "approvals": APPROVALS,
    "utxo_inputs": UTXO_INPUTS,
    "utxo_outputs": UTXO_OUTPUTS,
    "tokens": TOKENS,
    "contracts": CONTRACTS,
    "seeds": SEEDS,
    "labels": LABELS,
    "links": LINKS,
    "clusters": CLUSTERS,
    "flows": FLOWS,
    "exposure": EXPOSURE,
    "paths": PATHS,
    "held": HELD,
    "nodes": NODES,
    "ingest_log": INGEST_LOG,
    "addresses": ADDRESSES,
}

#: What the store's files hold for each table: its schema, plus for ``transfers`` the address
#: ids the store fills itself (:data:`ADDRESS_IDS`).
STORED: Mapping[str, pl.Schema] = {
    **TABLES,
    "transfers": pl.Schema({**TRANSFERS, **ADDRESS_IDS}),
}

# The columns that identify a row: appending a row whose key is already stored adds nothing.
KEYS: Mapping[str, tuple[str, ...]] = {
    "blocks": ("chain", "block_number"),
    "transactions": ("chain", "transaction_hash"),
    "transfers": (
        "chain",
        "transaction_hash",
        "kind",
        "idx",
        "from_address",
        "to_address",
        "token_id",
    ),
    "approvals": ("chain", "transaction_hash", "log_index"),
    "utxo_inputs": ("chain", "transaction_hash", "index"),
    "utxo_outputs": ("chain", "transaction_hash", "index"),
    "tokens": ("chain", "token_address"),
    "contracts": ("chain", "address"),
    "seeds": ("chain", "address", "incident", "source"),
    "labels": ("chain", "address", "label", "source"),
    "links": (
        "chain",
        "address_a",
        "address_b",
        "heuristic",
        "evidence_transaction_hash",
    ),
    "clusters": ("chain", "address"),
    "flows": ("chain", "transaction_hash", "kind", "idx", "from_address", "to_address"),
    "exposure": ("chain", "address", "asset"),
    "paths": ("chain", "endpoint", "asset", "rank"),
    "held": ("chain", "address", "asset"),
    "nodes": ("chain", "address"),
    "ingest_log": ("chain", "source_kind", "source_id"),
    "addresses": ("chain", "address"),
}


def empty(table: str) -> pl.DataFrame:
    """An empty frame with ``table``'s schema."""
    return pl.DataFrame(schema=TABLES[table])


def conform(
    frame: pl.LazyFrame | pl.DataFrame,
    schema: pl.Schema | str,
    *,
    source: str | Path | None = None,
) -> pl.LazyFrame:
    """Select, order and cast ``frame``'s columns to ``schema``.

    Missing columns are an error naming them (never silently null); extra columns are dropped.
    Casts are strict, so a value that does not fit its column fails here instead of wrapping.

    Parameters
    ----------
    frame
        The rows to conform.
    schema
        A schema from this module, or a table name.
    source
        Where the rows came from, for the error message.

    Examples
    --------
    >>> conform(pl.DataFrame({"chain": ["ethereum"], "address": ["0xab"]}), "seeds")
    Traceback (most recent call last):
    ...
    tracer.errors.SchemaMismatch: missing column(s): ['attribution', 'incident', ...
    """
    table = schema if isinstance(schema, str) else None
    target = TABLES[schema] if isinstance(schema, str) else schema
    lf = frame.lazy()
    have = lf.collect_schema()
    missing = [c for c in target if c not in have]
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        msg = f"missing column(s): [{shown}]"
        raise SchemaMismatch(
            msg,
            source=source,
            fix=f"Give every column of the {table or 'target'} table (see docs/schema.md)",
        )
    return lf.select(pl.col(name).cast(dtype, strict=True) for name, dtype in target.items())


# What each table holds and what each column means; docs/schema.md is generated from this
# (tools/gen_docs.py) and a test keeps the two in step.
TABLE_DOCS: Mapping[str, str] = {
    "blocks": "One row per block ingested.",
    "transactions": "One row per transaction, failed ones included (with their receipt_status).",
    "transfers": "One row per movement of value that happened. Failed transactions and "
    "reverted calls produce none.",
    "approvals": "One row per ERC-20 Approval log.",
    "utxo_inputs": "One row per input of a Bitcoin-style transaction.",
    "utxo_outputs": "One row per output of a Bitcoin-style transaction.",
    "tokens": "Token metadata (untrusted text: names and symbols come from the chain).",
    "contracts": "Contracts created, from receipts and create traces.",
    "seeds": "Attributed addresses an investigation starts from.",
    "labels": "Tags on addresses (a superset of a GraphSense TagPack tag).",
    "links": "One piece of clustering evidence between two addresses.",
    "clusters": "One row per clustered address.",
    "flows": "Tainted movements found by a trace (output).",
    "exposure": "Endpoints a trace reached, per asset (output).",
    "paths": "The top paths to each endpoint by tainted value (output).",
    "held": "Taint still sitting at addresses that are not endpoints (output).",
    "nodes": "Every address a trace touched, with its role (output).",
    "ingest_log": "Inputs already ingested: files by sha256, RPC block ranges, crawled addresses.",
    "addresses": "Every address of `transfers`, numbered by the store as it first writes it. "
    "Heuristics group and join on these ids (`transfers.from_id`, `to_id`) instead of hex text. "
    "Ids depend on the order data was ingested in; no output does.",
}

_COMMON = {
    "chain": "Chain name (`ethereum`, `bitcoin`, ...).",
    "block_number": "Block height.",
    "block_hash": "Block hash, 0x hex.",
    "block_timestamp": "Block time, UTC.",
    "transaction_hash": "Transaction hash, 0x hex (Bitcoin: 64 hex, as the chain writes it).",
    "transaction_index": "Position of the transaction in its block.",
    "from_address": "Sender: lower-case 0x hex (EVM) or the chain's address form.",
    "to_address": "Receiver; null for a contract creation.",
    "value": "Exact amount in base units (wei, satoshi, token units) as decimal text.",
    "decimals": "Decimals of the asset (18 for ETH, 8 for BTC); null when unknown.",
    "asset": "`ETH`/`BTC` (the chain's native symbol) or the token contract address.",
    "address": "The address, normalised (lower-case 0x hex on EVM chains).",
    "label": "Human-readable tag (untrusted text).",
    "category": "One of the closed set of categories (see below).",
    "source": "Where the row came from (file, list, authority).",
    "confidence": "0-100: how sure the source or rule is.",
    "cluster_id": "Smallest address of the cluster: stable across runs.",
    "tainted_value": "Exact tainted amount in base units, decimal text.",
    "hop": "Hops from the seeds (1 = a seed's own outgoing transfer).",
    "kind": "`native`, `internal`, `token` or `utxo`.",
    "idx": "Position within the transaction: 0 for native, trace position for internal, "
    "log index for token, input/output index for utxo.",
    "token_id": "NFT id (ERC-721/1155) as decimal text; null for fungible transfers.",
    "index": "Input or output index within the transaction.",
    "script_type": "Script type (pubkeyhash, scripthash, witness_v0_keyhash, nonstandard, ...).",
    "log_index": "Position of the log in its block.",
    "rows": "Rows the input contributed.",
}

COLUMN_DOCS: Mapping[str, Mapping[str, str]] = {
    "blocks": {
        "parent_hash": "Hash of the parent block (reorg detection).",
        "miner": "Fee recipient.",
        "transaction_count": "Transactions in the block.",
        "base_fee_per_gas": "EIP-1559 base fee in wei, decimal text; null before London.",
    },
    "transactions": {
        "value": "Exact value sent in base units, decimal text (moved only if the "
        "transaction succeeded).",
        "gas": "Gas limit.",
        "gas_price": "Gas price in wei, decimal text.",
        "gas_used": "Gas used (receipt).",
        "effective_gas_price": "Price actually paid per gas (receipt), decimal text; the fee "
        "is gas_used x effective_gas_price.",
        "receipt_status": "1 success, 0 failed, null before Byzantium (status unknown).",
        "nonce": "Sender nonce.",
        "method_id": "First 4 bytes of the input (0x + 8 hex); null for plain transfers.",
        "contract_address": "Contract created by the transaction, if any.",
    },
    "transfers": {
        "token_standard": "`erc20`, `erc721`, `erc1155` for tokens; null otherwise.",
        "from_id": "`addresses.address_id` of `from_address` (filled by the store).",
        "to_id": "`addresses.address_id` of `to_address`; null when it is null.",
    },
    "approvals": {
        "owner": "Token owner granting the allowance.",
        "spender": "Address allowed to spend.",
        "token_address": "Token contract.",
        "value": "Allowance in token base units, decimal text.",
    },
    "utxo_inputs": {
        "spent_transaction_hash": "Transaction whose output this input spends.",
        "spent_output_index": "Index of that output.",
    },
    "utxo_outputs": {"is_coinbase": "Whether the output belongs to a coinbase transaction."},
    "tokens": {
        "token_address": "Token contract.",
        "symbol": "Symbol as the contract reports it (untrusted).",
        "name": "Name as the contract reports it (untrusted).",
        "token_standard": "`erc20`, `erc721` or `erc1155`.",
    },
    "contracts": {"creator": "Address that created the contract."},
    "seeds": {
        "attribution": "Who the address is attributed to (e.g. Lazarus Group).",
        "incident": "The incident (e.g. Ronin bridge hack 2022).",
        "source_date": "Date of the attribution.",
        "transaction_hash": "The seeding (theft) transaction, when known: tracing starts there.",
    },
    "labels": {
        "is_cluster_definer": "Whether the label names the whole cluster the address is in.",
        "lastmod": "Date the label was last modified.",
    },
    "links": {
        "address_a": "The smaller address of the pair.",
        "address_b": "The larger address of the pair.",
        "heuristic": "Name of the rule (module and function name).",
        "heuristic_version": "Version of the rule; bumped whenever its output can change.",
        "evidence_transaction_hash": "The transaction that proves the link.",
        "block_number": "Block of the evidence transaction.",
    },
    "clusters": {
        "cluster_size": "Addresses in the cluster.",
        "label": "Cluster label, from the labels inside it.",
    },
    "flows": {"value": "Full amount of the transfer, decimal text."},
    "exposure": {
        "share_of_seed_value": "tainted_value / seeded value of the asset (display only).",
        "min_hop": "Fewest hops from a seed to the endpoint.",
        "first_reached_at": "Time taint first reached the endpoint.",
        "paths": "Number of distinct paths that reach the endpoint.",
    },
    "paths": {
        "endpoint": "The endpoint address.",
        "rank": "1 = the path carrying the most taint to this endpoint.",
        "hop_count": "Steps on the path.",
        "addresses": "Addresses on the path, joined with `>`.",
        "transaction_hashes": "The path's transactions in order, joined with `>`: one per step, "
        "except that a swap's two steps (into the venue, out of it) share their transaction.",
    },
    "held": {
        "last_block_number": "Block of the address's last activity.",
        "last_activity_at": "Time of the address's last activity.",
    },
    "nodes": {
        "role": "`seed`, `intermediate`, `endpoint` or `held`.",
        "min_hop": "Fewest hops from a seed.",
    },
    "ingest_log": {
        "source_kind": "`file:<format>`, `rpc:range`, `rpc:crawl`.",
        "source_id": "sha256 of a file, or a block range / address key.",
        "from_block": "First block covered.",
        "to_block": "Last block covered.",
    },
    "addresses": {
        "address_id": "The address's number: 0, 1, ... in the order the store first wrote it.",
    },
}


def column_doc(table: str, column: str) -> str:
    """The meaning of ``table.column``, for the docs."""
    return COLUMN_DOCS.get(table, {}).get(column) or _COMMON[column]
