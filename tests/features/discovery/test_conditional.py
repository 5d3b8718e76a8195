"""Discovery and the JWKS as pre-encoded documents: a strong ETag (RFC 9110 §8.8.3), 304 on a
matching If-None-Match (§13.1.2, §15.4.5), and no database query once the node caches are warm."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from namoid.audit import Actor
from namoid.services import Services
from namoid.signing_rotation import rotate_signing_key
from namoid.storage.models import Organization


def _paths(slug: str) -> tuple[str, ...]:
    return (
        f"/o/{slug}/.well-known/openid-configuration",
        f"/.well-known/oauth-authorization-server/o/{slug}",
        f"/o/{slug}/jwks.json",
    )


@contextmanager
def _statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["openid-configuration", "oauth-metadata", "jwks"])
async def test_strong_etag_and_not_modified(http: httpx.AsyncClient, org: Organization, which: int) -> None:
    path = _paths(org.slug)[which]
    first = await http.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    assert (await http.get(path)).headers["etag"] == etag  # the same bytes, the same tag
    for condition in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = await http.get(path, headers={"If-None-Match": condition})
        assert again.status_code == 304 and again.content == b"", condition
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]
    changed = await http.get(path, headers={"If-None-Match": '"stale-tag"'})
    assert changed.status_code == 200 and changed.content == first.content


async def test_warm_documents_query_nothing_and_a_rotation_changes_the_tag(
    http: httpx.AsyncClient, org: Organization, services: Services
) -> None:
    paths = _paths(org.slug)
    tags = [(await http.get(path)).headers["etag"] for path in paths]  # warms the node caches
    with _statements(services) as seen:
        for _ in range(3):
            for path in paths:
                assert (await http.get(path)).status_code == 200
    assert seen == []
    await rotate_signing_key(services.db, services.keyring, services.signing, org, "RS256", Actor("system"))
    after = [(await http.get(path)).headers["etag"] for path in paths]
    assert after[:2] == tags[:2] and after[2] != tags[2]  # the JWKS now has the new key
