"""OAuth 2.0 / OIDC errors: one class per registered error code.

RFC 6749 §4.1.2.1 (authorization), §5.2 (token), RFC 6750 §3.1 (bearer), RFC 7009 §2.2.1,
OIDC Core §3.1.2.6. ``allow_redirect`` is False where the client or redirect URI cannot be
trusted (RFC 6749 §4.1.2.1: such errors are shown to the user, never redirected).
"""

from __future__ import annotations

import re
from typing import ClassVar

# RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_OUTSIDE_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    """An error answered in the protocol's own format."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400
    allow_redirect: ClassVar[bool] = True

    def __init__(self, description: str = "") -> None:
        # A description may quote the request (a parameter's name): each character RFC 6749 §5.2
        # does not allow becomes "?", so that it also fits RFC 6750 §3's quoted-string unescaped.
        description = _OUTSIDE_DESCRIPTION.sub("?", description)
        super().__init__(description)
        self.description = description

    def as_dict(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed (RFC 6749 §5.2): 401 with WWW-Authenticate."""

    error = "invalid_client"
    status_code = 401
    allow_redirect = False


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503


class InvalidRedirectUri(OAuthError):
    """The redirect URI is not registered: shown on an error page, never redirected to."""

    error = "invalid_request"
    allow_redirect = False


class UnknownClient(OAuthError):
    """At /authorize: no such (active) client; shown on an error page."""

    error = "invalid_client"
    allow_redirect = False


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class InteractionRequired(OAuthError):
    error = "interaction_required"


class RequestNotSupported(OAuthError):
    """OIDC Core §3.1.2.6: the ``request`` parameter (request objects) is not supported."""

    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    """OIDC Core §3.1.2.6: the ``request_uri`` parameter is not supported."""

    error = "request_uri_not_supported"


class InvalidTarget(OAuthError):
    """RFC 8707 §2, RFC 8693 §2.2.2: the resource (or audience) is unknown or unacceptable."""

    error = "invalid_target"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: the access token is expired, revoked, malformed or invalid."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status_code = 403


class UnsupportedTokenType(OAuthError):
    """RFC 7009 §2.2.1."""

    error = "unsupported_token_type"
