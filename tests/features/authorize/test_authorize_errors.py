"""Bad and hostile /authorize requests: error pages where the client or redirect URI is not
trusted (never a redirect), else RFC 6749 §4.1.2.1 errors on the redirect URI with state and iss."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from namoid.storage.models import AuditEntry, AuthorizationRequest, Client
from tests.features.authorize.conftest import REDIRECT_URI, STATE, Flow, query
from tests.features.conftest import MakeClient

#: Each differs from the registered https://rp.example/callback in one way an attacker might try.
OPEN_REDIRECTS = (
    "https://rp.example/callback/evil",  # extra path
    "https://rp.example/callback?next=https://evil.example",  # extra query
    "https://rp.example/callback#fragment",  # fragment
    "https://rp.example/callback#",  # empty fragment
    "https://rp.example:8443/callback",  # another port
    "https://rp.example:443/callback",  # the default port spelled out
    "http://rp.example/callback",  # http instead of https
    "https://user@rp.example/callback",  # userinfo
    "https://rp.example@evil.example/callback",  # userinfo hiding another host
    "https://rp.example\\@evil.example/callback",  # backslash confusion
    "https://evil.example/callback",  # another host
    "https://rp.example.evil.example/callback",  # a suffix host
    "https://r\u0440.example/callback",  # Cyrillic er: a unicode look-alike
    "https://xn--r-2sb.example/callback",  # the same look-alike as punycode
    "https://RP.example/callback",  # case change in the host
    "https://rp.example/Callback",  # case change in the path
    "HTTPS://rp.example/callback",  # case change in the scheme
    "https://rp.example/callback/",  # trailing slash
    "https://rp.example/%63allback",  # percent-encoding of a letter
    "https://rp.example/callback%2F..%2Fevil",  # percent-encoded traversal
    "https://rp.example/x/../callback",  # dot segments
    " https://rp.example/callback",  # leading space
    "https://rp.example/callback\t",  # control character
    "//evil.example/callback",  # scheme-relative
    "javascript:alert(1)//https://rp.example/callback",  # another scheme
)


async def test_open_redirect_attempts_get_an_error_page(flow: Flow) -> None:
    for uri in OPEN_REDIRECTS:
        response = await flow.authorize(redirect_uri=uri)
        assert response.status_code == 400, uri
        assert "location" not in response.headers, uri
        assert response.headers["content-type"].startswith("text/html")
        assert uri not in response.text  # nothing of the URI is echoed
    assert await flow.count(AuthorizationRequest) == 0
    async with flow.services.db.tenant(flow.org.id) as session:
        rejected = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.org_id == flow.org.id, AuditEntry.action == "authorize.rejected"
                )
            )
        )
    assert len(rejected) == len(OPEN_REDIRECTS)
    assert all(e.outcome == "denied" and "redirect_uri" in e.detail["reason"] for e in rejected)
    assert {e.detail.get("redirect_uri") for e in rejected} >= {u for u in OPEN_REDIRECTS if "\t" not in u}


async def test_redirect_uri_rules(flow: Flow, make_client: MakeClient) -> None:
    # several registered: omitting it is not allowed, repeating it neither (even if both match)
    omitted = await flow.authorize(redirect_uri=None)
    assert omitted.status_code == 400 and "location" not in omitted.headers
    repeated = await flow.http.get(
        f"{flow.base}/authorize",
        params=[*flow.params().items(), ("redirect_uri", REDIRECT_URI)],
    )
    assert repeated.status_code == 400 and "location" not in repeated.headers
    # the other registered URI works
    other = await flow.authorize(redirect_uri="https://rp.example/other")
    assert other.headers["location"].startswith(f"{flow.base}/login?req=")
    # exactly one registered: it may be omitted
    flow.rp = await make_client(redirect_uris=["https://single.example/cb"])
    single = await flow.authorize(redirect_uri=None)
    assert single.headers["location"].startswith(f"{flow.base}/login?req=")
    error = await flow.authorize(redirect_uri=None, scope="admin")
    assert error.headers["location"].startswith("https://single.example/cb?error=invalid_scope")


async def test_loopback_redirect_uris_of_native_clients_may_change_port(
    flow: Flow, make_client: MakeClient
) -> None:
    native = await make_client(
        client_type="public", redirect_uris=["http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1"]
    )
    web = await make_client(redirect_uris=["http://127.0.0.1/cb"])
    flow.rp = native
    for ok in ("http://127.0.0.1:53123/cb", "http://127.0.0.1/cb", "http://[::1]:9/cb?x=1"):
        response = await flow.authorize(redirect_uri=ok)
        assert response.headers["location"].startswith(f"{flow.base}/login?req="), ok
    error = query(
        (await flow.authorize(redirect_uri="http://127.0.0.1:53123/cb", scope="x")).headers["location"]
    )
    assert error["error"] == "invalid_scope" and error["iss"] == flow.issuer
    for bad in (
        "http://127.0.0.1:53123/cb/x",
        "http://127.0.0.1:53123/cb?x=1",
        "https://127.0.0.1:53123/cb",
        "http://localhost:53123/cb",
        "http://127.0.0.2:53123/cb",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:65536/cb",
        "http://127.0.0.1:53123@evil.example/cb",
        "http://[::1]:9/cb",
    ):
        response = await flow.authorize(redirect_uri=bad)
        assert response.status_code == 400 and "location" not in response.headers, bad
    flow.rp = web  # a confidential client gets exact matching only
    response = await flow.authorize(redirect_uri="http://127.0.0.1:53123/cb")
    assert response.status_code == 400 and "location" not in response.headers


async def test_unknown_missing_disabled_or_foreign_clients_get_an_error_page(
    flow: Flow, make_client: MakeClient
) -> None:
    from namoid.tenancy import organizations
    from tests.features.conftest import ADMIN

    other_org = await organizations.create(
        flow.services.db, flow.services.keyring, f"{flow.org.slug}-b", None, ADMIN
    )
    foreign = await make_client(target=other_org, redirect_uris=[REDIRECT_URI])
    disabled = await make_client(redirect_uris=[REDIRECT_URI])
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(
            update(Client)
            .where(Client.org_id == flow.org.id, Client.id == disabled.client.id)
            .values(status="disabled")
        )
    for client_id in (None, "no-such-client", foreign.client_id, disabled.client_id, "x" * 3000, "a\x00b"):
        response = await flow.authorize(client_id=client_id)
        assert response.status_code == 400 and "location" not in response.headers, client_id
    twice = await flow.http.get(
        f"{flow.base}/authorize", params=[*flow.params().items(), ("client_id", flow.rp.client_id)]
    )
    assert twice.status_code == 400 and "location" not in twice.headers


ERRORS = (
    # (overrides, error)
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "s256"}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"code_challenge": "a" * 129}, "invalid_request"),
    ({"code_challenge": "a" * 42 + "="}, "invalid_request"),
    ({"code_challenge": "a" * 42 + "+"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "id_token"}, "unsupported_response_type"),
    ({"response_type": "code token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"response_type": "none"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"scope": None}, "invalid_scope"),
    ({"scope": "   "}, "invalid_scope"),
    ({"scope": 'openid "x'}, "invalid_scope"),
    ({"prompt": "sometimes"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "1.5"}, "invalid_request"),
    ({"max_age": "9" * 20}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"request_uri": "https://evil.example/req"}, "request_uri_not_supported"),
    ({"nonce": "n" * 600}, "invalid_request"),
    ({"scope": "openid " * 400}, "invalid_request"),  # oversize parameter
    ({"login_hint": "a\x00b"}, "invalid_request"),  # control characters
)


async def test_errors_after_the_redirect_uri_is_trusted_go_back_with_state_and_iss(flow: Flow) -> None:
    for overrides, error in ERRORS:
        response = await flow.authorize(**overrides)
        assert response.status_code == 303, overrides
        location = response.headers["location"]
        assert location.startswith(REDIRECT_URI + "?"), overrides
        params = query(location)
        assert params["error"] == error, (overrides, params)
        assert params["state"] == STATE and params["iss"] == flow.issuer, overrides
        assert "code" not in params
    assert await flow.count(AuthorizationRequest) == 0
    assert await flow.codes() == 0


async def test_duplicated_parameters(flow: Flow) -> None:
    scope_twice = await flow.http.get(
        f"{flow.base}/authorize", params=[*flow.params().items(), ("scope", "openid")]
    )
    params = query(scope_twice.headers["location"])
    assert (
        params["error"] == "invalid_request" and params["error_description"] == "parameter scope is repeated"
    )
    assert params["state"] == STATE and params["iss"] == flow.issuer
    state_twice = await flow.http.get(
        f"{flow.base}/authorize", params=[*flow.params().items(), ("state", "other")]
    )
    params = query(state_twice.headers["location"])
    assert params["error"] == "invalid_request" and "state" not in params and params["iss"] == flow.issuer
    unknown_twice = await flow.http.get(
        f"{flow.base}/authorize", params=[*flow.params().items(), ("ext", "1"), ("ext", "2")]
    )
    assert query(unknown_twice.headers["location"])["error"] == "invalid_request"


async def test_oversize_state_is_refused_without_echoing_it(flow: Flow) -> None:
    response = await flow.authorize(state="s" * 5000)
    params = query(response.headers["location"])
    assert params["error"] == "invalid_request" and "state" not in params


async def test_unknown_parameters_are_ignored_and_empty_ones_are_omitted(flow: Flow) -> None:
    response = await flow.authorize(
        foo="bar", claims='{"x":1}', display="touch", ui_locales="hi en", acr_values=""
    )
    assert response.headers["location"].startswith(f"{flow.base}/login?req=")


async def test_client_without_the_code_grant_is_unauthorized(flow: Flow, make_client: MakeClient) -> None:
    flow.rp = await make_client(grant_types=["client_credentials"], redirect_uris=[REDIRECT_URI])
    params = query((await flow.authorize()).headers["location"])
    assert params["error"] == "unauthorized_client" and params["state"] == STATE


async def test_post_authorize_works_like_get(flow: Flow) -> None:
    response = await flow.http.post(f"{flow.base}/authorize", data=flow.params())
    assert response.status_code == 303 and response.headers["location"].startswith(f"{flow.base}/login?req=")
    bad = await flow.http.post(f"{flow.base}/authorize", data=flow.params(code_challenge_method="plain"))
    assert query(bad.headers["location"])["error"] == "invalid_request"
    untrusted = await flow.http.post(
        f"{flow.base}/authorize", data=flow.params(redirect_uri="https://evil.example/")
    )
    assert untrusted.status_code == 400 and "location" not in untrusted.headers


async def test_pure_oauth_requests_need_no_openid_and_carry_no_nonce(flow: Flow) -> None:
    params = await flow.sign_in_and_allow(scope="profile")
    row = await flow.code_row(params["code"])
    assert row is not None and row.scope == "profile" and row.nonce is None


async def test_redirect_uri_with_a_query_keeps_it(flow: Flow, make_client: MakeClient) -> None:
    flow.rp = await make_client(redirect_uris=["https://rp.example/cb?tenant=7"])
    response = await flow.authorize(redirect_uri="https://rp.example/cb?tenant=7", scope="nope")
    location = response.headers["location"]
    assert location.startswith("https://rp.example/cb?tenant=7&error=invalid_scope&")
    assert query(location)["iss"] == flow.issuer


@pytest.mark.parametrize("path", ["authorize", "login", "consent", "logout"])
async def test_unknown_org_is_404(flow: Flow, path: str) -> None:
    response = await flow.http.get(f"/o/no-such-org-{flow.org.slug}/{path}", headers={"accept": "text/html"})
    assert response.status_code == 404
