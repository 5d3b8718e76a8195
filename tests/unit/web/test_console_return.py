"""Where a console sign-in may return: only a console path of the same org."""

from __future__ import annotations

import uuid

import pytest

from namoid.storage.models import Organization
from namoid.web.account.console_auth import safe_return, sign_in_url

ORG = Organization(id=uuid.UUID(int=1), slug="acme", name="Acme")


@pytest.mark.parametrize(
    "value",
    [
        "/o/acme/account",
        "/o/acme/account/sessions",
        "/o/acme/account/providers/up",
        "/o/acme/account/profile?tab=1&x=y",
    ],
)
def test_console_paths_of_the_org_are_kept(value: str) -> None:
    assert safe_return(ORG, value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example/o/acme/account",
        "//evil.example/o/acme/account",
        "/o/other/account",
        "/o/acme/accounts",
        "/o/acme/account/",
        "/o/acme/account/../logout",
        "/o/acme/account/%2e%2e/logout",
        "/o/acme/account\\evil",
        "/o/acme/account/x#frag",
        "/o/acme/account?next=https://evil.example",
        "/o/acme/account\n/x",
        "/o/acme/logout",
    ],
)
def test_anything_else_falls_back_to_the_overview(value: str | None) -> None:
    assert safe_return(ORG, value) == "/o/acme/account"


def test_a_step_up_link_carries_max_age_and_a_safe_return() -> None:
    assert sign_in_url(ORG, "/o/acme/account/password", 300) == (
        "/o/acme/account/signin?next=%2Fo%2Facme%2Faccount%2Fpassword&max_age=300"
    )
    assert sign_in_url(ORG, "https://evil.example") == "/o/acme/account/signin?next=%2Fo%2Facme%2Faccount"
