"""The explorer's layout, subpackages included: one-way imports, the public vaemodels surface only, short files."""

import ast
import importlib
from pathlib import Path

import pytest

import vaemodels

ROOT = Path(__file__).resolve().parent.parent
EXPLORER = ROOT / "explorer"
MODULES = sorted(EXPLORER.rglob("*.py"))
SUBPACKAGES = ("page", "sweep", "trial", "latent", "compare")
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """Every import a module runs, at its top or inside a function (the explorer imports Panel lazily)."""
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, (ast.Import, ast.ImportFrom))]


def explorer_targets(path: Path) -> set[str]:
    """The explorer modules a module imports (`from explorer.page import state` names explorer.page.state)."""
    known = {module_name(p) for p in MODULES}
    found = set()
    for node in imports(path):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom):
            names += [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in known}
    return found - {module_name(path)} - {f"explorer.{p}" for p in SUBPACKAGES}


def test_the_explorer_is_split_into_the_page_shell_the_views_and_the_comparison_maths():
    folders = sorted(p.name for p in EXPLORER.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert folders == sorted(SUBPACKAGES)
    top = sorted(p.name for p in EXPLORER.glob("*.py"))
    assert top == ["__init__.py", "app.py", "cli.py", "images.py", "store.py"]
    for package in SUBPACKAGES:  # each says in its docstring what it holds
        assert importlib.import_module(f"explorer.{package}").__doc__


def test_no_two_explorer_modules_import_each_other_even_through_others():
    graph = {module_name(p): explorer_targets(p) for p in MODULES}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for target in graph.get(start, ()):
            if target == goal or (target not in seen and reaches(target, goal, seen | {target})):
                return True
        return False

    assert [name for name in graph if reaches(name, name, {name})] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(EXPLORER)))
def test_each_module_uses_only_public_vaemodels_names_and_never_ray_or_sweeps(path):
    for node in imports(path):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            assert not module.startswith("vaemodels."), f"from {module} import ..."
            if module == "vaemodels":
                assert {a.name for a in node.names} <= set(vaemodels.__all__)
            assert module.split(".")[0] not in ("ray", "sweeps")
        else:
            for alias in node.names:
                assert alias.name.split(".")[0] not in ("ray", "sweeps", "vaemodels"), alias.name
    assert len(path.read_text().splitlines()) <= MAX_LINES
