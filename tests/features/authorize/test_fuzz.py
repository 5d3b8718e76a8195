"""Fuzzing GET /authorize: never a 500, never a redirect anywhere but a registered URI (with iss)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.features.authorize.conftest import REDIRECT_URI, Flow, form_action, form_inputs

NAMES = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
    "request",
    "request_uri",
    'x"',
    "a\\b",
)
INTERESTING = (
    "code",
    "token",
    "S256",
    "plain",
    "openid",
    "openid profile",
    "none",
    "login",
    "consent",
    "form_post",
    "query",
    "fragment",
    "0",
    "-1",
    "99999999999",
    REDIRECT_URI,
    REDIRECT_URI + "/",
    "https://evil.example/",
    "https://rp.example/other",
    "x" * 3000,
    "\x00",
    "é\u202e\ufeff",
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
names = st.one_of(st.sampled_from(NAMES), TEXT)
values = st.one_of(st.sampled_from(INTERESTING), TEXT)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_authorize_never_fails_open(flow: Flow, data: st.DataObject) -> None:
    base = flow.params()
    dropped = data.draw(st.sets(st.sampled_from(sorted(base))), label="dropped")
    extra = data.draw(st.lists(st.tuples(names, values), max_size=6), label="extra")
    pairs = [(k, v) for k, v in base.items() if k not in dropped] + extra
    response = await flow.http.get(f"{flow.base}/authorize", params=pairs)
    assert response.status_code in (200, 303, 400), response.status_code
    if response.status_code == 400:
        assert response.headers["content-type"].startswith("text/html")
        assert "location" not in response.headers
        return
    registered = (REDIRECT_URI, "https://rp.example/other")
    if response.status_code == 200:  # form_post
        assert form_action(response.text) in registered
        assert form_inputs(response.text)["iss"] == flow.issuer
        return
    location = response.headers["location"]
    if location.startswith((f"{flow.base}/login?req=", f"{flow.base}/consent?req=")):
        return
    target = urlsplit(location)
    assert f"{target.scheme}://{target.netloc}{target.path}" in registered, location
    assert parse_qs(target.query)["iss"] == [flow.issuer]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ['x"', "a\\b", '"\\"'])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_repeated_parameter_with_a_quote_in_its_name(flow: Flow, name: str, method: str) -> None:
    """RFC 6749 §3.1: a repeated parameter is invalid_request, whatever characters name it."""
    pairs = [*flow.params().items(), (name, "1"), (name, "2")]
    if method == "GET":
        response = await flow.http.get(f"{flow.base}/authorize", params=pairs)
    else:
        form = {"content-type": "application/x-www-form-urlencoded"}
        response = await flow.http.post(f"{flow.base}/authorize", content=urlencode(pairs), headers=form)
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["iss"] == [flow.issuer]
