"""A Python code field: monospace, highlighted, line-numbered; Tab indents by four spaces.

Commits like the other text fields (focus out, Ctrl+Enter). Because Tab indents here,
Ctrl+Tab / Ctrl+Shift+Tab move to the next / previous field instead."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFontDatabase, QKeyEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from app.ui.fields.python_highlighter import PythonHighlighter
from app.ui.fields.text import Commit, CommittingTextEdit

INDENT = "    "
VISIBLE_LINES = 12


class _Gutter(QWidget):
    def __init__(self, editor: CodeEdit):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.editor.paint_gutter(event)


class CodeEdit(CommittingTextEdit):
    lines = (VISIBLE_LINES, 30)

    def __init__(self, value: Any, commit: Commit):
        super().__init__("" if value is None else str(value), commit)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * len(INDENT))
        self.highlighter = PythonHighlighter(self.document())
        self.highlighter.rehighlight()  # now, rather than after a first unpainted frame
        self.gutter = _Gutter(self)
        self.blockCountChanged.connect(lambda _count: self._fit_gutter())
        self.updateRequest.connect(self._scroll_gutter)
        self._fit_gutter()
        self.setMinimumHeight(self._height(VISIBLE_LINES))

    # Keys

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        control = mods & Qt.KeyboardModifier.ControlModifier
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and control:
            # QPlainTextEdit's own version refuses to move while Tab is for typing
            QWidget.focusNextPrevChild(self, key == Qt.Key.Key_Tab)
            return
        if key == Qt.Key.Key_Tab and not mods:
            self.insertPlainText(INDENT)
            return
        if key == Qt.Key.Key_Backtab:
            self._dedent()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not control:
            self._newline_keeping_indent()
            return
        super().keyPressEvent(event)

    def _newline_keeping_indent(self) -> None:
        line = self.textCursor().block().text()
        indent = line[:len(line) - len(line.lstrip(" "))]
        if line.rstrip().endswith(":"):
            indent += INDENT
        self.insertPlainText("\n" + indent)

    def _dedent(self) -> None:
        cursor = self.textCursor()
        line = cursor.block().text()
        remove = min(len(INDENT), len(line) - len(line.lstrip(" ")))
        if remove:
            cursor.movePosition(cursor.MoveOperation.StartOfBlock)
            cursor.movePosition(cursor.MoveOperation.Right, cursor.MoveMode.KeepAnchor, remove)
            cursor.removeSelectedText()

    # Line numbers

    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        return 10 + self.fontMetrics().horizontalAdvance("9") * max(2, digits)

    def _fit_gutter(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        inner = self.contentsRect()
        self.gutter.setGeometry(QRect(inner.left(), inner.top(), self.gutter_width(),
                                      inner.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        painter = QPainter(self.gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.alternateBase())
        painter.setPen(palette.mid().color())
        edge = self.gutter.width() - 1
        painter.drawLine(edge, event.rect().top(), edge, event.rect().bottom())
        painter.setPen(palette.placeholderText().color())
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible():
                painter.drawText(0, top, self.gutter.width() - 5, height,
                                 Qt.AlignmentFlag.AlignRight, str(block.blockNumber() + 1))
            top += round(self.blockBoundingRect(block).height())
            block = block.next()
        painter.end()
