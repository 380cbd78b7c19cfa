"""Exact amounts: uint256 values as decimal strings, parsed, checked and summed without loss.

Every raw amount in a table is a ``String`` of decimal digits (``value``). Polars cannot hold
a uint256 in a numeric column (Int128 tops out near 1.7e38 and its ``sum()`` wraps silently on
overflow), so sums go through :func:`sum_values`, which splits each value into 16-digit limbs,
sums the limbs in Int128 (no overflow below ~10^22 rows) and carries between them.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tracer.errors import InvalidAmount

__all__ = [
    "MAX_UINT256",
    "format_units",
    "int128_or_null",
    "parse_uint",
    "sum_values",
    "to_float",
]

MAX_UINT256 = 2**256 - 1
_LIMB_DIGITS = 16
_LIMBS = 5  # 80 digits >= the 78 digits of 2**256 - 1
_LIMB_BASE = 10**_LIMB_DIGITS
_FIX = "Amounts must be non-negative integers in base units (wei, satoshi), decimal or 0x-hex"


def parse_uint(text: object, *, field: str = "value") -> int:
    """Parse a raw on-chain amount exactly: decimal digits or ``0x`` hex, 0 .. 2**256-1.

    Floats (``1e18``, ``1.5``) are refused rather than rounded.

    Examples
    --------
    >>> parse_uint("0x0de0b6b3a7640000")
    1000000000000000000
    >>> parse_uint(" 42 ")
    42
    """
    if isinstance(text, bool):
        msg = "not an amount"
        raise InvalidAmount(msg, field=field, value=text, fix=_FIX)
    if isinstance(text, int):
        n = text
    else:
        s = str(text).strip()
        try:
            if s[:2] in ("0x", "0X"):
                n = int(s[2:], 16) if s[2:] else 0
            elif s.isdigit() and s.isascii():
                n = int(s)
            elif s.endswith(".0") and s[:-2].isdigit():
                n = int(s[:-2])  # BigQuery and spreadsheets write integral NUMERICs as "5.0"
            else:
                msg = "not an integer amount"
                raise InvalidAmount(msg, field=field, value=text, fix=_FIX)
        except ValueError as e:
            if isinstance(e, InvalidAmount):
                raise
            msg = "not an integer amount"
            raise InvalidAmount(msg, field=field, value=text, fix=_FIX) from e
    if n < 0 or n > MAX_UINT256:
        msg = "amount outside 0 .. 2**256-1"
        raise InvalidAmount(msg, field=field, value=text, fix=_FIX)
    return n


def format_units(value: int | str, decimals: int | None) -> str:
    """Render a raw amount in whole units, exactly (``1500000000000000000, 18 -> "1.5"``).

    Examples
    --------
    >>> format_units("1500000000000000000", 18)
    '1.5'
    >>> format_units(7, None)
    '7'
    """
    n = int(value)
    if not decimals:
        return str(n)
    whole, frac = divmod(n, 10**decimals)
    frac_s = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{frac_s}" if frac_s else str(whole)


def int128_or_null(column: str | pl.Expr) -> pl.Expr:
    """A decimal-string amount as Int128; null where it does not fit (flag those rows)."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.str.to_integer(dtype=pl.Int128, strict=False)


def to_float(column: str | pl.Expr, decimals: str | pl.Expr | int | None = None) -> pl.Expr:
    """A decimal-string amount as Float64 in whole units: for display and ranking only."""
    expr = pl.col(column) if isinstance(column, str) else column
    as_float = expr.cast(pl.Float64, strict=False)
    if decimals is None:
        return as_float
    dec = pl.col(decimals) if isinstance(decimals, str) else pl.lit(decimals)
    return as_float / pl.lit(10.0).pow(dec.fill_null(0).cast(pl.Float64))


def _limb(expr: pl.Expr, i: int) -> pl.Expr:
    # Limb 0 is the least significant 16 digits of the zero-padded 80-digit string.
    start = (_LIMBS - 1 - i) * _LIMB_DIGITS
    return expr.str.zfill(_LIMBS * _LIMB_DIGITS).str.slice(start, _LIMB_DIGITS).cast(pl.Int128)


def sum_values(
    frame: pl.LazyFrame,
    *,
    by: Sequence[str] = (),
    column: str = "value",
    alias: str | None = None,
) -> pl.LazyFrame:
    """Exact sum of a decimal-string amount column, optionally per group.

    Parameters
    ----------
    frame
        Any frame with a decimal ``column`` (digits only, as the tables store them).
    by
        Group columns; empty for one total.
    column
        The amount column to sum.
    alias
        Output column name (defaults to ``column``). The result is a decimal ``String``.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns (sorted) and the exact sum as a decimal string.

    Examples
    --------
    >>> lf = pl.LazyFrame({"value": [str(2**255), str(2**255), "1"]})
    >>> sum_values(lf).collect().item() == str(2**256 + 1)
    True
    """
    name = alias or column
    limbs = [_limb(pl.col(column), i).sum().alias(f"__limb{i}") for i in range(_LIMBS)]
    summed = frame.group_by(list(by), maintain_order=True).agg(limbs) if by else frame.select(limbs)
    # Carry from the least significant limb upwards; the top limb keeps whatever is left.
    carry: pl.Expr = pl.lit(0, dtype=pl.Int128)
    digits: list[pl.Expr] = []
    for i in range(_LIMBS):
        total = pl.col(f"__limb{i}").fill_null(0) + carry
        if i < _LIMBS - 1:
            digits.append((total % _LIMB_BASE).cast(pl.String).str.zfill(_LIMB_DIGITS))
            carry = total // _LIMB_BASE
        else:
            digits.append(total.cast(pl.String))
    text = pl.concat_str(list(reversed(digits))).str.strip_chars_start("0")
    result = summed.select(
        *[pl.col(c) for c in by],
        pl.when(text == "").then(pl.lit("0")).otherwise(text).alias(name),
    )
    return result.sort(list(by)) if by else result
