"""``namoid webhooks add|list|remove`` as an operator runs them: a real process (production mode)."""

from __future__ import annotations

import uuid

import pytest

from namoid.services import Services
from namoid.tenancy import organizations
from tests.features.cli.test_cli import Cli, cli, cli_env, ok_json
from tests.features.token.conftest import audit_rows

__all__ = ["cli", "cli_env"]  # the fixtures, shared with tests/features/cli

#: An internal receiver, reachable because the deployment allows its network explicitly.
URL = "https://127.0.0.1:8443/namoid"
ALLOW_LOOPBACK = pytest.mark.parametrize("cli_env", [{"NAMOID_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32"}])
#: Accepted as webhook receivers in production before issue 10 §4.4.
INTERNAL = [
    "https://169.254.169.254/",
    "https://10.0.0.5:8443",
    "https://[::1]",
    "https://0x7f000001/",
    "https://metadata.google.internal/",
]


def _org(cli: Cli) -> str:
    slug = f"hooks-{uuid.uuid4().hex[:6]}"
    ok_json(cli("org", "create", slug, "--json"))
    return slug


@ALLOW_LOOPBACK
async def test_add_list_remove(cli: Cli, services: Services) -> None:
    slug = _org(cli)
    added = ok_json(cli("webhooks", "add", "--org", slug, "--url", URL, "--json"))
    assert added["url"] == URL and uuid.UUID(added["id"])
    listed = ok_json(cli("webhooks", "list", "--org", slug, "--json"))
    assert [(row["id"], row["url"]) for row in listed] == [(added["id"], URL)]
    human = cli("webhooks", "list", "--org", slug)
    assert human.returncode == 0 and f"{added['id']}\t{URL}" in human.stdout

    removed = ok_json(cli("webhooks", "remove", "--org", slug, "--id", added["id"], "--json"))
    assert removed == {"id": added["id"], "removed": True}
    assert ok_json(cli("webhooks", "list", "--org", slug, "--json")) == []
    org = await organizations.require(services.db, slug)
    for action in ("webhook.added", "webhook.removed"):
        [entry] = await audit_rows(services, org, action)
        assert entry.actor_type == "admin" and entry.actor_id.startswith("cli:")


async def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli: Cli, services: Services) -> None:
    slug = _org(cli)
    refusals = [
        ("add", "--org", slug, "--url", "http://127.0.0.1:8080/events"),  # plain http: dev mode only
        ("add", "--org", slug, "--url", "https://hooks.example.com/#x"),
        ("add", "--org", "no-such-org", "--url", URL),
        ("remove", "--org", slug, "--id", "not-a-uuid"),
        ("remove", "--org", slug, "--id", str(uuid.uuid4())),
    ]
    for args in refusals:
        result = cli("webhooks", *args, "--json")
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stdout == "" and result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert ok_json(cli("webhooks", "list", "--org", slug, "--json")) == []
    org = await organizations.require(services.db, slug)
    assert await audit_rows(services, org, "webhook.added") == []


async def test_internal_addresses_are_refused_in_production(cli: Cli) -> None:
    """Issue 10 §4.4: cloud metadata, private, loopback, a numeric trick and a metadata name."""
    slug = _org(cli)
    for url in INTERNAL:
        result = cli("webhooks", "add", "--org", slug, "--url", url)
        assert result.returncode == 2, (url, result.stdout)
        assert result.stderr.startswith("error: the webhook URL is refused: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert ok_json(cli("webhooks", "list", "--org", slug, "--json")) == []


@ALLOW_LOOPBACK
async def test_the_allow_list_opens_only_what_it_names(cli: Cli) -> None:
    slug = _org(cli)
    assert cli("webhooks", "add", "--org", slug, "--url", "https://127.0.0.1/e").returncode == 0
    for url in ("https://127.0.0.2/e", "https://[::1]/e", "https://169.254.169.254/e"):
        assert cli("webhooks", "add", "--org", slug, "--url", url).returncode == 2, url
