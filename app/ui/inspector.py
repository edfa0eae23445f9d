"""The inspector: the selected node's config as a form generated from its plugin's schema,
plus name, enabled, retry, timeout and on_error; with no node selected, the routine itself.

Every committed field is one undoable edit (typing into one field merges into one step).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.routine import RetryPolicy, Trigger
from app.routine.model import ON_ERROR_MODES, TRIGGER_TYPES
from app.services import Credentials
from app.ui.editor.editor import Editor
from app.ui.fields import FieldContext, JsonEdit, field_widget, is_wide


class Inspector(QScrollArea):
    def __init__(self, editor: Editor, credentials: Credentials | None = None):
        super().__init__()
        self.editor = editor
        self.credentials = credentials  # what credential fields list and add to
        self.node_id: str | None = None
        self.last_run: Mapping[str, Any] | None = None
        self.setWidgetResizable(True)
        self.setMinimumWidth(300)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._committing = False
        editor.model.changed.connect(self._model_changed)
        self.show_node(None)

    def event(self, event: QEvent) -> bool:
        # Delete and Backspace in a form field (a combo, a checkbox, a button) are for the
        # field, never the window's "delete the selected nodes" shortcut.
        if event.type() == QEvent.Type.ShortcutOverride and \
                event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            event.accept()
            return True
        return super().event(event)

    def _model_changed(self) -> None:
        if self._committing:
            return
        if self.node_id is not None and self.node_id not in {n.id for n in
                                                             self.editor.routine.nodes}:
            self.node_id = None
        self.show_node(self.node_id)

    def _commit(self, apply: Callable[[], None]) -> None:
        self._committing = True
        try:
            apply()
        finally:
            self._committing = False

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        page = QWidget()
        layout = QVBoxLayout(page)
        if node_id is None:
            layout.addWidget(self._routine_form())
        else:
            layout.addWidget(self._node_form(node_id))
            layout.addWidget(self._config_form(node_id))
            if self.last_run and node_id in self.last_run.get("nodes", {}):
                layout.addWidget(self._run_panel(self.last_run["nodes"][node_id]))
        layout.addStretch(1)
        self.setWidget(page)

    def _routine_form(self) -> QGroupBox:
        routine = self.editor.routine
        box = QGroupBox("Routine")
        form = QFormLayout(box)
        ident = QLabel(routine.id)
        ident.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Id", ident)
        name = QLineEdit(routine.name)
        name.editingFinished.connect(lambda: self._commit(
            lambda: self.editor.update_routine("Rename routine", name=name.text())))
        form.addRow("Name", name)
        description = JsonEdit(routine.description, lambda value: self._commit(
            lambda: self.editor.update_routine("Edit description", description=str(value))))
        form.addRow("Description", description)
        kind = QComboBox()
        kind.addItems(TRIGGER_TYPES)
        kind.setCurrentText(routine.trigger.type)
        kind.currentTextChanged.connect(lambda text: self._commit(
            lambda: self.editor.update_routine("Change trigger",
                                               trigger=Trigger(text, {}))))
        form.addRow("Trigger", kind)
        options = JsonEdit(routine.trigger.options, lambda value: self._commit(
            lambda: self.editor.update_routine(
                "Edit trigger", trigger=Trigger(self.editor.routine.trigger.type,
                                                value if isinstance(value, dict) else {}))))
        form.addRow("Trigger options", options)
        return box

    def _node_form(self, node_id: str) -> QGroupBox:
        node = self.editor.routine.node(node_id)
        plugin = self.editor.plugins.get(node.plugin)
        box = QGroupBox(plugin.title if plugin else node.plugin)
        form = QFormLayout(box)
        if plugin and plugin.description:
            hint = QLabel(plugin.description)
            hint.setWordWrap(True)
            form.addRow(hint)
        form.addRow("Id", QLabel(node.id))

        def update(text: str, **changes: Any) -> None:
            self._commit(lambda: self.editor.update_node(node_id, text, **changes))

        name = QLineEdit(node.name or "")
        name.setPlaceholderText(node.id)
        name.editingFinished.connect(lambda: update("Rename node", name=name.text() or None))
        form.addRow("Name", name)
        enabled = QCheckBox("Run this node")
        enabled.setToolTip("Off: the node passes its input through unchanged")
        enabled.setChecked(node.enabled)
        enabled.toggled.connect(lambda on: update("Toggle node", enabled=on))
        form.addRow("Enabled", enabled)
        on_error = QComboBox()
        on_error.addItems(ON_ERROR_MODES)
        on_error.setCurrentText(node.on_error)
        on_error.currentTextChanged.connect(lambda mode: update("Change on error",
                                                                on_error=mode))
        form.addRow("On error", on_error)
        if plugin is None or plugin.runs_in == "activity":
            timeout = QDoubleSpinBox(minimum=0.1, maximum=86400, decimals=1, suffix=" s")
            timeout.setValue(node.timeout_s)
            timeout.editingFinished.connect(lambda: update("Change timeout",
                                                           timeout_s=timeout.value()))
            form.addRow("Timeout", timeout)
            attempts = QSpinBox(minimum=1, maximum=100)
            attempts.setValue(node.retry.max_attempts)
            attempts.editingFinished.connect(lambda: update(
                "Change retries", retry=dataclasses.replace(
                    self.editor.routine.node(node_id).retry, max_attempts=attempts.value())))
            form.addRow("Max attempts", attempts)
            interval = QDoubleSpinBox(minimum=0.1, maximum=3600, decimals=1, suffix=" s")
            interval.setValue(node.retry.initial_interval_s)
            interval.editingFinished.connect(lambda: update(
                "Change retries", retry=_retry(self.editor.routine.node(node_id).retry,
                                               interval.value())))
            form.addRow("First retry after", interval)
        return box

    def _config_form(self, node_id: str) -> QGroupBox:
        node = self.editor.routine.node(node_id)
        plugin = self.editor.plugins.get(node.plugin)
        box = QGroupBox("Configuration")
        form = QFormLayout(box)
        properties = dict((plugin.config_schema if plugin else {}).get("properties", {}))
        for key in node.config:
            properties.setdefault(key, {})
        required = set((plugin.config_schema if plugin else {}).get("required", []))
        for key, schema in properties.items():
            error = QLabel()
            error.setStyleSheet("color: #e03131")
            error.setWordWrap(True)
            error.hide()

            def commit(value: Any, key: str = key) -> None:
                config = dict(self.editor.routine.node(node_id).config)
                if value in ("", None, {}, []) and key not in required:
                    config.pop(key, None)
                else:
                    config[key] = value
                self._commit(lambda: self.editor.update_node(node_id, f"Edit {key}",
                                                             config=config))

            context = FieldContext(key in required, plugin.credential_kinds if plugin else (),
                                   self.credentials)
            widget = field_widget(schema, node.config.get(key), commit, error, context)
            widget.setObjectName(f"config.{key}")
            label = f"{key}{' *' if key in required else ''}"
            if is_wide(schema):  # code, long text and lists get the inspector's full width
                form.addRow(QLabel(label))
                form.addRow(widget)
            else:
                form.addRow(label, widget)
            form.addRow("", error)
        if not properties:
            form.addRow(QLabel("No settings."))
        return box

    def _run_panel(self, state: Mapping[str, Any]) -> QGroupBox:
        box = QGroupBox(f"Last run: {state.get('status')}")
        layout = QVBoxLayout(box)
        for title in ("input", "output", "error"):
            if state.get(title) is None:
                continue
            layout.addWidget(QLabel(title.capitalize()))
            view = QPlainTextEdit(json.dumps(state[title], indent=2, ensure_ascii=False))
            view.setReadOnly(True)
            view.setMaximumHeight(140)
            view.setObjectName(f"run.{title}")
            layout.addWidget(view)
        return box


def _retry(retry: RetryPolicy, initial: float) -> RetryPolicy:
    return dataclasses.replace(retry, initial_interval_s=initial,
                               max_interval_s=max(retry.max_interval_s, initial))
