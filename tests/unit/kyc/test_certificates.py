"""The shipped UIDAI trust set: exactly the certificates its README lists, by SHA-256."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from namoid.crypto.certificates import load_certificate
from namoid.kyc import trust
from tests import kyc_fixtures as fx

SHIPPED = resources.files("namoid.kyc") / "uidai_certs"


def _readme_fingerprints() -> dict[str, str]:
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    row = r"^\| `(uidai_offline_publickey_\w+\.cer)` \|.*\| `([0-9a-f]{64})` \|$"
    return dict(re.findall(row, readme, re.M))


def test_the_shipped_certificates_match_the_readme_fingerprints() -> None:
    listed = _readme_fingerprints()
    assert len(listed) == 5
    shipped = {item.name: load_certificate(item.read_bytes()).sha256 for item in SHIPPED.iterdir()
               if item.name.endswith(".cer")}  # fmt: skip
    assert shipped == listed


def test_the_set_is_newest_first() -> None:
    pinned = trust.pinned_certificates(None)
    assert pinned[0].sha256 == _readme_fingerprints()["uidai_offline_publickey_2026.cer"]
    assert [c.not_after for c in pinned] == sorted((c.not_after for c in pinned), reverse=True)


def test_a_configured_folder_replaces_the_set_and_reads_der_too(tmp_path: Path) -> None:
    (tmp_path / "signer.cer").write_bytes(fx.der(fx.current_signer().pinned))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [c.sha256 for c in trust.pinned_certificates(tmp_path)] == [fx.current_signer().pinned.sha256]


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no UIDAI certificates"):
        trust.pinned_certificates(tmp_path)
