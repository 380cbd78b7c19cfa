"""A one-line progress bar on stderr for long work: done/total, rate and ETA; silent in a pipe."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Draws ``label [#####.....] done/total unit  rate unit/s  ETA m:ss`` in place.

    Parameters
    ----------
    total
        Units of work in all.
    unit
        What is counted (``"blocks"``).
    label
        Shown first.
    stream
        Where to draw; stderr when not given.
    enabled
        Draw or not; by default only when ``stream`` is a terminal, so pipes and logs stay
        clean.
    """

    def __init__(
        self,
        total: int,
        *,
        unit: str = "blocks",
        label: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.total = max(0, total)
        self.unit = unit
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.monotonic()
        self._drawn = False

    def line(self) -> str:
        """The current progress line (without the carriage return)."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        share = self.done / self.total if self.total else 1.0
        width = 24
        filled = min(width, int(share * width))
        bar = "#" * filled + "." * (width - filled)
        eta = _clock((self.total - self.done) / rate) if rate > 0 else "?"
        prefix = f"{self.label} " if self.label else ""
        return (
            f"{prefix}[{bar}] {self.done}/{self.total} {self.unit} "
            f"{rate:,.0f} {self.unit}/s ETA {eta}"
        )

    def advance(self, n: int) -> None:
        """Count ``n`` more units done and redraw."""
        self.done += n
        if self.enabled:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        """End the line so later output starts on a fresh one."""
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
