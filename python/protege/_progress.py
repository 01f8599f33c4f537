"""Terminal helpers shared by the CLI: a stderr progress bar and plain-text tables."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Sequence, TextIO


class ProgressBar:
    """A dependency-free progress bar on stderr, usable as a ``callback(done, total)``.

    Draws at most ~10 times a second; silent when ``enabled`` is False or stderr is not a
    terminal and ``force`` is False (then it prints one line at the end instead).
    """

    def __init__(self, label: str, *, enabled: bool = True, force: bool = False, stream: TextIO | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = enabled and (force or self.stream.isatty())
        self._last = 0.0
        self._start = time.perf_counter()
        self._done = 0
        self._total = 0

    def __call__(self, done: int, total: int) -> None:
        self._done, self._total = done, total
        if not self.interactive:
            return
        now = time.perf_counter()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        frac = (done / total) if total else 1.0
        filled = int(width * frac)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label:<18} [{bar}] {done}/{total} {100 * frac:5.1f}% {now - self._start:6.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self._start
        if self.interactive:
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.label}: {self._done}/{self._total} in {elapsed:.1f}s\n")
        self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def format_table(rows: Iterable[Sequence[object]], headers: Sequence[str]) -> str:
    """Formats rows as an aligned plain-text table (numbers right-aligned)."""
    rows = [["" if c is None else (f"{c:.4g}" if isinstance(c, float) else str(c)) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            numeric = c.replace(".", "", 1).replace("-", "", 1).replace("%", "").isdigit()
            out.append(c.rjust(widths[i]) if numeric else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def print_table(rows: Iterable[Sequence[object]], headers: Sequence[str], stream: TextIO | None = None) -> None:
    """Prints format_table(rows, headers) to ``stream`` (stdout by default)."""
    print(format_table(rows, headers), file=stream or sys.stdout)
