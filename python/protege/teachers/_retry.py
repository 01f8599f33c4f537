"""Retry policy (exponential backoff with jitter, Retry-After) and a request-rate pacer."""
from __future__ import annotations

import email.utils
import hashlib
import random
import threading
import time
from dataclasses import dataclass
from typing import Mapping, Optional

__all__ = ["RetryPolicy", "retry_after_seconds", "Pacer", "RETRYABLE_STATUS", "status_kind"]

#: HTTP statuses worth retrying: timeouts, conflicts, too early, rate limits and server errors.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def status_kind(status: int) -> str:
    """The failure kind of an HTTP status: ``rate_limited`` (429), ``timeout`` (408),
    ``server_error`` (5xx, 409, 425) or ``client_error`` (other 4xx: not retried)."""
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status >= 500 or status in RETRYABLE_STATUS:
        return "server_error"
    return "client_error"


@dataclass
class RetryPolicy:
    """Exponential backoff with "equal jitter": attempt a (0-based) waits
    ``min(max_backoff, backoff · 2^a) · (1/2 + u/2)``, u uniform in [0, 1); a server's
    ``Retry-After`` raises that to ``min(Retry-After, max_retry_after)``. With ``seed`` set, u is
    a function of ``(seed, request key, attempt)``, so the waits are reproducible.

    Args:
        max_retries: retries after the first attempt (``int`` >= 0).
        backoff: the base wait in seconds.
        max_backoff: the cap of the exponential wait in seconds.
        max_retry_after: the cap of a server's ``Retry-After`` in seconds.
        seed: None (random jitter) or the seed of reproducible jitter.

    Returns:
        (float): :meth:`delay` returns the wait in seconds before a retry.

    Examples:
        >>> from protege.teachers import RetryPolicy
        >>> policy = RetryPolicy(backoff=0.5, seed=0)
        >>> 0.25 <= policy.delay("q1", 0) < 0.5, policy.delay("q1", 0) == policy.delay("q1", 0)
        (True, True)
        >>> policy.delay("q1", 3, retry_after=10.0)
        10.0
    """

    max_retries: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    seed: Optional[int] = None

    def delay(self, key: str, attempt: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` of the request keyed ``key``."""
        base = min(self.max_backoff, self.backoff * (2.0 ** attempt))
        if self.seed is None:
            u = random.random()
        else:
            h = hashlib.sha256(f"{self.seed}\x1f{key}\x1f{attempt}".encode("utf-8")).digest()
            u = int.from_bytes(h[:8], "big") / 2.0 ** 64
        d = base * (0.5 + 0.5 * u)
        if retry_after is not None:
            d = max(d, min(max(retry_after, 0.0), self.max_retry_after))
        return d


def retry_after_seconds(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a server asked to wait: ``retry-after-ms``, else ``Retry-After`` in seconds or as
    an HTTP date; None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra is None:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Pacer:
    """Spaces request starts at least ``1 / rate`` seconds apart across threads (``rate`` in
    requests per second), and holds every sender during a shared pause (after a 429). Thread-safe."""

    def __init__(self, rate: Optional[float], stop: threading.Event):
        if rate is not None and not rate > 0:
            raise ValueError(f"rate_limit: expected a positive number of requests per second, got {rate!r}")
        self.interval = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self._stop = stop

    def pause(self, seconds: float) -> None:
        """Holds all senders for ``seconds`` from now (the longest pause asked for wins)."""
        with self._lock:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Blocks until this sender may start a request (returns early once stopped)."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next, self._pause_until)
            self._next = start + self.interval
        if start > now:
            self._stop.wait(start - now)
