"""Token claims helpers (RFC 9068, OIDC Core §3.1.3.6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from namoid.oauth import tokens
from namoid.storage.models import User


def test_at_hash_is_the_left_half_of_sha256() -> None:
    # OIDC Core §A.3 example (RS256): access token and its at_hash.
    assert tokens.at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y") == "77QmUPtjPfzWtF2AnpK9RQ"


def test_subject_is_the_user_or_the_client() -> None:
    user_id = uuid.uuid4()
    assert tokens.Grant(client_id="c", scope="", user_id=user_id).subject == str(user_id)
    assert tokens.Grant(client_id="c", scope="").subject == "c"


def test_response_has_only_what_was_minted() -> None:
    grant = tokens.Grant(client_id="c", scope="a")
    minted = tokens.Minted(grant=grant, access_token="at", expires_in=600, scope="a")
    assert minted.response() == {
        "access_token": "at",
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "a",
    }
    full = tokens.Minted(
        grant=grant, access_token="at", expires_in=1, scope="a", id_token="i", refresh_token="r"
    )
    assert full.response()["id_token"] == "i" and full.response()["refresh_token"] == "r"


def test_only_enabled_undeleted_users_are_active() -> None:
    assert tokens.is_active(User(status="active", deleted_at=None))
    assert not tokens.is_active(User(status="disabled", deleted_at=None))
    assert not tokens.is_active(User(status="active", deleted_at=datetime.now(UTC)))
    assert not tokens.is_active(None)
