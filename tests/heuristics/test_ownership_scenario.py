"""A synthetic world with known ownership: precision and recall of the default clustering.

Generated here (no file): 300 actors with 1-5 wallets each, three exchanges whose hot wallets
are labelled, one deposit address per actor at its exchange, gas funding from each actor's
main wallet, sweeps back to it, unrelated payments between actors, withdrawals from the
exchanges, and a payment processor (unlabelled) that forwards its customers' payments to an
exchange exactly like a deposit address: the known false-positive case of Victor's rule.
"""

from __future__ import annotations

import random
from typing import Any

import polars as pl

from tracer.clustering import cluster_tables
from tracer.schema import LABELS, TRANSFERS

ETH = 10**18
GWEI = 10**9


def address(kind: int, n: int) -> str:
    return f"0x{kind:02x}{n:038x}"


def world(seed: int = 7, n_actors: int = 300) -> tuple[pl.LazyFrame, pl.LazyFrame, dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    owner: dict[str, str] = {}
    block = [1_000]

    def send(src: str, dst: str, value: int, *, gap: int = 1) -> None:
        block[0] += gap
        rows.append(
            {
                "chain": "ethereum",
                "block_number": block[0],
                "transaction_hash": f"0x{len(rows):064x}",
                "transaction_index": 0,
                "kind": "native",
                "idx": 0,
                "from_address": src,
                "to_address": dst,
                "asset": "ETH",
                "value": str(value),
                "decimals": 18,
            }
        )

    exchanges = [address(0xEE, i) for i in range(3)]
    labels = [
        {
            "chain": "ethereum",
            "address": e,
            "label": f"Exchange {i}",
            "category": "exchange",
            "source": "test",
            "confidence": 50,
            "is_cluster_definer": True,
        }
        for i, e in enumerate(exchanges)
    ]
    actors: list[list[str]] = []
    for a in range(n_actors):
        wallets = [address(0x10, a * 16 + i) for i in range(rng.randint(1, 5))]
        for w in wallets:
            owner[w] = f"actor{a}"
        actors.append(wallets)
        main = wallets[0]
        send(rng.choice(exchanges), main, rng.randint(1, 50) * ETH // 10)  # withdrawal
        for w in wallets[1:]:
            send(main, w, 5 * ETH // 100 + rng.randint(0, 10**6) * GWEI)  # gas funding
    for a, wallets in enumerate(actors):
        exchange = exchanges[a % 3]
        deposit = address(0xD0, a)
        # The exchange holds the deposit address's key: it is labelled (deposit_wallet), never
        # clustered with its customer, so it is left out of the pairs scored here.
        for w in rng.sample(wallets, k=min(len(wallets), rng.randint(1, 3))):
            amount = rng.randint(1, 10**6) * 10**10
            send(w, deposit, amount)
            send(deposit, exchange, amount - rng.randint(1, 100) * 10**13, gap=rng.randint(1, 40))
        if len(wallets) > 2 and rng.random() < 0.3:  # sweep a wallet back to the main one
            send(wallets[-1], wallets[0], 5 * ETH // 100 - 10**15)
    for _ in range(n_actors * 3):  # unrelated payments and withdrawals
        src = rng.choice(rng.choice(actors))
        dst = rng.choice(rng.choice(actors))
        if src != dst:
            send(src, dst, rng.randint(1, 10**6) * 10**10)
        send(rng.choice(exchanges), rng.choice(rng.choice(actors)), rng.randint(1, 10**4) * 10**14)
    processor = address(0xCC, 0)  # a payment processor: forwards each payment to an exchange
    owner[processor] = "processor"
    for a in rng.sample(range(n_actors), k=3):
        amount = rng.randint(1, 10**6) * 10**12
        send(actors[a][0], processor, amount)
        send(processor, exchanges[0], amount - 10**14)
    transfers = pl.DataFrame(rows, schema=TRANSFERS).lazy()
    return transfers, pl.DataFrame(labels, schema=LABELS).lazy(), owner


def pair_counts(clusters: pl.DataFrame, owner: dict[str, str]) -> tuple[int, int, int]:
    """(true positive pairs, predicted pairs, true pairs) over the actors' addresses."""
    truth = pl.DataFrame({"address": list(owner), "owner": list(owner.values())})
    assigned = truth.join(clusters.select("address", "cluster_id"), on="address", how="left")
    assigned = assigned.with_columns(pl.col("cluster_id").fill_null(pl.col("address")))

    def pairs(by: list[str]) -> int:
        n = assigned.group_by(by).len().get_column("len")
        return int((n * (n - 1) // 2).sum())

    return pairs(["cluster_id", "owner"]), pairs(["cluster_id"]), pairs(["owner"])


def test_precision_and_recall_on_known_ownership() -> None:
    transfers, labels, owner = world()
    run = cluster_tables({"transfers": transfers, "labels": labels})
    assert run.heuristics == ("airdrop_multi_participation", "deposit_address_reuse", "gas_funding")
    tp, predicted, true = pair_counts(run.clusters, owner)
    precision, recall = tp / predicted, tp / true
    assert precision >= 0.95, (precision, recall)
    assert recall >= 0.9, (precision, recall)
    # The payment processor's customers are the expected false positive.
    assert precision < 1.0
    # Every exchange's deposit addresses are found and labelled.
    found = run.deposit_labels.get_column("address").to_list()
    assert sum(a.startswith("0xd0") for a in found) >= 290
    assert "0xcc" + "0" * 38 in found  # ... including the processor (it looks like one)
