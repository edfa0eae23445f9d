"""The main window's routine actions: new, open, save, import, export, duplicate, rename,
delete, activate — each a services (or runtime) call and what the user sees of it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from app.routine import Problem, Routine, RoutineInvalid, dump_routine, parse_routine
from app.services import TrustItem, UserError

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from app.runtime import Runtime
    from app.services import Kianax
    from app.ui.editor.editor import Editor
    from app.ui.editor.view import EditorView
    from app.ui.inspector import Inspector
    from app.ui.library import Library


class RoutineActions:
    """Mixed into :class:`~app.ui.main_window.MainWindow`."""

    services: Kianax
    runtime: Runtime
    editor: Editor
    view: EditorView
    library: Library
    inspector: Inspector
    active_action: QAction
    version: int | None
    last_run: dict[str, Any] | None

    def refresh_library(self) -> None:
        self.library.set_routines(self.services.routines(), self.editor.routine.id)
        self._update_active_action()

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
            return True
        return answer == QMessageBox.StandardButton.Discard

    def new_routine(self, ask: bool = True) -> None:
        if ask and not self._confirm_discard():
            return
        self._show(Routine(self.services.new_routine_id("untitled"), "Untitled routine"), None)

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

    def save(self) -> None:
        self.version = self.services.save(self.editor.routine)
        self.editor.undo_stack.setClean()
        problems = self._problems()
        note = f" — draft with {len(problems)} problem(s)" if problems else ""
        self.statusBar().showMessage(f"Saved version {self.version}{note}", 5000)
        self.refresh_library()
        self._update_title()
        if not problems and self.services.is_active(self.editor.routine.id):
            self.spawn(self._update_trigger(self.editor.routine.id))

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

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import routine", "",  # type: ignore[arg-type]
                                              "Routines (*.json)")
        if not path:
            return
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
        async def _triggers_changed(self) -> None: ...
