"""Database tables (SQLAlchemy 2 declarative). Every tenant-owned table has ``org_id``.

The Alembic migrations in ``storage/migrations`` create exactly these tables; a test
compares the two so they cannot drift apart.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organization(Base):
    """A tenant; its own issuer ``{base}/o/{slug}``."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Token lifetimes in seconds (DESIGN.md §3 defaults), configurable per org.
    code_ttl: Mapped[int] = mapped_column(Integer, default=60)
    access_token_ttl: Mapped[int] = mapped_column(Integer, default=600)
    id_token_ttl: Mapped[int] = mapped_column(Integer, default=600)
    refresh_token_ttl: Mapped[int] = mapped_column(Integer, default=30 * 86400)
    refresh_idle_ttl: Mapped[int] = mapped_column(Integer, default=14 * 86400)
    session_ttl: Mapped[int] = mapped_column(Integer, default=86400)
    #: Days audit entries are kept before the retention job may remove them (DESIGN.md §5).
    audit_retention_days: Mapped[int] = mapped_column(Integer, default=400)
    # --- sign-in policy (issue 11): namoid.tenancy.sign_in ---
    #: Login methods offered, a subset of ("password", "email_otp", "sms_otp").
    sign_in_methods: Mapped[list[str]] = mapped_column(
        JsonType, default=lambda: ["password"], server_default='["password"]'
    )
    registration: Mapped[str] = mapped_column(String(8), default="closed", server_default="closed")
    mfa: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    #: Calling codes SMS may go to ("+91"): SMS pumping spends nothing elsewhere.
    sms_countries: Mapped[list[str]] = mapped_column(
        JsonType, default=lambda: ["+91"], server_default='["+91"]'
    )
    #: A test-mode org never sends: its messages stay in its inbox (``namoid org inbox``).
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Digits of a one-time code (6-8, issue 11) and the org's own email From address.
    challenge_digits: Mapped[int] = mapped_column(Integer, default=6, server_default="6")
    email_from: Mapped[str | None] = mapped_column(String(320))
    # --- grievances (issue 13, DPDP s.8(9)-(10), R.9, R.14(3)): namoid.privacy.grievances ---
    #: The published response period in days (never more than 90) and the DPO or contact person.
    grievance_response_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    dpo_name: Mapped[str | None] = mapped_column(String(200))
    dpo_email: Mapped[str | None] = mapped_column(String(320))
    #: The platform org (``namoid admin bootstrap``, issue 16): its admins manage organizations.
    platform: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Rate-limit policy → the org's own rate ("300/minute"), over the defaults (``ratelimit.overrides``).
    rate_limits: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict, server_default="{}")
    #: Days between deleting an account and purging it (namoid.privacy.erasure; issue 13).
    erasure_grace_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(16))
    #: True only once a code sent to ``phone`` came back (issue 11).
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deletion_reason: Mapped[str | None] = mapped_column(String(200))
    #: When the worker purges a deleted account (its org's grace after ``deleted_at``; issue 13).
    purge_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Client(Base):
    """An OAuth client (RFC 6749 §2) registered in one organization."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("org_id", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    client_type: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str | None] = mapped_column(Text)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JsonType, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JsonType, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JsonType, default=list)
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    #: First-party clients may skip the consent page (the org vouches for them).
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    #: May introspect tokens issued to other clients (RFC 7662 §4).
    introspect_any: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Issue refresh tokens even without the offline_access scope.
    refresh_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Refresh lifetimes in seconds overriding the org's (absolute per family, idle per token).
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer)
    refresh_idle_ttl: Mapped[int | None] = mapped_column(Integer)
    #: Seconds after a refresh token's first use in which this client presenting it again gets
    #: the same successor (``oauth/grants/refresh_token.py``); None = the default for its type.
    refresh_reuse_window: Mapped[int | None] = mapped_column(Integer)
    #: What logging out does to this client's ``offline_access`` grants: "keep" or "end".
    offline_access_on_logout: Mapped[str] = mapped_column(String(8), default="keep")
    #: Admin API scopes the org granted this client explicitly (``namoid client allow-admin``,
    #: issue 16), for client_credentials tokens addressed to the admin API (RFC 8707).
    admin_scopes: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SigningKey(Base):
    """An org's token-signing key; the private half encrypted with the keyring (DESIGN.md §4)."""

    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("org_id", "kid"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonType)
    private_key_enc: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One append-only audit record (DESIGN.md §5); ``org_id`` is NULL for system actions."""

    __tablename__ = "audit_log"
    #: Sealing, verifying and exporting read one org's entries in ``seq`` order.
    __table_args__ = (Index("ix_audit_log_org_id_seq", "org_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class AuditSeal(Base):
    """The hash-chain link of one audit entry (DESIGN.md §5), written by the sealer, append-only.

    Each org (and the system, ``org_id`` NULL) has one chain, in sealing order:
    ``hash = SHA-256(prev_hash ‖ canonical entry)``. Audit rows themselves are never updated.
    """

    __tablename__ = "audit_seals"
    __table_args__ = (UniqueConstraint("chain", "position"), UniqueConstraint("seq"))

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    #: Not indexed on its own: (chain, position) and seq serve every read (a second index
    #: only tempts the planner into sorting a whole chain).
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))
    #: The chain's name: the org id, or "system"; with ``position`` it makes links unique.
    chain: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the canonical entry without its seq: tells where a moved (reordered) row was sealed.
    content_hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditCheckpoint(Base):
    """A chain head signed with the org's key (JWS), for operators to keep elsewhere."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    chain: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    signed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditRetention(Base):
    """A retention run: audit rows of ``chain`` up to ``up_to_seq`` may be deleted, and only they.

    The audit log's delete trigger lets a DELETE through only for rows a run covers; the
    run is itself audited (and sealed) before any row goes, so the chain stays verifiable.
    """

    __tablename__ = "audit_retention"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    chain: Mapped[str] = mapped_column(String(36))
    up_to_seq: Mapped[int] = mapped_column(BigInteger)
    before: Mapped[datetime] = mapped_column(UTCDateTime)
    removed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BrowserSession(Base):
    """A signed-in browser (server-side session); the cookie holds a token stored here as SHA-256."""

    __tablename__ = "browser_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The public session id: the ``sid`` claim (OIDC Front-Channel Logout §2), never the cookie.
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JsonType, default=list)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthorizationRequest(Base):
    """A validated /authorize request waiting for login and consent (the interaction)."""

    __tablename__ = "authorization_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Consent(Base):
    """Scopes a user granted a client (remembered per user + client).

    Its ``id`` is the consent id of the grant in the consent ledger while the grant stands;
    a withdrawal deletes the row, so a later grant is a new consent with a new id.
    """

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: The notice the consent was given under; a newer version makes it stale (asked again).
    notice_language: Mapped[str | None] = mapped_column(String(8))
    notice_version: Mapped[str | None] = mapped_column(String(32))


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 §4.1.2): stored as SHA-256, single use."""

    __tablename__ = "authorization_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(128))
    sid: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Claims the user consented to release inside ``verified_claims`` (issue 14, IDA 1.0).
    verified_claims: Mapped[list[str] | None] = mapped_column(JsonType)
    #: The same at UserInfo; carried to the grant's refresh family and access tokens.
    userinfo_verified_claims: Mapped[list[str] | None] = mapped_column(JsonType)


class RefreshFamily(Base):
    """The chain of refresh tokens from one authorization (DESIGN.md §3)."""

    __tablename__ = "refresh_families"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JsonType, default=list)
    code_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    #: Verified claims (IDA 1.0) consented for UserInfo, from the code that opened the family.
    userinfo_verified_claims: Mapped[list[str] | None] = mapped_column(JsonType)


class RefreshToken(Base):
    """One refresh token of a family: opaque, stored as SHA-256, consumed once."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("refresh_families.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The first use's token response, encrypted with the keyring, kept only for the client's
    #: reuse window (until ``successor_expires_at``); then the sweep sets both back to NULL.
    successor_enc: Mapped[str | None] = mapped_column(Text)
    successor_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class AccessToken(Base):
    """The ``jti`` of an issued access-token JWT, for revocation and introspection."""

    __tablename__ = "access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    code_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    family_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Verified claims (IDA 1.0) this token may have released at UserInfo (the user consented).
    userinfo_verified_claims: Mapped[list[str] | None] = mapped_column(JsonType)


class UsedAssertion(Base):
    """A client-assertion ``jti`` already seen (RFC 7523 §3, replay protection)."""

    __tablename__ = "used_assertions"
    __table_args__ = (UniqueConstraint("org_id", "client_id", "jti"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SecurityEvent(Base):
    """A security event (DESIGN.md §5): immutable; delivered as a SET (RFC 8417) to subscribers.

    ``org_id`` is NULL for events outside any organization (e.g. the rate limiter degraded);
    those are recorded and logged but have no subscribers.
    """

    __tablename__ = "security_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The subject identifier (RFC 9493) the event is about.
    subject: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    #: Event-specific claims of the SET's event payload (no secrets).
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class WebhookSubscription(Base):
    """An org's receiver of pushed Security Event Tokens (RFC 8935)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxEntry(Base):
    """One pending delivery: an event to one subscriber, or an email or SMS (the transactional outbox).

    Written in the transaction that decided to send it (DESIGN.md §8); the worker leases
    due rows of a ``kind`` (``leased_until``), delivers them and records the result, so a
    worker that dies mid-delivery only delays it: the lease runs out and another pass
    delivers it. A ``webhook`` row names its event and subscription; an ``email`` or
    ``sms`` row carries its message encrypted under the keyring (``payload_enc``, bound
    to ``message_id``), since it may hold a one-time code, until it is settled: then the
    message is erased and only the row's outcome stays.
    """

    __tablename__ = "event_outbox"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'webhook' AND event_id IS NOT NULL AND subscription_id IS NOT NULL) OR "
            "(kind IN ('email', 'sms') AND message_id IS NOT NULL "
            "AND (payload_enc IS NOT NULL OR delivered_at IS NOT NULL OR failed_at IS NOT NULL))",
            name="kind_has_its_columns",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("security_events.id"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    payload_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when delivery stopped for good: the receiver rejected the SET, or retries ran out.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))


class OtpChallenge(Base):
    """A one-time code sent to a destination for one purpose and one browser interaction.

    Only a keyed hash of the code is kept (``code_hash``, bound to the challenge id). It is
    consumed once (``consumed_at``, one conditional UPDATE), dies after too many wrong
    tries (``dead_at``) and expires at ``expires_at``.
    """

    __tablename__ = "otp_challenges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    #: SHA-256 of the interaction (browser) the challenge belongs to.
    interaction_hash: Mapped[str] = mapped_column(String(64))
    #: The destination's keyed hash (``ratelimit.login.account_key``), never the address.
    destination_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    digits: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sends: Mapped[int] = mapped_column(Integer, default=1)
    wrong_tries: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Aadhaar offline KYC (issue 14) ---------------------------------------------------------


class KycPolicy(Base):
    """Whether an org offers Aadhaar offline KYC, and how old an uploaded file may be."""

    __tablename__ = "kyc_policies"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    max_age_days: Mapped[int] = mapped_column(Integer, default=3)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KycRecord(Base):
    """A user's verified offline e-KYC, masked: exactly what the security page promises.

    The last four Aadhaar digits (from ``referenceId``), an HMAC of the normalised name under
    the org's key (namoid.crypto.name_mac), the signature result with the signer certificate's
    SHA-256 and standing (``in_validity``, or ``after_expiry`` within the grace of
    namoid.kyc.trust), the file's generation time and the verification time. Never the XML, photo,
    date of birth, address, gender, contact hashes or the full reference id.
    """

    __tablename__ = "kyc_records"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    last4: Mapped[str] = mapped_column(String(4))
    name_mac: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    signer_sha256: Mapped[str] = mapped_column(String(64))
    signer_standing: Mapped[str] = mapped_column(
        String(16), default="in_validity", server_default="in_validity"
    )
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)


#: Tables whose rows belong to one organization: filtered in code and by RLS.
TENANT_TABLES: tuple[str, ...] = (
    "users",
    "clients",
    "signing_keys",
    "audit_log",
    "browser_sessions",
    "authorization_requests",
    "consents",
    "authorization_codes",
    "refresh_families",
    "refresh_tokens",
    "access_tokens",
    "used_assertions",
    "security_events",
    "webhook_subscriptions",
    "event_outbox",
    "otp_challenges",
    "audit_seals",
    "audit_checkpoints",
    "audit_retention",
    "kyc_policies",
    "kyc_records",
)


# --- Connected providers (issue 12): upstream providers, connections, the token vault, and the
# one consent ledger (DESIGN.md §8). Kept together in this block.


class UpstreamProvider(Base):
    """An upstream identity provider an org signs users in with (OpenID Connect or OAuth 2.0).

    The client secret (for Apple: the team's private key) is a keyring envelope bound to
    this table, column, org and row (DESIGN.md §4).
    """

    __tablename__ = "upstream_providers"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: Part of the callback URL ``{issuer}/providers/{name}/callback``.
    name: Mapped[str] = mapped_column(String(32))
    #: google | microsoft | github | apple | oidc
    preset: Mapped[str] = mapped_column(String(16))
    #: The expected ``iss`` (a template with ``{tenantid}`` for Microsoft); None for plain OAuth 2.0.
    issuer: Mapped[str | None] = mapped_column(Text)
    #: Fixed endpoints (plain OAuth 2.0); OpenID Connect providers are discovery-driven.
    endpoints: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_enc: Mapped[str] = mapped_column(Text)
    #: Apple: the team id and the id of the key in ``client_secret_enc``.
    team_id: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    #: Whether a sign-in by an unknown upstream identity may create an account (default closed).
    create_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProviderConnection(Base):
    """A user's account linked to one upstream identity (the provider's ``sub``)."""

    __tablename__ = "provider_connections"
    __table_args__ = (
        UniqueConstraint("org_id", "provider_id", "subject"),
        UniqueConstraint("org_id", "provider_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("upstream_providers.id"))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderToken(Base):
    """The token vault: one connection's upstream tokens, each a keyring envelope.

    The associated data binds every ciphertext to its org, user, provider, row and column
    (namoid.providers.vault), so a value moved anywhere else fails to decrypt.
    """

    __tablename__ = "provider_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_connections.id"), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("upstream_providers.id"))
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    id_token_enc: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProviderAuthorization(Base):
    """One trip to an upstream's authorization endpoint, bound to the browser that began it.

    ``state`` is stored as SHA-256 and used once (``used_at``); the PKCE verifier is a keyring
    envelope. Purpose ``sign_in`` resumes the authorization request ``request_handle``;
    ``connect`` links the upstream identity to ``user_id``, who must still be signed in.
    """

    __tablename__ = "provider_authorizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("upstream_providers.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    request_handle: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    browser_sid: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the trip cookie set at the start (issue 12, form_post); NULL only on trips
    #: begun before migration 0010, which no callback accepts.
    binding_hash: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    verifier_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TokenExchangePermission(Base):
    """The org allows ``client_id`` to exchange its users' NamoID access tokens for their tokens of
    one provider (RFC 8693); each user still has to grant it (scope ``provider:<name>``)."""

    __tablename__ = "token_exchange_permissions"
    __table_args__ = (UniqueConstraint("org_id", "client_id", "provider_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("upstream_providers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(Base):
    """The one consent ledger (DESIGN.md §8): append-only, like the audit log.

    A grant and its withdrawal are two records sharing ``consent_id``; nothing is ever
    updated. ``kind`` says what was consented to: ``provider_connection`` (a user linked an
    upstream provider; ``counterparty`` is the provider's name) or ``client_grant`` (a
    relying party; ``counterparty`` is the client id).
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_org_id_user_id", "org_id", "user_id"),)

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    consent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: provider_connection | client_grant
    kind: Mapped[str] = mapped_column(String(32))
    #: granted | withdrawn
    event: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    counterparty: Mapped[str] = mapped_column(String(200))
    purposes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    notice_version: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    #: Who ended it and how, on a withdrawal (e.g. "user", "admin", "provider_removed").
    withdrawn_by: Mapped[str | None] = mapped_column(String(32))
    #: The claims released under the grant, itemised (OIDC Core §5.4, §5.5); [] for a provider.
    claims: Mapped[list[str] | None] = mapped_column(JsonType)
    #: SHA-256 (hex) of the notice text shown, and its language (namoid.privacy.notices).
    notice_hash: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    #: The affirmative action: what the user did ("clicked_allow"), or "implied_first_party".
    action: Mapped[str | None] = mapped_column(String(32))


PROVIDER_TENANT_TABLES: tuple[str, ...] = (
    "upstream_providers",
    "provider_connections",
    "provider_tokens",
    "provider_authorizations",
    "token_exchange_permissions",
    "consent_records",
)
TENANT_TABLES += PROVIDER_TENANT_TABLES


class Notice(Base):
    """One version of an org's privacy notice in one language (DPDP s.5, Rules R.3); never changed.

    Publishing a new text adds a version; consent given under an older one is asked again.
    """

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("org_id", "language", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


TENANT_TABLES += ("notices",)
# --- Data export (issue 13): one job per requested export, produced by the worker -----------


class DataExport(Base):
    """A user's data export (DPDP Act s.11): requested, produced by the worker, downloaded once.

    The document is a keyring envelope bound to the org, the user and this row
    (namoid.privacy.export_jobs) until it is downloaded or expires, then destroyed (NULL).
    The download link's token is kept only as SHA-256 (``link_hash``), single use, short-lived.
    ``active_user_id`` is the user's id while the export is pending or ready, NULL after:
    its unique constraint lets a user have one export under way at a time, on every backend.
    """

    __tablename__ = "data_exports"
    __table_args__ = (UniqueConstraint("org_id", "active_user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    active_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: pending | ready | downloaded | expired | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: Who asked: user (the account console) or admin.
    requested_by: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    produced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The document's size in bytes (UTF-8 JSON), once produced.
    size: Mapped[int | None] = mapped_column(Integer)
    payload_enc: Mapped[str | None] = mapped_column(Text)
    #: Until when the produced document may be downloaded; then the sweep destroys it.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the document was destroyed (downloaded, expired or failed).
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


TENANT_TABLES += ("data_exports",)
# --- Grievances (issue 13 item 7) and per-org message templates (issue 11). ----------------


class Grievance(Base):
    """A data principal's grievance (DPDP Act s.8(10), Rules R.14(3)): answered or rejected with a
    reason by ``due_at`` (created + the org's published response period)."""

    __tablename__ = "grievances"
    __table_args__ = (Index("ix_grievances_org_id_status", "org_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    #: The language the user wrote in (en or hi): the answer's email is sent in it.
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: open | answered | rejected
    status: Mapped[str] = mapped_column(String(16), default="open")
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The audit actor who answered (e.g. "admin:cli").
    responder: Mapped[str | None] = mapped_column(String(200))


class MessageTemplate(Base):
    """An org's own wording of one message (issue 11 item 7), rendered in Jinja2's sandbox with
    only the message's known variables (namoid.notify.overrides)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("org_id", "template", "locale", "part"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: code_email | code_sms
    template: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8))
    #: subject | text | html (an email's parts) or text (an SMS)
    part: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


TENANT_TABLES += ("grievances", "message_templates")
# --- Admin API (issue 16): roles of users in their organization. Kept together in this block.


class UserRole(Base):
    """A user's administrative role in their org (``org_admin`` or ``auditor``), for the console."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "role"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


TENANT_TABLES += ("user_roles",)
# --- Erasure (issue 13): what remains of a purged account. Kept together in this block.


class Tombstone(Base):
    """What remains of a purged account (namoid.privacy.purge): nothing readable.

    Keyed hashes (HMAC-SHA-256 under the org's key, namoid.crypto.org_mac) of the user id,
    email and phone, so an operator holding the keyring can answer "was this account purged,
    and when?" for an identifier they already have; the account's times; and the legal basis
    for what the purge kept. Append-only, like the audit log.
    """

    __tablename__ = "tombstones"
    __table_args__ = (UniqueConstraint("org_id", "subject_mac"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    subject_mac: Mapped[str] = mapped_column(String(64))
    email_mac: Mapped[str] = mapped_column(String(64))
    phone_mac: Mapped[str | None] = mapped_column(String(64))
    account_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: What the purge kept and why: [{"data": section, "action": "retain", "basis": ...}], fixed text.
    legal_basis: Mapped[list[dict[str, str]]] = mapped_column(JsonType, default=list)


TENANT_TABLES += ("tombstones",)
