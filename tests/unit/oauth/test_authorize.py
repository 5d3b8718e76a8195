"""The authorization request checks, the interaction state machine and logout resolution, pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from namoid.oauth import end_session, interactions
from namoid.oauth.authorization_response import Reply, csp_source, with_query
from namoid.oauth.authorize import AuthorizationParams, Rejected, parse, redirect_uri_matches, validate
from namoid.oauth.errors import ConsentRequired, InvalidRequest, LoginRequired
from namoid.storage.models import Client

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REDIRECT = "https://rp.example/cb"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _client(**fields: object) -> Client:
    values: dict[str, object] = {
        "client_id": "rp",
        "name": "RP",
        "client_type": "confidential",
        "status": "active",
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://rp.example/bye"],
        "grant_types": ["authorization_code"],
        "scopes": ["openid", "profile", "email"],
        "first_party": False,
    }
    return Client(**(values | fields))


def _pairs(**overrides: str | None) -> list[tuple[str, str]]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "rp",
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "st",
        "nonce": "nn",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    } | overrides
    return [(k, v) for k, v in params.items() if v is not None]


def _validate(client: Client | None = None, **overrides: str | None) -> AuthorizationParams:
    return validate(parse(_pairs(**overrides)), client or _client())[1]


def _rejected(
    client: Client | None = None, pairs: list[tuple[str, str]] | None = None, **overrides: str | None
) -> Rejected:
    with pytest.raises(Rejected) as caught:
        validate(
            parse(pairs if pairs is not None else _pairs(**overrides)),
            _client() if client is None else client,
        )
    return caught.value


def test_a_valid_request() -> None:
    params = _validate(prompt="login consent", max_age="30", login_hint="a@b.example", ignored="x")
    assert params.client_id == "rp" and params.redirect_uri == REDIRECT and params.state == "st"
    assert params.scopes == ("openid", "profile") and params.scope == "openid profile"
    assert params.nonce == "nn" and params.code_challenge == CHALLENGE
    assert params.prompt == frozenset({"login", "consent"}) and params.max_age == 30
    assert params.response_mode == "query" and params.login_hint == "a@b.example"
    assert AuthorizationParams.from_json(params.to_json()) == params


def test_parse_repeated_malformed_and_empty() -> None:
    parsed = parse(
        [("a", "1"), ("a", "2"), ("b", "x" * 5000), ("c", "ok\x00"), ("d", ""), ("e", "fine"), ("b", "y")]
    )
    assert parsed.values == {"e": "fine"}
    assert parsed.repeated == {"a", "b"} and parsed.malformed == {"c"}
    assert parsed.present("a") and parsed.present("c") and not parsed.present("d")


def test_untrusted_client_or_redirect_uri_is_never_redirected() -> None:
    with pytest.raises(Rejected) as caught:
        validate(parse(_pairs()), None)
    assert caught.value.reply is None and caught.value.error.error == "invalid_client"
    for client in (_client(status="disabled"), _client(client_id="other")):
        assert _rejected(client=client).reply is None
    for uri in ("https://rp.example/cb/", "https://rp.example/cb?x", "http://rp.example/cb", None):
        rejected = _rejected(
            client=_client(redirect_uris=[REDIRECT, "https://rp.example/two"]), redirect_uri=uri
        )
        assert rejected.reply is None and rejected.error.error == "invalid_request"


def test_errors_after_trust_carry_the_reply() -> None:
    rejected = _rejected(code_challenge_method="plain", response_mode="form_post")
    assert rejected.reply == Reply(REDIRECT, "form_post", "st")
    assert isinstance(rejected.error, InvalidRequest)
    bad_mode = _rejected(response_mode="fragment")
    assert bad_mode.reply == Reply(REDIRECT, "query", "st")
    bad_state = _rejected(pairs=[*_pairs(), ("state", "again")])
    assert bad_state.reply == Reply(REDIRECT, "query", None)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "a" * 42}, "invalid_request"),
        ({"code_challenge": "a" * 43 + "!"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"prompt": "none consent"}, "invalid_request"),
        ({"prompt": "create"}, "invalid_request"),
        ({"max_age": "-5"}, "invalid_request"),
        ({"nonce": "n" * 513}, "invalid_request"),
        ({"request": "x"}, "request_not_supported"),
        ({"request_uri": "x"}, "request_uri_not_supported"),
    ],
)
def test_each_check(overrides: dict[str, str | None], error: str) -> None:
    rejected = _rejected(**overrides)
    assert rejected.error.error == error and rejected.reply is not None


def test_scope_rules() -> None:
    assert _validate(scope="profile  profile email").scopes == ("profile", "email")
    assert _validate(scope="profile").nonce is None  # pure OAuth: no ID token, so no nonce
    assert _rejected(client=_client(grant_types=["client_credentials"])).error.error == "unauthorized_client"


def test_single_registered_uri_may_be_omitted() -> None:
    assert _validate(redirect_uri=None).redirect_uri == REDIRECT


def test_form_post_needs_a_redirect_uri_a_csp_can_name() -> None:
    unicode_host = "https://b\u00fccher.example/cb"
    rejected = _rejected(
        client=_client(redirect_uris=[unicode_host]), redirect_uri=unicode_host, response_mode="form_post"
    )
    assert rejected.error.error == "invalid_request" and rejected.reply is not None


def test_over_long_login_hint_is_dropped() -> None:
    assert _validate(login_hint="a" * 400).login_hint is None


@pytest.mark.parametrize(
    ("given", "registered", "client_type", "matches"),
    [
        ("http://127.0.0.1:5000/cb", "http://127.0.0.1/cb", "public", True),
        ("http://127.0.0.1/cb", "http://127.0.0.1:80/cb", "public", True),
        ("http://[::1]:5000/cb", "http://[::1]/cb", "public", True),
        ("http://127.0.0.1:5000/cb", "http://127.0.0.1/cb", "confidential", False),
        ("http://localhost:5000/cb", "http://localhost/cb", "public", False),
        ("http://127.0.0.1:5000/cb2", "http://127.0.0.1/cb", "public", False),
        ("http://127.0.0.1:99999/cb", "http://127.0.0.1/cb", "public", False),
        ("http://127.0.0.1:5000@x/cb", "http://127.0.0.1/cb", "public", False),
        ("https://rp.example/cb", "https://rp.example/cb", "confidential", True),
        ("https://rp.example/cb ", "https://rp.example/cb", "confidential", False),
    ],
)
def test_redirect_uri_matching(given: str, registered: str, client_type: str, matches: bool) -> None:
    assert redirect_uri_matches(given, registered, client_type) is matches


def test_reply_parameters() -> None:
    reply = Reply("https://rp.example/cb?a=1", "query", "s t")
    assert reply.code("C", "https://id/o/x") == [("code", "C"), ("state", "s t"), ("iss", "https://id/o/x")]
    assert reply.error(InvalidRequest("bad"), "I") == [
        ("error", "invalid_request"),
        ("error_description", "bad"),
        ("state", "s t"),
        ("iss", "I"),
    ]
    assert with_query(reply.redirect_uri, [("state", "s t")]) == "https://rp.example/cb?a=1&state=s+t"
    assert with_query("https://rp.example/cb", []) == "https://rp.example/cb"


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("https://rp.example/cb", "https://rp.example"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080"),
        ("http://[::1]:8080/cb", "http://[::1]:8080"),
        ("com.example.app:/cb", "com.example.app:"),
        ("https://b\u00fccher.example/cb", None),
        ("https://a;b/cb", None),
    ],
)
def test_csp_source(uri: str, source: str | None) -> None:
    assert csp_source(uri) == source


# --- interactions -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Auth:
    auth_time: datetime


def _step(
    params: AuthorizationParams,
    auth: _Auth | None,
    granted: list[str] | None = None,
    *,
    first_party: bool = False,
    started_at: datetime = NOW,
) -> object:
    return interactions.next_step(
        params, started_at=started_at, auth=auth, granted=granted, first_party=first_party, now=NOW
    )


def test_next_step() -> None:
    params = _validate()
    earlier = _Auth(NOW - timedelta(minutes=5))
    assert _step(params, None) == "login"
    assert _step(params, earlier) == "consent"
    assert _step(params, earlier, ["openid", "profile", "email"]) is earlier
    assert _step(params, earlier, ["openid"]) == "consent"
    assert _step(params, earlier, first_party=True) is earlier
    assert _step(_validate(prompt="consent"), earlier, ["openid", "profile"], first_party=True) == "consent"
    kyc = _validate(client=_client(scopes=["openid", "kyc"]), scope="openid kyc")
    assert _step(kyc, earlier, first_party=True) == "consent"  # never implied, even first party
    assert _step(kyc, earlier, ["openid", "kyc"], first_party=True) is earlier  # once given, remembered


def test_fresh_login_is_needed_for_prompt_login_and_max_age() -> None:
    earlier = _Auth(NOW - timedelta(minutes=5))
    fresh = _Auth(NOW + timedelta(seconds=1))
    for params in (_validate(prompt="login"), _validate(max_age="0"), _validate(max_age="60")):
        assert _step(params, earlier, ["openid", "profile"]) == "login"
        assert _step(params, fresh, ["openid", "profile"]) is fresh  # signed in after the request began
    assert _step(_validate(max_age="600"), earlier, ["openid", "profile"]) is earlier


def test_prompt_none_turns_interactions_into_errors() -> None:
    params = _validate(prompt="none")
    with pytest.raises(LoginRequired):
        _step(params, None)
    with pytest.raises(ConsentRequired):
        _step(params, _Auth(NOW))
    assert isinstance(_step(params, _Auth(NOW), ["openid", "profile"]), _Auth)


# --- logout -------------------------------------------------------------------------------


def test_logout_resolution() -> None:
    client = _client()
    hint = frozenset({"rp"})
    good = parse([("post_logout_redirect_uri", "https://rp.example/bye"), ("state", "s")])
    assert end_session.client_id_of(good, hint) == "rp"
    assert end_session.client_id_of(parse([("client_id", "other")]), hint) is None
    assert end_session.client_id_of(parse([("client_id", "rp")]), None) == "rp"
    assert end_session.client_id_of(good, frozenset({"a", "b"})) is None
    resolved = end_session.resolve(good, hint_given=True, audiences=hint, client=client)
    assert resolved.post_logout_redirect_uri == "https://rp.example/bye" and resolved.state == "s"
    for kwargs in (
        {"hint_given": True, "audiences": None, "client": client},  # a hint that did not verify
        {"hint_given": False, "audiences": None, "client": None},  # no client identified
        {"hint_given": True, "audiences": hint, "client": _client(status="disabled")},
    ):
        denied = end_session.resolve(good, **kwargs)
        assert denied.post_logout_redirect_uri is None and denied.state is None
    unregistered = parse([("post_logout_redirect_uri", "https://rp.example/bye/")])
    assert (
        end_session.resolve(
            unregistered, hint_given=False, audiences=None, client=client
        ).post_logout_redirect_uri
        is None
    )
