"""The desktop app on a damaged store: a dialog that names the file and offers to restore
the latest backup (or quit), instead of a crash. Real widgets, files and SQLite."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.paths import Paths
from app.store import Store, backup
from app.ui.app import QUIT, RESTORE, open_services
from tests.conftest import ARTIFACTS

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"


def damaged_home(tmp_path: Path) -> Paths:
    """A store with a routine and a backup of it, then garbage over the store."""
    paths = Paths(tmp_path / "data", tmp_path / "config", tmp_path / "logs").ensure()
    store = Store(paths.store)
    store.save_routine(json.loads((SAMPLES / "ticket-router.json").read_text()))
    store.close()
    backup.take(paths.store, paths.backups)
    paths.store.write_bytes(os.urandom(8192))
    return paths


def click_in_dialog(qtbot, button_text: str, seen: list[str]) -> None:
    """When the modal dialog is up, note its text (and a screenshot), then press a button."""

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen.append(box.text())
        ARTIFACTS.mkdir(exist_ok=True)
        box.grab().save(str(ARTIFACTS / "store-fault-dialog.png"))
        [button] = [b for b in box.buttons() if b.text() == button_text]
        button.click()

    QTimer.singleShot(0, press)


def test_restore_latest_backup_from_the_start_dialog(qtbot, tmp_path):
    paths = damaged_home(tmp_path)
    damaged = paths.store.read_bytes()
    seen: list[str] = []
    click_in_dialog(qtbot, RESTORE, seen)

    opened = open_services(paths)

    assert opened is not None
    services, note = opened
    assert seen and seen[0].startswith(f"The Kianax store {paths.store} is damaged")
    assert "kianax store restore" in seen[0]
    assert [r.id for r in services.store.routines()] == ["ticket-router"]
    [kept] = [p for p in paths.data.glob("kianax.db.damaged-*") if not p.name.endswith(
        ("-wal", "-shm"))]
    assert kept.read_bytes() == damaged
    assert kept.name in note
    services.close()


def test_quit_from_the_start_dialog_leaves_the_files_alone(qtbot, tmp_path):
    paths = damaged_home(tmp_path)
    damaged = paths.store.read_bytes()
    seen: list[str] = []
    click_in_dialog(qtbot, QUIT, seen)

    assert open_services(paths) is None

    assert len(seen) == 1
    assert paths.store.read_bytes() == damaged
    assert not list(paths.data.glob("kianax.db.damaged-*"))
