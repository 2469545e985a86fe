"""The import rule, checked on the source: catalog's core reaches recommender only through the embedding seam,
and recommender never reaches catalog's edges, at any depth and whether an import sits at the top of a module
or inside a function."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("catalog", "recommender", "moviesite")
# catalog's edges: what serves people and programs, and may therefore import both apps.
CATALOG_EDGES = (
    "catalog.views",
    "catalog.account_views",  # the account pages (issue 15): views like catalog.views
    "catalog.urls",
    "catalog.forms",
    "catalog.admin",
    "catalog.api",
    "catalog.management",
)
SEAM = "recommender.encoders"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the three apps but their tests and migrations."""
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
                continue
            modules[module_name(path)] = path
    return modules


MODULES = project_modules()


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@cache
def imports_of(name: str) -> frozenset[str]:
    """The project modules `name` imports anywhere in its source (module level, functions, TYPE_CHECKING)."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from catalog import params` imports the module catalog.params; `from x import name`, module x.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            # The module and the packages it sits in (importing a.b.c runs a/__init__ and a/b/__init__).
            parts = target.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in MODULES}
    found.discard(name)
    return frozenset(found)


def reached(start: str, *, stop_at: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every project module `start` imports, directly or through others, with one import path to each; the
    search does not go past modules in `stop_at` (whose own imports are allowed to differ)."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        current = todo.pop()
        if current != start and within(current, stop_at):
            continue
        for target in sorted(imports_of(current)):
            if target not in paths:
                paths[target] = [*paths[current], target]
                todo.append(target)
    return paths


def core_modules() -> list[str]:
    return sorted(name for name in MODULES if within(name, ("catalog",)) and not within(name, CATALOG_EDGES))


def test_the_rule_knows_catalog_core_and_edges():
    core = core_modules()
    assert {"catalog.models", "catalog.querysets", "catalog.search", "catalog.params", "catalog.changes"} <= set(core)
    assert {"catalog.curation", "catalog.importers.loader"} <= set(core)
    assert not {"catalog.views", "catalog.api.views", "catalog.admin"} & set(core)


def test_catalog_core_reaches_recommender_only_through_the_embedding_seam():
    broken = []
    for name in core_modules():
        # The seam itself may import what it likes: it is recommender's, and imports no Django models.
        for target, path in reached(name, stop_at=(SEAM,)).items():
            # The package itself runs too (its __init__, followed like any module), not a module of it.
            if within(target, ("recommender",)) and target not in (SEAM, "recommender"):
                broken.append(" -> ".join(path))
    assert broken == []


def test_recommender_never_reaches_catalog_edges():
    broken = []
    for name in sorted(name for name in MODULES if within(name, ("recommender",))):
        for target, path in reached(name).items():
            if within(target, CATALOG_EDGES):
                broken.append(" -> ".join(path))
    assert broken == []


def test_an_import_inside_a_function_counts(tmp_path, monkeypatch):
    module = tmp_path / "catalog" / "sneaky.py"
    module.parent.mkdir()
    module.write_text("def later():\n    from recommender.similar import similar_films\n    return similar_films\n")
    monkeypatch.setitem(MODULES, "catalog.sneaky", module)
    imports_of.cache_clear()
    try:
        assert "recommender.similar" in imports_of("catalog.sneaky")
    finally:
        imports_of.cache_clear()
