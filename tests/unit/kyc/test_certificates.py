"""The shipped UIDAI trust set: exactly the certificates its README lists, by SHA-256."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from namoid.crypto.certificates import PinnedCertificate, load_certificate
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


def _shipped(name: str) -> PinnedCertificate:
    return load_certificate((SHIPPED / name).read_bytes())


def test_standing_is_bounded_by_not_before_and_the_grace_after_not_after() -> None:
    cert = fx.current_signer().pinned
    second = timedelta(seconds=1)
    assert trust.signer_standing(cert, cert.not_before - second) is None
    assert trust.signer_standing(cert, cert.not_before) == "in_validity"
    assert trust.signer_standing(cert, cert.not_after) == "in_validity"
    assert trust.signer_standing(cert, cert.not_after + second) == "after_expiry"
    assert trust.signer_standing(cert, cert.not_after + trust.EXPIRED_SIGNER_GRACE) == "after_expiry"
    assert trust.signer_standing(cert, cert.not_after + trust.EXPIRED_SIGNER_GRACE + second) is None


def test_the_grace_covers_the_genuine_2025_file_and_no_more_than_it_needs() -> None:
    """Research §1.4: a file generated 2025-02-24 was signed with the key of the certificate
    that expired 2024-02-27. It is accepted (flagged); that key signs nothing dated after the
    grace, and the older certificates' keys are long past theirs."""
    cert = _shipped("uidai_offline_publickey_26022021.cer")
    seen = datetime(2025, 2, 24, 10, 0, tzinfo=UTC)
    assert trust.signer_standing(cert, seen) == "after_expiry"
    assert timedelta(days=366 + 60) > trust.EXPIRED_SIGNER_GRACE
    assert trust.signer_standing(cert, datetime(2025, 6, 1, tzinfo=UTC)) is None
    today = datetime(2026, 12, 7, tzinfo=UTC)
    for name in ("uidai_offline_publickey_29032019.cer", "uidai_offline_publickey_26022019.cer"):
        assert trust.signer_standing(_shipped(name), today) is None
