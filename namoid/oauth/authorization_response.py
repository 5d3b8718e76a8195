"""The authorization response: where it goes and what it carries.

RFC 6749 §4.1.2 (code, state), §4.1.2.1 (errors), RFC 9207 §2 (``iss`` in every response),
OAuth 2.0 Form Post Response Mode §2 (``form_post``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode, urlsplit

from namoid.oauth.errors import OAuthError

ResponseMode = Literal["query", "form_post"]
RESPONSE_MODES: tuple[ResponseMode, ...] = ("query", "form_post")
#: What may stand in a CSP source expression for a redirect target (CSP3 §2.3.1), ASCII only.
_HTTP_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$"
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


@dataclass(frozen=True, slots=True)
class Reply:
    """A verified redirect URI and how to answer on it."""

    redirect_uri: str
    response_mode: ResponseMode
    state: str | None

    def _with_common(self, pairs: list[tuple[str, str]], issuer: str) -> list[tuple[str, str]]:
        if self.state is not None:
            pairs.append(("state", self.state))
        pairs.append(("iss", issuer))
        return pairs

    def code(self, code: str, issuer: str) -> list[tuple[str, str]]:
        """RFC 6749 §4.1.2 with RFC 9207 §2: code, state (as received), iss."""
        return self._with_common([("code", code)], issuer)

    def error(self, error: OAuthError, issuer: str) -> list[tuple[str, str]]:
        """RFC 6749 §4.1.2.1 with RFC 9207 §2: error, error_description, state, iss."""
        return self._with_common(list(error.as_dict().items()), issuer)


def with_query(uri: str, pairs: list[tuple[str, str]]) -> str:
    """``uri`` with ``pairs`` added to its query, keeping the query it has (RFC 6749 §3.1.2)."""
    if not pairs:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(pairs)}"


def csp_source(uri: str) -> str | None:
    """The CSP source expression matching ``uri`` (its origin, or ``scheme:`` for private-use
    schemes, RFC 8252 §7.1); None when it cannot be written safely in a header."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc}"
        return origin if _HTTP_ORIGIN.match(origin) else None
    return f"{parts.scheme}:" if _SCHEME.match(parts.scheme) else None
