"""The design's layering rule, checked on the source: Qt only in app/ui, Temporal only in
app/engine, app/routine pure; the workflow module imports nothing heavy."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_FORBIDDEN = ("PySide6", "qasync", "temporalio", "sqlalchemy", "keyring", "httpx",
                  "apscheduler", "app.engine", "app.store", "app.services", "app.ui", "os",
                  "subprocess", "socket", "pathlib")


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def uses(names: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in names)


@pytest.mark.parametrize("path", modules("app", "plugins"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layering(path):
    names = imports_of(path)
    relative = path.relative_to(ROOT).as_posix()
    if not relative.startswith("app/ui/"):
        assert not uses(names, "PySide6") and not uses(names, "qasync"), "Qt outside app/ui"
    if not relative.startswith("app/engine/"):
        assert not uses(names, "temporalio"), "temporalio outside app/engine"
    if relative.startswith("app/routine/"):
        bad = [n for n in names if any(uses({n}, f) for f in PURE_FORBIDDEN)]
        assert not bad, f"app/routine must stay pure, imports {bad}"


BELOW_RUNTIME = ("app.engine", "app.triggers", "app.store")


@pytest.mark.parametrize("path", [*modules("app/ui"), ROOT / "app" / "cli.py",
                                  ROOT / "app" / "cli_engine.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_ui_and_cli_reach_the_engine_triggers_and_store_only_through_runtime_and_services(path):
    """ui → runtime/services → engine, triggers, store: not even a typing-only import."""
    names = imports_of(path)  # ast.walk: function-level and typing-only imports too
    bad = sorted(n for n in names if any(uses({n}, below) for below in BELOW_RUNTIME))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}; go through app.runtime or " \
        "app.services"
    if "/ui/" in path.as_posix():
        assert ".store." not in path.read_text(), "reaches into the store past the services"


@pytest.mark.parametrize("path", modules("app/runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_is_qt_free(path):
    names = imports_of(path)  # ast.walk: function-level and typing-only imports too
    assert not any(uses(names, qt) for qt in ("PySide6", "qasync", "app.ui")), \
        "the runtime must run headless"


@pytest.mark.parametrize("module", ["interpreter.py", "approvals.py", "subroutines.py",
                                    "for_each.py", "pacing.py", "stored_data.py"])
def test_workflow_module_imports_only_the_pure_model_and_core_manifests(module):
    names = imports_of(ROOT / "app" / "engine" / module)
    project = {n for n in names if n.startswith(("app", "plugins"))}
    assert project <= {"app.engine.approvals", "app.engine.subroutines", "app.plugin_api",
                       "app.engine.for_each", "app.engine.pacing", "app.routine.budget",
                       "app.engine.stored_data", "app.routine.references",
                       "app.routine",
                       "app.routine.expressions", "app.routine.graph", "app.routine.limits",
                       "app.routine.model", "app.routine.rerun", "app.routine.runstate",
                       "plugins.core"}


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is part of the test extra"
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
