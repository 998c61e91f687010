"""The layers' import rule, checked on the source: nothing imports upward.

    reliability/  (infrastructure)   imports none of the others, nor Flask or RQ
    optimizer/    (the domain)        imports reliability only, never Flask or RQ
    jobs/         (RQ jobs)           imports optimizer and reliability, never webapp or Flask
    webapp/       (Flask)             may import all of them

An import inside a function counts too: a lazy import upward is still a
dependency upward.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "reliability": ("optimizer", "jobs", "webapp", "flask", "rq"),
    "optimizer": ("jobs", "webapp", "flask", "rq"),
    "jobs": ("webapp", "flask"),
}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def upward_imports(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_layer_imports_upward(package: str) -> None:
    assert upward_imports(package) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from webapp.errors import page_not_found\n", encoding="utf-8")
    assert [name for _, name in imported_modules(module)] == ["webapp.errors"]
