"""What a cold `kianax run` does not pay for (issue 15), and that skipping it changes nothing
a user sees: plugin libraries load on a node's first use (a missing one fails that node
with a sentence), the garbage collector is back on, as usual, once the run is started, and
a run of a file loads no store (SQLAlchemy) yet is recorded (app/services/run_journal.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import node, routine, transform

ROOT = Path(__file__).resolve().parent.parent


def python(code: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (what is imported at start-up is per process)."""
    env = {**os.environ, **({"KIANAX_HOME": str(home)} if home else {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)


def test_reading_the_builtin_manifests_imports_no_http_client():
    result = python("""
        import sys
        from app.plugin_api.registry import builtin_plugins
        ids = {p.id for p in builtin_plugins()}
        assert {"http.request", "llm.chat"} <= ids, ids
        print(sorted(m for m in ("httpx", "http.cookiejar") if m in sys.modules))
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("plugin_id, config", [
    ("http.request", {"url": "http://127.0.0.1:9/"}),
    ("llm.chat", {"model": "m", "prompt": "hi", "base_url": "http://127.0.0.1:9/v1"}),
])
def test_a_missing_library_fails_the_node_with_a_sentence_naming_it(plugin_id, config):
    result = python(f"""
        import asyncio, logging, sys
        sys.modules["httpx"] = None  # what `import httpx` meets where it is not installed
        from app.plugin_api import PluginError
        from app.plugin_api.registry import builtin_plugins
        plugin = {{p.id: p for p in builtin_plugins()}}[{plugin_id!r}]

        class Ctx:
            node_id, attempt, logger, idempotency_key = "n", 1, logging.getLogger(), ""

        try:
            asyncio.run(plugin.execute(Ctx(), None, {config!r}))
        except PluginError as exc:
            print(exc.kind, exc.retryable, exc, sep="|")
        """)
    assert result.returncode == 0, result.stderr
    kind, retryable, message = result.stdout.strip().split("|")
    assert (kind, retryable) == ("MissingLibrary", "False")
    assert message.startswith(f"{plugin_id} needs the Python package 'httpx', which cannot be "
                              "imported here (")
    assert message.endswith("); reinstall Kianax")


PROBE = """
import gc

from app.plugin_api import Plugin


async def probe(ctx, input, config):
    return {"gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count() > 0}


PLUGINS = [Plugin("acme.gc_probe", "GC probe", "Acme", "activity", execute=probe)]
"""


def test_the_collector_runs_as_usual_once_the_run_is_started(tmp_path, temporal):
    """`kianax run` keeps the collector off while it starts (app.cli) and must turn it back
    on for the run itself: a long run's garbage is collected as it always was."""
    home = tmp_path / "home"
    (home / "data" / "plugins").mkdir(parents=True)
    (home / "data" / "plugins" / "probe.py").write_text(PROBE)
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(routine([node("p", "acme.gc_probe")], rid="probe")))

    result = subprocess.run([sys.executable, "-m", "app", "run", str(path), "--json",
                             "--server", temporal.info.address], capture_output=True,
                            text=True, env={**os.environ, "KIANAX_HOME": str(home)},
                            cwd=ROOT, timeout=120)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nodes"]["p"]["output"] == {"gc_enabled": True,
                                                                "frozen": True}


def test_every_other_command_runs_with_the_collector_on(tmp_path):
    result = python("""
        import gc, sys
        import app.cli
        assert not gc.isenabled()  # off while Kianax loads
        app.cli.COMMANDS["list"] = lambda app, args: print(gc.isenabled()) or 0
        sys.exit(app.cli.main(["list"]))
        """, home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


BLOCKED = """
import sys

class NoSQLAlchemy:
    def find_spec(self, name, path=None, target=None):
        if name == "sqlalchemy":
            raise ImportError("a cold run imported SQLAlchemy")

sys.meta_path.insert(0, NoSQLAlchemy())
sys.argv = ["kianax", *sys.argv[1:]]
from app.cli import run
run()
"""


def test_a_cold_run_of_a_file_imports_no_sqlalchemy_and_is_recorded(tmp_path, temporal):
    home = tmp_path / "home"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(routine([transform("a", {"n": "{{ trigger.n }}"}),
                                        transform("b", "{{ input.n + 1 }}")], [("a", "b")])))

    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BLOCKED), "run", str(path), "--json",
         "--input", '{"n": 1}', "--server", temporal.info.address],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "KIANAX_HOME": str(home)})

    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["result"] == {"b": 2}
    shown = subprocess.run([sys.executable, "-m", "app", "show", state["run_id"], "--json"],
                           capture_output=True, text=True, cwd=ROOT, timeout=60,
                           env={**os.environ, "KIANAX_HOME": str(home)})
    assert json.loads(shown.stdout)["status"] == "completed"  # recorded, from the journal
