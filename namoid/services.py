"""The services of a running NamoID, built once at start-up (DESIGN.md §6)."""

from __future__ import annotations

import logging
import stat
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

from namoid import audit, events, nodecache
from namoid.crypto.keyring import Keyring, KeyringFileError, create_keyring_file
from namoid.crypto.kms import KmsWrap
from namoid.notify.wakeup import Wakeup
from namoid.oauth.client_auth import ClientDirectory
from namoid.providers.exchange_policy import OrgPolicies
from namoid.ratelimit.limiter import Limiter
from namoid.settings import Settings
from namoid.signing import SigningKeyStore
from namoid.storage.db import Database
from namoid.tenancy.resolve import OrgDirectory

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    keyring: Keyring
    redis: Redis | None = None
    #: What requests read and almost nothing changes, dropped on every node at a change's commit.
    caches: nodecache.Caches = field(init=False, default_factory=nodecache.Caches)
    orgs: OrgDirectory = field(init=False)
    signing: SigningKeyStore = field(init=False)
    clients: ClientDirectory = field(init=False)
    exchange_policy: OrgPolicies = field(init=False)
    limiter: Limiter = field(init=False)
    #: Wakes the worker when a message is committed (in-process; DESIGN.md §8).
    wakeup: Wakeup = field(init=False, default_factory=Wakeup)

    def __post_init__(self) -> None:
        self.orgs = OrgDirectory(self.db, self.caches)
        self.signing = SigningKeyStore(self.db, self.keyring, caches=self.caches)
        self.clients = ClientDirectory(self.caches)
        self.exchange_policy = OrgPolicies(self.db, self.caches)
        self.limiter = Limiter(
            redis_url=self.settings.redis_url,
            overrides=self.settings.rate_limits,
            org_overrides=self.settings.org_rate_limits,
            ipv6_prefix=self.settings.ratelimit_ipv6_prefix,
            on_degraded=self.record_degraded_limiter,
            org_limits=self.orgs.rate_limits,
        )

    async def record_degraded_limiter(self, reason: str) -> None:
        """The "Redis down" security event (DESIGN.md §5b), once per degradation; never raises.

        It belongs to no organization: recorded and logged, delivered to no subscriber.
        """
        try:
            async with self.db.system() as session:
                await events.raise_event(
                    session,
                    None,
                    "ratelimit.degraded",
                    actor=audit.Actor("system"),
                    subject=events.opaque_subject("namoid:ratelimit"),
                    target_type="ratelimit",
                    outcome="failure",
                    detail={"reason": reason, "fallback": "in-process"},
                )
        except Exception as exc:  # the limiter must keep answering even if the database fails too
            log.error("could not record the rate-limit degradation: %s", type(exc).__name__)

    async def ping_redis(self) -> None:
        if self.redis is not None:
            await self.redis.ping()

    async def close(self) -> None:
        await self.limiter.close()
        await self.db.dispose()
        if self.redis is not None:
            await self.redis.aclose()


def keyring_kms(settings: Settings) -> KmsWrap:
    """Where a KMS-wrapped keyring file is opened, and new ones are wrapped (DESIGN.md §4)."""
    return KmsWrap(settings.keyring_kms_region, settings.keyring_kms_key_id, settings.aws_timeout)


def _check_private(path: Path) -> None:
    """Production refuses a keyring file that anyone but its owner may read (it is every secret)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # Keyring.load names the fault
    if mode & 0o077:
        raise KeyringFileError(
            f"keyring file {path} is open to group or others (mode {mode:04o}); chmod 600 it"
        )


def load_keyring(settings: Settings) -> Keyring:
    """The keyring file; in dev mode a missing one is generated (with a loud warning).

    In production a missing, malformed or not private keyring refuses to start (KeyringFileError);
    a file wrapped under AWS KMS is opened here, once, and the plaintext stays in memory.
    """
    path = settings.resolved_keyring_file
    if settings.is_dev and not path.exists():
        create_keyring_file(path)  # its directory 0700, the file 0600
        log.warning(
            "DEVELOPMENT KEYRING generated at %s: fine for trying NamoID, never for production "
            "(set NAMOID_KEYRING_FILE to a managed keyring)",
            path,
        )
    try:
        if not settings.is_dev:
            _check_private(path)
        return Keyring.load(path, keyring_kms(settings))
    except KeyringFileError as exc:
        raise KeyringFileError(f"NAMOID_KEYRING_FILE: {exc}") from None


def connect_redis(settings: Settings) -> Redis | None:
    """A client of NAMOID_REDIS_URL (connecting lazily), or None without one."""
    if not settings.redis_url:
        return None
    return Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)


def build_services(settings: Settings) -> Services:
    redis = connect_redis(settings)
    return Services(
        settings=settings,
        db=Database(settings.resolved_database_url),
        keyring=load_keyring(settings),
        redis=redis,
    )
