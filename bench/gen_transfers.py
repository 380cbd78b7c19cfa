"""Realistic synthetic EVM transfers at scale, for the clustering and trace benchmarks.

``generate_transfers(n, seed=...)`` returns ``n`` rows of ``schema.TRANSFERS`` (native ETH);
``generate_labels(n, seed=...)`` the matching ``schema.LABELS`` (the exchanges' hot wallets).
The same ``n`` and ``seed`` always give the same rows. The world:

* actors own heavy-tailed numbers of wallets (Zipf, 1 to 200): each actor's main wallet is
  funded by an exchange withdrawal and funds the actor's other wallets (gas funding);
* 20 exchanges, each with a labelled hot wallet and one deposit address per customer: deposits
  are forwarded to the hot wallet a few blocks later, minus gas (what Victor's rule finds);
* payments between wallets with heavy-tailed in- and out-degrees (Pareto weights), and
  withdrawals from the exchanges;
* about one address per five transfers (4M addresses for 20M transfers).

Amounts are drawn in gwei (at most 10^11 gwei, far inside int64) and written as exact decimal
strings of wei by appending nine zeros to the gwei digits: no value passes through a 64-bit
integer in wei (10^11 gwei = 10^20 wei would overflow it), so every ``value`` is a
non-negative decimal string. A deposit's forward is the deposit minus at most 0.01 ETH of gas,
and every deposit is at least 0.02 ETH, so forwards are positive too.

Run ``python -m bench.gen_transfers N DIR`` to write ``DIR/transfers`` and ``DIR/labels`` as a
case data directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from tracer.address_ids import with_address_ids
from tracer.schema import ADDRESSES, LABELS, STORED, TRANSFERS

__all__ = ["N_EXCHANGES", "generate_labels", "generate_transfers", "write_case"]

N_EXCHANGES = 20
_GWEI_DIGITS = "000000000"  # appended to an amount in gwei, gives it in wei
_FUNDING_BLOCKS = 1_000_000


def _addresses(ids: pl.Expr) -> pl.Expr:
    """Distinct, well-spread 0x + 40-hex-like strings from integer ids."""
    mixed = ids.hash(seed=42).cast(pl.String).str.zfill(20)
    return pl.format("0x{}{}", mixed, ids.cast(pl.String).str.zfill(20))


def _exchange_labels() -> pl.DataFrame:
    ids = pl.int_range(0, N_EXCHANGES, dtype=pl.Int64, eager=True)
    return pl.DataFrame({"id": ids}).select(
        pl.lit("ethereum").alias("chain"),
        _addresses(pl.col("id")).alias("address"),
        pl.format("Exchange {}", pl.col("id")).alias("label"),
        pl.lit("exchange").alias("category"),
        pl.lit("bench").alias("source"),
        pl.lit(50, dtype=pl.Int32).alias("confidence"),
        pl.lit(value=True).alias("is_cluster_definer"),
        pl.lit(None, dtype=pl.Date).alias("lastmod"),
    )


def generate_labels(n_transfers: int, *, seed: int = 0) -> pl.LazyFrame:
    """The labels of the world of :func:`generate_transfers` (its exchanges' hot wallets)."""
    del n_transfers, seed  # the exchanges are the same in every world
    return _exchange_labels().lazy()


def _wei(gwei: pl.Expr) -> pl.Expr:
    """Exact decimal string of wei from a non-negative integer amount in gwei."""
    digits = gwei.cast(pl.String)
    return pl.when(gwei == 0).then(pl.lit("0")).otherwise(digits + _GWEI_DIGITS)


def _pick(
    rng: np.random.Generator, weights: npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.int64]:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def generate_transfers(n_transfers: int, *, seed: int = 0) -> pl.LazyFrame:
    """``n_transfers`` rows of ``schema.TRANSFERS`` from a synthetic world (see module doc).

    Parameters
    ----------
    n_transfers
        Number of rows (at least 1,000).
    seed
        Seed of the numpy generator; same seed, same rows.
    """
    n = max(int(n_transfers), 1_000)
    rng = np.random.default_rng(seed)
    n_actors = n // 20
    sizes = np.minimum(rng.zipf(2.0, n_actors), 200).astype(np.int64)
    n_wallets = int(sizes.sum())
    first_wallet = N_EXCHANGES + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    wallet_actor = np.repeat(np.arange(n_actors), sizes)
    wallets = N_EXCHANGES + np.arange(n_wallets)
    deposit0 = N_EXCHANGES + n_wallets  # deposit address of actor a: deposit0 + a

    # 1. Funding: main wallets from an exchange, the others from their actor's main wallet.
    is_main = wallets == first_wallet[wallet_actor]
    fund_src = np.where(
        is_main, rng.integers(0, N_EXCHANGES, n_wallets), first_wallet[wallet_actor]
    )
    fund_value = rng.integers(10**7, 10**9, n_wallets)  # gwei, like every amount here
    fund_block = rng.integers(0, _FUNDING_BLOCKS, n_wallets)

    # 2. Deposits (two transfers each): a wallet of the actor -> its deposit address -> hot wallet.
    n_deposits = min((n - n_wallets) * 3 // 10 // 2, n)
    dep_actor = _pick(rng, sizes.astype(np.float64), n_deposits)
    dep_wallet = first_wallet[dep_actor] + rng.integers(0, 2**62, n_deposits) % sizes[dep_actor]
    dep_value = rng.integers(2 * 10**7, 10**11, n_deposits)
    dep_block = rng.integers(_FUNDING_BLOCKS, 2 * _FUNDING_BLOCKS, n_deposits)
    gas = rng.integers(21_000, 10**6, n_deposits) * 10  # 21,000 to 10^6 gas at 10 gwei

    # 3. Payments and withdrawals with heavy-tailed degrees: the rest.
    n_pay = n - n_wallets - 2 * n_deposits
    weights = rng.pareto(1.2, n_wallets) + 1.0
    pay_src = wallets[_pick(rng, weights, n_pay)]
    pay_dst = wallets[_pick(rng, rng.permutation(weights), n_pay)]
    withdrawal = rng.random(n_pay) < 0.1
    pay_src = np.where(withdrawal, rng.integers(0, N_EXCHANGES, n_pay), pay_src)
    pay_value = rng.integers(10**5, 10**10, n_pay)
    pay_block = rng.integers(_FUNDING_BLOCKS, 2 * _FUNDING_BLOCKS, n_pay)

    src = np.concatenate([fund_src, dep_wallet, deposit0 + dep_actor, pay_src])
    dst = np.concatenate([wallets, deposit0 + dep_actor, dep_actor % N_EXCHANGES, pay_dst])
    value = np.concatenate([fund_value, dep_value, dep_value - gas, pay_value])  # gwei
    if value.min() < 0:
        msg = "negative amount: a deposit's gas exceeds the deposit"
        raise ValueError(msg)
    block = np.concatenate(
        [fund_block, dep_block, dep_block + rng.integers(1, 200, n_deposits), pay_block]
    )
    frame = pl.DataFrame(
        {"src": src[:n], "dst": dst[:n], "value": value[:n], "block_number": block[:n]}
    )
    return (
        frame.lazy()
        .with_row_index("row")
        .select(
            pl.lit("ethereum").alias("chain"),
            pl.col("block_number").cast(pl.Int64),
            (pl.lit(1_438_269_973_000_000) + pl.col("block_number") * 12_000_000)
            .cast(pl.Datetime("us", "UTC"))
            .alias("block_timestamp"),
            pl.format("0x{}", pl.col("row").cast(pl.String).str.zfill(64)).alias(
                "transaction_hash"
            ),
            pl.lit(0, dtype=pl.Int64).alias("transaction_index"),
            pl.lit("native").alias("kind"),
            pl.lit(0, dtype=pl.Int64).alias("idx"),
            _addresses(pl.col("src")).alias("from_address"),
            _addresses(pl.col("dst")).alias("to_address"),
            pl.lit("ETH").alias("asset"),
            pl.lit(None, dtype=pl.String).alias("token_standard"),
            pl.lit(None, dtype=pl.String).alias("token_id"),
            _wei(pl.col("value")).alias("value"),
            pl.lit(18, dtype=pl.Int32).alias("decimals"),
        )
        .match_to_schema(TRANSFERS)
    )


def write_case(n_transfers: int, directory: Path, *, seed: int = 0) -> Path:
    """Write the world as a case data directory (``transfers``, ``addresses``, ``labels``).

    The transfers carry the address ids the store would give them (the same function numbers
    them); the parts are written directly, since the store's dedupe pass is not what is
    measured.
    """
    transfers, addresses = with_address_ids(
        generate_transfers(n_transfers, seed=seed).collect(), pl.LazyFrame(schema=ADDRESSES)
    )
    for table, frame in (
        ("transfers", transfers.lazy().match_to_schema(STORED["transfers"])),
        ("addresses", addresses.lazy()),
        ("labels", generate_labels(n_transfers, seed=seed).match_to_schema(LABELS)),
    ):
        (directory / table).mkdir(parents=True, exist_ok=True)
        frame.sink_parquet(directory / table / "part-bench.parquet", compression="zstd")
    return directory


if __name__ == "__main__":
    write_case(int(sys.argv[1]), Path(sys.argv[2]))
