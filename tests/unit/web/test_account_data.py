"""The summary page says the export's keys and times in words, and leaves nothing out."""

from __future__ import annotations

from namoid.web.account.data import readable


def test_keys_become_words_and_times_readable() -> None:
    document = {
        "profile": {"id": "u1", "created_at": "2026-12-07T10:00:05.123456+00:00"},
        "sessions": [{"sid": "s1", "ip": None, "signer_certificate_sha256": "ab"}],
        "note": "2026-12-07 is not a time",
    }
    assert readable(document) == {
        "Profile": {"ID": "u1", "Created at": "2026-12-07 10:00:05 UTC"},
        "Sessions": [{"Session ID": "s1", "IP": None, "Signer certificate SHA-256": "ab"}],
        "Note": "2026-12-07 is not a time",
    }
