"""What the labels alone say a trace will do at an address: stop there, or cross it as a swap.

The RPC crawl (``tracer.ingest.crawl.crawl``) runs before any clustering, so it knows the
case's labels only; these tell it which addresses it need not fetch.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

import polars as pl

from tracer.trace.swaps import swap_venues

__all__ = ["CrawlLimits", "crawl_limits", "labelled_stops", "labelled_venues"]


def labelled_stops(
    labels: pl.DataFrame, *, seeds: Collection[str], stop_at: Collection[str]
) -> list[str]:
    """The addresses labelled with a stop category, seeds excepted, sorted.

    The trace follows nothing out of them, and an exchange's or a mixer's history is
    everyone's: the crawl reaches them and fetches nothing of theirs.

    Examples
    --------
    >>> labels = pl.DataFrame({"address": ["0xe", "0xm", "0xs"], "category": ["exchange"] * 3})
    >>> labelled_stops(labels, seeds=["0xs"], stop_at=["exchange"])
    ['0xe', '0xm']
    """
    stop = set(labels.filter(pl.col("category").is_in(list(stop_at)))["address"].to_list())
    return sorted(stop - set(seeds))


def labelled_venues(
    labels: pl.DataFrame, *, seeds: Collection[str], stop_at: Collection[str]
) -> list[str]:
    """The swap venues a trace would cross, as far as the labels tell, sorted.

    :func:`~tracer.trace.swaps.swap_venues` of the labels, without the seeds and the stops.

    Examples
    --------
    >>> labels = pl.DataFrame(
    ...     {"address": ["0xp", "0xq", "0xs"], "category": ["defi_dex", "defi", "defi_dex"]}
    ... )
    >>> labelled_venues(labels, seeds=["0xs"], stop_at=["exchange"])
    ['0xp', '0xq']
    """
    stops = labelled_stops(labels, seeds=seeds, stop_at=stop_at)
    return swap_venues(labels, exclude={*seeds, *stops})


class CrawlLimits(NamedTuple):
    """Addresses the crawl reaches but does not fetch: where the trace stops, and venues."""

    stops: list[str]
    venues: list[str]


#: Stop categories whose addresses the crawl still fetches: a deposit wallet's forward to its
#: exchange is what proves the deposits that ``deposit_address_reuse`` links senders by.
_FETCHED_STOPS = frozenset({"deposit_wallet"})


def crawl_limits(
    labels: pl.DataFrame, *, seeds: Collection[str], stop_at: Collection[str], follow_swaps: bool
) -> CrawlLimits:
    """What the crawl of a trace with these parameters need not fetch, from the labels.

    Stops: :func:`labelled_stops`, deposit wallets excepted. Venues: :func:`labelled_venues`
    when the trace follows swaps (otherwise a venue is an ordinary address, whose history the
    trace replays).

    Examples
    --------
    >>> labels = pl.DataFrame(
    ...     {"address": ["0xe", "0xd", "0xp"], "category": ["exchange", "deposit_wallet", "defi"]}
    ... )
    >>> crawl_limits(labels, seeds=[], stop_at=["exchange", "deposit_wallet"], follow_swaps=True)
    CrawlLimits(stops=['0xe'], venues=['0xp'])
    """
    skipped = [c for c in stop_at if c not in _FETCHED_STOPS]
    stops = labelled_stops(labels, seeds=seeds, stop_at=skipped)
    venues = labelled_venues(labels, seeds=seeds, stop_at=stop_at) if follow_swaps else []
    return CrawlLimits(stops, venues)
