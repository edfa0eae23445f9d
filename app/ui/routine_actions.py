"""The main window's routine actions: new, open, save, import, export, duplicate, rename,
delete, activate — each a services (or runtime) call and what the user sees of it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QStandardPaths, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from app.routine import Problem, Routine, RoutineInvalid, dump_routine, parse_routine
from app.services import TrustItem, UserError
from app.ui.problems_list import plural

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from app.runtime import Runtime
    from app.services import Kianax
    from app.ui.editor.editor import Editor
    from app.ui.editor.view import EditorView
    from app.ui.inspector import Inspector
    from app.ui.library import Library
    from app.ui.test_input import TestInput

log = logging.getLogger(__name__)
UNTITLED = "Untitled routine"
_DRAFT_ID = re.compile(r"untitled(-\d+)?")  # a new routine's id until its first save
LIBRARY_SYNC_MS = 3000  # how often the library looks for routines another process stored


class RoutineActions:
    """Mixed into :class:`~app.ui.main_window.MainWindow`."""

    services: Kianax
    runtime: Runtime
    editor: Editor
    view: EditorView
    library: Library
    inspector: Inspector
    active_action: QAction
    test_input: TestInput
    version: int | None
    last_run: dict[str, Any] | None
    _library_stamp: Any = None

    def refresh_library(self) -> None:
        self._library_stamp = self.services.routines_stamp()
        self.library.set_routines(self.services.routines(), self.editor.routine.id)
        self._update_active_action()

    def _install_library_sync(self) -> None:
        """Routines the CLI (or another Kianax) imports, saves or deletes while the window
        is open appear in the library: looked for every few seconds while the window shows
        and whenever it is activated — one aggregate query; the list is rebuilt only when
        that changed."""
        self.library_timer = QTimer(self)  # type: ignore[arg-type]
        self.library_timer.setInterval(LIBRARY_SYNC_MS)
        self.library_timer.timeout.connect(self.sync_library)
        self.library_timer.start()
        app = QApplication.instance()
        if app is not None:
            app.applicationStateChanged.connect(self._application_state)  # type: ignore[attr-defined]

    def _application_state(self, state: Qt.ApplicationState) -> None:
        if state == Qt.ApplicationState.ApplicationActive:
            self.sync_library()

    def sync_library(self) -> bool:
        """Refresh the library if the stored routines changed; True when it did."""
        if not self.isVisible():
            return False
        try:
            stamp = self.services.routines_stamp()
        except Exception as exc:  # a store fault is reported where it is used
            log.debug("library sync skipped: %s", exc)
            return False
        if stamp == self._library_stamp:
            return False
        self.refresh_library()
        self._follow_stored_version()
        return True

    def _follow_stored_version(self) -> None:
        """The open routine got a newer version elsewhere (``kianax import``): shown at once
        when nothing here is unsaved, else said, so nobody edits a stale copy unaware."""
        routine_id = self.editor.routine.id
        if self.version is None or getattr(self, "running", False) or \
                getattr(self, "viewing_run", None):
            return
        try:
            document, version = self.services.stored(routine_id)
            routine = parse_routine(document)
        except (KeyError, ValueError, RoutineInvalid):  # deleted, or damaged: leave it shown
            return
        if version <= self.version:
            return
        if not self.editor.undo_stack.isClean():
            self.statusBar().showMessage(
                f"{routine_id} has a newer version {version}, saved elsewhere; saving your "
                f"changes makes version {version + 1}", 10000)
            return
        self._show(routine, version)
        self.statusBar().showMessage(f"Showing version {version} of {routine_id}, saved "
                                     "elsewhere (e.g. kianax import)", 8000)

    def _update_active_action(self) -> None:
        """The toggle reflects the open routine: only a saved one with a trigger to serve."""
        routine_id = self.editor.routine.id
        stored = self.version is not None and self.services.has_routine(routine_id)
        kind = self.editor.routine.trigger.type
        self.active_action.setEnabled(stored and kind != "manual")
        self.active_action.setChecked(stored and self.services.is_active(routine_id))
        self.active_action.setToolTip(
            "Give the routine a trigger (Inspector, with nothing selected) to activate it"
            if kind == "manual" else f"Activate its {kind} trigger" if stored
            else "Save the routine first")

    def _confirm_discard(self) -> bool:
        if self.editor.undo_stack.isClean():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes",  # type: ignore[arg-type]
            f"Save the changes to “{self.editor.routine.name}” first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            self.save()
            return self.editor.undo_stack.isClean()  # not saved (no name given): keep it
        return answer == QMessageBox.StandardButton.Discard

    def new_routine(self, ask: bool = True) -> None:
        if ask and not self._confirm_discard():
            return
        self._show(Routine(self.services.new_routine_id("untitled"), UNTITLED), None)

    def open_last_routine(self) -> None:
        """At launch: the routine that was open when Kianax last closed, else a new one."""
        last = self.services.settings.last_routine
        try:
            if last and self.services.has_routine(last):
                document, version = self.services.stored(last)
                self._show(parse_routine(document), version)
                return
        except (KeyError, ValueError, RoutineInvalid) as exc:  # deleted, damaged: start anew
            log.info("not reopening routine %s: %s", last, exc)
        self.new_routine(ask=False)

    def _remember_open(self) -> None:
        routine_id = self.editor.routine.id
        if self.version is not None and self.services.settings.last_routine != routine_id:
            self.services.remember(last_routine=routine_id)

    def open_routine(self, routine_id: str | None) -> None:
        if not routine_id or (routine_id == self.editor.routine.id and self.version is not None):
            return
        if not self._confirm_discard():
            return
        try:
            document, version = self.services.stored(routine_id)
            routine = parse_routine(document)
        except (KeyError, RoutineInvalid) as exc:
            QMessageBox.warning(self, "Cannot open routine", str(exc))  # type: ignore[arg-type]
            return
        self._show(routine, version)
        refusal = self.services.current_untrusted(routine_id)
        if refusal:  # say so now, not first at Run Now
            self.statusBar().showMessage(f"Not runnable yet: {refusal}", 30000)

    def _show(self, routine: Routine, version: int | None) -> None:
        self.version = version
        self.last_run = None
        self.inspector.last_run = None
        self.editor.open(routine)
        QTimer.singleShot(0, self.view.fit)  # once the window has its final size
        self.refresh_library()
        self._update_title()
        self._update_active_action()
        self._routine_opened()
        self._remember_open()

    def save(self) -> None:
        """Save a new version; a routine's first save asks for its name."""
        if self.version is None and not self.services.has_routine(self.editor.routine.id) \
                and not self._name_new_routine():
            return
        self.version = self.services.save(self.editor.routine)
        self._remember_open()
        self.editor.undo_stack.setClean()
        problems = self._problems()
        note = f" — draft with {plural(len(problems), 'problem')}" if problems else ""
        self.statusBar().showMessage(f"Saved version {self.version}{note}", 5000)
        self.refresh_library()
        self._update_title()
        if not problems and self.services.is_active(self.editor.routine.id):
            self.spawn(self._update_trigger(self.editor.routine.id))

    def _name_new_routine(self) -> bool:
        """A new routine's first save: ask for its name unless the user already gave one;
        a draft's id ("untitled-2") becomes one derived from the name (unique in the
        store), and its test input and pins follow it. False when the user gave none."""
        current = self.editor.routine.name
        name = current.strip()
        if current == UNTITLED or not name:
            name, ok = QInputDialog.getText(
                self, "Save routine", "Name this routine:", text="")  # type: ignore[arg-type]
            name = name.strip()
            if not ok or not name:
                self.statusBar().showMessage("Not saved: a routine needs a name", 5000)
                return False
        old_id = self.editor.routine.id
        new_id = self.services.new_routine_id(name) if _DRAFT_ID.fullmatch(old_id) else old_id
        self.test_input.flush()
        if new_id != old_id:
            _rekey_history(self.editor, new_id)
            self.editor.model.apply(dataclasses.replace(self.editor.routine, id=new_id))
            self.services.adopt_draft(old_id, new_id)
            self.test_input.setProperty("routine_id", new_id)
        if name != current:
            self.editor.update_routine("Name routine", name=name)
        return True

    async def _update_trigger(self, routine_id: str) -> None:
        """An active routine's trigger follows each saved version."""
        try:
            message = await self.runtime.follow_saved(routine_id)
        except (UserError, RoutineInvalid, RuntimeError) as exc:
            message = f"Saved, but its trigger was not updated: {exc}"
        self.statusBar().showMessage(message, 8000)
        self.refresh_library()
        await self._triggers_changed()

    def set_active(self, routine_id: str, active: bool) -> asyncio.Task[Any]:
        """Activate or deactivate the routine's trigger (toolbar, Run menu, library menu)."""
        return self.spawn(self._set_active(routine_id, active))

    def _library_set_active(self, active: bool) -> None:
        routine_id = self.library.current_id()
        if routine_id:
            self.set_active(routine_id, active)

    async def _set_active(self, routine_id: str, active: bool) -> None:
        self.active_action.setEnabled(False)
        try:
            if active:
                message = f"Activated {await self.runtime.activate(routine_id)}"
                if routine_id == self.editor.routine.id and \
                        not self.editor.undo_stack.isClean():
                    message += " — the saved version; save again to include your changes"
            else:
                await self.runtime.deactivate(routine_id)
                message = f"Deactivated {routine_id}: its trigger no longer starts runs"
        except (UserError, RoutineInvalid, KeyError, RuntimeError) as exc:
            QMessageBox.warning(self,  # type: ignore[arg-type]
                                "Activate routine" if active else "Deactivate routine",
                                str(exc))
            message = ""
        finally:
            self.refresh_library()
        if message:
            self.statusBar().showMessage(message, 8000)
        await self._triggers_changed()

    def import_folder(self) -> str:
        """Where Import opens: the folder of the last import, else Documents, else home."""
        last = self.services.settings.last_import_dir
        if last and Path(last).is_dir():
            return last
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation)
        return documents if documents and Path(documents).is_dir() else str(Path.home())

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import routine",  # type: ignore[arg-type]
                                              self.import_folder(), "Routines (*.json)")
        if not path:
            return
        self.services.remember(last_import_dir=str(Path(path).parent))
        try:
            document = self.services.read_file(Path(path))
            items = [] if self.services.check(document)[1] else \
                self.services.trust_items(document)
            if items and not self._trusted(document, Path(path), items):
                self.statusBar().showMessage("Import cancelled: nothing was imported", 5000)
                return
            routine_id, version = self.services.import_document(document, trust=bool(items))
        except (UserError, RoutineInvalid) as exc:
            QMessageBox.warning(self, "Cannot import", str(exc))  # type: ignore[arg-type]
            return
        self.refresh_library()
        self.statusBar().showMessage(f"Imported {routine_id} as version {version}"
                                     + (" (trusted)" if items else ""), 5000)
        self.open_routine(routine_id)

    def _trusted(self, document: Any, path: Path, items: list[TrustItem]) -> bool:
        """Ask before importing a routine whose nodes touch this computer (design §9)."""
        from app.ui.trust_dialog import TrustDialog

        name = str(document.get("name") or document.get("id"))
        dialog = TrustDialog(self, name, path, items)  # type: ignore[arg-type]
        return dialog.exec() == TrustDialog.DialogCode.Accepted

    def export_file(self) -> None:
        routine = self.editor.routine
        path, _ = QFileDialog.getSaveFileName(self, "Export routine",  # type: ignore[arg-type]
                                              f"{routine.id}.json", "Routines (*.json)")
        if path:
            Path(path).write_text(json.dumps(dump_routine(routine), indent=2) + "\n",
                                  encoding="utf-8")
            self.statusBar().showMessage(f"Exported to {path}", 5000)

    def duplicate_routine(self) -> None:
        routine = self.editor.routine
        copy = dataclasses.replace(routine, id=self.services.new_routine_id(routine.id),
                                   name=f"{routine.name} (copy)")
        self.services.save(copy)
        self.refresh_library()
        self.open_routine(copy.id)

    def rename_routine(self) -> None:
        name, ok = QInputDialog.getText(self, "Rename routine", "Name:",  # type: ignore[arg-type]
                                        text=self.editor.routine.name)
        if ok and name.strip():
            self.editor.update_routine("Rename routine", name=name.strip())

    def delete_routine(self) -> None:
        routine_id = self.library.current_id() or self.editor.routine.id
        if not self.services.has_routine(routine_id):
            return
        active = self.services.is_active(routine_id)
        answer = QMessageBox.question(
            self, "Delete routine",  # type: ignore[arg-type]
            f"Delete “{routine_id}” and all its versions? Its past runs are kept."
            + (" Its trigger is deactivated first." if active else ""))
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.spawn(self._delete(routine_id))

    async def _delete(self, routine_id: str) -> None:
        try:
            await self.runtime.delete(routine_id)
        except (UserError, KeyError, RuntimeError) as exc:
            QMessageBox.warning(self, "Delete routine", str(exc))  # type: ignore[arg-type]
            return
        if routine_id == self.editor.routine.id:
            self.editor.undo_stack.setClean()
            self.new_routine(ask=False)
        self.refresh_library()
        await self._triggers_changed()

    # Provided by the window and the other mixins
    if TYPE_CHECKING:
        def statusBar(self) -> Any: ...
        def spawn(self, coroutine: Any) -> asyncio.Task[Any]: ...
        def _problems(self) -> list[Problem]: ...
        def _update_title(self) -> None: ...
        def _routine_opened(self) -> None: ...
        def isVisible(self) -> bool: ...
        async def _triggers_changed(self) -> None: ...


def _rekey_history(editor: Any, new_id: str) -> None:
    """Give every routine in the undo history ``new_id``: undoing past a first save must
    not bring back the draft's id (each command holds whole routines, app.ui.editor)."""
    from app.ui.editor.commands import EditCommand

    stack = editor.undo_stack
    for index in range(stack.count()):
        command = stack.command(index)
        if isinstance(command, EditCommand):
            command.before = dataclasses.replace(command.before, id=new_id)
            command.after = dataclasses.replace(command.after, id=new_id)
