"""Untrusted text shown to people: labels from label files, token symbols from the chain."""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: str) -> str:
    r"""``text`` without control and format characters, for printing on a terminal.

    A label file or a token contract can hold escape sequences that move the cursor, clear
    the screen or rewrite what was printed before (``\x1b[...``), and right-to-left overrides
    that reverse what follows; none of them reaches the terminal.

    Examples
    --------
    >>> printable("Lazarus\x1b[2J \u202ehot wallet\n")
    'Lazarus[2J hot wallet'
    """
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
