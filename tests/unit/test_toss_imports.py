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
