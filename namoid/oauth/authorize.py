"""The authorization endpoint as an ordered list of small checks.

RFC 6749 §4.1.1 and §4.1.2.1, OAuth 2.1 §4.1.1, RFC 9700 §2.1 and §4.1 (exact redirect URI
matching), RFC 7636 §4.3 (PKCE, S256 only), RFC 8252 §7.3 (loopback ports), OIDC Core §3.1.2.1
and §6 (prompt, max_age, nonce, request objects). Pure: the caller looks the client up and
stores the validated request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from namoid.oauth import claims_request
from namoid.oauth.authorization_response import RESPONSE_MODES, Reply, ResponseMode, csp_source
from namoid.oauth.errors import (
    InvalidRedirectUri,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnknownClient,
    UnsupportedResponseType,
)
from namoid.storage.models import Client

#: Longest accepted parameter value: a DoS guard far above any honest state or nonce.
MAX_VALUE = 2048
MAX_NONCE = 512
MAX_LOGIN_HINT = 320
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"^[a-z_]{1,32}$")
# RFC 7636 §4.2 with §4.1's S256: BASE64URL(SHA-256(verifier)), here 43-128 base64url characters.
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3
_MAX_AGE = re.compile(r"^[0-9]{1,9}$")
#: The languages NamoID's pages and messages come in (the code pages and messages, web/code_texts.py).
UI_LOCALES_SUPPORTED = ("en", "hi")
#: Up to 10 BCP 47 tags (RFC 5646), space-separated (OIDC Core §3.1.2.1).
_UI_LOCALES = re.compile(
    r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,4}( [A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,4}){0,9}"
)
# RFC 8252 §7.3: loopback IP literal, optional port, then path and query compared exactly.
_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?(/[^#]*)?$")


class Rejected(Exception):
    """The request failed: answer on ``reply`` when set, else on an error page (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: OAuthError, reply: Reply | None) -> None:
        super().__init__(error.error)
        self.error = error
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Parameters:
    """The request's parameters: single well-formed values, and the names that were not."""

    values: dict[str, str]
    repeated: frozenset[str]
    malformed: frozenset[str]

    def usable(self, name: str) -> bool:
        return name not in self.repeated and name not in self.malformed

    def present(self, name: str) -> bool:
        return name in self.values or name in self.repeated or name in self.malformed


def parse(pairs: Iterable[tuple[str, str]]) -> Parameters:
    """RFC 6749 §3.1: empty parameters count as omitted; none may be sent twice (kept as
    ``repeated``); over-long values or control characters are ``malformed``."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    malformed: set[str] = set()
    for name, value in pairs:
        if not value:
            continue
        if name in values or name in repeated or name in malformed:
            repeated.add(name)
            values.pop(name, None)
        elif len(value) > MAX_VALUE or _CONTROL.search(value):
            malformed.add(name)
        else:
            values[name] = value
    return Parameters(values, frozenset(repeated), frozenset(malformed - repeated))


@dataclass(frozen=True, slots=True)
class AuthorizationParams:
    """A validated authorization request, as stored while the user signs in and consents."""

    client_id: str
    redirect_uri: str
    response_mode: ResponseMode
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str
    nonce: str | None
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    #: Claims asked for inside ``verified_claims`` in the ID token (namoid.oauth.claims_request).
    verified_claims: tuple[str, ...] = ()
    #: The same, at UserInfo.
    userinfo_verified_claims: tuple[str, ...] = ()
    #: The end user's preferred languages, BCP 47 tags by preference (OIDC Core §3.1.2.1).
    ui_locales: str | None = None

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    @property
    def reply(self) -> Reply:
        return Reply(self.redirect_uri, self.response_mode, self.state)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_mode": self.response_mode,
            "state": self.state,
            "scopes": list(self.scopes),
            "code_challenge": self.code_challenge,
            "nonce": self.nonce,
            "prompt": sorted(self.prompt),
            "max_age": self.max_age,
            "login_hint": self.login_hint,
            "verified_claims": list(self.verified_claims),
            "userinfo_verified_claims": list(self.userinfo_verified_claims),
            "ui_locales": self.ui_locales,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthorizationParams:
        """Rebuild what ``to_json`` stored (our own row, so no re-validation)."""
        verified = tuple(data.get("verified_claims", ()))  # absent in rows stored before issue 14
        fixed = {"scopes": tuple(data["scopes"]), "prompt": frozenset(data["prompt"])}
        fixed["verified_claims"] = verified
        fixed["userinfo_verified_claims"] = tuple(data.get("userinfo_verified_claims", ()))
        return cls(**(data | fixed))


@dataclass
class _Draft:
    params: Parameters
    client: Client | None
    redirect_uri: str = ""
    response_mode: ResponseMode = "query"
    state: str | None = None
    scopes: tuple[str, ...] = ()
    code_challenge: str = ""
    nonce: str | None = None
    prompt: frozenset[str] = field(default_factory=frozenset)
    max_age: int | None = None
    login_hint: str | None = None
    verified_claims: tuple[str, ...] = ()
    userinfo_verified_claims: tuple[str, ...] = ()
    ui_locales: str | None = None

    def get(self, name: str) -> str | None:
        return self.params.values.get(name)

    @property
    def trusted_client(self) -> Client:
        if self.client is None:  # _check_client runs first; this keeps the type checker honest
            raise UnknownClient("unknown client")
        return self.client

    def reply(self) -> Reply:
        return Reply(self.redirect_uri, self.response_mode, self.state)

    def result(self) -> AuthorizationParams:
        return AuthorizationParams(
            client_id=self.trusted_client.client_id,
            redirect_uri=self.redirect_uri,
            response_mode=self.response_mode,
            state=self.state,
            scopes=self.scopes,
            code_challenge=self.code_challenge,
            nonce=self.nonce,
            prompt=self.prompt,
            max_age=self.max_age,
            login_hint=self.login_hint,
            verified_claims=self.verified_claims,
            userinfo_verified_claims=self.userinfo_verified_claims,
            ui_locales=self.ui_locales,
        )


def redirect_uri_matches(given: str, registered: str, client_type: str) -> bool:
    """Exact string equality (RFC 9700 §4.1.3); for public native clients, a loopback IP
    redirect URI may differ only in its port (RFC 8252 §7.3)."""
    if given == registered:
        return True
    if client_type != "public":
        return False
    key = _loopback_key(given)
    return key is not None and key == _loopback_key(registered)


def _loopback_key(uri: str) -> tuple[str, str] | None:
    match = _LOOPBACK.match(uri)
    if match is None or (match.group(2) is not None and not 0 < int(match.group(2)) < 65536):
        return None
    return match.group(1), match.group(3) or ""


# --- the checks, in order -----------------------------------------------------------------


def _check_client(draft: _Draft) -> None:
    """RFC 6749 §4.1.2.1: an unknown client is never redirected to."""
    client = draft.client
    if client is None or client.status != "active" or client.client_id != draft.get("client_id"):
        raise UnknownClient("unknown or disabled client")


def _check_redirect_uri(draft: _Draft) -> None:
    """RFC 6749 §3.1.2.3, OAuth 2.1 §2.3.1: exact match; omitted only if just one is registered."""
    client = draft.trusted_client
    given = draft.get("redirect_uri")
    if given is None and draft.params.present("redirect_uri"):
        raise InvalidRedirectUri("redirect_uri is repeated or malformed")
    if given is None:
        if len(client.redirect_uris) != 1:
            raise InvalidRedirectUri("redirect_uri is required")
        given = client.redirect_uris[0]
    if not any(redirect_uri_matches(given, uri, client.client_type) for uri in client.redirect_uris):
        raise InvalidRedirectUri("redirect_uri is not registered for this client")
    draft.redirect_uri = given


def _check_state(draft: _Draft) -> None:
    """RFC 6749 §4.1.2: state is returned exactly as received (so it must be one clean value)."""
    if not draft.params.usable("state"):
        raise InvalidRequest("state is repeated or malformed")
    draft.state = draft.get("state")


def _check_response_mode(draft: _Draft) -> None:
    """OAuth 2.0 Multiple Response Types §2.1 and Form Post Response Mode §2."""
    mode = draft.get("response_mode")
    if not draft.params.usable("response_mode"):
        raise InvalidRequest("response_mode is repeated or malformed")
    if mode is None:
        return
    for known in RESPONSE_MODES:
        if mode == known:
            if known == "form_post" and csp_source(draft.redirect_uri) is None:
                raise InvalidRequest("form_post is not available for this redirect_uri")
            draft.response_mode = known
            return
    raise InvalidRequest("response_mode must be query or form_post")


def _check_repeats(draft: _Draft) -> None:
    """RFC 6749 §3.1: parameters must not be included more than once."""
    for names, problem in ((draft.params.repeated, "is repeated"), (draft.params.malformed, "is malformed")):
        if names:
            name = min(names)
            raise InvalidRequest(
                f"parameter {name} {problem}" if _NAME.match(name) else f"a parameter {problem}"
            )


def _check_request_objects(draft: _Draft) -> None:
    """OIDC Core §6: request objects are not supported."""
    if draft.params.present("request"):
        raise RequestNotSupported("request objects are not supported")
    if draft.params.present("request_uri"):
        raise RequestUriNotSupported("request_uri is not supported")


def _check_response_type(draft: _Draft) -> None:
    """OAuth 2.1 §4.1.1: only the authorization code flow."""
    response_type = draft.get("response_type")
    if response_type is None:
        raise InvalidRequest("response_type is required")
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")


def _check_grant(draft: _Draft) -> None:
    """RFC 6749 §4.1.2.1: the client must be allowed the authorization code grant."""
    if "authorization_code" not in draft.trusted_client.grant_types:
        raise UnauthorizedClient("this client may not use the authorization code flow")


def _check_pkce(draft: _Draft) -> None:
    """OAuth 2.1 §4.1.1, RFC 7636 §4.3: a code_challenge is required, and only S256."""
    challenge = draft.get("code_challenge")
    if challenge is None:
        raise InvalidRequest("code_challenge is required (PKCE with S256)")
    if draft.get("code_challenge_method") != "S256":
        raise InvalidRequest("code_challenge_method must be S256")
    if not _CODE_CHALLENGE.match(challenge):
        raise InvalidRequest("code_challenge must be 43-128 base64url characters")
    draft.code_challenge = challenge


def _check_scope(draft: _Draft) -> None:
    """RFC 6749 §3.3: a scope is required; every token must be allowed for the client."""
    scope = draft.get("scope")
    if scope is None:
        raise InvalidScope("scope is required")
    tokens = tuple(dict.fromkeys(token for token in scope.split(" ") if token))
    for token in tokens:
        if not _SCOPE_TOKEN.match(token):
            raise InvalidScope("scope is malformed")
        if token not in draft.trusted_client.scopes:
            raise InvalidScope(f"scope {token} is not allowed for this client")
    if not tokens:
        raise InvalidScope("scope is required")
    draft.scopes = tokens


def _check_nonce(draft: _Draft) -> None:
    """OIDC Core §3.1.2.1: the nonce goes into the ID token, so only with the openid scope."""
    nonce = draft.get("nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise InvalidRequest(f"nonce must be at most {MAX_NONCE} characters")
    draft.nonce = nonce if "openid" in draft.scopes else None


def _check_claims(draft: _Draft) -> None:
    """OIDC Core §5.5: the ``claims`` parameter; its ``verified_claims`` need openid."""
    requested = claims_request.verified_claims_requested(draft.get("claims"))
    if "openid" in draft.scopes:
        draft.verified_claims, draft.userinfo_verified_claims = requested.id_token, requested.userinfo


def _check_prompt(draft: _Draft) -> None:
    """OIDC Core §3.1.2.1: known prompt values only; ``none`` stands alone."""
    prompt = frozenset((draft.get("prompt") or "").split())
    if not prompt <= PROMPTS:
        raise InvalidRequest("prompt must be none, login, consent or select_account")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    draft.prompt = prompt


def _check_max_age(draft: _Draft) -> None:
    """OIDC Core §3.1.2.1: max_age is a non-negative number of seconds."""
    max_age = draft.get("max_age")
    if max_age is None:
        return
    if not _MAX_AGE.match(max_age):
        raise InvalidRequest("max_age must be a non-negative integer")
    draft.max_age = int(max_age)


def _check_login_hint(draft: _Draft) -> None:
    """OIDC Core §3.1.2.1: a hint only, so an implausible one is dropped, not refused."""
    hint = draft.get("login_hint")
    draft.login_hint = hint if hint is not None and len(hint) <= MAX_LOGIN_HINT else None


def _check_ui_locales(draft: _Draft) -> None:
    """OIDC Core §3.1.2.1: a preference, so an implausible value is dropped, not refused."""
    value = draft.get("ui_locales")
    draft.ui_locales = value if value is not None and _UI_LOCALES.fullmatch(value) else None


#: Order matters: until the client and redirect URI are trusted, errors go to an error page;
#: then state and response_mode shape the reply every later error is sent on.
CHECKS: tuple[Callable[[_Draft], None], ...] = (
    _check_client,
    _check_redirect_uri,
    _check_state,
    _check_response_mode,
    _check_repeats,
    _check_request_objects,
    _check_response_type,
    _check_grant,
    _check_pkce,
    _check_scope,
    _check_nonce,
    _check_claims,
    _check_prompt,
    _check_max_age,
    _check_login_hint,
    _check_ui_locales,
)


def validate(params: Parameters, client: Client | None) -> tuple[Client, AuthorizationParams]:
    """Run ``CHECKS`` on a request for ``client`` (looked up by its ``client_id``).

    Returns the trusted client and the validated request, or raises Rejected.
    """
    draft = _Draft(params, client)
    for check in CHECKS:
        try:
            check(draft)
        except OAuthError as error:
            reply = draft.reply() if error.allow_redirect and draft.redirect_uri else None
            raise Rejected(error, reply) from None
    return draft.trusted_client, draft.result()
