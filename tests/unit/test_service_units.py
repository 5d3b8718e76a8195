"""The systemd units in deploy/ (issue 17 §3): hardened, and valid for ``systemd-analyze verify``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("namoid-node.service", "namoid-worker.service")
HARDENING = {
    "DynamicUser": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}


def _directives(unit: str) -> dict[str, list[str]]:
    """``key -> values`` of the [Service] section (systemd allows a key several times)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in (DEPLOY / unit).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_hardened(unit: str) -> None:
    service = _directives(unit)
    assert {key: service.get(key) for key in HARDENING} == {key: [value] for key, value in HARDENING.items()}
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert "User" not in service and "PrivateNetwork" not in service
    credentials = dict(value.split(":", 1) for value in service["LoadCredential"])
    environment = dict(value.split("=", 1) for value in service["Environment"])
    assert credentials["keyring"] == "/etc/namoid/keyring.json"
    assert environment["NAMOID_KEYRING_FILE"] == "%d/keyring"  # the secret never sits in the env file
    if unit == "namoid-node.service":
        assert credentials["tls-key"] == "/etc/namoid/tls/key.pem"
        assert environment["NAMOID_TLS_KEY_FILE"] == "%d/tls-key"
        assert service["ExecStart"] == ["/opt/namoid/.venv/bin/namoid serve"]
    else:
        assert service["ExecStart"] == ["/opt/namoid/.venv/bin/namoid worker"]


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify_accepts_the_units(unit: str, tmp_path: Path) -> None:
    """Where systemd is installed; the installed path of the binary becomes this checkout's."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the structural test above still runs)")
    namoid = Path(sys.executable).with_name("namoid")
    copy = tmp_path / unit
    copy.write_text((DEPLOY / unit).read_text().replace("/opt/namoid/.venv/bin/namoid", str(namoid)))
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
