"""The three taint models, one signature: poison, haircut and fifo.

Each model replays the reached transfers (the *hop frame*, in time order) through a ledger per
(address, asset) and returns a :class:`Taint`: the hop frame's tainted movements with their
``tainted_value``, the taint each endpoint received, the taint still held, and what went to
fees. The replay is shared (:func:`_replay`); a model is only its ledger:

* ``poison`` -- once an address receives any taint, everything it sends afterwards is tainted
  (an upper bound; it does not conserve amounts).
* ``haircut`` -- every outflow carries the address's tainted share of its balance at that
  moment. Shares are exact :class:`fractions.Fraction` values end to end.
* ``fifo`` -- a first-in-first-out queue of tainted and clean units per address (Clayton's
  case, *Devaynes v Noble*, 1816): an outflow spends the oldest units first. Amounts stay
  integers.

A ledger never lets value leave before it arrived: it is replayed in the order of
``(block_number, transaction_index, phase, kind, idx)``. When an address sends more than the
data shows it received (its earlier history is not in the data), the missing units are clean,
except at a seed traced as a whole address, where they are tainted and added to the seeded
amount.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import polars as pl

from tracer.trace.swaps import converted_taint

__all__ = [
    "TAINT_MODELS",
    "Taint",
    "TaintPlan",
    "fifo",
    "haircut",
    "poison",
]

Amount = int | Fraction


class _Ledger(Protocol):
    def receive(self, value: int, taint: Amount) -> None: ...

    def send(self, value: int, *, inject: bool) -> tuple[Amount, int]: ...

    def held(self) -> Amount: ...


class _PoisonLedger:
    __slots__ = ("balance", "tainted")

    def __init__(self) -> None:
        self.balance = 0
        self.tainted = False

    def receive(self, value: int, taint: Amount) -> None:
        self.balance += value
        if taint:
            self.tainted = True

    def send(self, value: int, *, inject: bool) -> tuple[Amount, int]:
        injected = 0
        if value > self.balance:
            if inject:
                injected = value - self.balance
                self.tainted = True
            self.balance = value
        self.balance -= value
        return (value if self.tainted else 0), injected

    def held(self) -> Amount:
        return self.balance if self.tainted else 0


class _HaircutLedger:
    __slots__ = ("balance", "taint")

    def __init__(self) -> None:
        self.balance = 0
        self.taint: Amount = 0

    def receive(self, value: int, taint: Amount) -> None:
        self.balance += value
        self.taint += taint

    def send(self, value: int, *, inject: bool) -> tuple[Amount, int]:
        injected = 0
        if value > self.balance:
            if inject:
                injected = value - self.balance
                self.taint += injected
            self.balance = value
        if not self.taint or not value:
            carried: Amount = 0
        elif value == self.balance:
            carried = self.taint
        else:
            carried = Fraction(self.taint * value, self.balance)
        self.balance -= value
        self.taint -= carried
        return carried, injected

    def held(self) -> Amount:
        return self.taint


class _FifoLedger:
    __slots__ = ("queue",)

    def __init__(self) -> None:
        # [amount, tainted] segments, oldest first; neighbours never share a flag.
        self.queue: deque[list[int]] = deque()

    def _push(self, amount: int, tainted: int) -> None:
        if amount <= 0:
            return
        if self.queue and self.queue[-1][1] == tainted:
            self.queue[-1][0] += amount
        else:
            self.queue.append([amount, tainted])

    def receive(self, value: int, taint: Amount) -> None:
        # FIFO only ever moves whole units, so the taint it is handed is an integer.
        tainted = int(taint)
        self._push(tainted, 1)
        self._push(value - tainted, 0)

    def send(self, value: int, *, inject: bool) -> tuple[Amount, int]:
        need, carried = value, 0
        queue = self.queue
        while need and queue:
            head = queue[0]
            take = min(need, head[0])
            if head[1]:
                carried += take
            head[0] -= take
            need -= take
            if not head[0]:
                queue.popleft()
        injected = need if inject else 0
        return carried + injected, injected

    def held(self) -> Amount:
        return sum(a for a, t in self.queue if t)


@dataclass(frozen=True)
class TaintPlan:
    """What a model needs besides the hop frame; built once, shared by every model.

    Attributes
    ----------
    hops
        Address -> fewest counted hops from a seed (every reached address and tx node).
    followed
        Addresses (and Bitcoin transaction nodes) whose outflows are followed.
    endpoints
        Addresses where taint stops and is counted as exposure.
    tx_nodes
        Bitcoin transaction nodes: what they keep is the fee.
    whole_seeds
        Seeds traced as whole addresses -> index (in the hop frame) from which every unit they
        hold is tainted: their first inflow, or 0 when the data shows none.
    seed_inflows
        Hop-frame indices of the seeding transactions' transfers into a seed: tainted in full.
    seed_outflows
        Hop-frame indices of the seeding transactions' transfers out of a seed (when the
        seed receives nothing in that transaction): tainted in full.
    opening
        (address, asset) -> (balance, taint) a ledger starts with. A backward trace replays
        time in reverse, so each ledger opens with the address's final balance (tainted at a
        whole-address seed: all it ended with is asked about); this makes the reversed
        haircut and FIFO the exact mirror of the forward ones.
    venues
        Swap venues reached (:mod:`tracer.trace.swaps`): never followed; taint that enters one
        outside a swap stops there, as at an endpoint.
    swaps
        (transaction_hash, venue) -> (asset in, everything of it that went in) for each swap
        the expansion crossed.
    """

    hops: Mapping[str, int]
    followed: frozenset[str]
    endpoints: frozenset[str]
    tx_nodes: frozenset[str]
    whole_seeds: Mapping[str, int]
    seed_inflows: frozenset[int] = frozenset()
    seed_outflows: frozenset[int] = frozenset()
    opening: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    venues: frozenset[str] = frozenset()
    swaps: Mapping[tuple[str, str], tuple[str, int]] = field(default_factory=dict)


@dataclass
class Taint:
    """What one model found.

    Attributes
    ----------
    model
        The model's name.
    flows
        Rows of the hop frame that carried taint, with ``hop`` and ``tainted_value`` (exact
        amount rounded down to a base unit, a decimal string).
    exact
        The exact tainted amount of each flow, by hop-frame index ``_i``.
    received
        (endpoint, asset) -> exact taint received.
    first_reached
        (endpoint, asset) -> hop-frame index of its first tainted inflow.
    held
        (address, asset) -> exact taint still at an address that is not an endpoint.
    seeded, fees, below_min_value, untraced
        Per asset: taint put in at the seeds; spent on fees (gas, and what Bitcoin
        transactions keep); carried by transfers under ``min_value``; carried to an address
        the expansion did not reach (0 unless the data changed under the trace).
    swapped_out, swapped_in
        Per asset: taint that left the asset at a swap (the in-legs' taint) and taint that
        entered it at a swap (the out-legs' taint).
    swap_sources
        Hop-frame index of each tainted swap out-leg -> the indices of the tainted in-legs of
        its swap: where a path crosses from one asset to another.
    """

    model: str
    flows: pl.DataFrame
    exact: dict[int, Amount]
    received: dict[tuple[str, str], Amount]
    first_reached: dict[tuple[str, str], int]
    held: dict[tuple[str, str], Amount]
    seeded: dict[str, Amount] = field(default_factory=dict)
    fees: dict[str, Amount] = field(default_factory=dict)
    below_min_value: dict[str, Amount] = field(default_factory=dict)
    untraced: dict[str, Amount] = field(default_factory=dict)
    swapped_out: dict[str, Amount] = field(default_factory=dict)
    swapped_in: dict[str, Amount] = field(default_factory=dict)
    swap_sources: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def totals(self) -> dict[str, dict[str, Amount]]:
        """Per asset: what entered it and where it went (exact).

        The keys: seeded, swapped_in, endpoints, held, fees, below_min_value, untraced,
        swapped_out.

        Under haircut and FIFO, per asset: ``seeded + swapped_in == endpoints + held + fees +
        below_min_value + untraced + swapped_out``.
        """
        assets = sorted(
            set(self.seeded)
            | {a for _, a in self.received}
            | {a for _, a in self.held}
            | set(self.fees)
            | set(self.swapped_in)
            | set(self.swapped_out)
        )
        out: dict[str, dict[str, Amount]] = {}
        for asset in assets:
            out[asset] = {
                "seeded": self.seeded.get(asset, 0),
                "endpoints": sum((v for (_, a), v in self.received.items() if a == asset), 0),
                "held": sum((v for (_, a), v in self.held.items() if a == asset), 0),
                "fees": self.fees.get(asset, 0),
                "below_min_value": self.below_min_value.get(asset, 0),
                "untraced": self.untraced.get(asset, 0),
                "swapped_in": self.swapped_in.get(asset, 0),
                "swapped_out": self.swapped_out.get(asset, 0),
            }
        return out


def _add(bucket: dict[str, Amount], asset: str, amount: Amount) -> None:
    if amount:
        bucket[asset] = bucket.get(asset, 0) + amount


def _replay(
    events: pl.DataFrame, plan: TaintPlan, model: str, make: Callable[[], _Ledger]
) -> Taint:
    src_l = events.get_column("_src_address").to_list()
    dst_l = events.get_column("_dst_address").to_list()
    asset_l = events.get_column("asset").to_list()
    value_l = events.get_column("value").to_list()
    fee_l = events.get_column("_fee").to_list()
    big_l = events.get_column("_big").to_list()
    w_l = events.get_column("_w").to_list()
    hops, followed, endpoints = plan.hops, plan.followed, plan.endpoints
    whole = plan.whole_seeds
    seed_in, seed_out = plan.seed_inflows, plan.seed_outflows
    ledgers: dict[tuple[str, str], _Ledger] = {}
    exact: dict[int, Amount] = {}
    flow_hops: dict[int, int] = {}
    received: dict[tuple[str, str], Amount] = {}
    first: dict[tuple[str, str], int] = {}
    seeded: dict[str, Amount] = {}
    fees: dict[str, Amount] = {}
    below: dict[str, Amount] = {}
    untraced: dict[str, Amount] = {}
    tx_l = events.get_column("transaction_hash").to_list()
    venues, swaps = plan.venues, plan.swaps
    swap_taint: dict[tuple[str, str], Amount] = {}  # (tx, venue) -> taint of its in-legs
    swap_hop: dict[tuple[str, str], int] = {}
    swap_legs: dict[tuple[str, str], list[int]] = {}
    swap_paid: dict[tuple[str, str, str], int] = {}  # (tx, venue, asset out) -> units paid
    swapped_in: dict[str, Amount] = {}
    swapped_out: dict[str, Amount] = {}
    sources: dict[int, tuple[int, ...]] = {}

    def ledger(address: str, asset: str) -> _Ledger:
        key = (address, asset)
        book = ledgers.get(key)
        if book is None:
            book = ledgers[key] = make()
        return book

    for (address, asset), (balance, taint) in sorted(plan.opening.items()):
        ledger(address, asset).receive(balance, taint)
        _add(seeded, asset, taint)

    for i in range(len(src_l)):
        src, dst, asset = src_l[i], dst_l[i], asset_l[i]
        value = int(value_l[i])
        carried: Amount = 0
        hop = 0
        swap = (tx_l[i], src) if src in venues else None
        if swap is not None and swap in swaps and swaps[swap][0] != asset:
            # An out-leg of a swap: it carries the converted share of the swap's in-legs.
            sent = swaps[swap][1]
            paid_key = (*swap, asset)
            paid = swap_paid.get(paid_key, 0)
            swap_paid[paid_key] = paid + value
            carried = converted_taint(
                value, swap_taint.get(swap, 0), sent, model=model, paid_before=paid
            )
            if carried:
                _add(swapped_in, asset, carried)
                hop = swap_hop[swap] + 1
                sources[i] = tuple(swap_legs[swap])
        elif src in followed:
            start = whole.get(src)
            carried, injected = ledger(src, asset).send(
                value, inject=start is not None and i >= start
            )
            _add(seeded, asset, injected)
            if i in seed_out:
                _add(seeded, asset, value - carried)
                carried = value
            if fee_l[i]:
                _add(fees, asset, carried)
                continue
        elif fee_l[i] or dst is None:
            continue
        start = whole.get(dst)
        if (start is not None and i >= start) or i in seed_in:
            # Into a seed from its first inflow on (or in the seeding transaction): all of it
            # is tainted; only the part that was not tainted already is newly seeded.
            _add(seeded, asset, value - carried)
            ledger(dst, asset).receive(value, value)
            if carried:
                exact[i] = carried
                flow_hops[i] = hop or hops[src] + w_l[i]
            continue
        if not carried:
            if dst in followed:
                ledger(dst, asset).receive(value, 0)
            continue
        if not big_l[i]:
            _add(below, asset, carried)
            if dst in followed:
                ledger(dst, asset).receive(value, 0)
            continue
        swap = (tx_l[i], dst) if dst in venues else None
        if dst in followed:
            ledger(dst, asset).receive(value, carried)
        elif swap is not None and swaps.get(swap, ("",))[0] == asset:
            # An in-leg of a swap: its taint leaves the asset and is paid out in another.
            _add(swapped_out, asset, carried)
            swap_taint[swap] = swap_taint.get(swap, 0) + carried
            swap_legs.setdefault(swap, []).append(i)
            leg_hop = hop or hops[src] + w_l[i]
            swap_hop[swap] = min(swap_hop.get(swap, leg_hop), leg_hop)
        elif dst in endpoints or dst in venues:
            key = (dst, asset)
            received[key] = received.get(key, 0) + carried
            first.setdefault(key, i)
        else:
            _add(untraced, asset, carried)
            continue
        exact[i] = carried
        flow_hops[i] = hop or hops[src] + w_l[i]

    held: dict[tuple[str, str], Amount] = {}
    for (address, asset), book in sorted(ledgers.items()):
        amount = book.held()
        if not amount:
            continue
        if address in plan.tx_nodes:
            _add(fees, asset, amount)
        else:
            held[(address, asset)] = amount
    index = sorted(exact)
    flows = (
        events.with_row_index("_i")
        .filter(pl.col("_i").is_in(index))
        .with_columns(
            hop=pl.Series([flow_hops[i] for i in index], dtype=pl.Int32),
            tainted_value=pl.Series([str(int(exact[i])) for i in index], dtype=pl.String),
        )
    )
    return Taint(
        model=model,
        flows=flows,
        exact=exact,
        received=received,
        first_reached=first,
        held=held,
        seeded=seeded,
        fees=fees,
        below_min_value=below,
        untraced=untraced,
        swapped_out=swapped_out,
        swapped_in=swapped_in,
        swap_sources=sources,
    )


def poison(events: pl.DataFrame, *, plan: TaintPlan) -> Taint:
    """Poison: any tainted inflow taints everything the address sends afterwards.

    Parameters
    ----------
    events
        The hop frame in replay order: ``_src_address``, ``_dst_address`` (trace direction),
        ``asset``, ``value``, ``_fee``, ``_big``, ``_w`` and the transfer columns.
    plan
        Who is followed, who is an endpoint, where the seeds start.

    Returns
    -------
    Taint
        Tainted movements, endpoint amounts, held taint, fees.
    """
    return _replay(events, plan, "poison", _PoisonLedger)


def haircut(events: pl.DataFrame, *, plan: TaintPlan) -> Taint:
    """Haircut: each outflow carries the tainted share of the sender's balance at that moment.

    Parameters
    ----------
    events
        The hop frame in replay order (see :func:`poison`).
    plan
        Who is followed, who is an endpoint, where the seeds start.

    Returns
    -------
    Taint
        Tainted movements (exact fractions, rounded down in ``tainted_value``), endpoint
        amounts, held taint, fees.
    """
    return _replay(events, plan, "haircut", _HaircutLedger)


def fifo(events: pl.DataFrame, *, plan: TaintPlan) -> Taint:
    """FIFO: an outflow spends the oldest units first (Clayton's case).

    Parameters
    ----------
    events
        The hop frame in replay order (see :func:`poison`).
    plan
        Who is followed, who is an endpoint, where the seeds start.

    Returns
    -------
    Taint
        Tainted movements (whole units), endpoint amounts, held taint, fees.
    """
    return _replay(events, plan, "fifo", _FifoLedger)


TAINT_MODELS: Mapping[str, Callable[..., Taint]] = {
    "poison": poison,
    "haircut": haircut,
    "fifo": fifo,
}
