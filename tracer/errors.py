"""Every error tracer raises, and how each one tells the user what to do.

Two families, because the CLI gives them different exit codes (click's convention):

* :class:`InputError` -- the input is malformed (a bad address, a missing column, an unknown
  format). Exit code 2. The message names the file, the line or field, the value and the fix.
* every other :class:`TracerError` -- the world failed (node down, data missing). Exit code 1.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CaseError",
    "DataMissing",
    "FixtureMissing",
    "HeuristicVersionMismatch",
    "InputError",
    "InvalidAddress",
    "InvalidAmount",
    "NodeUnavailable",
    "RpcError",
    "SchemaMismatch",
    "TracerError",
    "UnknownFormat",
]


class TracerError(Exception):
    """Base class for every error raised by tracer and heuristics."""


def _where(source: str | Path | None, line: int | None, field: str | None) -> str:
    parts = []
    if source is not None:
        parts.append(f"{source}:{line}" if line is not None else str(source))
    elif line is not None:
        parts.append(f"line {line}")
    if field is not None:
        parts.append(f"field {field!r}")
    return ", ".join(parts)


class InputError(TracerError, ValueError):
    """Raised when input is malformed; the CLI exits 2.

    Parameters
    ----------
    problem
        What is wrong, in a few words (``"not a hex address"``).
    source
        The file or input the value came from.
    line
        1-based line (or record) number in ``source``.
    field
        The column, key or option that held the value.
    value
        The offending value; shown with ``repr`` and cut to 120 characters.
    fix
        What the user should do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.line = line
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = _where(self.source, self.line, self.field)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            text += f": {shown}"
        if self.fix:
            text += f". {self.fix}"
        return text

    def at(
        self,
        *,
        source: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> InputError:
        """Return a copy of this error located at ``source``/``line``/``field``.

        Parsers deep inside a reader do not know the file or line; the reader adds them.
        """
        located = type(self).__new__(type(self))
        InputError.__init__(
            located,
            self.problem,
            source=source if source is not None else self.source,
            line=line if line is not None else self.line,
            field=field if field is not None else self.field,
            value=self.value,
            fix=self.fix,
        )
        return located


class InvalidAddress(InputError):
    """Raised when a string is not a valid address for its chain (hex, EIP-55, base58, bech32)."""


class InvalidAmount(InputError):
    """Raised when an amount is not a non-negative integer that fits in a uint256."""


class SchemaMismatch(InputError):
    """Raised when a file or frame lacks a column a table needs, or holds the wrong type."""


class UnknownFormat(InputError):
    """Raised when a file's format is unknown or cannot be detected."""


class CaseError(InputError):
    """Raised when a case file is malformed: unknown key, bad value, missing file."""


class HeuristicVersionMismatch(InputError):
    """Raised when a case pins a heuristic version that differs from the code's."""


class DataMissing(TracerError, LookupError):
    """Raised when data a command needs is not in the data directory."""


class RpcError(TracerError):
    """Raised when a node returns a JSON-RPC error or an unusable answer.

    ``retriable`` marks errors worth retrying: rate limits (HTTP 429, -32005), -32603 and the
    server range -32000..-32099 that nodes use for transient trouble.
    """

    def __init__(self, message: str, *, code: int | None = None, retriable: bool = False) -> None:
        self.code = code
        self.retriable = retriable
        super().__init__(message)


class NodeUnavailable(RpcError):
    """Raised when the node cannot be reached (refused, reset, timed out) after retries."""


class FixtureMissing(TracerError, LookupError):
    """Raised in replay mode when no recorded response matches (method, params)."""
