"""A headless `kianax worker` on the embedded server re-registers this machine's cron
schedules at start, as the desktop does: a fresh server database, or schedules made before
the embedded engine encrypted its payloads, never leave an active routine without a
working schedule."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

from tests.test_cli import kianax, write
from tests.test_cron import cron_routine


def test_worker_on_the_embedded_server_recreates_missing_schedules(tmp_path):
    home = tmp_path / "home"
    assert kianax("import", str(write(tmp_path / "r.json", cron_routine("nightly"))),
                  home=home).returncode == 0
    assert kianax("activate", "nightly", home=home).returncode == 0
    shutil.rmtree(home / "data" / "engine")  # the server's database is gone; the store stays
    assert kianax("schedule", "show", "nightly", home=home).returncode != 0

    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], text=True,
                              env={**os.environ, "KIANAX_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert worker.stderr is not None
        assert "worker on" in worker.stderr.readline()
        shown = kianax("schedule", "show", "nightly", home=home)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    assert shown.returncode == 0, shown.stderr
    assert "0 3 * * *" in shown.stdout
