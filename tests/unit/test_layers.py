"""Imports run one way (DESIGN.md §6): the audit log and the limiter sit below the protocol.

Each module's own imports are read from its source (``import namoid.x``, ``from namoid.x import
y``, relative imports, and imports inside functions alike); what a module reaches only through
the composition root (``namoid.services``) is not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "namoid"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from namoid import oauth`
    return found


IMPORTS = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _wrong_way(lower: str, upper: str, exempt: str | None = None) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if _inside(module, lower) and not (exempt and _inside(module, exempt))
        for target in targets
        if _inside(target, upper)
    )


#: (lower package, the package above it that it must not import).
RULES = [
    ("namoid.audit", "namoid.oauth"),
    ("namoid.ratelimit", "namoid.oauth"),
    ("namoid.ratelimit", "namoid.web"),
    ("namoid.events", "namoid.oauth"),
    # DESIGN.md §6: the public and admin apps stay apart; neither is built from the other.
    ("namoid.app", "namoid.admin"),
    ("namoid.oauth", "namoid.admin.app"),
    ("namoid.admin", "namoid.app"),
    ("namoid.admin", "namoid.web.pages"),
    ("namoid.admin", "namoid.web.interaction"),
    ("namoid.admin", "namoid.oauth.endpoints"),
]

#: What of ``namoid.web`` the admin app may use: the middleware every HTTPS app wears, and the
#: admin console (its HTML, which lives in ``namoid.web`` like all HTML), nothing else.
ADMIN_MAY_USE_FROM_WEB = {"namoid.web.middleware", "namoid.web", "namoid.web.admin_console"}


@pytest.mark.parametrize(("lower", "upper"), RULES)
def test_no_import_runs_the_wrong_way(lower: str, upper: str) -> None:
    assert _wrong_way(lower, upper) == []


def test_of_the_web_layer_only_the_admin_console_uses_the_admin_package() -> None:
    """The public pages never build on the admin app; the admin console (served only by the
    admin app) calls the admin package's scopes and access checks, never its app module."""
    assert _wrong_way("namoid.web", "namoid.admin", exempt="namoid.web.admin_console") == []
    assert _wrong_way("namoid.web.admin_console", "namoid.admin.app") == []
    assert _wrong_way("namoid.web.admin_console", "namoid.admin")  # the exemption is in use


def test_the_walker_sees_imports() -> None:
    """The test above cannot pass by reading nothing: known arrows are found, in every form."""
    assert "namoid.signing" in IMPORTS["namoid.audit.sealing"]
    assert "namoid.audit.chain" in IMPORTS["namoid.audit.verification"]
    assert "namoid.oauth.tokens" in IMPORTS["namoid.oauth.grants"]  # `from namoid.oauth import tokens`
    assert _wrong_way("namoid.oauth", "namoid.audit")  # the protocol writes audit entries


def test_the_admin_app_takes_only_the_middleware_and_the_console_from_the_web_layer() -> None:
    used = {
        target
        for module, targets in IMPORTS.items()
        if _inside(module, "namoid.admin")
        for target in targets
        if _inside(target, "namoid.web")
    }
    assert used == ADMIN_MAY_USE_FROM_WEB | {
        f"namoid.web.middleware.{name}"
        for name in ("BodySizeLimitMiddleware", "RequestContextMiddleware", "SecurityHeadersMiddleware")
    }
