"""The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself.

A client the org granted admin scopes (issue 16) gets a token for the admin API by naming it
as the resource (RFC 8707 §2): the token's ``aud`` is then the admin API, never the issuer,
and it carries admin scopes only. Admin scopes are never issued without that resource.
"""

from __future__ import annotations

from namoid.admin.scopes import is_admin_scope
from namoid.oauth import tokens
from namoid.oauth.errors import InvalidScope, InvalidTarget, UnauthorizedClient
from namoid.oauth.grants import TokenRequest, issue
from namoid.oauth.params import requested_scopes

#: Scopes about a user; a client acting for itself can hold neither.
USER_SCOPES = frozenset({"openid", "offline_access"})


def _audience(request: TokenRequest) -> tuple[str | None, list[str]]:
    """The resource the token is for (None: the issuer) and the scopes the client may get for it."""
    client, resource = request.client, request.form.get("resource")
    if resource is None:
        return None, [scope for scope in client.scopes if scope not in USER_SCOPES]
    if resource != request.services.settings.admin_resource or not client.admin_scopes:
        raise InvalidTarget("the resource is unknown, or not one this client may get tokens for")
    return resource, list(client.admin_scopes)


async def client_credentials(request: TokenRequest) -> tokens.Minted:
    """RFC 6749 §4.4.2: scope ⊆ the client's scopes for the resource (default: all of them but
    user scopes); no ID token and no refresh token (§4.4.3); ``sub`` is the client."""
    client = request.client
    if client.client_type != "confidential" or "client_credentials" not in client.grant_types:
        raise UnauthorizedClient("the client may not use the client_credentials grant")
    audience, allowed = _audience(request)
    requested = requested_scopes(request.form)
    if requested is not None and not set(requested) <= set(allowed):
        raise InvalidScope("the requested scope exceeds what the client may request")
    if audience is None and any(is_admin_scope(scope) for scope in requested or ()):
        raise InvalidScope("admin scopes are issued only for the admin API as the resource")
    scope = allowed if requested is None else requested
    grant = tokens.Grant(client_id=client.client_id, scope=" ".join(scope), audience=audience)
    return await issue(request, grant)
