"""What an idle desktop app does not hold (issue 15: app and engine idle under 300 MB;
tests/bench/bench_memory.py measures it): the source of every module imported after
PySide6, and the libraries of trigger kinds no active routine uses. Each check runs in a
fresh interpreter, since what is imported is per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRIGGER_LIBRARIES = ("aiohttp.web", "apscheduler", "watchfiles")


def python(code: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, cwd=ROOT, env={**os.environ}, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_modules_imported_after_pyside_leave_no_source_lines_in_memory():
    found = python("""
        import json, linecache, sys
        import PySide6.QtCore  # its import hook looks into every module imported after it
        import app.ui  # the desktop app's package
        from sqlalchemy.orm import Session
        from temporalio.client import Client
        from app.ui.icons import icon
        scan = sys.modules["shibokensupport.feature"].pyside_feature_dict
        print(json.dumps({
            "cached": [path for path in linecache.cache if not path.startswith("<") and (
                "sqlalchemy" in path or "temporalio" in path or "icons" in path)],
            "uses_pyside": {name: scan.get(name) for name in ("app.ui.icons",
                                                              "temporalio.client")}}))
        """)
    assert found["cached"] == []
    # PySide6's answer is unchanged: 0 for a module that uses it, -1 ("ignore") otherwise.
    assert found["uses_pyside"] == {"app.ui.icons": 0, "temporalio.client": -1}


def test_an_idle_runtime_without_local_triggers_loads_none_of_their_libraries(tmp_path, temporal):
    found = python(f"""
        import asyncio, json, sys
        from pathlib import Path
        from app.engine.devserver import free_port
        from app.paths import Paths
        from app.runtime import Runtime
        from app.services import Kianax
        from app.settings import Settings
        from app.vault import Vault
        from tests.keyrings import MemoryKeyring

        async def main():
            home = Path({str(tmp_path)!r})
            paths = Paths(home / "data", home / "config", home / "logs").ensure()
            Settings(server={temporal.info.address!r}, workspace="idle-{os.getpid()}",
                     webhook_port=free_port()).save(paths.settings)
            app = Kianax(paths, vault=Vault(MemoryKeyring()))
            runtime = Runtime(app)
            assert await runtime.start(), runtime.error
            try:
                print(json.dumps({{
                    "serving": runtime.host is not None,
                    "loaded": [m for m in {TRIGGER_LIBRARIES!r} if m in sys.modules]}}))
            finally:
                await runtime.close()
                app.close()

        asyncio.run(main())
        """)
    assert found == {"serving": True, "loaded": []}
