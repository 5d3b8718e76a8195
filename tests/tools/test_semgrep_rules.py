"""tools/semgrep/rules.yml: each house rule flags its bad snippet and passes the good one.

Lines that a rule must flag end with ``# expect``; every other line must not be flagged.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEMGREP = REPO / ".venv-semgrep/bin/semgrep"
RULES = REPO / "tools/semgrep/rules.yml"

pytestmark = pytest.mark.skipif(
    not SEMGREP.exists(),
    reason=(
        f"{SEMGREP} is missing; create it with: uv venv -q .venv-semgrep && VIRTUAL_ENV=.venv-semgrep "
        "uv pip sync -q --require-hashes tools/semgrep/requirements.lock.txt"
    ),
)

SNIPPETS: dict[str, tuple[str, str]] = {
    "namoid-no-random-module": (
        """
        import random  # expect
        from random import choice  # expect
        import random as rnd  # expect

        def pick(items):
            return random.choice(items)  # expect

        generator = random.SystemRandom()  # expect
        """,
        """
        import secrets

        def pick(items):
            return secrets.choice(items)

        random_suffix = secrets.token_hex(4)
        rng = secrets.SystemRandom()
        """,
    ),
    "namoid-secret-compare-not-constant-time": (
        """
        import hashlib

        def check(client, provided_secret, stored, request, computed, submitted, user, other, self):
            if client.client_secret == provided_secret:  # expect
                return 1
            if stored.token_hash != hashlib.sha256(request.token).hexdigest():  # expect
                return 2
            if hashlib.sha256(request.body).digest() == expected_digest:  # expect
                return 3
            if self.code_challenge == computed:  # expect
                return 4
            if otp != submitted:  # expect
                return 5
            if password == user.password_field:  # expect
                return 6
            if request.code_verifier == self.stored_verifier:  # expect
                return 7
            if mac == other:  # expect
                return 8
            if RefreshToken.token_hash == other:  # expect
                return 9
        """,
        """
        import hmac

        _MAC_SCHEME = "hmac-sha256$"

        def check(client, provided_secret, token, request, code_challenge_method, code, scheme, other):
            if token is None or token is not None:
                return 0
            if hmac.compare_digest(client.client_secret, provided_secret):
                return 1
            if request.token_type == "Bearer" or request.token_type != 'bearer':
                return 2
            if code_challenge_method != "S256":
                return 3
            if len(code) == 6 or client.secret_count == 0 or token == None:
                return 4
            if request.method == other.method:
                return 5
            if client.token_endpoint_auth_method == b"none" or token.expires_at == -1:
                return 6
            if client.has_password == True:
                return 7
            if scheme + "$" != _MAC_SCHEME:
                return 8
            if client.token_endpoint_auth_method != other.method or request.token_type_hint == other.hint:
                return 9
            if RefreshToken.id == other.id or AccessToken.family_id == other.family_id:
                return 10
        """,
    ),
    "namoid-sql-string-formatting": (
        """
        import sqlalchemy as sa
        from sqlalchemy import text

        async def query(conn, session, cursor, name, table):
            await conn.execute(text(f"SELECT * FROM users WHERE name = '{name}'"))  # expect
            await conn.execute(sa.text("SELECT * FROM %s" % table))  # expect
            await conn.exec_driver_sql("DELETE FROM {}".format(table))  # expect
            await session.execute(text("SELECT * FROM users WHERE name = '" + name + "'"))  # expect
            cursor.execute("SELECT * FROM t WHERE a = '%s'" % name)  # expect
            stmt = f"SELECT * FROM {table}"
            await conn.execute(text(stmt))  # expect
            sql = "SELECT 1 FROM " + table
            conn.exec_driver_sql(sql)  # expect
            where = "SELECT * FROM t"
            where += " WHERE a = " + name
            conn.execute(text(where))  # expect
            await conn.execute(
                text("SELECT * FROM t WHERE a = "  # expect
                     f"'{name}'")
            )
        """,
        """
        from sqlalchemy import select, text

        async def query(conn, session, name, User, offset, extra):
            await conn.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name})
            await session.execute(select(User).where(User.name == name).offset(offset + extra))
            await session.execute(select(User).where(User.name == f"{name}"))
            await conn.exec_driver_sql("SELECT 1")
            stmt = text("SELECT * FROM users WHERE id = :id")
            await conn.execute(stmt, {"id": offset})
            sql = ("SELECT 1 FROM t "
                   "WHERE b = :b")
            await conn.exec_driver_sql(sql, {"b": name})
            message = f"looked up {name}"
            print(message % ())
        """,
    ),
    "namoid-tls-verification-disabled": (
        """
        import ssl

        import httpx
        import requests

        httpx.get("https://idp.example", verify=False)  # expect
        client = httpx.AsyncClient(timeout=3, verify=False)  # expect
        requests.post("https://idp.example", json={}, verify=False)  # expect
        session = requests.Session()
        session.verify = False  # expect
        legacy = ssl._create_unverified_context()  # expect
        context = ssl.create_default_context()
        context.check_hostname = False  # expect
        context.verify_mode = ssl.CERT_NONE  # expect
        """,
        """
        import ssl

        import httpx

        httpx.get("https://idp.example")
        client = httpx.AsyncClient(timeout=3, verify=True)
        context = ssl.create_default_context(cafile="/etc/namoid/ca.pem")
        context.verify_mode = ssl.CERT_REQUIRED
        pinned = httpx.Client(verify=context)
        """,
    ),
}

# Migrations are exempt from the SQL rule (DDL identifiers cannot be bound), like ruff's S608.
MIGRATION = 'op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")\n'


def _file(rule: str, kind: str) -> str:
    return f"{rule}_{kind}.py"


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, int]]]:
    """Run semgrep once over every snippet; return {file name: {(rule id, line)}}."""
    root = tmp_path_factory.mktemp("semgrep")
    for rule, (bad, good) in SNIPPETS.items():
        (root / _file(rule, "bad")).write_text(textwrap.dedent(bad).lstrip())
        (root / _file(rule, "good")).write_text(textwrap.dedent(good).lstrip())
    migrations = root / "namoid/storage/migrations"
    migrations.mkdir(parents=True)
    (migrations / "policy.py").write_text(MIGRATION)
    env = {**os.environ, "SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"}
    result = subprocess.run(
        [
            str(SEMGREP),
            "scan",
            "--config",
            str(RULES),
            "--metrics=off",
            "--disable-version-check",
            "--json",
            "--quiet",
            ".",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr  # without --error, findings do not change the code
    report = json.loads(result.stdout)
    assert report["errors"] == [], report["errors"]
    out: dict[str, set[tuple[str, int]]] = {}
    for item in report["results"]:
        rule = item["check_id"].rsplit(".", 1)[-1]
        out.setdefault(item["path"], set()).add((rule, item["start"]["line"]))
    return out


def test_every_rule_is_covered() -> None:
    ids = {line.split("id:", 1)[1].strip() for line in RULES.read_text().splitlines() if "- id:" in line}
    assert ids == set(SNIPPETS)


@pytest.mark.parametrize("rule", sorted(SNIPPETS))
def test_bad_snippet_is_flagged(rule: str, findings: dict[str, set[tuple[str, int]]]) -> None:
    source = textwrap.dedent(SNIPPETS[rule][0]).lstrip().splitlines()
    expected = {(rule, n) for n, line in enumerate(source, start=1) if line.rstrip().endswith("# expect")}
    assert expected
    assert findings.get(_file(rule, "bad"), set()) == expected


@pytest.mark.parametrize("rule", sorted(SNIPPETS))
def test_good_snippet_passes(rule: str, findings: dict[str, set[tuple[str, int]]]) -> None:
    assert findings.get(_file(rule, "good"), set()) == set()


def test_migrations_are_exempt_from_sql_rule(findings: dict[str, set[tuple[str, int]]]) -> None:
    assert findings.get("namoid/storage/migrations/policy.py", set()) == set()
