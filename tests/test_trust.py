"""Trust through the real `kianax` command: a routine from a file whose nodes touch the
machine is stored but neither run nor activated until its user trusts it; trusted, it runs on
the real engine; a new untrusted version stops an active trigger; safe routines need nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from app.engine import schedules
from app.paths import Paths
from app.routine import parse_routine
from app.services import Kianax, LoadedRoutine
from app.settings import Settings
from tests.helpers import node, routine, transform

TOUCH_PLUGIN = textwrap.dedent('''
    """A user's own machine-touching plugin: it writes a file."""
    from pathlib import Path
    from app.plugin_api import Plugin

    async def touch(ctx, input, config):
        Path(config["path"]).write_text("touched")
        return {"path": config["path"]}

    PLUGINS = [Plugin("mine.touch", "Touch", "Mine", "activity", execute=touch,
                      needs_trust=True, config_schema={
                          "type": "object", "required": ["path"],
                          "properties": {"path": {"type": "string"}}})]
    ''')


def kianax(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env={**os.environ, "KIANAX_HOME": str(home)}, timeout=timeout)


def setup_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "data" / "plugins").mkdir(parents=True)
    (home / "data" / "plugins" / "touch.py").write_text(TOUCH_PLUGIN)
    return home


def backup_file(tmp_path: Path, marker: Path, trigger: dict | None = None) -> Path:
    doc = routine([node("tar", "shell.command",
                        command=[sys.executable, "-c", "print('packed')"]),
                   node("save", "mine.touch", path=str(marker))],
                  [("tar", "save")], rid="backup", **({"trigger": trigger} if trigger else {}))
    doc["name"] = "Back up"
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(doc))
    return path


REFUSAL = ("routine 'backup' (version {v}, imported from a file) is not trusted: it runs "
           "shell.command (node 'tar') and mine.touch (node 'save'); trust it with `kianax "
           "import FILE --trust` or open it in the editor and save it")


def test_an_untrusted_import_is_stored_but_refused_to_run_or_activate(tmp_path):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    path = backup_file(tmp_path, marker, {"type": "cron", "schedule": "0 3 * * *"})

    imported = kianax("import", str(path), home=home)
    run = kianax("run", "backup", home=home)
    activate = kianax("activate", "backup", home=home)
    run_file = kianax("run", str(path), home=home)

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "imported backup as version 1\n"
    assert f"not trusted: {REFUSAL.format(v=1)}" in imported.stderr  # what it asks to trust
    assert f"node 'tar' (shell.command) runs {sys.executable} -c 'print('\"'\"'packed'" \
        in imported.stderr
    assert f"node 'save' (mine.touch) mine.touch with {{\"path\": \"{marker}\"}}" \
        in imported.stderr
    for refused in (run, activate):
        assert refused.returncode == 2
        assert refused.stderr == f"error: {REFUSAL.format(v=1)}\n"  # one sentence
    assert run_file.returncode == 2
    assert run_file.stderr == (
        f"error: routine 'backup' in {path} is not trusted: it runs shell.command (node "
        "'tar') and mine.touch (node 'save'); read what they do, then run it with `kianax "
        f"run {path} --trust`\n")
    listed = json.loads(kianax("list", "--json", home=home).stdout)
    assert [(r["id"], r["active"], r["trusted"]) for r in listed] == [("backup", False, False)]
    assert "1 (not trusted)" in kianax("list", home=home).stdout
    assert not marker.exists()
    assert kianax("run", "backup", "--trust", home=home).returncode == 2  # only for a FILE


def test_trusted_it_runs_on_the_engine_from_the_store_and_from_the_file(tmp_path, temporal):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    path = backup_file(tmp_path, marker)
    server = ("--server", temporal.info.address)

    imported = kianax("import", str(path), "--trust", home=home)
    by_id = kianax("run", "backup", "--json", *server, home=home)

    assert imported.stdout == "imported backup as version 1 (trusted)\n", imported.stderr
    assert imported.stderr == ""
    assert by_id.returncode == 0, by_id.stderr
    assert json.loads(by_id.stdout)["nodes"]["tar"]["output"]["stdout"] == "packed\n"
    assert marker.read_text() == "touched"
    marker.unlink()
    from_file = kianax("run", str(path), "--trust", "--json", *server, home=home)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["status"] == "completed" and marker.exists()


def test_a_new_untrusted_version_is_refused_again_and_its_trigger_stops(tmp_path):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    trigger = {"type": "file", "path": str(inbox), "pattern": "*.txt"}
    safe = tmp_path / "safe.json"
    safe.write_text(json.dumps(routine([transform("note", "hello")], rid="backup",
                                       trigger=trigger)))

    assert kianax("import", str(safe), home=home).stderr == ""  # nothing to trust
    assert kianax("activate", "backup", home=home).returncode == 0
    imported = kianax("import", str(backup_file(tmp_path, marker, trigger)), home=home)

    assert imported.returncode == 0
    assert ("backup was deactivated because " + REFUSAL.format(v=2)
            + ", then activate it again") in imported.stdout
    listed = json.loads(kianax("list", "--json", home=home).stdout)
    assert [(r["id"], r["version"], r["active"]) for r in listed] == [("backup", 2, False)]
    assert kianax("activate", "backup", home=home).stderr == \
        f"error: {REFUSAL.format(v=2)}\n"
    app = Kianax(Paths(home / "data", home / "config", home / "logs"))
    try:  # the earlier, safe version is still runnable by version (a rerun)
        assert app.untrusted(app.load("backup")) is not None
        document, _ = app.stored("backup", 1)
        assert app.store.version_trusted("backup", 1)
        assert app.trust_items(document) == []
    finally:
        app.close()


def test_saving_in_the_editor_trusts_and_export_carries_no_trust(tmp_path):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    path = backup_file(tmp_path, marker)
    app = Kianax(Paths(home / "data", home / "config", home / "logs"))
    try:
        assert app.import_file(path) == ("backup", 1)
        assert app.current_untrusted("backup") == REFUSAL.format(v=1)
        version = app.save(parse_routine(app.stored("backup")[0]))  # the editor's Save
        assert version == 2 and app.current_untrusted("backup") is None
        exported = app.export("backup")
        assert "trust" not in json.dumps(exported)
        again = tmp_path / "again.json"
        again.write_text(json.dumps(exported))
        assert app.import_file(again) == ("backup", 3)  # from a file: asks again
        assert app.current_untrusted("backup") == REFUSAL.format(v=3)
        assert app.import_file(again, trust=True) == ("backup", 4)
        assert app.current_untrusted("backup") is None
        renamed = LoadedRoutine(exported | {"id": "other"}, 4, "editor")  # never stored
        assert app.untrusted(renamed) == \
            "routine 'other' has no stored version 4 to trust; save it first"
    finally:
        app.close()


def test_many_nodes_are_named_briefly_and_the_event_check_counts(tmp_path):
    home = setup_home(tmp_path)
    nodes = [node(f"n{i}", "mine.touch", path=f"/tmp/{i}") for i in range(9)]
    doc = routine(nodes, rid="many", trigger={
        "type": "event", "every_s": 60, "when": "{{ true }}",
        "check": {"plugin": "files.list", "config": {"path": "/etc"}}})
    path = tmp_path / "many.json"
    path.write_text(json.dumps(doc))
    app = Kianax(Paths(home / "data", home / "config", home / "logs"))
    try:
        app.import_file(path)
        assert app.current_untrusted("many") == (
            "routine 'many' (version 1, imported from a file) is not trusted: it runs "
            "mine.touch (nodes 'n0', 'n1', 'n2', 'n3', 'n4', 'n5' and 3 more) and files.list "
            "(the event trigger's check); trust it with `kianax import FILE --trust` or open "
            "it in the editor and save it")
    finally:
        app.close()


def test_versions_stored_before_trust_existed_stay_runnable(tmp_path):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    paths = Paths(home / "data", home / "config", home / "logs")
    app = Kianax(paths)
    app.import_file(backup_file(tmp_path, marker))
    app.close()
    with sqlite3.connect(paths.store) as db:  # the store as an older Kianax left it
        db.execute("ALTER TABLE routine_versions DROP COLUMN trusted")

    app = Kianax(paths)
    try:
        assert app.current_untrusted("backup") is None
    finally:
        app.close()


async def test_the_trigger_host_does_not_serve_an_untrusted_version(tmp_path):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    trigger = {"type": "file", "path": str(inbox), "pattern": "*.txt"}
    app = Kianax(Paths(home / "data", home / "config", home / "logs"))
    host = app.trigger_host(engine=None, adopt=False)  # type: ignore[arg-type]  # no run starts
    try:
        app.import_file(backup_file(tmp_path, marker, trigger), trust=True)
        await app.activate("backup")
        await host.refresh()
        assert list(host.watches) == ["backup"]  # trusted: served
        document, _ = app.stored("backup")
        app.store.save_routine(document, trusted=False)  # e.g. written by another process

        await host.refresh()

        assert host.watches == {}
        [status] = host.statuses()
        assert (status.detail, status.error) == ("not served", REFUSAL.format(v=2))
    finally:
        await host.close()
        app.close()


async def test_start_up_repair_drops_the_schedule_of_an_untrusted_version(tmp_path, temporal,
                                                                           client):
    home, marker = setup_home(tmp_path), tmp_path / "marker.txt"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    Settings(server=temporal.info.address,
             workspace=f"trust-{os.getpid()}-{tmp_path.name[-10:]}").save(paths.settings)
    rid = f"backup-{tmp_path.name[-8:].replace('_', '-')}"
    doc = json.loads(backup_file(tmp_path, marker, {"type": "cron", "schedule": "0 3 * * *"})
                     .read_text()) | {"id": rid}
    path = tmp_path / "cron.json"
    path.write_text(json.dumps(doc))
    app = Kianax(paths)
    try:
        app.import_file(path, trust=True)
        async with app.engine(worker=False) as engine:
            await app.activate(rid, engine)
            assert rid in await schedules.existing_ids(client)
            app.store.save_routine(app.stored(rid)[0], trusted=False)  # behind its back

            removed, upserted = await app.reconcile(engine)

        assert rid in removed and rid not in upserted
        assert rid not in await schedules.existing_ids(client)
    finally:
        app.close()
