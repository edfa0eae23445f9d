"""The installers, built and used as a user would: the frozen app, the .deb, the NSIS script."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app import __version__
from app.engine.devserver import free_port
from app.triggers.webhook import signed_headers
from tests.helpers import routine, transform
from tests.test_cli import write

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
pytestmark = pytest.mark.packaging


@pytest.fixture(scope="session")
def built() -> Path:
    """Build the one-folder app, the .deb and the .tar.gz once (packaging/linux/build.sh)."""
    result = subprocess.run(["bash", str(ROOT / "packaging/linux/build.sh")], cwd=ROOT,
                            capture_output=True, text=True, timeout=1800,
                            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                                 f"{os.environ['PATH']}"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return DIST / "kianax"


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and not p.is_symlink()) / 1e6


def test_frozen_self_test_runs_a_sample_on_the_embedded_engine(built, tmp_path):
    result = subprocess.run([str(built / "kianax"), "self-test"], capture_output=True,
                            text=True, timeout=120, env={**os.environ,
                                                          "KIANAX_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout
    print(f"\nbundle: {_size_mb(built):.0f} MB in dist/kianax")


def test_frozen_app_has_every_built_in_plugin_and_runs_python_code(built, tmp_path):
    """The plugins are imported by name, and code.python runs a file beside them: both must
    be in the bundle (a python3 on PATH runs the code: the frozen app is not a Python)."""
    env = {**os.environ, "KIANAX_HOME": str(tmp_path)}
    for sample in ("folder-backup.json", "mail-digest.json"):
        checked = subprocess.run([str(built / "kianax"), "validate",
                                  str(ROOT / "resources" / "samples" / sample)],
                                 capture_output=True, text=True, timeout=60, env=env)
        assert checked.returncode == 0, checked.stderr
    doc = routine([{"id": "sum", "plugin": "code.python",
                    "config": {"code": "return sum(trigger['n'])"}}])
    path = write(tmp_path / "sum.json", doc)
    ran = subprocess.run([str(built / "kianax"), "run", str(path), "--trust", "--input",
                          '{"n": [1, 2, 3]}', "--json"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert json.loads(ran.stdout)["result"] == {"sum": 6}


def test_frozen_gui_runs_offscreen_and_exits_cleanly(built, tmp_path):
    env = {**os.environ, "KIANAX_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([str(built / "kianax"), "--quit-after", "5"], capture_output=True,
                            text=True, timeout=90, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Fatal Python error" not in result.stderr
    shown = re.search(r"main window shown ([\d.]+) s",
                      (tmp_path / "logs" / "kianax.log").read_text())
    assert shown, "the main window was shown"
    print(f"\nfrozen cold start to the main window: {shown.group(1)} s")


def test_frozen_worker_serves_webhook_event_and_file_triggers(built, tmp_path, secret_service):
    """aiohttp, APScheduler and watchfiles made it into the bundle, and work there."""
    home, inbox, port = tmp_path / "home", tmp_path / "inbox", free_port()
    inbox.mkdir()
    env = {**os.environ, "KIANAX_HOME": str(home)}

    def frozen(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(built / "kianax"), *args], capture_output=True, text=True,
                                timeout=120, env=env, input=stdin)
        assert result.returncode == 0, result.stderr
        return result

    frozen("credential", "add", "fz-key", "--kind", "webhook_secret", stdin="frozen-secret")
    triggers = {
        "fz-hook": {"type": "webhook", "path": "fz", "credential": "fz-key"},
        "fz-event": {"type": "event", "every_s": 1, "when": "{{ check > 0 }}",
                     "check": {"plugin": "core.transform", "config": {"value": 5}}},
        "fz-file": {"type": "file", "path": str(inbox), "pattern": "*.txt"},
    }
    for rid, trigger in triggers.items():
        document = routine([transform("got", "{{ trigger }}")], rid=rid, trigger=trigger)
        frozen("import", str(write(tmp_path / f"{rid}.json", document)))
        frozen("activate", rid)
    worker = subprocess.Popen([str(built / "kianax"), "worker", "--triggers", "--webhook-port",
                               str(port)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = [worker.stderr.readline() for _ in range(5)]
        assert "serving 3 trigger(s)" in "".join(lines), lines
        body = b'{"n": 42}'
        reply = httpx.post(f"http://127.0.0.1:{port}/hooks/fz?wait=1", content=body, timeout=60,
                           headers=signed_headers(b"frozen-secret", body))
        assert reply.status_code == 200 and reply.json()["result"] == {"got": {"n": 42}}
        (inbox / "note.txt").write_text("hello")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = json.loads(frozen("runs", "--json").stdout)
            if {r["routine_id"] for r in runs if r["status"] == "completed"} == set(triggers):
                break
            time.sleep(0.5)
        assert sorted(r["routine_id"] for r in runs) == sorted(triggers), runs  # one each
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0


def test_desktop_file_and_appstream_metadata_validate(built):
    assert subprocess.run(["desktop-file-validate", str(ROOT / "resources/kianax.desktop")],
                          capture_output=True, text=True).stdout == ""
    appstream = subprocess.run(["appstreamcli", "validate", "--no-net",
                                str(ROOT / "resources/io.kianax.Kianax.metainfo.xml")],
                               capture_output=True, text=True)
    assert appstream.returncode == 0, appstream.stdout


def test_deb_installs_runs_and_removes(built, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("installing the .deb needs root (CI runs as root)")
    deb = next(DIST.glob(f"kianax_{__version__}_*.deb"))
    print(f"\n.deb: {_size_mb(deb):.0f} MB; "
          f".tar.gz: {_size_mb(next(DIST.glob('kianax-*-linux-*.tar.gz'))):.0f} MB")
    installed = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
    try:
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert Path("/usr/share/applications/kianax.desktop").exists()
        result = subprocess.run(["/usr/bin/kianax", "self-test"], capture_output=True,
                                text=True, timeout=120,
                                env={**os.environ, "KIANAX_HOME": str(tmp_path)})
        assert result.returncode == 0, result.stderr
        assert "self-test passed" in result.stdout
        status = subprocess.run(["dpkg-query", "-W", "-f=${Installed-Size}", "kianax"],
                                capture_output=True, text=True).stdout
        print(f"installed size: {int(status) / 1000:.0f} MB")
    finally:
        removed = subprocess.run(["dpkg", "-r", "kianax"], capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    assert not Path("/opt/kianax").exists()
    assert not Path("/usr/bin/kianax").exists()


def test_windows_installer_script_compiles_with_makensis(tmp_path):
    makensis = shutil.which("makensis")
    assert makensis, "apt-get install nsis"
    stand_in = tmp_path / "app"
    stand_in.mkdir()
    (stand_in / "kianax.exe").write_bytes(b"MZ stand-in")
    result = subprocess.run([makensis, "-V2", f"-DSOURCE={stand_in}",
                             f"-DOUTFILE={tmp_path / 'setup.exe'}", "kianax.nsi"],
                            cwd=ROOT / "packaging/windows", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "setup.exe").stat().st_size > 10_000


def test_macos_script_refuses_to_run_elsewhere():
    if sys.platform == "darwin":
        pytest.fail("run packaging/macos/build.sh itself on macOS")
    result = subprocess.run(["bash", str(ROOT / "packaging/macos/build.sh")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "macOS only" in result.stderr
