"""Settings: embedded defaults and one clear error naming a malformed variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from namoid.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("NAMOID_"):
            monkeypatch.delenv(name)


def test_embedded_defaults() -> None:
    settings = load_settings()
    assert settings.is_dev
    assert settings.base_url == "https://localhost:8443"
    assert settings.port == 8443 and settings.bind_host == "127.0.0.1"
    assert settings.admin_base_url == "https://localhost:8444" and settings.admin_port == 8444
    assert settings.admin_bind_host == "127.0.0.1" and settings.serve_public and settings.serve_admin
    assert settings.admin_resource == "https://localhost:8444/admin/v1"
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{Path('.namoid').resolve() / 'namoid.db'}"
    assert settings.resolved_keyring_file == Path(".namoid/keyring.json")
    assert settings.redis_url is None and not settings.json_logs


def test_production_when_a_database_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMOID_DATABASE_URL", "postgresql+asyncpg://namoid_app@db/namoid")
    monkeypatch.setenv("NAMOID_BASE_URL", "https://id.example.com")
    monkeypatch.setenv("NAMOID_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")
    settings = load_settings()
    assert not settings.is_dev and settings.is_postgres and settings.json_logs
    assert settings.port == 443 and settings.bind_host == "0.0.0.0"  # noqa: S104
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.168.1.7"]


def test_admin_api_has_its_own_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMOID_ADMIN_BASE_URL", "https://admin.example.com:9443/")
    monkeypatch.setenv("NAMOID_SERVE_PUBLIC", "false")
    settings = load_settings()
    assert settings.admin_base_url == "https://admin.example.com:9443" and settings.admin_port == 9443
    assert settings.admin_bind_host == "0.0.0.0" and not settings.serve_public  # noqa: S104
    monkeypatch.setenv("NAMOID_ADMIN_BASE_URL", "https://localhost:8443")
    with pytest.raises(SettingsError, match="NAMOID_ADMIN_BASE_URL must be another origin"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NAMOID_BASE_URL", "http://localhost:8443"),
        ("NAMOID_BASE_URL", "https://id.example.com/path"),
        ("NAMOID_ADMIN_BASE_URL", "http://localhost:8444"),
        ("NAMOID_SERVE_ADMIN", "perhaps"),
        ("NAMOID_DATABASE_URL", "mysql://x"),
        ("NAMOID_REDIS_URL", "http://cache"),
        ("NAMOID_TRUSTED_PROXIES", "not-an-ip"),
        ("NAMOID_LOG_LEVEL", "LOUD"),
        ("NAMOID_MAX_BODY_BYTES", "12"),
        ("NAMOID_DEV_MODE", "perhaps"),
    ],
)
def test_malformed_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.base_url = "https://other.example"  # type: ignore[misc]


def test_replace_computes_the_derived_properties_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `namoid serve --workers N` gives each worker: model_copy would keep cached properties."""
    monkeypatch.setenv("NAMOID_SMTP_PASSWORD", "kept-as-a-secret")
    settings = load_settings()
    assert settings.runs_worker_in_server and settings.workers == 1  # cached before the copy
    worker = settings.replace(worker_in_server=False, workers=3)
    assert not worker.runs_worker_in_server and worker.workers == 3 and worker.is_dev
    assert worker.smtp_password is not None and worker.smtp_password.get_secret_value() == "kept-as-a-secret"
    assert settings.runs_worker_in_server and settings.workers == 1
    with pytest.raises(ValueError, match="workers"):
        settings.replace(workers=0)
