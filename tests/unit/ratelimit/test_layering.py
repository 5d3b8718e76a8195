"""The limiter sits below the protocol and the pages (DESIGN.md §6): it imports neither."""

from __future__ import annotations

import ast
from pathlib import Path

import namoid.ratelimit

ABOVE = ("namoid.oauth", "namoid.web")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_ratelimit_imports_nothing_from_the_protocol_or_the_pages() -> None:
    package = Path(namoid.ratelimit.__file__).parent
    wrong = {
        f"{path.name}: {module}"
        for path in package.glob("*.py")
        for module in _imports(path)
        if module.startswith(ABOVE)
    }
    assert not wrong
