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

ADMIN_SCOPES: tuple[str, ...] = (CLIENTS_READ, CLIENTS_WRITE, USERS_READ, USERS_WRITE, AUDIT_READ)
PREFIX = "admin:"

#: role → the admin scopes it carries.
ROLES: dict[str, frozenset[str]] = {
    "org_admin": frozenset(ADMIN_SCOPES),
    "auditor": frozenset({CLIENTS_READ, USERS_READ, AUDIT_READ}),
}


def is_admin_scope(scope: str) -> bool:
    """Anything under ``admin:`` is reserved: it can only be granted as an admin scope."""
    return scope.startswith(PREFIX)


def validate_admin_scopes(scopes: Iterable[str]) -> list[str]:
    """The known admin scopes, deduplicated in order; ValueError naming an unknown one."""
    result = list(dict.fromkeys(scopes))
    for scope in result:
        if scope not in ADMIN_SCOPES:
            raise ValueError(f"unknown admin scope {scope!r}; use {', '.join(ADMIN_SCOPES)}")
    return result


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use {' or '.join(ROLES)}")
    return role


def role_scopes(roles: Iterable[str]) -> frozenset[str]:
    """The admin scopes that ``roles`` carry together."""
    return frozenset().union(*(ROLES.get(role, frozenset()) for role in roles))
