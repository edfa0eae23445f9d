"""Expression help on any config field: drop a field dragged from the data viewer, complete
names and keys from real run data, and preview the rendered value under the field.

:class:`Assist` is one per form; :meth:`Assist.attach` adds the three to a field's text
inputs (a ``QLineEdit`` or a ``QPlainTextEdit``, wherever they sit in the field's widget).
Drops insert ``{{ path }}`` at the drop point and commit (one undoable edit); the code
editor, which has no templates, gets the same path as Python subscripts
(``nodes["fetch"]["output"]["x"]``). Completion: Ctrl+Space, or typing inside ``{{ }}``;
Up/Down choose, Enter or Tab insert, Escape closes. The preview renders in a worker thread,
newest text wins, so typing never waits for the evaluator (whose own budget bounds it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QTableWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from app.routine.expressions import ExpressionError, render
from app.routine.references import NeedsData
from app.ui.data_viewer import paths
from app.ui.data_viewer.values import summary, type_name
from app.ui.fields.code_edit import CodeEdit
from app.ui.fields.completions import Suggestion, suggest
from app.ui.fields.text import CommittingTextEdit

TextInput = QLineEdit | QPlainTextEdit
_SUGGESTION = Qt.ItemDataRole.UserRole


def text_and_cursor(widget: TextInput) -> tuple[str, int]:
    if isinstance(widget, QLineEdit):
        return widget.text(), widget.cursorPosition()
    return widget.toPlainText(), widget.textCursor().position()


def replace_before_cursor(widget: TextInput, count: int, text: str) -> None:
    if isinstance(widget, QLineEdit):
        at = widget.cursorPosition()
        widget.setSelection(at - count, count)
        widget.insert(text)
        return
    cursor = widget.textCursor()
    cursor.setPosition(cursor.position() - count, cursor.MoveMode.KeepAnchor)
    cursor.insertText(text)
    widget.setTextCursor(cursor)


def finish_edit(widget: TextInput) -> None:
    """A drop is a finished edit: commit it as the field's own editing-finished would."""
    if isinstance(widget, QLineEdit):
        widget.editingFinished.emit()
    elif isinstance(widget, CommittingTextEdit):
        widget.commit_now()


class Popup(QTreeWidget):
    """The suggestion list: a window that never takes the focus from the field."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowFlags(Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("completion-popup")
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setColumnWidth(0, 170)
        self.setStyleSheet("QTreeWidget#completion-popup { border: 1px solid palette(mid); }")
        self.target: TextInput | None = None

    def offer(self, target: TextInput, suggestions: list[Suggestion]) -> None:
        self.clear()
        for suggestion in suggestions:
            item = QTreeWidgetItem([suggestion.label, suggestion.doc])
            item.setData(0, _SUGGESTION, suggestion)
            item.setForeground(1, self.palette().placeholderText())
            self.addTopLevelItem(item)
        self.setCurrentItem(self.topLevelItem(0))
        self.target = target
        rows = max(1, min(len(suggestions), 10))
        self.resize(480, rows * max(self.sizeHintForRow(0), 18) + 2 * self.frameWidth() + 2)
        rect = target.cursorRect()
        at = target.mapToGlobal(QPoint(rect.left(), rect.bottom() + 4))
        window = target.window().geometry()  # kept inside the window, not cut at its edge
        at.setX(max(window.left(), min(at.x(), window.right() - self.width())))
        if at.y() + self.height() > window.bottom():
            at.setY(target.mapToGlobal(rect.topLeft()).y() - self.height() - 4)
        self.move(at)
        self.show()

    def chosen(self) -> Suggestion | None:
        item = self.currentItem()
        return item.data(0, _SUGGESTION) if item else None

    def step(self, delta: int) -> None:
        row = self.indexOfTopLevelItem(self.currentItem()) + delta
        if 0 <= row < self.topLevelItemCount():
            self.setCurrentItem(self.topLevelItem(row))


class _Results(QObject):
    ready = Signal(object, int, str, bool)  # label, generation, text, is_error


class Assist(QObject):
    """Completion and previews for one form; ``context()`` gives the names the fields are
    rendered with (built from the last run or pins), ``titles()`` the routine's nodes."""

    def __init__(self, context: Callable[[], Mapping[str, Any]],
                 titles: Callable[[], Mapping[str, str]],
                 resolve: Callable[[], Any] | None = None,
                 note: Callable[[], str] | None = None):
        super().__init__()
        self.context, self.titles = context, titles
        self.resolve = resolve  # gives the reader of stored data (blob references), if any
        self.note = note  # said after a preview's error (e.g. "no run yet"), read with the data
        self._note = ""
        self.popup = Popup()
        self.popup.itemClicked.connect(lambda _item, _col: self.accept())
        self._fields: dict[QObject, tuple[TextInput, QLabel | None]] = {}
        self._lists: dict[QObject, QListWidget | QTableWidget] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._results = _Results()
        self._results.ready.connect(self._show_preview)
        self._generation: dict[int, int] = {}
        self._cached: Mapping[str, Any] | None = None
        self.destroyed.connect(lambda: self._pool.shutdown(wait=False, cancel_futures=True))

    def close(self) -> None:
        self.popup.hide()
        self.popup.deleteLater()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def refresh(self) -> None:
        """The data changed (a run finished, a pin): read the context again."""
        self._cached = None

    def reset(self) -> None:
        """The form is being rebuilt: forget its fields (and the data) and close the list."""
        self.popup.hide()
        self.popup.target = None
        self._fields.clear()
        self._lists.clear()
        self._generation.clear()
        self.refresh()

    def _context(self) -> Mapping[str, Any]:
        if self._cached is None:
            self._cached = self.context()
            self._note = self.note() if self.note else ""
        return self._cached

    # Attaching

    def attach(self, widget: QWidget, preview: QLabel | None = None,
               value: Callable[[], Any] | None = None) -> None:
        """Give every text input in ``widget`` drops, completion and (with ``preview``)
        a live preview of ``value()`` (default: the text) rendered."""
        inputs = [widget] if isinstance(widget, TextInput) else []
        inputs += [child for kind in (QLineEdit, QPlainTextEdit)
                   for child in widget.findChildren(kind) if child not in inputs]
        lists = [widget] if isinstance(widget, QListWidget | QTableWidget) else []
        lists += [child for kind in (QListWidget, QTableWidget)
                  for child in widget.findChildren(kind) if child not in lists]
        for view in lists:  # headers, query, argument rows: a drop lands in a cell
            view.viewport().setAcceptDrops(True)
            view.viewport().installEventFilter(self)
            self._lists[view.viewport()] = view
        for field in inputs:
            target = field.viewport() if isinstance(field, QPlainTextEdit) else field
            target.setAcceptDrops(True)
            target.installEventFilter(self)
            if target is not field:
                field.installEventFilter(self)
            self._fields[target] = self._fields[field] = (field, preview)
            if isinstance(field, CodeEdit):
                continue  # Python, not templates: drops only
            changed = field.textChanged
            changed.connect(lambda *_a, f=field: self._text_changed(f))
            if preview is not None:
                self._preview(field, preview, value)
                changed.connect(lambda *_a, f=field, p=preview, v=value: self._preview(f, p, v))

    # Events

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        view = self._lists.get(watched)
        if view is not None:
            return self._list_event(view, event)
        entry = self._fields.get(watched)
        if entry is None:
            return False
        field = entry[0]
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if event.mimeData().hasFormat(paths.PATH_MIME):
                event.acceptProposedAction()
                _highlight(field, True)
                return True
        elif kind == QEvent.Type.DragLeave:
            _highlight(field, False)
        elif kind == QEvent.Type.Drop and event.mimeData().hasFormat(paths.PATH_MIME):
            _highlight(field, False)
            self.drop(field, event)
            return True
        elif kind == QEvent.Type.KeyPress and watched is field:
            return self._key(field, event)
        elif kind == QEvent.Type.FocusOut and watched is field:
            self.popup.hide()
        return False

    def _list_event(self, view: QListWidget | QTableWidget, event: QEvent) -> bool:
        """A path dropped on a row or cell is appended to its text (the widget commits its
        own change); dropped below the rows, it fills the blank last one or a new row."""
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop) or \
                not event.mimeData().hasFormat(paths.PATH_MIME):
            return False
        event.acceptProposedAction()
        if kind != QEvent.Type.Drop:
            return True
        path = bytes(event.mimeData().data(paths.PATH_MIME)).decode()
        item = view.itemAt(event.position().toPoint())
        if item is None and isinstance(view, QTableWidget) and view.rowCount():
            item = view.item(view.rowCount() - 1, 1)  # the blank row's value
        if item is None and isinstance(view, QListWidget):
            item = view.add_row("", edit=False) if hasattr(view, "add_row") else None
        if item is not None:
            item.setText(f"{item.text()}{{{{ {path} }}}}")
        return True

    def drop(self, field: TextInput, event: QDropEvent) -> None:
        path = bytes(event.mimeData().data(paths.PATH_MIME)).decode()
        try:
            text = paths.as_python(path) if isinstance(field, CodeEdit) else f"{{{{ {path} }}}}"
        except ValueError:
            event.ignore()
            return
        point = event.position().toPoint()
        if isinstance(field, QLineEdit):
            field.setCursorPosition(field.cursorPositionAt(point))
            field.insert(text)
        else:
            cursor = field.cursorForPosition(point)
            cursor.insertText(text)
            field.setTextCursor(cursor)
        event.acceptProposedAction()
        field.setFocus(Qt.FocusReason.OtherFocusReason)
        finish_edit(field)

    def _key(self, field: TextInput, event: QKeyEvent) -> bool:
        key = event.key()
        if key == Qt.Key.Key_Space and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.complete(field, force=True)
            return True
        if not self.popup.isVisible() or self.popup.target is not field:
            return False
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.popup.step(-1 if key == Qt.Key.Key_Up else 1)
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab):
            self.accept()
            return True
        if key == Qt.Key.Key_Escape:
            self.popup.hide()
            return True
        return False

    # Completion

    def _text_changed(self, field: TextInput) -> None:
        if field.hasFocus():
            self.complete(field)

    def suggestions(self, field: TextInput) -> list[Suggestion]:
        text, cursor = text_and_cursor(field)
        return suggest(text, cursor, self._context(), self.titles())

    def complete(self, field: TextInput, force: bool = False) -> None:
        text, cursor = text_and_cursor(field)
        found = self.suggestions(field)
        typed = cursor > 0 and (text[cursor - 1] in ".{ " or text[cursor - 1].isalnum())
        if found and (force or typed):
            self.popup.offer(field, found)
        else:
            self.popup.hide()

    def accept(self) -> None:
        chosen, field = self.popup.chosen(), self.popup.target
        self.popup.hide()
        if chosen is None or field is None:
            return
        replace_before_cursor(field, chosen.replace, chosen.insert)

    # Preview

    def _preview(self, field: TextInput, label: QLabel,
                 value: Callable[[], Any] | None) -> None:
        text = text_and_cursor(field)[0]
        if "{{" not in text:
            label.hide()
            return
        current = value() if value else text
        if isinstance(current, str):
            current = complete_part(current)
        key = id(label)
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        context = self._context()
        self._pool.submit(self._render, label, generation, current, context)

    def _render(self, label: QLabel, generation: int, value: Any,
                context: Mapping[str, Any]) -> None:
        if self._generation.get(id(label)) != generation:
            return  # typed over while it waited: only the newest text is rendered
        try:
            resolve = self.resolve() if self.resolve else None
            text, error = preview_text(render(value, context, resolve=resolve)), False
        except ExpressionError as exc:
            text, error = str(exc), True
        except NeedsData:
            text, error = "reads stored data: shown when the node runs", False
        except Exception as exc:  # a blob store that cannot be read, say: said, not raised
            text, error = f"cannot preview: {exc}", True
        self._results.ready.emit(label, generation, text, error)

    def _show_preview(self, label: QLabel, generation: int, text: str, error: bool) -> None:
        if self._generation.get(id(label)) != generation:
            return  # an older text's result: a newer one is on its way
        try:
            label.setText(f"⚠ {text}{self._note}" if error else f"= {text}")
            label.setProperty("error", error)
            label.setStyleSheet("color: #e03131" if error else
                                "color: palette(placeholder-text)")
            label.show()
        except RuntimeError:  # the form was rebuilt while rendering
            return


def preview_text(value: Any, limit: int = 300) -> str:
    """A rendered value in one line: text as is, the rest as compact JSON, with its type."""
    if isinstance(value, str):
        shown = summary(value)
    elif isinstance(value, dict | list):
        shown = json.dumps(value, ensure_ascii=False, default=str)[:limit + 1]
        shown = shown if len(shown) <= limit else shown[:limit] + "…"
        shown = f"{shown}   ({summary(value)})"
    else:
        shown = json.dumps(value, default=str)
    return f"{shown}   · {type_name(value)}" if not isinstance(value, dict | list) else shown


def complete_part(text: str) -> str:
    """The text before an expression still being typed (``{{`` without ``}}``): what the
    preview can already show while the rest is typed."""
    start = text.rfind("{{")
    return text[:start] if start >= 0 and "}}" not in text[start:] else text


def _highlight(field: TextInput, on: bool) -> None:
    """A field a path is dragged over says it takes it (a dashed accent border)."""
    if bool(field.property("dropTarget")) == on:
        return
    field.setProperty("dropTarget", on)
    if on:
        field.setProperty("styleBeforeDrop", field.styleSheet())
        kind = "QLineEdit" if isinstance(field, QLineEdit) else "QPlainTextEdit"
        field.setStyleSheet(f"{kind} {{ border: 2px dashed #1c7ed6; "
                            "background: rgba(28, 126, 214, 0.10); }")
    else:
        field.setStyleSheet(field.property("styleBeforeDrop") or "")
