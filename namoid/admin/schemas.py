"""Request and response bodies of the admin API (strict: unknown fields and wrong types are 422)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Field(min_length=1, max_length=200)
MAX_URIS = 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ClientCreate(Strict):
    name: str = Name
    type: Literal["confidential", "public"]
    redirect_uris: list[str] = Field(default_factory=list, max_length=MAX_URIS)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=MAX_URIS)
    grant_types: list[str] | None = Field(None, max_length=3)
    scopes: list[str] | None = Field(None, max_length=50)
    auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] | None = None
    jwks: dict[str, Any] | None = None
    first_party: bool = False
    id_token_alg: Literal["RS256", "PS256", "ES256"] = "RS256"  # noqa: S105 (an algorithm name)
    introspect_any: bool = False
    refresh_tokens: bool = False
    refresh_token_ttl: int | None = None
    refresh_idle_ttl: int | None = None
    refresh_reuse_window: int | None = None
    offline_access_on_logout: Literal["keep", "end"] = "keep"


class ClientUpdate(Strict):
    """The refresh lifetimes and reuse window of one client (at least one of them)."""

    refresh_token_ttl: int | None = None
    refresh_idle_ttl: int | None = None
    refresh_reuse_window: int | None = None


class ClientOut(BaseModel):
    client_id: str
    name: str
    type: str
    auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    admin_scopes: list[str]
    first_party: bool
    id_token_signed_response_alg: str
    introspect_any: bool
    refresh_tokens: bool
    refresh_token_ttl: int | None
    refresh_idle_ttl: int | None
    refresh_reuse_window: int | None
    offline_access_on_logout: str
    status: str


class ClientList(BaseModel):
    items: list[ClientOut]


class ClientSecret(BaseModel):
    """A new client secret: shown in this response only."""

    client_id: str
    client_secret: str


class ClientCreated(ClientOut):
    client_secret: str | None = Field(None, description="Confidential clients only; shown only now.")


class UserCreate(Strict):
    email: str = Field(min_length=3, max_length=254)
    name: str | None = Field(None, min_length=1, max_length=200)
    phone: str | None = Field(None, max_length=16)
    password: str | None = Field(None, min_length=8, max_length=1024)


class Reason(Strict):
    reason: str | None = Field(None, min_length=1, max_length=200)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    phone: str | None
    status: str
    email_verified: bool
    phone_verified: bool
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class AuditEntryOut(BaseModel):
    seq: int
    org_id: str | None
    occurred_at: str
    actor_type: str
    actor_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    ip: str | None
    user_agent: str | None
    request_id: str | None
    detail: dict[str, Any]
    seal: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class OrgCreate(Strict):
    slug: str = Field(min_length=1, max_length=63)
    name: str | None = Field(None, min_length=1, max_length=200)
    test_mode: bool = False


class OrgOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    platform: bool
    test_mode: bool
    created_at: datetime


class OrgList(BaseModel):
    items: list[OrgOut]


class SigningKeyOut(BaseModel):
    """A signing key's public metadata and public JWK (never its private part)."""

    kid: str
    alg: str
    status: str
    published: bool = Field(description="Whether the org's JWKS still publishes it.")
    created_at: datetime
    retired_at: datetime | None
    public_jwk: dict[str, Any]


class SigningKeyList(BaseModel):
    items: list[SigningKeyOut]


class KeyRotate(Strict):
    alg: Literal["RS256", "PS256", "ES256"] = "RS256"


class KeyRotation(BaseModel):
    kid: str
    alg: str
    retired: list[str]
    removed: list[str]


class WebhookCreate(Strict):
    url: str = Field(min_length=1, max_length=2048)


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    created_at: datetime


class WebhookList(BaseModel):
    items: list[WebhookOut]


class SecurityEventOut(BaseModel):
    id: uuid.UUID
    name: str
    occurred_at: datetime
    subject: dict[str, Any]
    payload: dict[str, Any]


class SecurityEventPage(BaseModel):
    items: list[SecurityEventOut]
    next_cursor: str | None


class GrievanceOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    category: str
    subject: str
    text: str
    created_at: datetime
    due_at: datetime
    status: str
    response: str | None
    responded_at: datetime | None


class GrievanceList(BaseModel):
    items: list[GrievanceOut]


class GrievanceResponse(Strict):
    text: str = Field(min_length=1, max_length=4000, description="The answer, or the reason to reject.")
    reject: bool = False


class ProviderOut(BaseModel):
    """An upstream provider as it may be shown: never its secret."""

    name: str
    preset: str
    issuer: str | None
    client_id: str
    scopes: list[str]
    create_accounts: bool
    enabled: bool
    redirect_uri: str


class ProviderList(BaseModel):
    items: list[ProviderOut]


class InboxMessage(BaseModel):
    """A message a test-mode org captured instead of sending (email or SMS)."""

    captured_at: datetime
    kind: Literal["email", "sms"]
    to: str
    text: str
    subject: str | None = Field(None, description="Email only.")
    html: str | None = Field(None, description="Email only.")
    from_address: str | None = Field(None, description="Email only.")
    template: str | None = Field(None, description="SMS only: the DLT template it was made from.")


class Inbox(BaseModel):
    items: list[InboxMessage]


class RateLimitOut(BaseModel):
    policy: str
    default: str
    rate: str | None = Field(description="The org's own rate, if it set one.")


class RateLimitList(BaseModel):
    items: list[RateLimitOut]


class RateLimitSet(Strict):
    policy: str = Field(min_length=1, max_length=64, examples=["token.client"])
    rate: str | None = Field(
        max_length=100,
        description="e.g. 300/minute; the default's windows with at most as many requests each. "
        "null: back to the default.",
    )
