"""Structural rules the design rests on, checked over the source tree."""

import ast
from pathlib import Path

import pytest

from storefront.config import ROOT

PACKAGE = ROOT / "storefront"


def _python_files(*parts: str):
    base = PACKAGE.joinpath(*parts)
    return sorted(base.rglob("*.py")) if base.is_dir() else [base]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("area", ["billing", "reports", "toss/client.py", "toss/errors.py", "toss/types.py"])
def test_domain_and_client_never_import_flask(area):
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files(*area.split("/"))
        if any(name == "flask" or name.startswith(("flask.", "flask_")) for name in _imports(path))
    ]
    assert offenders == []


def test_only_clock_reads_the_time():
    """datetime.now / utcnow / today and time.time belong to storefront/clock.py alone.

    The sandbox aside: it has its own clock parameter.
    """
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "clock.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today"):
                base = node.value
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                if name in ("datetime", "date"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "time"
                and isinstance(node.value, ast.Name)
                and node.value.id == "time"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
