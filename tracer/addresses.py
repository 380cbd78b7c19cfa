"""Parse, validate and normalise addresses: EVM hex (EIP-55) and Bitcoin (base58check, bech32/m).

Inside every table an EVM address is lower-case ``0x`` + 40 hex, because joins need a single
form; :func:`to_checksum` gives the EIP-55 casing for display. A mixed-case input is a claim
that it carries an EIP-55 checksum, and a wrong checksum is an error, not something to lower.
Bitcoin addresses are kept as the chain writes them, after their checksum has been verified.
"""

from __future__ import annotations

import hashlib
import re

import polars as pl
from eth_hash.auto import keccak

from tracer.errors import InvalidAddress

__all__ = [
    "EVM_CHAINS",
    "UTXO_CHAINS",
    "is_evm",
    "normalize",
    "normalize_column",
    "normalize_evm",
    "to_checksum",
    "validate_bitcoin",
]

EVM_CHAINS = frozenset(
    {
        "ethereum",
        "sepolia",
        "holesky",
        "anvil",
        "bsc",
        "polygon",
        "arbitrum",
        "optimism",
        "base",
        "avalanche",
        "ethereum_classic",
        "fantom",
        "gnosis",
    }
)
UTXO_CHAINS = frozenset({"bitcoin", "bitcoin_testnet", "litecoin", "bitcoin_cash", "dogecoin"})

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
_EVM_FIX = "An EVM address is 0x followed by 40 hex digits"


def is_evm(chain: str) -> bool:
    """Whether ``chain`` uses 20-byte hex addresses."""
    return chain in EVM_CHAINS


def _checksum_of(lower_hex: str) -> str:
    digest = keccak(lower_hex.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(d, 16) >= 8 else c
        for c, d in zip(lower_hex, digest[:40], strict=True)
    )


def normalize_evm(address: str) -> str:
    """Return the lower-case form of an EVM address, checking EIP-55 on mixed case.

    Examples
    --------
    >>> normalize_evm("0x098B716B8Aaf21512996dC57EB0615e2383E2f96")
    '0x098b716b8aaf21512996dc57eb0615e2383e2f96'
    >>> normalize_evm("0x098b716B8Aaf21512996dC57EB0615e2383E2f96")
    Traceback (most recent call last):
    ...
    tracer.errors.InvalidAddress: bad EIP-55 checksum: ...
    """
    s = address.strip()
    if not _HEX40.fullmatch(s):
        msg = "not an EVM address"
        raise InvalidAddress(msg, value=address, fix=_EVM_FIX)
    body = s[2:]
    lower = body.lower()
    if body != lower and body != body.upper() and _checksum_of(lower) != "0x" + body:
        msg = "bad EIP-55 checksum"
        raise InvalidAddress(
            msg,
            value=address,
            fix=f"Check the address for a typo; the correct casing is {_checksum_of(lower)}, "
            "or write it all lower-case to skip the checksum",
        )
    return "0x" + lower


def to_checksum(address: str) -> str:
    """EIP-55 casing of an EVM address, for display only."""
    return _checksum_of(normalize_evm(address)[2:])


# --- Bitcoin ---------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
# base58 version bytes (mainnet and testnet P2PKH / P2SH) per chain; None accepts any.
_B58_VERSIONS: dict[str, frozenset[int] | None] = {
    "bitcoin": frozenset({0x00, 0x05}),
    "bitcoin_testnet": frozenset({0x6F, 0xC4}),
    "litecoin": frozenset({0x30, 0x32, 0x05}),
    "bitcoin_cash": frozenset({0x00, 0x05}),
    "dogecoin": frozenset({0x1E, 0x16}),
}
_HRPS: dict[str, frozenset[str]] = {
    "bitcoin": frozenset({"bc"}),
    "bitcoin_testnet": frozenset({"tb", "bcrt"}),
    "litecoin": frozenset({"ltc"}),
}
_BTC_FIX = "Bitcoin addresses are base58check (1..., 3...) or bech32/bech32m (bc1...)"


def _b58decode_check(s: str) -> bytes | None:
    n = 0
    for c in s:
        if c not in _B58_INDEX:
            return None
        n = n * 58 + _B58_INDEX[c]
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(s) - len(s.lstrip("1"))) + raw
    if len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != check:
        return None
    return payload


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _convertbits(data: list[int], frombits: int, tobits: int) -> list[int] | None:
    acc = bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


def _segwit_ok(s: str, hrps: frozenset[str] | None) -> bool:
    if s.lower() != s and s.upper() != s:
        return False
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s) or len(s) > 90:
        return False
    hrp, data_part = s[:pos], s[pos + 1 :]
    if hrps is not None and hrp not in hrps:
        return False
    if any(c not in _BECH32_INDEX for c in data_part):
        return False
    data = [_BECH32_INDEX[c] for c in data_part]
    const = _bech32_polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST) or not data[:-6]:
        return False
    version, program5 = data[0], data[1:-6]
    program = _convertbits(program5, 5, 8)
    if program is None or version > 16 or not 2 <= len(program) <= 40:
        return False
    if version == 0:
        # BIP-173: v0 uses bech32 and a 20- or 32-byte program; BIP-350: v1+ use bech32m.
        return const == _BECH32_CONST and len(program) in (20, 32)
    return const == _BECH32M_CONST


def validate_bitcoin(address: str, chain: str = "bitcoin") -> str:
    """Return ``address`` unchanged if its checksum and version are valid for ``chain``.

    Examples
    --------
    >>> validate_bitcoin("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'
    >>> validate_bitcoin("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'
    """
    s = address.strip()
    hrps = _HRPS.get(chain)
    if hrps is not None and s.lower().startswith(tuple(h + "1" for h in hrps)):
        if _segwit_ok(s, hrps):
            return s.lower()
        msg = f"bad bech32 {chain} address"
        raise InvalidAddress(msg, value=address, fix=_BTC_FIX)
    payload = _b58decode_check(s)
    if payload is None:
        msg = f"bad base58check {chain} address"
        raise InvalidAddress(msg, value=address, fix=_BTC_FIX)
    versions = _B58_VERSIONS.get(chain)
    if len(payload) != 21 or (versions is not None and payload[0] not in versions):
        msg = f"base58 address with a version byte {chain} does not use"
        raise InvalidAddress(
            msg,
            value=address,
            fix=_BTC_FIX,
        )
    return s


def normalize(address: str, chain: str) -> str:
    """Normalise ``address`` for ``chain``: lower-case EVM hex, or a verified UTXO address."""
    if is_evm(chain):
        return normalize_evm(address)
    if chain in UTXO_CHAINS:
        return validate_bitcoin(address, chain)
    msg = f"unknown chain {chain!r}"
    raise InvalidAddress(
        msg,
        value=address,
        fix=f"Use one of {', '.join(sorted(EVM_CHAINS | UTXO_CHAINS))}",
    )


def normalize_column(frame: pl.DataFrame, column: str, chain_column: str = "chain") -> pl.DataFrame:
    """Normalise ``frame[column]`` in bulk; nulls stay null.

    Lower-case EVM addresses are checked with one vectorised regex; only mixed-case ones (and
    UTXO addresses) go through Python for their checksum. An invalid address raises
    :class:`InvalidAddress` with ``line`` set to its 1-based row number in ``frame``.
    """
    if frame.height == 0:
        return frame
    work = frame.select(pl.col(column).alias("a"), pl.col(chain_column).alias("c")).with_row_index(
        "row"
    )
    evm = pl.col("c").is_in(list(EVM_CHAINS))
    stripped = pl.col("a").str.strip_chars()
    fast_ok = evm & stripped.str.contains(r"^0x[0-9a-f]{40}$")
    slow = work.filter(pl.col("a").is_not_null() & ~fast_ok.fill_null(value=False))
    fixed: dict[int, str] = {}
    for row, addr, chain in slow.select("row", "a", "c").iter_rows():
        try:
            fixed[row] = normalize(addr, chain)
        except InvalidAddress as e:
            raise e.at(line=row + 1, field=column) from None
    out = work.select(pl.when(fast_ok).then(stripped).otherwise(pl.col("a")).alias("a"))["a"]
    if fixed:
        rows = pl.Series(list(fixed), dtype=pl.UInt32)
        out = out.scatter(rows, pl.Series(list(fixed.values()), dtype=pl.String))
    return frame.with_columns(out.alias(column))
