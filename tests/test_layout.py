"""The loop's order holds in the imports: a stage reads only the top and earlier stages.

ingest -> enrich -> decide -> gold -> act -> report / evaluation -> ask. The top (contracts,
settings, errors, storage, telemetry, landing, the JSON Lines reader) imports no stage; the
composition roots (the ingest pipeline, the CLI, the demo) may import every stage. ``functions/``
imports a stage only through the public names of its package. Imports under
``if TYPE_CHECKING:`` are type hints, not arrows at run time, and are not counted.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from shared.settings import PROJECT_ROOT

SHARED = PROJECT_ROOT / "shared"
# Each stage's place in the loop; report and evaluation both measure, neither reads the other.
STAGE_ORDER = {
    "ingest": 0,
    "enrich": 1,
    "decide": 2,
    "gold": 3,
    "act": 4,
    "report": 5,
    "evaluation": 5,
    "ask": 6,
}
COMPOSITION_ROOTS = {
    "shared.demo_run",
    "shared.local_ingest",
    "shared.cli",
    "shared.pipeline",
    "shared.demo",
    "shared.demo_summary",
    "shared",
}


def _runtime_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every import that runs (TYPE_CHECKING skipped)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGE_ORDER else None


def test_every_stage_is_a_package_with_its_public_names() -> None:
    packages = {path.parent.name for path in SHARED.glob("*/__init__.py")}
    assert packages == set(STAGE_ORDER)
    for stage in STAGE_ORDER:
        package = importlib.import_module(f"shared.{stage}")
        assert package.__doc__ and package.__doc__.strip(), f"shared/{stage}: no docstring"
        assert package.__all__, f"shared/{stage}: no public names"
        for name in package.__all__:
            assert getattr(package, name) is not None


def _backward_arrows(module: str, path: Path) -> list[str]:
    own = _stage(module)
    wrong = []
    for line, imported, _ in _runtime_imports(path):
        target = _stage(imported)
        if target is None or target == own:
            continue
        where = f"{module}:{line} imports {imported}"
        if own is None:
            if module not in COMPOSITION_ROOTS:
                wrong.append(f"{where}: the top imports no stage")
        elif STAGE_ORDER[target] >= STAGE_ORDER[own]:
            wrong.append(f"{where}: {own} does not come after {target} in the loop")
    return wrong


def test_a_stage_imports_only_the_top_and_earlier_stages() -> None:
    wrong = [
        arrow
        for path in sorted(SHARED.rglob("*.py"))
        for arrow in _backward_arrows(_module_name(path), path)
    ]
    assert not wrong, "\n".join(wrong)


def test_functions_import_a_stage_only_through_its_public_names() -> None:
    wrong = []
    for path in sorted((PROJECT_ROOT / "functions").glob("*.py")):
        for line, imported, names in _runtime_imports(path):
            stage = _stage(imported)
            if stage is None:
                continue
            public = importlib.import_module(f"shared.{stage}").__all__
            if imported != f"shared.{stage}" or not set(names) <= set(public):
                wrong.append(f"{path.name}:{line}: {imported} {names}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_backward_arrows_and_skips_type_hints(tmp_path: Path) -> None:
    path = tmp_path / "module.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n\n"
        "from shared.decide.taxonomy import Taxonomy\n"
        "from shared.ingest.sources import SourceMapping\n"
        "import shared.act.routing\n\n"
        "if TYPE_CHECKING:\n"
        "    from shared.gold.jobs import GoldJobStart\n"
    )
    assert _backward_arrows("shared.enrich.example", path) == [
        "shared.enrich.example:3 imports shared.decide.taxonomy: enrich does not come after "
        "decide in the loop",
        "shared.enrich.example:5 imports shared.act.routing: enrich does not come after act "
        "in the loop",
    ]
    assert _backward_arrows("shared.act.example", path) == []
    assert len(_backward_arrows("shared.storage", path)) == 3
    assert _backward_arrows("shared.pipeline", path) == []
