"""Address-driven crawl: fetch only what a trace needs, hop by hop, address by address.

Starting from the seeds, :func:`crawl` runs a breadth-first search over every transfer that
touches an address (no taint model: it reaches a superset of what any model reaches). For each
address it asks the node for the address's transactions with the Otterscan API
(``ots_searchTransactionsBefore``, paged; Erigon, Reth and anvil serve it), then fetches the
blocks' headers, the receipts and the traces of those transactions (``trace_transaction``, or
``debug_traceTransaction`` with ``callTracer``), maps them with the same code as
:mod:`tracer.ingest.rpc` and commits them together with an ``ingest_log`` row
(``source_kind = "crawl"``, ``source_id = "<address>:<since>-<until>"``). A second crawl of the
same case therefore reads the data directory and makes no call to the node.

Swap venues (``venues``: DEX pools, routers) are crossed, not fetched: from a payment into a
venue the crawl goes on to what the venues paid out in the same transaction, as the trace
crosses swaps, so a pool's history (every trader's swaps) is never fetched. Stops (``stops``:
labelled exchanges, mixers, bridges) are reached and not fetched: the trace ends there.

A node without ``ots_`` gets the fallback: the whole block range is ingested with
:func:`tracer.ingest.rpc.ingest_rpc` (resumable, and itself cached in ``ingest_log``).

Limits: the Otterscan index lists the transactions an address sent, received or was called in
(internal calls included); an address that only appears in a token event's topics (a token
recipient that never acts) is found through the sender's transactions, so a forward crawl
follows tokens, but a backward crawl from a pure token recipient finds nothing before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from tracer.addresses import normalize_evm
from tracer.errors import InputError, RpcError
from tracer.ingest._jsonrpc import Call, RpcClient, is_unsupported
from tracer.ingest._progress import Progress
from tracer.ingest.rpc import (
    DEV_CHAIN_IDS,
    MAINNET_CONFIRMATIONS,
    RawBlock,
    TokenCache,
    covered_ranges,
    ingest_rpc,
    map_block,
    open_client,
    tables_for_blocks,
)
from tracer.schema import TABLES
from tracer.store import Store

__all__ = ["SOURCE_KIND", "CrawlReport", "crawl", "crawled_addresses"]

SOURCE_KIND = "crawl"

Direction = Literal["forward", "backward", "both"]


@dataclass
class CrawlReport:
    """What a crawl did."""

    since_block: int
    until_block: int
    method: Literal["ots", "scan", "cache"] = "cache"
    hops: int = 0
    addresses: int = 0
    fetched_addresses: int = 0
    transactions: int = 0
    added: dict[str, int] = field(default_factory=dict)
    calls: int = 0


def crawled_addresses(store: Store, *, chain: str, since_block: int, until_block: int) -> set[str]:
    """Addresses whose transactions in ``since_block..until_block`` are already in ``store``."""
    rows = (
        store.scan("ingest_log")
        .filter(
            (pl.col("chain") == chain)
            & (pl.col("source_kind") == SOURCE_KIND)
            & (pl.col("from_block") <= since_block)
            & (pl.col("to_block") >= until_block)
        )
        .select("source_id")
        .collect()
    )
    return {source_id.split(":", 1)[0] for source_id in rows["source_id"]}


def _range_scanned(store: Store, *, chain: str, since_block: int, until_block: int) -> bool:
    return any(
        lo <= since_block and hi >= until_block for lo, hi in covered_ranges(store, chain=chain)
    )


def _neighbours(
    store: Store,
    frontier: set[str],
    *,
    chain: str,
    direction: Direction,
    lo: int,
    hi: int,
    venues: frozenset[str] = frozenset(),
) -> set[str]:
    """The addresses one transfer away from ``frontier``; through a venue, one swap away.

    A venue is never a neighbour. A transfer from the frontier into a venue leads to the
    receivers of what the venues paid out in the same transaction (the swap's out-legs, and
    a route through several pools); backward, a transfer from a venue into the frontier leads
    to who paid the venues in that transaction. Those legs are in the transaction's receipt,
    fetched with the frontier's history: a venue's own history (a pool's: every trader's
    swaps) is never needed.
    """
    transfers = store.scan("transfers").filter(
        (pl.col("chain") == chain) & pl.col("block_number").is_between(lo, hi)
    )
    wanted = pl.lit(sorted(frontier), dtype=pl.List(pl.String)).explode().implode()
    pools = pl.lit(sorted(venues), dtype=pl.List(pl.String)).explode().implode()
    found: set[str] = set()
    for mine, other, on in (
        ("from_address", "to_address", ("forward", "both")),
        ("to_address", "from_address", ("backward", "both")),
    ):
        if direction not in on:
            continue
        near = transfers.filter(pl.col(mine).is_in(wanted))
        found |= set(near.select(other).collect()[other].drop_nulls().to_list())
        if venues:
            swaps = near.filter(pl.col(other).is_in(pools)).select("transaction_hash").unique()
            legs = transfers.join(swaps, on="transaction_hash", how="semi").filter(
                pl.col(mine).is_in(pools)
            )
            found |= set(legs.select(other).collect()[other].drop_nulls().to_list())
    return found - frontier - venues


class _Fetcher:
    """Fetches one address's transactions with ots_ and turns them into table rows."""

    def __init__(self, client: RpcClient, store: Store, *, chain: str, page_size: int) -> None:
        self.client = client
        self.store = store
        self.chain = chain
        self.page_size = page_size
        self.tokens = TokenCache.from_store(store, chain=chain)
        self.trace_method: str | None = None
        self.known = set(
            store.scan("transactions")
            .filter(pl.col("chain") == chain)
            .select("transaction_hash")
            .collect()["transaction_hash"]
            .to_list()
        )

    def search(self, address: str, lo: int, hi: int) -> list[tuple[dict[str, Any], Any]]:
        """(transaction, receipt or None) of ``address`` in blocks ``lo..hi``, paged."""
        found: dict[str, tuple[dict[str, Any], Any]] = {}
        before = hi + 1
        while True:
            page = self.client.call("ots_searchTransactionsBefore", address, before, self.page_size)
            txs = page.get("txs") or [] if isinstance(page, dict) else []
            if not txs:
                break
            receipts = page.get("receipts") or []
            by_hash = {
                str(r.get("transactionHash", "")).lower(): r
                for r in receipts
                if isinstance(r, dict)
            }
            numbers = []
            for tx in txs:
                number = int(tx["blockNumber"], 16)
                numbers.append(number)
                if lo <= number <= hi:
                    tx_hash = str(tx["hash"]).lower()
                    found[tx_hash] = (tx, by_hash.get(tx_hash))
            lowest = min(numbers)
            # Otterscan pages hold whole blocks, newest first; lastPage marks the oldest one.
            if page.get("lastPage") is True or lowest >= before or lowest <= max(lo, 1):
                break
            before = lowest
        return list(found.values())

    def _traces(self, hashes: Sequence[str]) -> tuple[str | None, list[Any]]:
        if not hashes:
            return self.trace_method, []
        if self.trace_method is None:
            [probe] = self.client.batch([("trace_transaction", [hashes[0]])], errors="return")
            if isinstance(probe, list):
                self.trace_method = "trace_block"
            else:
                self.trace_method = "debug_traceBlockByNumber"
        if self.trace_method == "trace_block":
            calls: list[Call] = [("trace_transaction", [h]) for h in hashes]
        else:
            calls = [("debug_traceTransaction", [h, {"tracer": "callTracer"}]) for h in hashes]
        return self.trace_method, self.client.batch(calls)

    def fetch(self, address: str, lo: int, hi: int) -> tuple[dict[str, pl.DataFrame], int]:
        """The tables for ``address``'s transactions not yet stored, and how many there were."""
        pairs = [p for p in self.search(address, lo, hi) if p[0]["hash"].lower() not in self.known]
        if not pairs:
            return {}, 0
        missing = [p[0]["hash"] for p in pairs if not isinstance(p[1], dict) or "logs" not in p[1]]
        fetched = dict(
            zip(
                [h.lower() for h in missing],
                self.client.batch([("eth_getTransactionReceipt", [h]) for h in missing]),
                strict=True,
            )
        )
        numbers = sorted({int(tx["blockNumber"], 16) for tx, _ in pairs})
        headers = self.client.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        for n, header in zip(numbers, headers, strict=True):
            if not isinstance(header, dict):
                msg = f"the node at {self.client.url} has no block {n}"
                raise RpcError(msg)
        by_block: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {n: [] for n in numbers}
        for tx, receipt in pairs:
            full = receipt if isinstance(receipt, dict) and "logs" in receipt else None
            full = full or fetched[tx["hash"].lower()]
            by_block[int(tx["blockNumber"], 16)].append((tx, full))
        ordered = [
            sorted(by_block[n], key=lambda p: int(p[0].get("transactionIndex") or "0x0", 16))
            for n in numbers
        ]
        method, traces = self._traces([tx["hash"] for group in ordered for tx, _ in group])
        raw: list[RawBlock] = []
        at = 0
        for header, group in zip(headers, ordered, strict=True):
            block = {**header, "transactions": [tx for tx, _ in group]}
            chunk = traces[at : at + len(group)]
            at += len(group)
            flat: list[Any] = (
                [t for per_tx in chunk for t in (per_tx or [])]
                if method == "trace_block"
                else list(chunk)
            )
            raw.append(
                RawBlock(
                    block=block,
                    receipts=[r for _, r in group],
                    traces=flat,
                    trace_format="trace_block"
                    if method == "trace_block"
                    else "debug_traceBlockByNumber",
                )
            )
        tables, _ = tables_for_blocks(raw, chain=self.chain, client=self.client, tokens=self.tokens)
        tables["blocks"] = pl.DataFrame(
            [map_block(h, chain=self.chain) for h in headers], schema=TABLES["blocks"], orient="row"
        )
        self.known.update(tx["hash"].lower() for tx, _ in pairs)
        return tables, len(pairs)


def crawl(
    store: Store,
    rpc_url: str,
    seeds: Iterable[str],
    *,
    direction: Direction = "forward",
    max_hops: int = 4,
    since_block: int | None = None,
    until_block: int | None = None,
    chain: str = "ethereum",
    confirmations: int | None = None,
    page_size: int = 100,
    max_addresses: int = 5_000,
    commit_every: int = 50,
    venues: Iterable[str] = (),
    stops: Iterable[str] = (),
    client: RpcClient | None = None,
    progress: bool | None = None,
) -> CrawlReport:
    """Fetch into ``store`` the transactions a trace from ``seeds`` can reach.

    Parameters
    ----------
    store
        The case data directory.
    rpc_url
        The node (never shown unredacted).
    seeds
        Addresses to start from.
    direction
        ``forward`` follows money out of an address, ``backward`` into it, ``both`` either.
    max_hops
        Hops from the seeds (the seeds' own transactions are hop 1).
    since_block, until_block
        The block window; ``until_block`` defaults to the newest confirmed block (one call to
        the node), so pass it for a crawl that a re-run answers from the data directory alone.
    chain
        The chain name for the rows.
    confirmations
        As in :func:`tracer.ingest.rpc.ingest_rpc`.
    page_size
        Transactions per ``ots_searchTransactionsBefore`` page.
    max_addresses
        Stop widening once this many addresses have been reached (a guard against exchanges'
        hot wallets, whose neighbourhood is the whole chain).
    commit_every
        Addresses whose rows are committed together (with their ``ingest_log`` rows): fewer,
        larger Parquet parts; a killed crawl redoes at most this many addresses.
    venues
        Swap venues (``tracer.trace.swap_venues``: DEX pools, routers), crossed like the trace
        crosses them: never fetched, the crawl goes on to what they paid out (backward: to who
        paid them) in the transactions that reached them. A pool's history is every trader's
        swaps; this keeps the crawl to the case's own. Empty: a venue is an ordinary address.
    stops
        Addresses where the trace stops (``tracer.trace.crawl_limits``: labelled exchanges,
        mixers, bridges): reached, never fetched, never widened from. The trace follows
        nothing out of them, and a hot wallet's history is every customer's.
    client
        An open client (tests count its calls).
    progress
        Show a progress line on stderr (default: only on a terminal).
    """
    starts = {normalize_evm(s) for s in seeds}
    pools = frozenset(normalize_evm(v) for v in venues) - starts
    ends = frozenset(normalize_evm(a) for a in stops) - starts
    if not starts:
        msg = "no seed addresses"
        raise InputError(msg, field="--seed", fix="Pass at least one --seed or a --seeds file")
    since = since_block or 0
    own = client is None
    rpc = client
    try:
        until = until_block
        if until is None:
            rpc = rpc or open_client(rpc_url)
            chain_id, head = (
                int(v, 16) for v in rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
            )
            depth = confirmations
            if depth is None:
                depth = 0 if chain_id in DEV_CHAIN_IDS else MAINNET_CONFIRMATIONS
            until = head - depth
        report = CrawlReport(since_block=since, until_block=until)
        scanned = _range_scanned(store, chain=chain, since_block=since, until_block=until)
        done = crawled_addresses(store, chain=chain, since_block=since, until_block=until)
        seen = set(starts)
        frontier = set(starts)
        fetcher: _Fetcher | None = None
        bar = Progress(max_hops, unit="hops", label="crawl", enabled=progress)
        for _hop in range(max_hops):
            todo = sorted(a for a in frontier if a not in done) if not scanned else []
            if todo:
                rpc = rpc or open_client(rpc_url)
                if fetcher is None:
                    [level] = rpc.batch([("ots_getApiLevel", [])], errors="return")
                    if isinstance(level, RpcError):
                        if not is_unsupported(level):
                            raise level
                        ingest_rpc(
                            store,
                            rpc_url,
                            from_block=since,
                            to_block=until,
                            chain=chain,
                            client=rpc,
                            progress=progress,
                        )
                        scanned, report.method = True, "scan"
                        todo = []
                    else:
                        fetcher = _Fetcher(rpc, store, chain=chain, page_size=page_size)
                        report.method = "ots"
            for start in range(0, len(todo), commit_every):
                assert fetcher is not None
                group = todo[start : start + commit_every]
                pending: dict[str, list[pl.DataFrame]] = {}
                logs = []
                for address in group:
                    tables, count = fetcher.fetch(address, since, until)
                    for table, frame in tables.items():
                        pending.setdefault(table, []).append(frame)
                    logs.append(
                        {
                            "chain": chain,
                            "source_kind": SOURCE_KIND,
                            "source_id": f"{address}:{since}-{until}",
                            "from_block": since,
                            "to_block": until,
                            "rows": sum(t.height for t in tables.values()),
                        }
                    )
                    report.transactions += count
                merged = {t: pl.concat(frames, how="vertical") for t, frames in pending.items()}
                log = pl.DataFrame(logs, schema=TABLES["ingest_log"])
                # one commit per group of addresses: their rows and their ingest_log rows
                added = store.commit({**merged, "ingest_log": log})
                for table, n in added.items():
                    if table != "ingest_log":
                        report.added[table] = report.added.get(table, 0) + n
                done.update(group)
                report.fetched_addresses += len(group)
            report.hops += 1
            bar.advance(1)
            nxt = (
                _neighbours(
                    store,
                    frontier,
                    chain=chain,
                    direction=direction,
                    lo=since,
                    hi=until,
                    venues=pools,
                )
                - seen
            )
            seen |= nxt & ends  # reached, and the trace ends there: nothing to fetch
            nxt -= ends
            if not nxt or len(seen) >= max_addresses:
                break
            nxt = set(sorted(nxt)[: max(0, max_addresses - len(seen))])
            seen |= nxt
            frontier = nxt
        bar.close()
        report.addresses = len(seen)
        if rpc is not None:
            report.calls = rpc.calls
        return report
    finally:
        if own and rpc is not None:
            rpc.close()
