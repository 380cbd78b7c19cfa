"""Clustering heuristics: pure functions over LazyFrames that return ``links`` with provenance.

Each heuristic lives in a module named as the heuristic, is registered in :data:`REGISTRY` by
the :func:`heuristic` decorator with a version and a literature reference, and returns rows of
:data:`tracer.schema.LINKS`: every row names the rule, its version, the transaction that proves
the link, its block and a confidence (an integer 0-100, documented per heuristic in
``docs/heuristics.md``). :mod:`heuristics.cluster` turns links into clusters.

Heuristics take their tables as keyword arguments named after the tables (``transfers``,
``labels``, ``contracts``, ``approvals``, ``utxo_inputs``, ``utxo_outputs``) and their tuning
knobs as keyword-only parameters; :func:`run_heuristics` calls any set of them uniformly.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import polars as pl

from tracer.errors import InputError
from tracer.schema import KEYS, LINKS, TABLES, conform

__all__ = [
    "LINK_KEYS",
    "MODULES",
    "NOT_OWNED_CATEGORIES",
    "REGISTRY",
    "SERVICE_CATEGORIES",
    "Heuristic",
    "applicable_heuristics",
    "finish_links",
    "heuristic",
    "run_heuristics",
]

#: Label categories of services: addresses that many unrelated users share. A heuristic never
#: links through them and :mod:`heuristics.cluster` never merges through them.
SERVICE_CATEGORIES: tuple[str, ...] = (
    "exchange",
    "hot_wallet",
    "mixing_service",
    "defi_bridge",
    "defi_dex",
    "defi",
)

#: Categories a heuristic never links an owner to: the services, and the deposit wallets an
#: exchange gives its customers (their first funder is the depositor, not their owner).
NOT_OWNED_CATEGORIES: tuple[str, ...] = (*SERVICE_CATEGORIES, "deposit_wallet")

_P = ParamSpec("_P")


@dataclass(frozen=True)
class Heuristic:
    """A registered heuristic.

    Attributes
    ----------
    name
        Module, function, registry key, ``--heuristic`` choice and ``heuristic`` column value.
    version
        Bumped whenever the output can change.
    reference
        The literature the rule comes from.
    function
        The decorated function (its output conforms to ``schema.LINKS``).
    candidates
        The function as written: its links before :func:`finish_links`.
    tables
        The tables it reads, passed as keyword arguments of the same names.
    requires
        The tables that must hold rows for the heuristic to apply to a data directory.
    advisory
        Advisory heuristics are reported but used for clustering only when asked for by name.
    size_cap
        Default largest component its links alone may form before :mod:`heuristics.cluster`
        cuts them (``None``: no cap).
    joins_services
        Its links prove common control (one party signed for both addresses), so a link to a
        service makes the other address the service's: :mod:`heuristics.cluster` keeps it
        instead of cutting it at the service (an exchange co-spending a deposit address with
        its hot wallet shows that it holds both keys).
    """

    name: str
    version: int
    reference: str
    function: Callable[..., pl.LazyFrame]
    candidates: Callable[..., pl.LazyFrame]
    tables: tuple[str, ...]
    requires: tuple[str, ...]
    advisory: bool = False
    size_cap: int | None = None
    joins_services: bool = False


REGISTRY: dict[str, Heuristic] = {}


#: Integer ids of a link's two addresses that candidate links may carry (equal exactly when
#: the ``(chain, address)`` pairs are, such as the store's address ids): kept by
#: :func:`finish_links` when not sorting, for :func:`heuristics.cluster.cluster_addresses`.
LINK_KEYS = pl.Schema({"key_a": pl.UInt32(), "key_b": pl.UInt32()})


def finish_links(
    links: pl.LazyFrame, *, name: str, version: int, sort: bool = True
) -> pl.LazyFrame:
    """Stamp provenance on candidate links, normalise and deduplicate them, conform, sort.

    ``links`` needs ``chain, address_a, address_b, evidence_transaction_hash, block_number,
    confidence``. The pair is ordered so that ``address_a < address_b``; self-links and rows
    with a null address are dropped; a pair proven by the same transaction is kept once, with
    its highest confidence (then its earliest block).

    With ``sort=False`` the rows are not sorted (for the union, which sorts what it keeps:
    a string sort of millions of links takes seconds), and :data:`LINK_KEYS` columns, if
    ``links`` has them, are kept and ordered with the pair.

    Examples
    --------
    >>> lf = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 3,
    ...         "address_a": ["b", "a", "c"],
    ...         "address_b": ["a", "b", "c"],
    ...         "evidence_transaction_hash": ["t1", "t1", "t2"],
    ...         "block_number": [7, 7, 8],
    ...         "confidence": [50, 90, 90],
    ...     }
    ... )
    >>> finish_links(lf, name="demo", version=1).collect().rows()
    [('bitcoin', 'a', 'b', 'demo', 1, 't1', 7, 90)]
    """
    a, b = pl.col("address_a"), pl.col("address_b")
    key = list(KEYS["links"])
    keyed = not sort and set(LINK_KEYS) <= set(links.collect_schema().names())
    swap = (a > b).fill_null(value=False)
    ids = (
        [
            pl.when(swap).then(pl.col(x)).otherwise(pl.col(y)).alias(y)
            for x, y in (("key_b", "key_a"), ("key_a", "key_b"))
        ]
        if keyed
        else []
    )
    normal = links.filter(a.is_not_null() & b.is_not_null() & (a != b)).with_columns(
        pl.when(swap).then(b).otherwise(a).alias("address_a"),
        pl.when(swap).then(a).otherwise(b).alias("address_b"),
        *ids,
        pl.lit(name, dtype=pl.String).alias("heuristic"),
        pl.lit(version, dtype=pl.Int32).alias("heuristic_version"),
    )
    best = [*key, "confidence", "block_number"], [False] * len(key) + [True, False]

    def once(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.sort(best[0], descending=best[1]).unique(
            subset=key, keep="first", maintain_order=True
        )

    if sort:
        return conform(once(normal), LINKS)
    # Only the rows whose key repeats (rare) are sorted: equal keys hash equal, so every
    # repeat is among them (a collision only sends an extra row down that path).
    repeated = pl.struct(key).hash().is_duplicated()
    flagged = normal.with_columns(repeated.alias("__repeated")).cache()
    out = pl.concat(
        [
            flagged.filter(~pl.col("__repeated")),
            once(flagged.filter(pl.col("__repeated"))),
        ]
    ).drop("__repeated")
    return conform(out, pl.Schema({**LINKS, **LINK_KEYS}) if keyed else LINKS)


def heuristic(
    *,
    name: str,
    version: int,
    reference: str,
    tables: Sequence[str],
    requires: Sequence[str] | None = None,
    advisory: bool = False,
    size_cap: int | None = None,
    joins_services: bool = False,
) -> Callable[[Callable[_P, pl.LazyFrame]], Callable[_P, pl.LazyFrame]]:
    """Register a heuristic and make its output carry provenance.

    The wrapped function's rows get ``heuristic`` and ``heuristic_version`` columns, pass
    through :func:`finish_links` (``address_a < address_b``, one row per pair and evidence
    transaction) and are conformed to ``schema.LINKS``.

    Parameters
    ----------
    name
        The heuristic's one identifier (see STYLE.md, "Naming").
    version
        Bump it whenever the output can change.
    reference
        The literature reference.
    tables
        Table names the function takes as keyword arguments.
    requires
        Tables that must hold rows for it to apply (default: the first of ``tables``).
    advisory
        Reported, but used for clustering only when asked for by name.
    size_cap
        Default largest component its links alone may form (see :mod:`heuristics.cluster`).
    joins_services
        Its links prove common control and cross the service guard (see :class:`Heuristic`).
    """
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        msg = f"heuristic {name!r} reads unknown table(s) {unknown}"
        raise ValueError(msg)

    def decorate(func: Callable[_P, pl.LazyFrame]) -> Callable[_P, pl.LazyFrame]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> pl.LazyFrame:
            return finish_links(func(*args, **kwargs), name=name, version=version)

        if name in REGISTRY:
            msg = f"heuristic {name!r} is registered twice"
            raise ValueError(msg)
        REGISTRY[name] = Heuristic(
            name=name,
            version=version,
            reference=reference,
            function=wrapper,
            candidates=func,
            tables=tuple(tables),
            requires=tuple(requires) if requires is not None else tuple(tables[:1]),
            advisory=advisory,
            size_cap=size_cap,
            joins_services=joins_services,
        )
        return wrapper

    return decorate


def _check_names(names: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(names))
    for name in chosen:
        if name not in REGISTRY:
            msg = "unknown heuristic"
            raise InputError(
                msg,
                field="--heuristic",
                value=name,
                fix=f"Choose from {', '.join(sorted(REGISTRY))}",
            )
    return chosen


def applicable_heuristics(present: Iterable[str]) -> list[str]:
    """The non-advisory heuristics whose required tables are all among ``present``.

    Examples
    --------
    >>> applicable_heuristics(["utxo_inputs", "utxo_outputs"])
    ['multi_input']
    """
    have = set(present)
    return sorted(h.name for h in REGISTRY.values() if not h.advisory and set(h.requires) <= have)


def run_heuristics(
    tables: Mapping[str, pl.LazyFrame],
    names: Iterable[str],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    sort: bool = True,
) -> pl.LazyFrame:
    """Run the named heuristics over ``tables`` and return all their links.

    Parameters
    ----------
    tables
        LazyFrames by table name; a table a heuristic reads but that is missing here is
        passed as an empty frame with its schema.
    names
        Heuristic names (see :data:`REGISTRY`).
    params
        Keyword parameters per heuristic name, e.g. ``{"gas_funding": {"max_fan_out": 10}}``.
    sort
        ``False`` leaves each heuristic's links unsorted, with their :data:`LINK_KEYS` if
        they have them (see :func:`finish_links`): for a caller that sorts them itself.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS``, sorted by heuristic, then the link key (with ``sort``).

    Raises
    ------
    InputError
        When a name is not a registered heuristic.
    """
    params = params or {}
    frames = []
    for name in sorted(_check_names(names)):
        h = REGISTRY[name]
        kwargs: dict[str, Any] = {
            t: tables[t] if t in tables else pl.LazyFrame(schema=TABLES[t]) for t in h.tables
        }
        kwargs.update(params.get(name, {}))
        candidates = h.candidates(**kwargs)
        frames.append(finish_links(candidates, name=name, version=h.version, sort=sort))
    if not frames:
        return pl.LazyFrame(schema=LINKS)
    return pl.concat(frames, how="diagonal_relaxed" if not sort else "vertical")


#: The modules that hold the heuristics, one per heuristic, named as the heuristic.
MODULES = (
    "airdrop_multi_participation",
    "deposit_address_reuse",
    "gas_funding",
    "multi_input",
    "one_time_change",
    "self_authorization",
)
# Importing each module registers its heuristic (they import the decorator defined above).
for _module in MODULES:
    importlib.import_module(f"heuristics.{_module}")
