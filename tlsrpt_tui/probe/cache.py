"""A small in-memory cache of probe results, so the explorer doesn't re-probe on every key.

Entries live ``ttl`` seconds (5 minutes by default). Each cached result keeps the
wall-clock time it was made (``stored_at``, also ``result.finished``) for display.
Thread-safe: the UI may probe from thread workers.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tlsrpt_tui.probe.model import ProbeResult
from tlsrpt_tui.probe.options import ProbeOptions, normalise_host

DEFAULT_TTL = 300.0

CacheKey = tuple[str, tuple[str, ...], ProbeOptions]


@dataclass(frozen=True, slots=True)
class CachedProbe:
    result: ProbeResult
    #: Wall-clock UTC time the result was stored.
    stored_at: datetime
    #: True when this came out of the cache rather than a fresh run.
    from_cache: bool
    #: Seconds until the entry expires (at the time it was handed out).
    expires_in: float

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.stored_at

    def describe_age(self, now: datetime | None = None) -> str:
        """``"probed 14:02:11 UTC (2 min ago)"`` for the UI."""
        seconds = max(0, int(self.age(now).total_seconds()))
        ago = f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
        return f"probed {self.stored_at:%H:%M:%S} UTC ({ago})"


class ProbeCache:
    """``await cache.probe(domain, mx_hosts, options)`` returns a fresh or cached result."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        *,
        max_entries: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, tuple[float, datetime, ProbeResult]] = OrderedDict()

    @staticmethod
    def key(domain: str, mx_hosts: Iterable[str], options: ProbeOptions) -> CacheKey:
        hosts = tuple(sorted({normalise_host(h, "MX host") for h in mx_hosts}))
        return (normalise_host(domain), hosts, options)

    def get(
        self, domain: str, mx_hosts: Iterable[str] = (), options: ProbeOptions | None = None
    ) -> CachedProbe | None:
        """The cached result if still fresh, else None."""
        key = self.key(domain, mx_hosts, options or ProbeOptions())
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_mono, stored_at, result = entry
            left = self.ttl - (self._clock() - stored_mono)
            if left <= 0:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return CachedProbe(result, stored_at, True, left)

    def put(
        self,
        result: ProbeResult,
        mx_hosts: Iterable[str] = (),
        options: ProbeOptions | None = None,
    ) -> CachedProbe:
        key = self.key(result.domain, mx_hosts, options or ProbeOptions())
        stored_at = result.finished
        with self._lock:
            self._entries[key] = (self._clock(), stored_at, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return CachedProbe(result, stored_at, False, self.ttl)

    def invalidate(self, domain: str | None = None) -> None:
        """Forget one domain's results, or everything."""
        with self._lock:
            if domain is None:
                self._entries.clear()
                return
            wanted = normalise_host(domain)
            for key in [k for k in self._entries if k[0] == wanted]:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    async def probe(
        self,
        domain: str,
        mx_hosts: Iterable[str] = (),
        options: ProbeOptions | None = None,
        *,
        refresh: bool = False,
    ) -> CachedProbe:
        """A cached result younger than ``ttl``, or a new probe (always new with refresh)."""
        hosts, options, cached = self._lookup(domain, mx_hosts, options, refresh)
        if cached is not None:
            return cached
        from tlsrpt_tui.probe.runner import run_probe  # the network stack, when needed

        return self.put(await run_probe(domain, hosts, options), hosts, options)

    def probe_sync(
        self,
        domain: str,
        mx_hosts: Iterable[str] = (),
        options: ProbeOptions | None = None,
        *,
        refresh: bool = False,
    ) -> CachedProbe:
        """Blocking :meth:`probe`, for thread workers."""
        hosts, options, cached = self._lookup(domain, mx_hosts, options, refresh)
        if cached is not None:
            return cached
        from tlsrpt_tui.probe.runner import run_probe_sync

        return self.put(run_probe_sync(domain, hosts, options), hosts, options)

    def _lookup(
        self,
        domain: str,
        mx_hosts: Iterable[str],
        options: ProbeOptions | None,
        refresh: bool,
    ) -> tuple[tuple[str, ...], ProbeOptions, CachedProbe | None]:
        """The arguments as :meth:`probe` uses them, and a fresh cached result if wanted."""
        hosts = tuple(mx_hosts)
        options = options or ProbeOptions()
        return hosts, options, None if refresh else self.get(domain, hosts, options)
