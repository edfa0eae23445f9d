"""The installers, built and used as a user would: the frozen app, the .deb, the NSIS script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__

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
