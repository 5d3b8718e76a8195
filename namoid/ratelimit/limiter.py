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
from dataclasses import dataclass, field, replace

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis

from namoid import metrics
from namoid.ratelimit import policies
from namoid.ratelimit.keys import DEFAULT_IPV6_PREFIX, ip_key

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0
REDIS_TIMEOUT = 0.5
OnDegraded = Callable[[str], Awaitable[None]]
OrgLimits = Callable[[str], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one policy: allowed or not; a refusal names the window that refused.

    Only a refusal reads its windows back (for the 429's headers); an allowed request does
    not, which saves a Redis round trip per policy: its ``limit`` and ``window`` are those of
    the policy's first rate and ``reset_after`` is 0.
    """

    policy: str
    allowed: bool
    limit: int
    window: int
    reset_after: int
    key: tuple[str, ...] = ()


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
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX
    retry_seconds: float = RETRY_SECONDS
    on_degraded: OnDegraded | None = None
    #: An org's stored overrides by slug (``ratelimit.overrides``), read through a cache.
    org_limits: OrgLimits | None = None
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

    async def recheck(self) -> str:
        """The status, after pinging Redis if a retry is due: a recovery shows without traffic."""
        if self.degraded and self._redis is not None and self._retry_due() and await self._redis.check():
            self._recovered()
        return self.status

    def ip_key(self, address: str | None) -> str:
        """The key of every policy counted per IP: the address, an IPv6 one by its prefix."""
        return ip_key(address, self.ipv6_prefix)

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
        items = policies.rates(policy, org, self.overrides, self.org_overrides, await self._stored(org))
        identifiers = (org or "-", policy, *key)  # orgs never share a window
        storage = self._storage()
        try:
            decision = await self._apply(storage, policy, items, identifiers, count)
        except StorageError as exc:
            await self._degrade(exc)
            decision = await self._apply(self._memory, policy, items, identifiers, count)
        if count and not decision.allowed:
            metrics.RATE_LIMIT_REFUSALS.labels(policy).inc()
        return replace(decision, key=key)

    async def _stored(self, org: str | None) -> Mapping[str, str]:
        """The org's stored overrides; none if they cannot be read (the defaults still limit)."""
        if org is None or self.org_limits is None:
            return {}
        try:
            return await self.org_limits(org)
        except Exception:  # the limiter must keep answering even if the database fails
            log.warning("the rate-limit overrides of org %s could not be read; its defaults apply", org)
            return {}

    def _storage(self) -> Storage:
        if self._redis is None or not self._retry_due():
            return self._memory
        return self._redis

    def _retry_due(self) -> bool:
        return self._retry_at is None or time.monotonic() >= self._retry_at

    def _recovered(self) -> None:
        if self._retry_at is not None:
            self._retry_at = None
            log.warning("rate limiting recovered: Redis answers again")

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
        if storage is self._redis:
            self._recovered()
        if allowed:
            return Decision(policy, True, items[0].amount, items[0].get_expiry(), 0)
        return await self._refusal(strategy, policy, items, identifiers)

    @staticmethod
    async def _refusal(
        strategy: MovingWindowRateLimiter,
        policy: str,
        items: tuple[RateLimitItem, ...],
        identifiers: tuple[str, ...],
    ) -> Decision:
        """The refusing window: a full one, of several the one that stays full the longest."""
        windows = [(await strategy.get_window_stats(item, *identifiers), item) for item in items]
        stats, item = max(windows, key=lambda window: (window[0].remaining <= 0, window[0].reset_time))
        reset_after = max(math.ceil(stats.reset_time - time.time()), 1)
        return Decision(policy, False, item.amount, item.get_expiry(), reset_after)
