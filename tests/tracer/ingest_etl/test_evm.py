"""tracer.ingest.evm: EVM value semantics over the intermediate frames."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.errors import SchemaMismatch
from tracer.ingest import evm

# Each example runs Polars queries: no per-example deadline on a shared, loaded machine.
FRAMES = settings(deadline=None, max_examples=60)
UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())

A, B, C, D = ("0x" + d * 40 for d in "abcd")


def word(n: int) -> str:
    return "0x" + format(n, "064x")


def addr_word(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


@given(UINT256)
def test_hex_decimal_round_trip(n: int) -> None:
    assert evm.hex_to_decimal(hex(n)) == str(n)
    assert evm.hex_to_decimal(word(n)) == str(n)
    assert evm.decimal_to_hex(str(n)) == hex(n)
    assert evm.hex_to_decimal(evm.decimal_to_hex(str(n))) == str(n)


@pytest.mark.parametrize("bad", ["", "12", "0xg1", "1e18", "0x1.5", "-0x1"])
def test_hex_to_decimal_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="not 0x hex"):
        evm.hex_to_decimal(bad)


@pytest.mark.parametrize("bad", ["", "1.5", "-1", "0x10", "1e18"])
def test_decimal_to_hex_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="not a decimal"):
        evm.decimal_to_hex(bad)


@given(ADDRESSES)
def test_word_to_address_round_trip(address: str) -> None:
    assert evm.word_to_address(addr_word(address)) == address
    assert evm.word_to_address("0x1" + addr_word(address)[3:]) is None
    assert evm.word_to_address(addr_word(address)[:-1]) is None


def _logs(rows: list[tuple[str, int, str, list[str], str | None]]) -> pl.DataFrame:
    return evm.intermediate(
        pl.DataFrame(
            {
                "transaction_hash": [r[0] for r in rows],
                "block_number": [1] * len(rows),
                "log_index": [r[1] for r in rows],
                "address": [r[2] for r in rows],
                "topics": [r[3] for r in rows],
                "data": [r[4] for r in rows],
            },
            schema_overrides={"topics": pl.List(pl.String), "data": pl.String},
        ),
        "logs",
    )


@FRAMES
@given(ADDRESSES, ADDRESSES, ADDRESSES, UINT256, UINT256)
def test_decode_erc20_and_erc721(token: str, src: str, dst: str, amount: int, tid: int) -> None:
    logs = _logs(
        [
            ("0x1", 0, token, [evm.TRANSFER_TOPIC, addr_word(src), addr_word(dst)], word(amount)),
            (
                "0x1",
                1,
                token,
                [evm.TRANSFER_TOPIC, addr_word(src), addr_word(dst), word(tid)],
                "0x",
            ),
        ]
    )
    out = evm.token_transfers(logs, chain="ethereum")
    assert out.skipped == {}
    got = out.rows.select(
        "kind", "idx", "from_address", "to_address", "asset", "token_standard", "token_id", "value"
    ).rows()
    assert got == [
        ("token", 0, src, dst, token, "erc20", None, str(amount)),
        ("token", 1, src, dst, token, "erc721", str(tid), "1"),
    ]


@FRAMES
@given(ADDRESSES, ADDRESSES, UINT256, UINT256)
def test_decode_erc1155_single(src: str, dst: str, tid: int, amount: int) -> None:
    topics = [evm.TRANSFER_SINGLE_TOPIC, addr_word(A), addr_word(src), addr_word(dst)]
    logs = _logs([("0x1", 7, C, topics, word(tid) + word(amount)[2:])])
    out = evm.token_transfers(logs, chain="ethereum")
    assert out.rows.select("from_address", "to_address", "token_id", "value", "idx").rows() == [
        (src, dst, str(tid), str(amount), 7)
    ]


def _batch_data(ids: list[int], values: list[int]) -> str:
    words = [0x40, 0x40 + 32 * (1 + len(ids)), len(ids), *ids, len(values), *values]
    return "0x" + "".join(format(w, "064x") for w in words)


@FRAMES
@given(st.lists(st.tuples(UINT256, UINT256), min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_decode_erc1155_batch(pairs: list[tuple[int, int]]) -> None:
    topics = [evm.TRANSFER_BATCH_TOPIC, addr_word(A), addr_word(B), addr_word(C)]
    data = _batch_data([i for i, _ in pairs], [v for _, v in pairs])
    out = evm.token_transfers(_logs([("0x1", 2, D, topics, data)]), chain="ethereum")
    got = sorted(out.rows.select("token_id", "value").rows())
    assert got == sorted((str(i), str(v)) for i, v in pairs)
    assert set(out.rows["idx"]) == {2}


def test_erc1155_batch_sums_repeated_ids() -> None:
    topics = [evm.TRANSFER_BATCH_TOPIC, addr_word(A), addr_word(B), addr_word(C)]
    out = evm.token_transfers(
        _logs([("0x1", 2, D, topics, _batch_data([5, 5], [2**255, 2**255 - 1]))]),
        chain="ethereum",
    )
    assert out.rows.select("token_id", "value").rows() == [("5", str(2**256 - 1))]


@pytest.mark.parametrize(
    ("topics", "data", "reason"),
    [
        ([evm.TRANSFER_TOPIC, addr_word(A), addr_word(B)], word(1)[:-2], "transfer_malformed"),
        (
            [evm.TRANSFER_TOPIC, addr_word(A), addr_word(B)],
            word(1) + "00" * 32,
            "transfer_malformed",
        ),
        ([evm.TRANSFER_TOPIC, addr_word(A), addr_word(B)], "0x", "transfer_malformed"),
        ([evm.TRANSFER_TOPIC], addr_word(A) + addr_word(B)[2:] + word(1)[2:], "transfer_malformed"),
        ([evm.TRANSFER_TOPIC, word(2**200), addr_word(B)], word(1), "transfer_malformed"),
        ([evm.TRANSFER_TOPIC, addr_word(A), addr_word(B)], "0x" + "zz" * 32, "transfer_malformed"),
        ([evm.TRANSFER_TOPIC, addr_word(A), addr_word(B), word(1)], word(1), "transfer_malformed"),
        ([evm.TRANSFER_TOPIC, addr_word(A)[:-1], addr_word(B)], word(1), "transfer_malformed"),
        (
            [evm.TRANSFER_SINGLE_TOPIC, addr_word(A), addr_word(B), addr_word(C)],
            word(1),
            "transfer_single_malformed",
        ),
        (
            [evm.TRANSFER_BATCH_TOPIC, addr_word(A), addr_word(B), addr_word(C)],
            _batch_data([1, 2], [3, 4])[:-64],
            "transfer_batch_malformed",
        ),
        (
            [evm.TRANSFER_BATCH_TOPIC, addr_word(A), addr_word(B), addr_word(C)],
            "0x" + "".join(format(w, "064x") for w in [0x40, 0xA0, 2, 1, 2, 1, 3]),
            "transfer_batch_malformed",
        ),
    ],
)
def test_malformed_transfers_are_counted_not_guessed(
    topics: list[str], data: str, reason: str
) -> None:
    out = evm.token_transfers(_logs([("0x1", 0, D, topics, data)]), chain="ethereum")
    assert out.rows.height == 0
    assert out.skipped == {reason: 1}


@FRAMES
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=5))
def test_token_decoding_never_crashes(payload: bytes, n_topics: int) -> None:
    topics = [evm.TRANSFER_TOPIC, addr_word(A), addr_word(B), word(9), word(9)][:n_topics]
    batch = [evm.TRANSFER_BATCH_TOPIC, addr_word(A), addr_word(B), addr_word(C)][:n_topics]
    logs = _logs(
        [("0x1", 0, D, topics, "0x" + payload.hex()), ("0x1", 1, D, batch, "0x" + payload.hex())]
    )
    out = evm.token_transfers(logs, chain="ethereum")
    assert out.rows.height + sum(out.skipped.values()) >= 2
    assert out.rows["value"].str.contains(r"^[0-9]+$").all()


def test_approvals_erc20_only() -> None:
    logs = _logs(
        [
            ("0x1", 0, D, [evm.APPROVAL_TOPIC, addr_word(A), addr_word(B)], word(2**256 - 1)),
            ("0x1", 1, D, [evm.APPROVAL_TOPIC, addr_word(A), addr_word(B), word(3)], "0x"),
            ("0x1", 2, D, [evm.APPROVAL_TOPIC, addr_word(A), addr_word(B)], "0x12"),
            ("0x1", 3, D, [evm.TRANSFER_TOPIC, addr_word(A), addr_word(B)], word(1)),
        ]
    )
    out = evm.approvals(logs, chain="ethereum")
    assert out.rows.select("log_index", "owner", "spender", "token_address", "value").rows() == [
        (0, A, B, D, str(2**256 - 1))
    ]
    assert out.skipped == {"approval_malformed": 1, "erc721_approval": 1}


def _txs(**columns: list[object]) -> pl.DataFrame:
    n = len(columns["transaction_hash"])
    base: dict[str, list[object]] = {
        "block_number": [1] * n,
        "from_address": [A] * n,
        "to_address": [B] * n,
    }
    return evm.intermediate(pl.DataFrame({**base, **columns}, strict=False), "transactions")


def test_native_transfers_skip_failed_and_zero() -> None:
    txs = _txs(
        transaction_hash=["0x1", "0x2", "0x3", "0x4", "0x5"],
        value=["7400000000000000000", str(2**256 - 1), "0", "5", "6"],
        receipt_status=[1, 1, 1, 0, None],
    )
    out = evm.native_transfers(txs, chain="ethereum")
    assert out.rows.select("transaction_hash", "value", "asset", "decimals", "idx").rows() == [
        ("0x1", "7400000000000000000", "ETH", 18, 0),
        ("0x2", str(2**256 - 1), "ETH", 18, 0),
        ("0x5", "6", "ETH", 18, 0),
    ]
    assert out.skipped == {"failed": 1, "status_unknown": 1}


def _traces(
    rows: list[tuple[str | None, list[int], str, str | None, str, str | None]],
) -> pl.DataFrame:
    """(tx, trace_address, trace_type, call_type, value, error) with fixed parties."""
    return evm.intermediate(
        pl.DataFrame(
            {
                "transaction_hash": [r[0] for r in rows],
                "block_number": [1] * len(rows),
                "trace_address": [r[1] for r in rows],
                "trace_type": [r[2] for r in rows],
                "call_type": [r[3] for r in rows],
                "from_address": [A] * len(rows),
                "to_address": [B] * len(rows),
                "value": [r[4] for r in rows],
                "error": [r[5] for r in rows],
            },
            schema_overrides={"trace_address": pl.List(pl.Int64)},
        ),
        "traces",
    )


def test_pre_byzantium_status_comes_from_the_top_level_trace() -> None:
    txs = _txs(transaction_hash=["0x1", "0x2"], value=["5", "6"], receipt_status=[None, None])
    traces = _traces(
        [
            ("0x1", [], "call", "call", "5", "Out of gas"),
            ("0x2", [], "call", "call", "6", None),
        ]
    )
    out = evm.native_transfers(txs, chain="ethereum", traces=traces)
    assert out.rows["transaction_hash"].to_list() == ["0x2"]
    assert out.skipped == {"failed": 1}


def test_internal_transfers_rules() -> None:
    traces = _traces(
        [
            ("0x1", [], "call", "call", "100", None),  # idx 0: the native transfer
            ("0x1", [0], "call", "call", "1", None),  # idx 1: moves
            ("0x1", [0, 0], "call", "delegatecall", "2", None),  # idx 2: never moves
            ("0x1", [0, 1], "call", "staticcall", "0", None),  # idx 3
            ("0x1", [1], "call", "call", "3", "Reverted"),  # idx 4: reverted itself
            ("0x1", [1, 0], "create", None, "4", None),  # idx 5: ancestor reverted
            ("0x1", [1, 0, 0], "suicide", None, "5", None),  # idx 6: grand-ancestor reverted
            ("0x1", [2], "create", None, "6", None),  # idx 7: moves
            ("0x1", [2, 0], "suicide", None, "7", None),  # idx 8: moves
            ("0x1", [10], "call", "callcode", "8", None),  # idx 9 (10 sorts after 2)
            ("0x2", [], "call", "call", "0", "Out of gas"),
            ("0x2", [0], "call", "call", "9", None),  # whole transaction failed
            (None, [], "reward", None, "5000000000000000000", None),
        ]
    )
    out = evm.internal_transfers(traces, chain="ethereum")
    assert out.rows.select("transaction_hash", "idx", "value", "kind").rows() == [
        ("0x1", 1, "1", "internal"),
        ("0x1", 7, "6", "internal"),
        ("0x1", 8, "7", "internal"),
        ("0x1", 9, "8", "internal"),
    ]
    assert out.skipped == {"reverted": 4, "reward": 1}


def test_internal_transfers_of_a_failed_receipt_move_nothing() -> None:
    traces = _traces(
        [("0x1", [], "call", "call", "0", None), ("0x1", [0], "call", "call", "9", None)]
    )
    txs = _txs(transaction_hash=["0x1"], value=["0"], receipt_status=[0])
    out = evm.internal_transfers(traces, chain="ethereum", transactions=txs)
    assert out.rows.height == 0
    assert out.skipped == {"failed_transaction": 1}


def test_contracts_from_receipts_and_create_traces() -> None:
    txs = _txs(
        transaction_hash=["0x1", "0x2"],
        value=["0", "0"],
        to_address=[None, None],
        receipt_status=[1, 0],
        receipt_contract_address=[C, D],
    )
    traces = _traces(
        [
            ("0x3", [], "call", "call", "0", None),
            ("0x3", [0], "create", None, "0", None),
            ("0x3", [1], "create", None, "0", "Reverted"),
        ]
    )
    traces = traces.with_columns(
        pl.Series("to_address", [B, "0x" + "e" * 40, "0x" + "f" * 40]),
        pl.Series("block_number", [0, 0, 0]),
    )
    found = evm.contracts(chain="ethereum", transactions=txs, traces=traces)
    assert found.select("address", "transaction_hash", "creator").rows() == [
        (C, "0x1", A),
        ("0x" + "e" * 40, "0x3", A),
    ]


def test_intermediate_names_missing_columns() -> None:
    with pytest.raises(SchemaMismatch, match=r"'trace_address'.*'trace_type'"):
        evm.intermediate(pl.DataFrame({"transaction_hash": ["0x1"]}), "traces", source="t.csv")


# A trace tree: each node is (kind, value, failed, children).
_KINDS = ["call", "callcode", "delegatecall", "staticcall", "create", "suicide"]
TREES = st.recursive(
    st.tuples(
        st.sampled_from(_KINDS),
        st.integers(0, 2),
        st.integers(0, 5).map(lambda n: n == 0),
        st.just(()),
    ),
    lambda children: st.tuples(
        st.sampled_from(_KINDS),
        st.integers(0, 2),
        st.integers(0, 5).map(lambda n: n == 0),
        st.lists(children, max_size=12).map(tuple),
    ),
    max_leaves=30,
)


def _flatten(
    node: tuple[Any, ...], address: list[int], under_failure: bool, out: list[dict[str, Any]]
) -> None:
    kind, value, failed, children = node
    out.append(
        {
            "trace_address": address,
            "kind": kind,
            "value": value,
            "failed": failed,
            "moves": bool(address)
            and value > 0
            and kind != "delegatecall"
            and kind != "staticcall"
            and not (failed or under_failure),
            "idx": len(out),
        }
    )
    for i, child in enumerate(children):
        _flatten(child, [*address, i], under_failure or failed, out)


@FRAMES
@given(TREES, st.randoms(use_true_random=False))
def test_internal_transfers_match_a_reference_walk(tree: tuple[Any, ...], rnd: Any) -> None:
    flat: list[dict[str, Any]] = []
    _flatten(tree, [], under_failure=False, out=flat)
    shuffled = list(flat)
    rnd.shuffle(shuffled)
    is_call = [t["kind"] in ("call", "callcode", "delegatecall", "staticcall") for t in shuffled]
    traces = evm.intermediate(
        pl.DataFrame(
            {
                "transaction_hash": ["0x1"] * len(shuffled),
                "block_number": [1] * len(shuffled),
                "trace_address": [t["trace_address"] for t in shuffled],
                "trace_type": [
                    "call" if c else t["kind"] for t, c in zip(shuffled, is_call, strict=True)
                ],
                "call_type": [
                    t["kind"] if c else None for t, c in zip(shuffled, is_call, strict=True)
                ],
                "from_address": [A] * len(shuffled),
                "to_address": [B] * len(shuffled),
                "value": [str(t["value"]) for t in shuffled],
                "error": ["Reverted" if t["failed"] else None for t in shuffled],
            },
            schema_overrides={"trace_address": pl.List(pl.Int64), "call_type": pl.String},
        ),
        "traces",
    )
    out = evm.internal_transfers(traces, chain="ethereum")
    want = [(t["idx"], str(t["value"])) for t in flat if t["moves"]]
    assert out.rows.select("idx", "value").rows() == want
