"""`storefront/toss/` (except the sandbox) stays free of Flask, so billing/ and workers can use it."""

from __future__ import annotations

import ast
from pathlib import Path

import storefront.toss

TOSS_DIR = Path(storefront.toss.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_toss_client_code_never_imports_flask() -> None:
    files = [p for p in TOSS_DIR.rglob("*.py") if "sandbox" not in p.relative_to(TOSS_DIR).parts]
    assert {p.name for p in files} >= {"client.py", "errors.py", "types.py"}
    for path in files:
        flask_imports = {m for m in _imported_modules(path) if m.split(".")[0].startswith("flask")}
        assert not flask_imports, f"{path.name} imports {flask_imports}"


SANDBOX_DIR = TOSS_DIR / "sandbox"
SANDBOX_PACKAGE = "storefront.toss.sandbox"


def _package_of(path: Path) -> str:
    return ".".join(("storefront", "toss", *path.relative_to(TOSS_DIR).parent.parts))


def _resolved_imports(source: str, package: str) -> set[str]:
    """Every module `source` (a module of `package`) imports, relative imports made absolute."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_sandbox_imports_nothing_of_the_store() -> None:
    """Toss shares no code with us; neither does its stand-in (issue 13: sandbox ↛ store)."""
    files = sorted(SANDBOX_DIR.rglob("*.py"))
    assert {p.name for p in files} >= {"__init__.py", "clock.py", "settings.py", "payments.py"}
    for path in files:
        crossing = {
            m
            for m in _resolved_imports(path.read_text(encoding="utf-8"), _package_of(path))
            if (m == "storefront" or m.startswith("storefront."))
            and not (m == SANDBOX_PACKAGE or m.startswith(SANDBOX_PACKAGE + "."))
        }
        assert not crossing, f"{path.relative_to(TOSS_DIR)} imports {sorted(crossing)}"


def test_the_boundary_check_sees_a_crossing() -> None:
    """The check above would fail on the imports it was written to catch."""
    sample = "from storefront.clock import KST\nfrom ..client import TossClient\nfrom . import store\n"
    found = _resolved_imports(sample, SANDBOX_PACKAGE)
    assert "storefront.clock" in found and "storefront.toss.client" in found
    assert "storefront.toss.sandbox.store" in found


def test_the_store_and_the_sandbox_default_to_the_same_keys() -> None:
    """`make run` starts both without keys: the store's sandbox defaults must be what the sandbox accepts."""
    from storefront import config
    from storefront.toss.sandbox import settings

    assert (config.SANDBOX_CLIENT_KEY, config.SANDBOX_SECRET_KEY) == (
        settings.SANDBOX_CLIENT_KEY,
        settings.SANDBOX_SECRET_KEY,
    )
    assert settings.ROOT == config.ROOT
