"""Production start-up checks: each refusal is one line naming the setting (issue 17, Bad input).

Run by ``namoid serve`` before it listens and by ``namoid worker`` before its first pass;
they read and change nothing else.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from namoid.crypto.keyring import DecryptionFailed, Keyring, UnknownKeyId
from namoid.signing import SigningKeyStore
from namoid.storage.db import Database, UnsafeDatabaseRole
from namoid.tenancy import organizations


class StartupRefused(Exception):
    """A production setting is unusable; the message names it."""


async def _check_role(db: Database) -> None:
    try:
        await db.assert_role_cannot_bypass_rls()
    except UnsafeDatabaseRole as exc:
        raise StartupRefused(f"NAMOID_DATABASE_URL: {exc}") from None
    except (OSError, SQLAlchemyError) as exc:
        raise StartupRefused(
            f"NAMOID_DATABASE_URL: the database is unreachable ({type(exc).__name__})"
        ) from None


async def _check_keyring_matches(db: Database, keyring: Keyring) -> None:
    """A keyring of another deployment cannot open this database's signing keys (DESIGN.md §4).

    The first organization's active signing keys are decrypted, as every token request would.
    """
    orgs = await organizations.list_all(db)
    if not orgs:
        return
    try:
        await SigningKeyStore(db, keyring).for_org(orgs[0])
    except (UnknownKeyId, DecryptionFailed):
        raise StartupRefused(
            f"NAMOID_KEYRING_FILE: the keyring cannot open the signing keys of organization "
            f"{orgs[0].slug!r} in this database: it belongs to another deployment, or keys were retired"
        ) from None


async def _check_redis(redis: Redis) -> None:
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        raise StartupRefused(
            f"NAMOID_REDIS_URL: Redis is unreachable ({type(exc).__name__}); "
            "the nodes share rate limits there"
        ) from None


async def check_production(db: Database, keyring: Keyring, redis: Redis | None) -> None:
    """The database role cannot bypass row-level security, the keyring opens this database's
    keys, and Redis (when configured) answers; ``StartupRefused`` otherwise."""
    await _check_role(db)
    await _check_keyring_matches(db, keyring)
    if redis is not None:
        await _check_redis(redis)
