"""The inspector's config fields: one editor per property, chosen from its JSON schema.

A property's ``"x-widget"`` hint picks a purpose-built editor ("string-list",
"code-python", "file", "folder", "path", "multiline", "credential"); otherwise the
schema's ``enum`` and ``type`` decide. Every editor calls ``commit`` once per finished
edit, and shows template problems under the field as they appear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QWidget

from app.routine.expressions import template_problems
from app.services import Credentials
from app.ui.fields.code_edit import CodeEdit
from app.ui.fields.credential_picker import CredentialPicker
from app.ui.fields.path_edit import MODES as PATH_MODES
from app.ui.fields.path_edit import PathEdit
from app.ui.fields.string_list import StringListEdit
from app.ui.fields.text import Commit, JsonEdit, KeyValueEdit, MultilineEdit

__all__ = ["Commit", "FieldContext", "JsonEdit", "KeyValueEdit", "field_widget", "is_wide"]
WIDE_HINTS = ("string-list", "code-python", "multiline")


@dataclass(frozen=True, slots=True)
class FieldContext:
    """What a field needs beyond its schema: whether it is required, and for credential
    fields the plugin's accepted kinds and where credentials are listed and added."""

    required: bool = False
    credential_kinds: Sequence[str] = ()
    credentials: Credentials | None = None


def is_wide(schema: Mapping[str, Any]) -> bool:
    """Whether the field reads better under its label than beside it."""
    return schema.get("x-widget") in WIDE_HINTS


def field_widget(schema: Mapping[str, Any], value: Any, commit: Commit, error: QLabel,
                 context: FieldContext = FieldContext()) -> QWidget:
    """The editor for one config field; ``error`` shows its problems."""

    def show_problems(current: Any) -> None:
        problems = [f"{path}: {message}" if path else message
                    for path, message in template_problems(current)]
        error.setText("\n".join(problems))
        error.setVisible(bool(problems))

    def checked(current: Any) -> None:
        show_problems(current)
        commit(current)

    widget = _hinted(schema, value, checked, show_problems, context) or \
        _typed(schema, value, checked, show_problems, error)
    if schema.get("description"):
        widget.setToolTip(schema["description"])
    return widget


def _hinted(schema: Mapping[str, Any], value: Any, checked: Commit, show_problems: Commit,
            context: FieldContext) -> QWidget | None:
    hint = schema.get("x-widget")
    placeholder = schema.get("description", "")
    show_problems(value)
    if not _fits(hint, value):
        return None  # a value the hinted editor cannot show faithfully gets the JSON editor
    if hint == "string-list":
        items = StringListEdit(value, placeholder)
        items.committed.connect(checked)
        return items
    if hint in ("code-python", "multiline"):
        editor = CodeEdit if hint == "code-python" else MultilineEdit
        text = editor(value, checked)
        text.setPlaceholderText(placeholder)
        text.textChanged.connect(lambda: show_problems(text.toPlainText()))
        return text
    if hint in PATH_MODES:
        path = PathEdit(value, hint, placeholder)
        path.edited.connect(show_problems)
        path.committed.connect(checked)
        return path
    if hint == "credential":
        picker = CredentialPicker(value, context.credentials, context.credential_kinds,
                                  context.required)
        picker.committed.connect(checked)
        return picker
    return None


def _fits(hint: Any, value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return hint == "string-list" and isinstance(value, list) and \
        all(isinstance(element, str) for element in value)


def _typed(schema: Mapping[str, Any], value: Any, checked: Commit, show_problems: Commit,
           error: QLabel) -> QWidget:
    kind = schema.get("type")
    if "enum" in schema:
        combo = QComboBox()
        combo.addItems([str(option) for option in schema["enum"]])
        combo.setCurrentText(str(value if value is not None else schema["enum"][0]))
        combo.currentTextChanged.connect(checked)
        return combo
    if kind == "boolean" and not isinstance(value, str):
        box = QCheckBox()
        box.setChecked(bool(value))
        box.toggled.connect(checked)
        return box
    if kind in ("number", "integer"):
        line = QLineEdit("" if value is None else str(value))
        line.setPlaceholderText("a number or {{ expression }}")

        def commit_number() -> None:
            text = line.text().strip()
            try:
                number: Any = int(text) if kind == "integer" else float(text)
                if isinstance(number, float) and number.is_integer():
                    number = int(number)
            except ValueError:
                if "{{" not in text:
                    error.setText("must be a number or a {{ expression }}")
                    error.setVisible(True)
                    return
                number = text
            checked(number)

        line.editingFinished.connect(commit_number)
        return line
    if kind == "string":
        line = QLineEdit("" if value is None else str(value))
        line.setPlaceholderText(schema.get("description", ""))
        line.textChanged.connect(show_problems)
        line.editingFinished.connect(lambda: checked(line.text()))
        return line
    extra = schema.get("additionalProperties")
    if kind == "object" and isinstance(extra, Mapping) and extra.get("type") == "string":
        return KeyValueEdit(value or {}, checked)
    edit = JsonEdit(value if value is not None else "", checked)
    edit.setPlaceholderText(schema.get("description", "JSON, text or {{ expression }}"))
    edit.textChanged.connect(lambda: show_problems(edit.value()))
    return edit
