"""A progress bar for long command-line runs, drawn only where someone watches it.

``Progress`` draws on a terminal stream, at most ten times a second and only once a run has
lasted ``DELAY`` seconds (short runs stay quiet), and erases itself when done. Given a stream
that is not a terminal it draws nothing, so piped and scripted runs see only their output.
"""

from __future__ import annotations

import time
from typing import TextIO

DELAY = 0.5
WIDTH = 30


class Progress:
    def __init__(self, stream: TextIO, total: int, label: str, *, enabled: bool = True) -> None:
        self._stream = stream
        self._total = max(1, total)
        self._label = label
        self._on = enabled and stream.isatty()
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._drawn = False

    def update(self, done: int, count: int) -> None:
        if not self._on:
            return
        now = time.monotonic()
        if now - self._started < DELAY or now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        share = min(1.0, done / self._total)
        filled = int(share * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self._stream.write(f"\r{self._label} [{bar}] {share:4.0%} {count} records")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()
