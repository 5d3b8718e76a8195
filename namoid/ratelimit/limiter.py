"""The limiter (DESIGN.md §5b): moving windows over ``limits``, in Redis or in process memory.

With Redis configured, every node counts in the same windows. If Redis fails, the limiter
never raises and never lets requests through unlimited: it falls back to its in-process
windows, reports itself degraded, announces the degradation once, and tries Redis again
after ``retry_seconds`` so it recovers on its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis

from namoid.ratelimit import policies

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0
REDIS_TIMEOUT = 0.5
OnDegraded = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one policy: allowed or not, and its tightest window's figures."""

    policy: str
    allowed: bool
    limit: int
    window: int
    remaining: int
    reset_after: int


def limits_uri(redis_url: str) -> str:
    """``redis://``, ``rediss://`` or ``unix://`` as the async URI ``limits`` expects."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


@dataclass
class Limiter:
    """``hit`` counts a request; ``test`` only asks whether one more would fit."""

    redis_url: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    org_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    key_prefix: str = "namoid"
    retry_seconds: float = RETRY_SECONDS
    on_degraded: OnDegraded | None = None
    _memory: MemoryStorage = field(init=False)
    _client: Redis | None = field(init=False, default=None)
    _redis: Storage | None = field(init=False, default=None)
    _retry_at: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._memory = MemoryStorage()
        if self.redis_url:
            self._client = Redis.from_url(
                self.redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
            )
            self._redis = RedisStorage(
                limits_uri(self.redis_url),
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=self.key_prefix,
                connection_pool=self._client.connection_pool,  # type: ignore[arg-type]  # passed through to redis-py
            )

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but failing and the in-process windows count instead."""
        return self._retry_at is not None

    @property
    def status(self) -> str:
        return "degraded" if self.degraded else "ok"

    async def hit(self, policy: str, *key: str, org: str | None = None) -> Decision:
        """Count one request against every window of ``policy``; refused if any is full."""
        return await self._decide(policy, key, org, count=True)

    async def test(self, policy: str, *key: str, org: str | None = None) -> Decision:
        """Would one more request fit? Counts nothing."""
        return await self._decide(policy, key, org, count=False)

    async def close(self) -> None:
        await self._memory.reset()
        timer = self._memory.timer  # its expiry sweep: finish it while the event loop still runs
        if timer is not None and not timer.done():
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _decide(self, policy: str, key: tuple[str, ...], org: str | None, count: bool) -> Decision:
        items = policies.rates(policy, org, self.overrides, self.org_overrides)
        identifiers = (org or "-", policy, *key)  # orgs never share a window
        storage = self._storage()
        try:
            return await self._apply(storage, policy, items, identifiers, count)
        except StorageError as exc:
            await self._degrade(exc)
            return await self._apply(self._memory, policy, items, identifiers, count)

    def _storage(self) -> Storage:
        if self._redis is None:
            return self._memory
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            return self._memory
        return self._redis

    async def _degrade(self, exc: StorageError) -> None:
        first = self._retry_at is None
        self._retry_at = time.monotonic() + self.retry_seconds
        if not first:
            return
        reason = type(exc.storage_error).__name__
        log.warning("rate limiting degraded: Redis failed (%s); counting in process memory", reason)
        if self.on_degraded is not None:
            await self.on_degraded(reason)

    async def _apply(
        self,
        storage: Storage,
        policy: str,
        items: tuple[RateLimitItem, ...],
        identifiers: tuple[str, ...],
        count: bool,
    ) -> Decision:
        strategy = MovingWindowRateLimiter(storage)
        if count and len(items) == 1:  # a moving-window hit that is refused counts nothing
            allowed = await strategy.hit(items[0], *identifiers)
        else:
            allowed = all([await strategy.test(item, *identifiers) for item in items])
            if allowed and count:  # a refused request counts in no window
                allowed = all([await strategy.hit(item, *identifiers) for item in items])
        if storage is self._redis and self._retry_at is not None:
            self._retry_at = None
            log.warning("rate limiting recovered: Redis answers again")
        return await self._figures(strategy, policy, items, identifiers, allowed)

    async def _figures(
        self,
        strategy: MovingWindowRateLimiter,
        policy: str,
        items: tuple[RateLimitItem, ...],
        identifiers: tuple[str, ...],
        allowed: bool,
    ) -> Decision:
        """The figures of the window with the least room (the one that refuses first)."""
        now = time.time()
        tightest: Decision | None = None
        for item in items:
            stats = await strategy.get_window_stats(item, *identifiers)
            remaining = max(stats.remaining, 0)
            reset_after = max(math.ceil(stats.reset_time - now), 1) if remaining == 0 else 0
            candidate = Decision(policy, allowed, item.amount, item.get_expiry(), remaining, reset_after)
            if tightest is None or (candidate.remaining, -candidate.reset_after) < (
                tightest.remaining,
                -tightest.reset_after,
            ):
                tightest = candidate
        if tightest is None:
            raise ValueError(f"policy {policy!r} has no windows")
        return tightest
