"""PKCE S256 (RFC 7636)."""

from __future__ import annotations

import pytest

from namoid.oauth import pkce
from namoid.oauth.errors import InvalidGrant, InvalidRequest

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_matches_the_rfc_example() -> None:
    assert pkce.s256(VERIFIER) == CHALLENGE


def test_matching_verifier_passes() -> None:
    pkce.check_verifier(VERIFIER, CHALLENGE)


@pytest.mark.parametrize("verifier", ["A" * 43, "~" * 128, "a-b.c_d~" * 6])
def test_wrong_but_well_formed_verifier_is_invalid_grant(verifier: str) -> None:
    with pytest.raises(InvalidGrant):
        pkce.check_verifier(verifier, CHALLENGE)


@pytest.mark.parametrize(
    "verifier",
    [
        None,
        "",
        "a" * 42,
        "a" * 129,
        "a" * 42 + "+",
        "a" * 42 + "=",
        "a" * 42 + " ",
        "a" * 42 + "é",
        VERIFIER + "\n",
    ],
)
def test_missing_or_malformed_verifier_is_invalid_request(verifier: str | None) -> None:
    with pytest.raises(InvalidRequest):
        pkce.check_verifier(verifier, CHALLENGE)


def test_the_plain_method_is_not_accepted() -> None:
    """A challenge equal to the verifier (``plain``) never matches S256."""
    with pytest.raises(InvalidGrant):
        pkce.check_verifier(VERIFIER, VERIFIER)
