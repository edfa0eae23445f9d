"""Trust in the desktop: Import shows what a routine's machine-touching nodes would do before
trusting it; Cancel imports nothing; Run Now refuses an untrusted version until it is saved in
the editor, then runs it on the real dev server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow
from app.ui.trust_dialog import TRUST_TEXT, TrustDialog
from tests.conftest import ARTIFACTS
from tests.helpers import node, routine, transform
from tests.test_gui_run import close_window, open_window, run_on_qt_loop


def machine_file(tmp_path: Path) -> Path:
    code = "total = sum(input['numbers'])\nif total > 10:\n    total = 10\nreturn total\n"
    doc = routine([node("tar", "shell.command", command=["tar", "-czf", "/tmp/out.tgz", "."],
                        cwd="/home/me"),
                   node("sum", "code.python", code=code),
                   node("save", "files.write", path="/home/me/report.txt", content="x",
                        mode="append"),
                   node("mail", "email.send", credential="smtp", to=["a@example.com"],
                        cc="b@example.com", subject="s", text="t"),
                   transform("note", "safe")], rid="machine")
    doc["name"] = "Machine <work>"
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def window(qtbot, tmp_path):
    win = open_window(tmp_path, "127.0.0.1:1")  # no engine needed to import
    qtbot.waitExposed(win)
    yield win
    close_window(win)


def import_answering(window: MainWindow, monkeypatch, path: Path, button: str | None) -> list:
    """Import ``path`` through the menu's handler; click ``button`` in the dialog if one opens.
    Returns the rows each opened dialog showed."""
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(path), "Routines (*.json)"))
    seen: list = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, TrustDialog):
            QTimer.singleShot(20, answer)
            return
        seen.append(dialog.rows())
        ARTIFACTS.mkdir(exist_ok=True)
        dialog.grab().save(str(ARTIFACTS / "trust-dialog.png"))
        target = dialog.trust_button if button == TRUST_TEXT else dialog.cancel_button
        assert target.text().replace("&", "") == button
        target.click()

    if button is not None:
        QTimer.singleShot(0, answer)
    window.import_file()
    return seen


def test_import_lists_each_machine_touching_node_and_trusts_on_request(window, monkeypatch,
                                                                      tmp_path):
    seen = import_answering(window, monkeypatch, machine_file(tmp_path), TRUST_TEXT)

    assert seen == [[
        ("tar", "shell.command", "runs tar -czf /tmp/out.tgz . in /home/me"),
        ("sum", "code.python", "runs Python:\ntotal = sum(input['numbers'])\nif total > 10:\n"
                               "    total = 10\n… (4 lines)"),
        ("save", "files.write", "writes /home/me/report.txt (append)"),
        ("mail", "email.send", "sends mail to a@example.com, b@example.com"),
    ]]
    services = window.services
    assert [r.id for r in services.routines()] == ["machine"]
    assert services.current_untrusted("machine") is None
    assert window.statusBar().currentMessage() == "Imported machine as version 1 (trusted)"
    assert window.editor.routine.id == "machine"


def test_cancel_imports_nothing(window, monkeypatch, tmp_path):
    seen = import_answering(window, monkeypatch, machine_file(tmp_path), "Cancel")

    assert len(seen) == 1
    assert window.services.routines() == []
    assert window.statusBar().currentMessage() == "Import cancelled: nothing was imported"


def test_a_safe_routine_imports_without_a_question(window, monkeypatch, tmp_path):
    path = tmp_path / "safe.json"
    path.write_text(json.dumps(routine([transform("a", 1)], rid="safe")))
    opened: list = []
    monkeypatch.setattr(TrustDialog, "exec", lambda self: opened.append(self) or 0)

    import_answering(window, monkeypatch, path, None)

    assert opened == []
    assert [r.id for r in window.services.routines()] == ["safe"]


def test_run_now_refuses_an_untrusted_version_until_it_is_saved(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    marker = tmp_path / "ran.txt"
    doc = routine([node("write", "shell.command",
                        command=[sys.executable, "-c",
                                 f"open({str(marker)!r}, 'w').write('ran')"])], rid="cli-import")
    path = tmp_path / "cli.json"
    path.write_text(json.dumps(doc))
    window.services.import_file(path)  # as `kianax import FILE` without --trust stores it
    window.open_routine("cli-import")
    opened = window.statusBar().currentMessage()

    async def scenario() -> dict:
        await window.start_engine()
        assert window.engine is not None, window.engine_error
        window.run_now()
        for _ in range(200):  # the refusal comes from the run's task, before any engine call
            await asyncio.sleep(0.05)
            if window.statusBar().currentMessage().startswith("Run failed"):
                break
        refused = window.statusBar().currentMessage()
        assert not window.running
        window.save()  # "open it in the editor and save it"
        finished = asyncio.get_running_loop().create_future()
        window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
        window.run_now()
        state = await asyncio.wait_for(finished, 30)
        await window.shutdown()
        return {"refused": refused, "state": state}

    try:
        outcome = run_on_qt_loop(qapp, scenario)
    finally:
        close_window(window)
    refusal = ("routine 'cli-import' (version 1, imported from a file) is not trusted: it "
               "runs shell.command (node 'write'); trust it with `kianax import FILE --trust` "
               "or open it in the editor and save it")
    assert opened == f"Not runnable yet: {refusal}"
    assert outcome["refused"] == f"Run failed to start: {refusal}"
    assert outcome["state"]["status"] == "completed"
    assert marker.read_text() == "ran"
    assert [r.version for r in window.services.store.runs("cli-import")] == [2]
