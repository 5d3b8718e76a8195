"""``/metrics`` of a real ``namoid serve`` over real TLS, in prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``): what the public port did is in the admin port's scrape."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_admin_api import _cli
from tests.e2e.test_server import start, stop


def test_the_admin_port_serves_what_the_public_port_counted(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    directory = tmp_path / "prometheus"
    directory.mkdir()
    server = start(
        tmp_path,
        NAMOID_METRICS_TOKEN=secret,
        NAMOID_RATE_LIMITS=json.dumps({"token.ip": "2/minute"}),
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    try:
        robot = _cli(server, "client", "create", "--org", "demo", "--name", "Robot", "--type", "confidential",
                     "--grant-type", "client_credentials")  # fmt: skip
        auth = (str(robot["client_id"]), str(robot["client_secret"]))
        with server.client() as public:
            answers = [
                public.post("/o/demo/token", data={"grant_type": "client_credentials"}, auth=auth).status_code
                for _ in range(3)
            ]
            assert public.get("/metrics").status_code == 404  # never on the public port
        assert answers == [200, 200, 429]
        with httpx.Client(base_url=server.admin_url or "", verify=server.context, timeout=10) as admin:
            scraped = admin.get("/metrics", headers={"Authorization": f"Bearer {secret}"})
            refused = admin.get("/metrics")
            wrong = admin.get("/metrics", headers={"Authorization": f"Bearer {secret}x"})
    finally:
        stop(server)
    assert refused.status_code == 401 and wrong.status_code == 401
    assert scraped.status_code == 200, scraped.text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    assert samples[("namoid_tokens_issued_total", (("grant_type", "client_credentials"),))] == 2
    assert samples[("namoid_ratelimit_refusals_total", (("policy", "token.ip"),))] == 1
    route = (("app", "public"), ("method", "POST"), ("route", "/o/{org}/token"))
    assert samples[("namoid_http_requests_total", (*route, ("status", "429")))] == 1
    assert samples[("namoid_http_request_duration_seconds_count", route)] == 3
    assert any(directory.glob("counter_*.db")), "multiprocess mode keeps its values in the directory"
    assert secret not in server.log()


def test_a_configured_address_scrapes_without_a_token(tmp_path: Path) -> None:
    server = start(tmp_path, NAMOID_METRICS_ALLOW="127.0.0.1/32,::1/128")
    try:
        with httpx.Client(base_url=server.admin_url or "", verify=server.context, timeout=10) as admin:
            scraped = admin.get("/metrics")
    finally:
        stop(server)
    assert scraped.status_code == 200 and "namoid_outbox_pending" in scraped.text
