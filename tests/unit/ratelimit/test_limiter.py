"""The limiter on memory and on real Redis: windows, reset, Redis-down fallback and recovery."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import pytest
import redis

from namoid.ratelimit import policies
from namoid.ratelimit.limiter import Limiter, limits_uri
from namoid.settings import Settings
from tests.conftest import REDIS_URL, unavailable
from tests.e2e.test_server import free_port

FAST = {"login.ip": "3/second", "otp.verify.challenge": "2/second;4/minute"}
MakeLimiter = Callable[..., Limiter]


def redis_url_at(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def closed_port_url() -> str:
    return redis_url_at(free_port())


def require_redis() -> str:
    """The test Redis URL; skips (fails, in CI) if that Redis does not answer."""
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture
def real_redis() -> str:
    return require_redis()


@pytest.fixture
async def make_limiter() -> AsyncIterator[MakeLimiter]:
    made: list[Limiter] = []

    def make(**fields: object) -> Limiter:
        fields.setdefault("overrides", FAST)
        fields.setdefault("key_prefix", f"test-{uuid.uuid4().hex}")
        limiter = Limiter(**fields)  # type: ignore[arg-type]
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


@pytest.fixture(params=["memory", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("real_redis")
    return url


async def test_limits_then_resets_after_the_window(
    make_limiter: MakeLimiter, storage_url: str | None
) -> None:
    limiter = make_limiter(redis_url=storage_url)
    decisions = [await limiter.hit("login.ip", "192.0.2.1") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    refused = decisions[-1]
    assert (refused.limit, refused.window, refused.reset_after) == (3, 1, 1)
    assert (await limiter.hit("login.ip", "192.0.2.2")).allowed  # another key has its own window
    await asyncio.sleep(1.1)
    assert (await limiter.hit("login.ip", "192.0.2.1")).allowed
    assert not limiter.degraded


async def test_test_counts_nothing(make_limiter: MakeLimiter, storage_url: str | None) -> None:
    limiter = make_limiter(redis_url=storage_url)
    for _ in range(10):
        assert (await limiter.test("login.ip", "192.0.2.1")).allowed
    assert [(await limiter.hit("login.ip", "192.0.2.1")).allowed for _ in range(4)] == [True] * 3 + [False]


async def test_two_limiters_on_one_redis_count_together(make_limiter: MakeLimiter, real_redis: str) -> None:
    prefix = f"shared-{uuid.uuid4().hex}"
    first = make_limiter(redis_url=real_redis, key_prefix=prefix)
    second = make_limiter(redis_url=real_redis, key_prefix=prefix)
    allowed = [await (first if i % 2 else second).hit("login.ip", "192.0.2.9") for i in range(6)]
    assert sum(d.allowed for d in allowed) == 3


async def test_stacked_windows_refuse_on_the_tightest(
    make_limiter: MakeLimiter, storage_url: str | None
) -> None:
    limiter = make_limiter(redis_url=storage_url)
    challenge = "challenge-1"
    assert [(await limiter.hit("otp.verify.challenge", challenge)).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    await asyncio.sleep(1.1)
    assert [(await limiter.hit("otp.verify.challenge", challenge)).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    await asyncio.sleep(1.1)
    refused = await limiter.hit("otp.verify.challenge", challenge)
    assert not refused.allowed and (refused.limit, refused.window) == (4, 60)  # the minute window is full
    assert refused.reset_after > 1


async def test_redis_down_falls_back_to_memory_and_still_limits(make_limiter: MakeLimiter) -> None:
    reasons: list[str] = []

    async def on_degraded(reason: str) -> None:
        reasons.append(reason)

    limiter = make_limiter(redis_url=closed_port_url(), on_degraded=on_degraded)
    decisions = [await limiter.hit("login.ip", "192.0.2.1") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False, False]
    assert limiter.degraded and limiter.status == "degraded"
    assert reasons == ["ConnectionError"]  # announced once, not once per request


@contextmanager
def redis_server(port: int) -> Iterator[None]:
    """A throw-away redis-server on ``port`` (stopped at the end), to take Redis down mid-test."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server", "not installed (apt-get install redis-server)")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_redis_stopped_mid_test_then_back(make_limiter: MakeLimiter) -> None:
    reasons: list[str] = []

    async def on_degraded(reason: str) -> None:
        reasons.append(reason)

    port = free_port()
    limiter = make_limiter(redis_url=redis_url_at(port), retry_seconds=0.2, on_degraded=on_degraded)
    with redis_server(port):
        assert (await limiter.hit("login.ip", "192.0.2.1")).allowed and not limiter.degraded
    # Redis is down: still limited, in process memory, announced once.
    assert [(await limiter.hit("login.ip", "192.0.2.1")).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.degraded and reasons == ["ConnectionError"]
    with redis_server(port):
        assert not (await limiter.hit("login.ip", "192.0.2.1")).allowed  # backing off: memory still refuses
        await asyncio.sleep(0.25)
        fresh = [(await limiter.hit("login.ip", "192.0.2.1")).allowed for _ in range(4)]
        assert fresh == [True] * 3 + [False] and not limiter.degraded  # a fresh Redis counts anew
    assert reasons == ["ConnectionError"]


async def test_recheck_sees_redis_return_without_traffic(make_limiter: MakeLimiter) -> None:
    port = free_port()
    limiter = make_limiter(redis_url=redis_url_at(port), retry_seconds=0.2)
    assert (await limiter.hit("login.ip", "192.0.2.1")).allowed and limiter.degraded
    await asyncio.sleep(0.25)
    assert await limiter.recheck() == "degraded"  # the retry is due, but Redis is still down
    with redis_server(port):
        await asyncio.sleep(0.25)
        assert await limiter.recheck() == "ok" and not limiter.degraded


@pytest.mark.parametrize(
    ("policy", "key", "allowed"),
    [
        ("otp.send.destination", "+919812345678", 3),
        ("otp.send.ip", "192.0.2.1", 10),
        ("otp.verify.challenge", "challenge", 5),
        ("password_reset.ip", "192.0.2.1", 10),
        ("password_reset.destination", "a@example.com", 3),
        ("registration.ip", "192.0.2.1", 10),
        ("registration.destination", "a@example.com", 3),
    ],
)
async def test_later_endpoints_policies_limit_at_their_defaults(
    make_limiter: MakeLimiter, policy: str, key: str, allowed: int
) -> None:
    limiter = make_limiter(overrides={})
    results = [(await limiter.hit(policy, key)).allowed for _ in range(allowed + 2)]
    assert results == [True] * allowed + [False, False]


async def test_otp_flood_budget_per_org(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(overrides={}, org_overrides={"small": {"otp.send.org_hourly": "5/hour"}})
    assert (
        sum([(await limiter.hit("otp.send.org_hourly", "small", org="small")).allowed for _ in range(8)]) == 5
    )
    assert (await limiter.hit("otp.send.org_hourly", "big", org="big")).limit == 1000


def test_overrides_are_validated() -> None:
    Settings(
        rate_limits={"login.ip": "10/minute;100/hour"}, org_rate_limits={"acme": {"token.client": "6/second"}}
    )
    with pytest.raises(ValueError, match="unknown rate-limit policy"):
        Settings(rate_limits={"login.everything": "1/second"})
    with pytest.raises(ValueError, match="parse"):
        Settings(org_rate_limits={"acme": {"login.ip": "lots"}})


def test_policy_resolution_order() -> None:
    org_overrides = {"acme": {"login.ip": "1/second"}}
    assert (
        str(policies.rates("login.ip", "acme", {"login.ip": "2/second"}, org_overrides)[0])
        == "1 per 1 second"
    )
    assert (
        str(policies.rates("login.ip", "other", {"login.ip": "2/second"}, org_overrides)[0])
        == "2 per 1 second"
    )
    assert len(policies.rates("login.ip_failures", None, {}, {})) == 2


def test_redis_urls_become_limits_uris() -> None:
    assert limits_uri("redis://h:6379/1") == "async+redis://h:6379/1"
    assert limits_uri("rediss://h/1") == "async+rediss://h/1"
    assert limits_uri("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"
