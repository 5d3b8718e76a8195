"""Benchmark only: with this directory on PYTHONPATH, audit entries are not written.

``bench/audit_cost.py`` starts one server this way to measure what the audit write adds to
a token request. Never on a real deployment: the audit log is the product's promise.
"""

from __future__ import annotations

from typing import Any

from namoid.storage.repos import audit_log


async def _skip(*args: Any, **kwargs: Any) -> None:
    return None


audit_log.append = _skip  # type: ignore[assignment]
