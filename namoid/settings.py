"""NamoID settings: the only reader of the environment (DESIGN.md §1).

Every setting is read from an environment variable with the ``NAMOID_`` prefix.
With nothing set, NamoID runs in *embedded* mode: everything lives under the data
directory (SQLite database, dev keyring, dev TLS certificate).
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from namoid import datadir
from namoid.ratelimit import policies

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _network_list(value: object, *, strict: bool) -> object:
    """A comma-separated string becomes a list; every item must parse as an IP address or CIDR."""
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list):
        for item in value:
            ipaddress.ip_network(str(item), strict=strict)
    return value


class SettingsError(Exception):
    """A setting is malformed; the message names the environment variable."""


class Settings(BaseSettings):
    """Process-wide configuration, built once at start-up."""

    model_config = SettingsConfigDict(env_prefix="NAMOID_", extra="ignore", frozen=True)

    base_url: str = Field(
        "https://localhost:8443",
        description="Public HTTPS origin; issuers are {base_url}/o/{org}. The server listens on its port.",
    )
    admin_base_url: str = Field(
        "https://localhost:8444",
        description="HTTPS origin of the admin API ({admin_base_url}/admin/v1), served on its port by "
        "its own app (never on the public one) with the same TLS certificate.",
    )
    serve_public: bool = Field(True, description="`namoid serve` serves the public app.")
    serve_admin: bool = Field(True, description="`namoid serve` serves the admin API.")
    data_dir: Path = Field(Path(".namoid"), description="Directory for embedded-mode state.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL (postgresql+asyncpg://… or sqlite+aiosqlite:///…). "
        "Default: SQLite at {data_dir}/namoid.db.",
    )
    migration_database_url: str | None = Field(
        None,
        description="URL of the schema owner used by `namoid migrate` and audit retention on "
        "PostgreSQL (the app role of database_url cannot alter tables or delete audit rows). "
        "Default: database_url.",
    )
    database_app_role: str = Field(
        "namoid_app", description="PostgreSQL role the migrations grant the app's privileges to."
    )
    redis_url: str | None = Field(None, description="redis://… for rate limits; unset = in-process memory.")
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {policy: rate} overriding rate-limit defaults, e.g. {"login.ip": "10/minute"}.',
    )
    org_rate_limits: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="JSON {org slug: {policy: rate}}: per-org rate limits, "
        'e.g. {"acme": {"token.client": "60/minute"}}.',
    )
    ratelimit_ipv6_prefix: int = Field(
        64,
        ge=32,
        le=128,
        description="IPv6 clients are rate-limited per network of this prefix length "
        "(one /64 is one subscriber).",
    )
    ratelimit_single_node: bool = Field(
        False,
        description="Production only: allow `namoid serve` without NAMOID_REDIS_URL, each node counting "
        "rate limits in its own memory (correct only when exactly one node serves).",
    )
    tls_cert_file: Path | None = Field(None, description="PEM certificate chain. Unset = dev certificate.")
    tls_key_file: Path | None = Field(None, description="PEM private key. Unset = dev certificate.")
    keyring_file: Path | None = Field(
        None, description="Keyring JSON file. Unset = {data_dir}/keyring.json, created in dev mode."
    )
    keyring_kms_key_id: str | None = Field(
        None,
        description="AWS KMS key (id, ARN or alias) that `namoid keys init` and later key changes "
        "wrap the keyring file under (envelope encryption); unset = a plain 0600 JSON file.",
    )
    keyring_kms_region: str = Field(
        "ap-south-1", description="AWS region of the keyring's KMS key (also used to open a wrapped file)."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs/CIDRs whose X-Forwarded-* headers are trusted.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="A bearer secret that may scrape the admin port's /metrics (compared in constant "
        "time), besides admin tokens with admin:metrics:read. Unset = admin tokens only.",
    )
    metrics_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs/CIDRs that may scrape /metrics without a token. Empty by default.",
    )
    prometheus_multiproc_dir: Path | None = Field(
        None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="prometheus_client's multiprocess directory (its own variable, no NAMOID_ prefix): "
        "set it, empty, for every process of `namoid serve --workers N`; /metrics then sums them.",
    )
    client_assertion_legacy_audience: bool = Field(
        False,
        description="Also accept private_key_jwt assertions addressed to the token endpoint or the "
        "endpoint used (still as the sole audience), for clients predating draft-ietf-oauth-rfc7523bis.",
    )
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: Literal["json", "text"] | None = Field(
        None, description="json or text; default text in dev mode, json in production."
    )
    dev_mode: bool | None = Field(
        None,
        description="Embedded development conveniences (dev keyring/cert, demo org). "
        "Default: on when database_url is unset.",
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted request body.")
    host: str = Field("", description="Address to bind; default: the base URL's host (0.0.0.0 in prod).")
    worker_in_server: bool | None = Field(
        None,
        description="Run the background jobs (event delivery, sweeps) inside `namoid serve`. "
        "Default: on in dev mode; in production run `namoid worker` instead.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `namoid serve` runs, sharing the public and admin ports (one per core); "
        "more than one needs NAMOID_REDIS_URL. Overridden by `namoid serve --workers N`.",
    )
    metrics_multiproc_dir: Path | None = Field(
        None,
        description="Where the worker processes of `namoid serve` keep their Prometheus metrics "
        "(also exported as PROMETHEUS_MULTIPROC_DIR); set by serve itself when NAMOID_WORKERS > 1, "
        "to a fresh private directory removed at exit. Leave unset.",
    )
    worker_interval: float = Field(
        5.0, gt=0, le=3600, description="Seconds between two passes of the background jobs."
    )
    webhook_timeout: float = Field(
        5.0, gt=0, le=60, description="Seconds a webhook receiver has to answer one SET delivery."
    )
    webhook_ca_file: Path | None = Field(
        None,
        description="Extra PEM CA bundle trusted for webhook receivers (e.g. a private CA), "
        "in addition to the system's.",
    )
    provider_timeout: float = Field(
        5.0, gt=0, le=60, description="Seconds an upstream identity provider has to answer one request."
    )
    provider_ca_file: Path | None = Field(
        None,
        description="Extra PEM CA bundle trusted for upstream identity providers (e.g. a private CA), "
        "in addition to the system's.",
    )
    outbound_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDRs that outbound HTTP (webhooks, later providers) may reach "
        "although they are not public, e.g. 10.20.0.0/16 for an internal receiver. Empty by default; "
        "cloud metadata, unspecified and multicast addresses stay refused whatever it says.",
    )
    kyc_uidai_certs_dir: Path | None = Field(
        None,
        description="Folder of pinned UIDAI offline e-KYC signing certificates (PEM or DER). "
        "Unset = the set shipped in namoid/kyc/uidai_certs.",
    )
    kyc_max_upload_bytes: int = Field(
        2 * 1024 * 1024,
        ge=64 * 1024,
        le=16 * 1024 * 1024,
        description="Largest request body of the offline e-KYC upload routes (checked before reading).",
    )

    email_sender: Literal["dev", "smtp", "ses"] = Field(
        "dev",
        description="Where email goes: dev (a mailbox under {data_dir}/mailbox, shown at /dev/mailbox "
        "in dev mode), smtp or ses (Amazon SES v2).",
    )
    email_from: str = Field(
        "NamoID <no-reply@localhost>",
        description="From-address of every email (SES: a verified identity). Required for smtp and ses.",
    )
    smtp_host: str = Field("localhost", description="SMTP server (email_sender=smtp).")
    smtp_port: int = Field(
        587, ge=1, le=65535, description="SMTP port: 587 for STARTTLS, 465 for implicit TLS."
    )
    smtp_tls: Literal["starttls", "implicit"] = Field(
        "starttls", description="starttls (required, never clear text) or implicit (TLS from the start)."
    )
    smtp_username: str | None = Field(None, description="SMTP AUTH user; unset = no authentication.")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password.")
    smtp_timeout: float = Field(10.0, gt=0, le=120, description="Seconds for each SMTP step.")
    smtp_ca_file: Path | None = Field(
        None, description="Extra PEM CA bundle trusted for the SMTP server, in addition to the system's."
    )
    ses_region: str = Field("ap-south-1", description="AWS region of Amazon SES (email_sender=ses).")
    ses_configuration_set: str | None = Field(None, description="SES configuration set to send with.")
    sms_sender: Literal["dev", "end-user-messaging"] = Field(
        "dev",
        description="Where SMS go: dev (the mailbox, like email) or end-user-messaging "
        "(AWS End User Messaging SMS).",
    )
    sms_region: str = Field("ap-south-1", description="AWS region of End User Messaging SMS.")
    sms_origination_identity: str | None = Field(
        None,
        description="Sender ID, phone number or pool (ID or ARN) SMS are sent from; "
        "required for end-user-messaging.",
    )
    sms_configuration_set: str | None = Field(None, description="End User Messaging configuration set.")
    sms_dlt_entity_id: str | None = Field(
        None,
        description="India DLT principal entity ID; when set, every SMS to +91 carries it and its "
        "template's DLT ID (IN_ENTITY_ID / IN_TEMPLATE_ID).",
    )
    sms_dlt_templates: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {template: DLT template ID}, e.g. {"otp": "1107161234567890123"}.',
    )
    aws_timeout: float = Field(10.0, gt=0, le=120, description="Connect and read timeout of AWS calls (s).")

    @field_validator("base_url", "admin_base_url")
    @classmethod
    def _https_origin(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// origin, e.g. https://id.example.com")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be an origin without path, query or fragment")
        return f"https://{parts.netloc}"

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _known_policies(cls, value: dict[str, str]) -> dict[str, str]:
        policies.validate(value)
        return value

    @field_validator("org_rate_limits")
    @classmethod
    def _known_org_policies(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for overrides in value.values():
            policies.validate(overrides)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return _network_list(value, strict=False)

    @field_validator("metrics_allow", mode="before")
    @classmethod
    def _split_metrics_allow(cls, value: object) -> object:
        return _network_list(value, strict=False)

    @field_validator("outbound_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        return _network_list(value, strict=True)  # host bits set in an allow-list is a mistake

    @model_validator(mode="after")
    def _admin_apart(self) -> Settings:
        """DESIGN.md §6: the admin API never shares the public origin (nor, on one host, its port)."""
        public, admin = urlsplit(self.base_url), urlsplit(self.admin_base_url)
        if (public.hostname, public.port or 443) == (admin.hostname, admin.port or 443):
            raise ValueError("NAMOID_ADMIN_BASE_URL must be another origin than NAMOID_BASE_URL")
        return self

    @model_validator(mode="after")
    def _senders_configured(self) -> Settings:
        if self.email_sender != "dev" and "@localhost" in self.email_from:
            raise ValueError("NAMOID_EMAIL_FROM must be set for the smtp and ses senders")
        if self.sms_sender == "end-user-messaging" and not self.sms_origination_identity:
            raise ValueError("NAMOID_SMS_ORIGINATION_IDENTITY must be set for end-user-messaging")
        return self

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied and every derived property computed afresh
        (``model_copy`` would carry over the cached ones)."""
        return type(self).model_validate(self.model_dump() | changes)

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / datadir.DATABASE_FILE}"

    @cached_property
    def is_dev(self) -> bool:
        """Embedded development mode (default when no database URL is configured)."""
        return self.database_url is None if self.dev_mode is None else self.dev_mode

    @cached_property
    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.data_dir / "keyring.json"

    @cached_property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @cached_property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 443

    @cached_property
    def bind_host(self) -> str:
        return self._bind_host(self.base_url)

    @cached_property
    def admin_port(self) -> int:
        return urlsplit(self.admin_base_url).port or 443

    @cached_property
    def admin_bind_host(self) -> str:
        return self._bind_host(self.admin_base_url)

    @cached_property
    def admin_resource(self) -> str:
        """The admin API's resource identifier (RFC 8707): the ``aud`` of admin access tokens."""
        return f"{self.admin_base_url}/admin/v1"

    def _bind_host(self, origin: str) -> str:
        if self.host:
            return self.host
        hostname = urlsplit(origin).hostname or "localhost"
        return "127.0.0.1" if hostname in ("localhost", "127.0.0.1") else "0.0.0.0"  # noqa: S104

    @cached_property
    def runs_worker_in_server(self) -> bool:
        return self.is_dev if self.worker_in_server is None else self.worker_in_server

    @cached_property
    def json_logs(self) -> bool:
        return self.log_format == "json" if self.log_format else not self.is_dev


def load_settings() -> Settings:
    """Read the environment once; a malformed value is one clear error naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"NAMOID_{str(err['loc'][0]).upper()}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None
