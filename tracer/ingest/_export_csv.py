"""What the CSV readers (etherscan, mapped) share: rows with line numbers, exact units, times."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tracer.amounts import MAX_UINT256
from tracer.errors import InputError, InvalidAmount

__all__ = ["CsvFile", "open_csv", "parse_timestamp", "to_base_units"]

# "1234.5", "1,234.5", ".5", "1e-05" (Dune writes small floats in scientific notation)
_PLAIN = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")
_SCIENTIFIC = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]{1,4}")


def to_base_units(text: str, decimals: int, *, field: str = "amount") -> int:
    """Convert a whole-unit amount (``"1,234.5"`` ETH) to base units, exactly.

    Decimal arithmetic only, never a float. An amount with more fractional digits than the
    asset has decimals is an error, not something to round.

    Parameters
    ----------
    text
        Digits with an optional fraction, optional thousands separators (``1,234.5``) or an
        exponent (``1e-05``).
    decimals
        The asset's decimals (18 for ETH).
    field
        The column, for the error message.

    Examples
    --------
    >>> to_base_units("1,234.5", 18)
    1234500000000000000000
    >>> to_base_units("1e-05", 18)
    10000000000000
    >>> to_base_units("0.1234567", 6)
    Traceback (most recent call last):
    ...
    tracer.errors.InvalidAmount: field 'amount': 7 fractional digits but the asset has 6 ...
    """
    s = text.strip()
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    # 200 characters: far more than any uint256 amount needs, and it bounds the work below
    if len(s) > 200 or not (_PLAIN.fullmatch(s) or _SCIENTIFIC.fullmatch(s)):
        msg = "not a decimal amount"
        raise InvalidAmount(
            msg,
            field=field,
            value=text,
            fix="Write amounts as non-negative decimals in whole units, e.g. 1234.5 or 1,234.5",
        )
    # Decimal only parses (exactly, no context involved); the arithmetic is on Python ints,
    # because Decimal arithmetic rounds to the context's 28 digits.
    parsed = Decimal(s).as_tuple()
    digits, exponent = int("".join(map(str, parsed.digits))), int(parsed.exponent)
    if digits == 0:
        return 0
    while digits % 10 == 0:
        digits //= 10
        exponent += 1
    if -exponent > decimals:
        msg = f"{-exponent} fractional digits but the asset has {decimals} decimals"
        raise InvalidAmount(
            msg,
            field=field,
            value=text,
            fix="Check the asset's decimals (pass them as an option) or the amount",
        )
    shift = exponent + decimals  # >= 0 here
    base: int = digits * 10**shift if len(str(digits)) + shift <= 79 else MAX_UINT256 + 1
    if base > MAX_UINT256:
        msg = "amount above 2**256-1 base units"
        raise InvalidAmount(msg, field=field, value=text, fix="Check the amount and decimals")
    return base


_UNIX = re.compile(r"[0-9]{1,12}")


def parse_timestamp(text: str, *, field: str = "block_timestamp") -> datetime:
    """Unix seconds or ISO 8601 (``Z``/offset; no zone means UTC) -> an aware UTC datetime.

    Examples
    --------
    >>> parse_timestamp("1648590078")
    datetime.datetime(2022, 3, 29, 21, 41, 18, tzinfo=datetime.timezone.utc)
    >>> parse_timestamp("2022-03-29T21:41:18+00:00") == parse_timestamp("2022-03-29 21:41:18")
    True
    """
    s = text.strip()
    if s.endswith(" UTC"):  # Dune: "2022-03-29 21:41:18.000 UTC"
        s = s[:-4] + "+00:00"
    if _UNIX.fullmatch(s):
        return datetime.fromtimestamp(int(s), tz=UTC)
    try:
        when = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        msg = "not a timestamp"
        raise InputError(
            msg,
            field=field,
            value=text,
            fix="Write times as unix seconds or ISO 8601 (2022-03-29T21:41:18Z)",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


@dataclass(frozen=True)
class CsvFile:
    """A CSV export opened for reading: its header and its rows with their line numbers."""

    path: Path
    header: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]

    def has(self, column: str) -> bool:
        """Whether the header holds ``column``."""
        return column in self.header


def open_csv(path: Path) -> CsvFile:
    """Read a CSV (UTF-8, with or without a byte-order mark) keeping each row's line number.

    A file with no header or no data row, or a row whose field count differs from the
    header's, is an :class:`InputError` naming the file and line.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header: tuple[str, ...] | None = None
        rows: list[tuple[int, dict[str, str]]] = []
        start = 1
        try:
            for record in reader:
                if not any(cell.strip() for cell in record):
                    start = reader.line_num + 1
                    continue
                if header is None:
                    header = tuple(cell.strip() for cell in record)
                    start = reader.line_num + 1
                    continue
                if len(record) != len(header):
                    msg = f"{len(record)} fields where the header has {len(header)}"
                    raise InputError(
                        msg,
                        source=path,
                        line=start,
                        value=",".join(record),
                        fix="The file may be cut short or hand-edited; export it again",
                    )
                rows.append((start, dict(zip(header, record, strict=True))))
                start = reader.line_num + 1
        except csv.Error as e:
            msg = f"not valid CSV ({e})"
            raise InputError(msg, source=path, line=reader.line_num, fix="Export it again") from e
        except UnicodeDecodeError as e:
            msg = "not UTF-8 text"
            raise InputError(msg, source=path, fix="Save the export as UTF-8 CSV") from e
    if header is None or not rows:
        msg = "no header" if header is None else "no data rows under the header"
        raise InputError(msg, source=path, fix="Export the data again; the file has no rows")
    return CsvFile(path, header, rows)
