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


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NAMOID_BASE_URL", "http://localhost:8443"),
        ("NAMOID_BASE_URL", "https://id.example.com/path"),
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
