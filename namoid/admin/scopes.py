"""Admin API scopes and the roles that carry them (issue 16).

A client holds admin scopes only when the org grants them explicitly (``namoid client
allow-admin``); its client_credentials token then names the admin API as its resource
(RFC 8707) and audience (RFC 9068 §3). A user's role says which admin scopes their
console session may use.
"""

from __future__ import annotations

from collections.abc import Iterable

CLIENTS_READ = "admin:clients:read"
CLIENTS_WRITE = "admin:clients:write"
USERS_READ = "admin:users:read"
USERS_WRITE = "admin:users:write"
AUDIT_READ = "admin:audit:read"
KEYS_READ = "admin:keys:read"
KEYS_WRITE = "admin:keys:write"
WEBHOOKS_READ = "admin:webhooks:read"
WEBHOOKS_WRITE = "admin:webhooks:write"
EVENTS_READ = "admin:events:read"
GRIEVANCES_READ = "admin:grievances:read"
GRIEVANCES_WRITE = "admin:grievances:write"
PROVIDERS_READ = "admin:providers:read"
INBOX_READ = "admin:inbox:read"
LIMITS_READ = "admin:limits:read"
LIMITS_WRITE = "admin:limits:write"
ORGS_READ = "admin:orgs:read"
ORGS_WRITE = "admin:orgs:write"
METRICS_READ = "admin:metrics:read"

ADMIN_SCOPES: tuple[str, ...] = (
    CLIENTS_READ,
    CLIENTS_WRITE,
    USERS_READ,
    USERS_WRITE,
    AUDIT_READ,
    KEYS_READ,
    KEYS_WRITE,
    WEBHOOKS_READ,
    WEBHOOKS_WRITE,
    EVENTS_READ,
    GRIEVANCES_READ,
    GRIEVANCES_WRITE,
    PROVIDERS_READ,
    INBOX_READ,
    LIMITS_READ,
    LIMITS_WRITE,
)
#: Scopes over every organization: held only in the platform org (``namoid admin bootstrap``).
#: Metrics count every org's traffic, so only the platform may read them.
PLATFORM_SCOPES: tuple[str, ...] = (ORGS_READ, ORGS_WRITE, METRICS_READ)
PREFIX = "admin:"

#: role → the admin scopes it carries.
ROLES: dict[str, frozenset[str]] = {
    "org_admin": frozenset(ADMIN_SCOPES),
    "auditor": frozenset(
        {CLIENTS_READ, USERS_READ, AUDIT_READ, KEYS_READ, WEBHOOKS_READ, EVENTS_READ, GRIEVANCES_READ}
    ),
}


def is_admin_scope(scope: str) -> bool:
    """Anything under ``admin:`` is reserved: it can only be granted as an admin scope."""
    return scope.startswith(PREFIX)


def grantable(platform: bool) -> tuple[str, ...]:
    """The admin scopes a client or user of an org may hold: platform scopes in the platform org only."""
    return ADMIN_SCOPES + PLATFORM_SCOPES if platform else ADMIN_SCOPES


def validate_admin_scopes(scopes: Iterable[str], *, platform: bool) -> list[str]:
    """The admin scopes an org may grant, deduplicated in order; ValueError naming another one."""
    allowed = grantable(platform)
    result = list(dict.fromkeys(scopes))
    for scope in result:
        if scope not in allowed:
            raise ValueError(f"admin scope {scope!r} cannot be granted here; use {', '.join(allowed)}")
    return result


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use {' or '.join(ROLES)}")
    return role


def role_scopes(roles: Iterable[str], *, platform: bool) -> frozenset[str]:
    """The admin scopes that ``roles`` carry together; an ``org_admin`` of the platform org also
    manages organizations."""
    roles = set(roles)
    carried = frozenset().union(*(ROLES.get(role, frozenset()) for role in roles))
    return carried | frozenset(PLATFORM_SCOPES) if platform and "org_admin" in roles else carried
