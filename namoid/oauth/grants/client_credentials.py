"""The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself."""

from __future__ import annotations

from namoid.oauth import tokens
from namoid.oauth.errors import InvalidScope, UnauthorizedClient
from namoid.oauth.grants import TokenRequest, issue
from namoid.oauth.params import requested_scopes

#: Scopes about a user; a client acting for itself can hold neither.
USER_SCOPES = frozenset({"openid", "offline_access"})


async def client_credentials(request: TokenRequest) -> tokens.Minted:
    """RFC 6749 §4.4.2: scope ⊆ the client's scopes (default: all of them but user scopes);
    no ID token and no refresh token (§4.4.3); ``sub`` is the client."""
    client = request.client
    if client.client_type != "confidential" or "client_credentials" not in client.grant_types:
        raise UnauthorizedClient("the client may not use the client_credentials grant")
    allowed = [scope for scope in client.scopes if scope not in USER_SCOPES]
    requested = requested_scopes(request.form)
    if requested is not None and not set(requested) <= set(allowed):
        raise InvalidScope("the requested scope exceeds what the client may request")
    scope = allowed if requested is None else requested
    return await issue(request, tokens.Grant(client_id=client.client_id, scope=" ".join(scope)))
