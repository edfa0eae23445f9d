"""The plugin SDK as a plugin author meets it: the example package built and installed with pip,
found through its entry point, run in a routine on the real engine; plugins Kianax cannot
honour refused at load with a sentence `kianax plugins` shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.plugin_api.registry import discover
from tests.helpers import node, routine

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "kianax-plugin-example"


def kianax(*args: str, home: Path, path: Path | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIANAX_HOME": str(home)}
    if path is not None:  # the installed package, without touching the shared venv
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package built and installed by pip into a folder of its own (a copy is
    built, so the source tree gets no build/ or egg-info)."""
    work = tmp_path_factory.mktemp("example")
    shutil.copytree(EXAMPLE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                         "__pycache__"))
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(work / "src")], check=True, capture_output=True, timeout=120)
    assert (target / "kianax_plugin_example").is_dir()
    return target


def test_the_example_packages_own_tests_pass_against_the_installed_copy(installed, tmp_path):
    tests = tmp_path / "tests"
    shutil.copytree(EXAMPLE / "tests", tests)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(tests)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.getcwd()])})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


def test_kianax_plugins_lists_the_package_with_its_origin(installed, tmp_path):
    result = kianax("plugins", "--json", home=tmp_path / "home", path=installed)

    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    found = {p["id"]: p for p in listing["plugins"]}
    assert found["example.slugify"] == {
        "id": "example.slugify", "title": "Slugify", "category": "Text",
        "origin": "package kianax-plugin-example", "needs_trust": False, "runs_in": "activity"}
    assert found["http.request"]["origin"] == "built-in"
    assert found["shell.command"]["needs_trust"] is True
    assert listing["load_errors"] == [] and listing["api_version"] == 1
    table = kianax("plugins", home=tmp_path / "home", path=installed).stdout
    assert "package kianax-plugin-example" in table


def test_a_routine_runs_the_package_plugin_on_the_engine(installed, tmp_path, temporal):
    doc = routine([node("slug", "example.slugify", text="{{ trigger.title }}", max_length=20),
                   node("shout", "core.transform", value="{{ input.slug }}!")],
                  [("slug", "shout")], rid="slugs")
    path = tmp_path / "slugs.json"
    path.write_text(json.dumps(doc))

    result = kianax("run", str(path), "--input", '{"title": "Café Report: Q3/2024 — final"}',
                    "--json", "--server", temporal.info.address, home=tmp_path / "home",
                    path=installed)

    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["nodes"]["slug"]["output"] == {"slug": "cafe-report-q3-2024", "length": 19}
    assert state["result"] == {"shout": "cafe-report-q3-2024!"}
    without = kianax("validate", str(path), home=tmp_path / "home")  # not installed here
    assert without.returncode == 2 and "example.slugify" in without.stderr


def user_plugin(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text("from app.plugin_api import Emission, Plugin\n\n"
                    "async def run(ctx, input, config):\n    return input\n\n"
                    + textwrap.dedent(body))
    return path


def test_a_user_file_declaring_workflow_is_refused_at_load_with_a_clear_message(tmp_path):
    home = tmp_path / "home"
    path = user_plugin(home / "data" / "plugins", "mine", """
        PLUGINS = [Plugin("mine.flow", "Mine", "Mine", "workflow",
                          evaluate=lambda i, c, s: Emission(i))]
        """)

    result = kianax("plugins", "--json", home=home)

    assert result.returncode == 0, result.stderr
    assert "mine.flow" not in {p["id"] for p in json.loads(result.stdout)["plugins"]}
    message = (f"file {path}: plugin mine.flow declares runs_in='workflow', which only "
               "Kianax's own plugins may (a worker's workflow sandbox cannot import your "
               "code); make it runs_in='activity' with an async execute(ctx, input, config)")
    assert json.loads(result.stdout)["load_errors"] == [message]
    assert result.stderr == f"1 plugin not loaded:\n  {message}\n"
    doc = tmp_path / "uses.json"
    doc.write_text(json.dumps(routine([node("a", "mine.flow")])))
    refused = kianax("run", str(doc), home=home)  # before any engine: not at run time
    assert refused.returncode == 2 and "unknown plugin" in refused.stderr


@pytest.mark.parametrize(("body", "words"), [
    ("PLUGINS = [Plugin('Bad Id', 'x', 'x', 'activity', execute=run)]",
     "plugin id 'Bad Id' is not valid"),
    ("PLUGINS = [Plugin('nodots', 'x', 'x', 'activity', execute=run)]",
     "plugin id 'nodots' is not valid"),
    ("PLUGINS = [Plugin('http.request', 'x', 'x', 'activity', execute=run)]",
     "plugin id 'http.request' is already taken by a built-in plugin"),
    ("PLUGINS = [Plugin('mine.noexec', 'x', 'x', 'activity')]",
     "plugin mine.noexec runs as an activity but has no execute"),
    ("PLUGINS = [Plugin('mine.schema', 'x', 'x', 'activity', execute=run,\n"
     "                  config_schema={'type': 'object', 'properties': {'a': {'type': 7}}})]",
     "plugin mine.schema's config_schema is not a valid JSON schema at properties/a/type"),
    ("KIANAX_PLUGIN_API = 2\nPLUGINS = [Plugin('mine.future', 'x', 'x', 'activity', "
     "execute=run)]", "it is written for Kianax plugin API 2, and this Kianax speaks API 1"),
    ("PLUGIN = []", "defines no PLUGINS list"),
    ("PLUGINS = [Plugin('mine.x', 'x', 'x', 'activity', execute=run)]\n1/0",
     "ZeroDivisionError: division by zero"),
    ("PLUGINS = [object()]", "is not a Plugin"),
])
def test_plugins_that_cannot_be_honoured_are_refused_with_one_sentence(tmp_path, body, words):
    path = user_plugin(tmp_path, "mine", body)

    registry = discover(tmp_path)

    assert len(registry.load_errors) == 1, registry.load_errors
    error = registry.load_errors[0]
    assert error.startswith(f"file {path}: ") and words in error
    assert "\n" not in error
    assert not [p for p in registry if p.id.startswith("mine.")]
    assert registry.get("http.request").title == "HTTP Request"  # the built-in kept


def test_a_good_user_file_loads_with_its_file_origin_next_to_a_bad_one(tmp_path):
    good = user_plugin(tmp_path, "good", """
        KIANAX_PLUGIN_API = 1
        PLUGINS = [Plugin("acme.echo", "Echo", "Acme", "activity", execute=run,
                          config_schema={"type": "object", "properties": {}})]
        """)
    user_plugin(tmp_path, "taken", "PLUGINS = [Plugin('acme.echo', 'x', 'x', 'activity', "
                "execute=run)]")

    registry = discover(tmp_path)

    assert str(registry.origin("acme.echo")) == f"file {good}"
    assert registry.load_errors == [f"file {tmp_path / 'taken.py'}: plugin id 'acme.echo' is "
                                    f"already taken by file {good}"]
