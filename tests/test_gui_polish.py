"""What a new user noticed, fixed: the library sees the CLI's imports, relaunch reopens the
last routine, a first save asks for a name, the Credentials dialog says what to do without
a keyring, Import opens where the last import was, and there is a Help menu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from keyring.backends import fail
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog

from app import __version__
from app.paths import Paths
from app.services import Credentials, Kianax
from app.ui.credentials_dialog import NO_KEYRING, CredentialsDialog
from app.ui.help_menu import about_text, shortcut_rows, show_about, show_shortcuts
from app.ui.library import ROLE_ID
from app.ui.main_window import MainWindow
from app.vault import Vault
from tests.conftest import ARTIFACTS
from tests.helpers import routine, transform
from tests.keyrings import MemoryKeyring
from tests.test_gui_run import close_window, open_window

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def library_ids(window: MainWindow) -> list[str]:
    return [window.library.list.item(i).data(ROLE_ID) for i in range(window.library.list.count())]


def wait_for(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if check():
            return True
        time.sleep(0.02)
    return check()


def answer_next_modal(callback) -> None:
    """Act on the next modal dialog once it shows, as a person would."""
    def act() -> None:
        modal = QApplication.activeModalWidget()
        if modal is None:
            QTimer.singleShot(20, act)
            return
        callback(modal)

    QTimer.singleShot(0, act)


def test_the_library_notices_a_routine_the_cli_imports(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    try:
        assert window.library_timer.isActive() and window.library_timer.interval() <= 5000
        assert "cli-made" not in library_ids(window)
        path = tmp_path / "cli-made.json"
        path.write_text(json.dumps(routine([transform("a", 1)], rid="cli-made")))
        done = subprocess.run([sys.executable, "-m", "app", "import", str(path)], cwd=ROOT,
                              env={**os.environ, "KIANAX_HOME": str(tmp_path / "home")},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert wait_for(lambda: "cli-made" in library_ids(window)), "the import never showed"
        assert not window.sync_library()  # nothing changed since: nothing rebuilt
        window.open_routine("cli-made")
        assert window.version == 1
        second = routine([transform("a", 2), transform("b", 3)], [("a", "b")], rid="cli-made")
        window.services.store.save_routine(second)  # a second import, as the CLI does it
        assert window.sync_library()
        assert window.version == 2 and len(window.editor.routine.nodes) == 2  # shown at once
        assert "saved elsewhere" in window.statusBar().currentMessage()
        window.editor.update_routine("Rename", name="mine")  # unsaved edits are never lost
        window.services.store.save_routine(routine([transform("a", 4)], rid="cli-made"))
        assert window.sync_library()
        assert window.version == 2 and window.editor.routine.name == "mine"
        assert "newer version 3" in window.statusBar().currentMessage()
        window.editor.undo_stack.setClean()
        window.services.store.delete_routine("cli-made")  # as `kianax delete` would
        window._application_state(Qt.ApplicationState.ApplicationActive)  # window activated
        assert "cli-made" not in library_ids(window)
    finally:
        close_window(window)


def test_relaunch_reopens_the_last_routine(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    services = window.services
    for rid in ("first", "second"):
        services.store.save_routine(routine([transform("a", 1)], rid=rid))
    window.open_routine("second")
    paths = services.paths
    close_window(window)

    relaunched = MainWindow(Kianax(paths))
    try:
        assert (relaunched.editor.routine.id, relaunched.version) == ("second", 1)
        relaunched.services.store.delete_routine("second")
    finally:
        close_window(relaunched)
    gone = MainWindow(Kianax(paths))  # the last routine was deleted: a new one instead
    try:
        assert gone.version is None and gone.editor.routine.name == "Untitled routine"
    finally:
        close_window(gone)


def test_a_first_save_asks_for_the_name_and_derives_the_id(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    services = window.services
    try:
        window.new_routine(ask=False)
        draft_id = window.editor.routine.id
        window.editor.add_node("core.transform", (0.0, 0.0))
        services.pin(draft_id, "transform", {"kept": True})
        window.test_input.text.setPlainText('{"who": "Ada"}')
        window.test_input.flush()

        answer_next_modal(lambda dialog: dialog.reject())
        window.save()  # Cancel: nothing is saved, the edits stay
        assert not services.has_routine(draft_id) and window.version is None
        assert "needs a name" in window.statusBar().currentMessage()
        assert not window.editor.undo_stack.isClean()

        def name_it(dialog: QInputDialog) -> None:
            assert dialog.textValue() == ""  # not "Untitled routine"
            dialog.grab().save(str(ARTIFACTS / "polish-name-on-first-save.png"))
            dialog.setTextValue("Weekly Report!")
            dialog.accept()

        answer_next_modal(name_it)
        window.save()
        assert window.editor.routine.id == "weekly-report"
        assert services.stored("weekly-report")[0]["name"] == "Weekly Report!"
        assert window.version == 1 and window.editor.undo_stack.isClean()
        assert services.pins("weekly-report")["transform"].output == {"kept": True}
        assert services.test_input("weekly-report") == {"who": "Ada"}
        while window.editor.undo_stack.canUndo():  # the history keeps the new id
            window.editor.undo_stack.undo()
        assert window.editor.routine.id == "weekly-report"
        window.editor.undo_stack.redo()
        window.save()  # a second save asks nothing
        assert window.version == 2

        window.new_routine(ask=False)  # named in the inspector first: nothing to ask
        window.editor.update_routine("Rename", name="Daily digest")
        window.save()
        assert (window.editor.routine.id, window.version) == ("daily-digest", 1)
    finally:
        close_window(window)


def test_credentials_without_a_keyring_say_what_to_do_and_offer_no_add(qapp, tmp_path):
    paths = Paths(tmp_path / "d", tmp_path / "c", tmp_path / "l").ensure()
    app = Kianax(paths)
    missing = CredentialsDialog(Credentials(app.store, Vault(fail.Keyring())))
    try:
        assert missing.status.text() == NO_KEYRING
        assert "keyring.backends" not in missing.status.text() and "Keyring" not in \
            missing.status.text().replace("GNOME Keyring", "")
        assert not missing.add_button.isEnabled() and not missing.rotate_button.isEnabled()
        missing.show()
        QApplication.processEvents()
        missing.grab().save(str(ARTIFACTS / "polish-credentials-no-keyring.png"))
    finally:
        missing.close()
    working = CredentialsDialog(Credentials(app.store, Vault(MemoryKeyring())))
    try:
        assert working.status.text() == "" and working.add_button.isEnabled()
    finally:
        working.close()
        app.close()


def test_import_opens_in_documents_then_where_the_last_import_was(qapp, tmp_path, temporal,
                                                                  monkeypatch):
    home = tmp_path / "user"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    window = open_window(tmp_path, temporal.info.address)
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "tidy.json"
    path.write_text(json.dumps(routine([transform("a", 1)], rid="tidy")))
    seen: list[str] = []

    def choose(dialog: QFileDialog) -> None:
        seen.append(dialog.directory().absolutePath())
        dialog.selectFile(str(path))
        dialog.accept()

    try:
        assert os.getcwd() != str(home / "Documents")
        answer_next_modal(choose)
        window.import_file()
        assert seen == [str(home / "Documents")]  # not the working folder
        assert window.services.has_routine("tidy")
        answer_next_modal(lambda dialog: (seen.append(dialog.directory().absolutePath()),
                                          dialog.reject()))
        window.import_file()
        assert seen[1] == str(folder)
        assert Kianax(window.services.paths).settings.last_import_dir == str(folder)
    finally:
        close_window(window)


class _Opened(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_help_menu_lists_the_real_shortcuts_and_opens_the_documentation(qapp, tmp_path,
                                                                        temporal):
    window = open_window(tmp_path, temporal.info.address)
    opened = _Opened()
    QDesktopServices.setUrlHandler("file", opened, "open")
    QDesktopServices.setUrlHandler("https", opened, "open")
    try:
        menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
        assert list(menus)[-1] == "Help"
        entries = {a.text().replace("&", ""): a for a in menus["Help"].actions() if a.text()}
        assert set(entries) == {"Keyboard shortcuts", "Documentation", "About Kianax"}

        rows = {(menu, text): keys for menu, text, keys in shortcut_rows(window)}
        assert rows[("Run", "Run Now")] == "F5"
        assert rows[("Run", "Run to here")] == "F6, Ctrl+Shift+Return"
        assert rows[("File", "Save")] == "Ctrl+S"
        window.run_action.setShortcut("F9")  # read from the actions, never a copy
        assert ("Run", "Run Now", "F9") in shortcut_rows(window)
        window.run_action.setShortcut("F5")

        dialog = show_shortcuts(window)
        assert dialog.table.topLevelItemCount() >= len(rows)
        QApplication.processEvents()
        dialog.grab().save(str(ARTIFACTS / "polish-keyboard-shortcuts.png"))
        dialog.close()

        entries["Documentation"].trigger()
        assert len(opened.urls) == 1
        url = opened.urls[0]
        assert url.isLocalFile() and url.toLocalFile().endswith("README.md")

        assert f"Kianax {__version__}" in about_text()
        box = show_about(window)
        QApplication.processEvents()
        box.grab().save(str(ARTIFACTS / "polish-about.png"))
        box.close()
    finally:
        QDesktopServices.unsetUrlHandler("file")
        QDesktopServices.unsetUrlHandler("https")
        close_window(window)
