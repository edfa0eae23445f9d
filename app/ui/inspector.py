"""The inspector: the selected node's config as a form generated from its plugin's schema,
plus name, enabled, retry, time limit, on_error and for_each; with no node selected, the
routine itself; under them the node's data from the last run (or its pin) in data viewers.

Every committed field is one undoable edit (typing into one field merges into one step).
Config fields accept fields dragged from the data viewers, complete expressions from the
run's data and preview what they render to (:mod:`app.ui.fields.assist`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.routine import RetryPolicy, Trigger
from app.routine.model import DEFAULT_OUT, MAX_CONCURRENCY, ON_ERROR_MODES, TRIGGER_TYPES
from app.routine.validation import NOT_PER_ELEMENT
from app.services import Credentials
from app.ui.data_viewer.run_box import origin_of, run_box
from app.ui.data_viewer.run_data import RunData
from app.ui.editor.editor import Editor
from app.ui.fields import FieldContext, JsonEdit, field_widget, is_wide
from app.ui.fields.assist import Assist
from app.ui.fields.labels import field_label

log = logging.getLogger(__name__)
NODE_TIME_LIMIT_TIP = ("How long the engine lets one attempt of this node run before it "
                       "fails that attempt (and retries, up to Max attempts). A plugin's own "
                       "Timeout under Configuration limits one request inside it.")
PLUGIN_TIMEOUT_TIP = ("This plugin's own limit (e.g. for one request); the node's Time limit "
                      "above bounds the whole attempt.")


class Inspector(QScrollArea):
    """``pinToggled(node_id, pin)``: the output viewer's Pin this output / Unpin button."""

    pinToggled = Signal(str, bool)

    def __init__(self, editor: Editor, credentials: Credentials | None = None,
                 services: Any = None, show_run_box: bool = True):
        super().__init__()
        self.editor = editor
        self.credentials = credentials  # what credential fields list and add to
        self.services = services  # pins, test input, blob previews (None in bare tests)
        self.show_run_box = show_run_box
        self.node_id: str | None = None
        self.last_run: Mapping[str, Any] | None = None
        self.assist = Assist(lambda: self.run_data().context(self.editor.routine, self.node_id),
                             lambda: {n.id: n.title for n in self.editor.routine.nodes},
                             self._resolver, self._no_data_note)
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
        self.assist.refresh()  # for_each changes what item and index are
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

    def run_data(self) -> RunData:
        """The data the viewers, completion and previews use: the run shown (last or
        opened from the Runs view), the routine's pins and its test input."""
        pins: Mapping[str, Any] = {}
        test_input = None
        if self.services is not None:
            rid = self.editor.routine.id
            try:
                pins = self.services.pins(rid)
                test_input = self.services.test_input(rid)
            except Exception:  # a store fault must not empty the inspector
                log.exception("reading the pins or test input of %s failed", rid)
        return RunData(self.last_run, pins, test_input)

    def _no_data_note(self) -> str:
        data = self.run_data()
        return "" if data.state or data.pins else \
            " (no run yet: F5 runs the routine, then previews use its data)"

    def _resolver(self) -> Any:
        """Previews read inside blob references as the worker does (only the part used);
        the store is opened only when an expression reaches into a reference."""
        services = self.services
        if services is None or not hasattr(services, "blobs"):
            return None

        def resolve(reference: Any) -> Any:
            from app.blobs.lazy import resolver

            return resolver(services.blobs)(reference)

        return resolve

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        self.assist.reset()
        page = QWidget()
        layout = QVBoxLayout(page)
        if node_id is None:
            layout.addWidget(self._routine_form())
        else:
            layout.addWidget(self._node_form(node_id))
            layout.addWidget(self._config_form(node_id))
            box = run_box(self.run_data(), node_id, self.services,
                          lambda on: self.pinToggled.emit(node_id, on),
                          origin_of(self.editor.routine, node_id)) \
                if self.show_run_box else None
            if box is not None:
                layout.addWidget(box)
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
            timeout.setToolTip(NODE_TIME_LIMIT_TIP)
            form.addRow(_tipped("Time limit", NODE_TIME_LIMIT_TIP), timeout)
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
        if node.for_each is not None or _per_element(plugin, node.config):
            self._for_each_rows(form, node_id)
        return box

    def _for_each_rows(self, form: QFormLayout, node_id: str) -> None:
        """``for_each``: an expression yielding a list (completed and previewed like the
        config fields), and how many elements run at once."""
        node = self.editor.routine.node(node_id)
        each = QLineEdit(node.for_each or "")
        each.setObjectName("node.for_each")
        each.setPlaceholderText("{{ input.items }} — run once per element")
        tip = ("Run this node once per element of the list this expression yields; its "
               "config sees the element as item and its position as index; its output is "
               "the list of the elements' outputs, in order.")
        each.setToolTip(tip)
        form.addRow(_tipped("For each", tip), each)
        preview = _preview_label()
        form.addRow("", preview)
        self.assist.attach(each, preview)
        concurrency = QSpinBox(minimum=1, maximum=MAX_CONCURRENCY)
        concurrency.setObjectName("node.concurrency")
        concurrency.setValue(node.concurrency)
        concurrency.setEnabled(bool(node.for_each))
        concurrency.setToolTip("How many elements run at the same time (1–64)")
        concurrency.editingFinished.connect(lambda: self._commit(lambda: self.editor.update_node(
            node_id, "Change concurrency", concurrency=concurrency.value())))
        form.addRow("At once", concurrency)

        def commit_each() -> None:
            text = each.text().strip() or None
            concurrency.setEnabled(bool(text))
            self._commit(lambda: self.editor.update_node(node_id, "Change for each",
                                                         for_each=text))

        each.editingFinished.connect(commit_each)

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
            label = _field_label(key, schema, key in required)
            if key == "timeout_s":
                widget.setToolTip(f"{widget.toolTip()}\n{PLUGIN_TIMEOUT_TIP}".strip())
            if is_wide(schema):  # code, long text and lists get the inspector's full width
                form.addRow(label)
                form.addRow(widget)
            else:
                form.addRow(label, widget)
            form.addRow("", error)
            preview = _preview_label()
            preview.setObjectName(f"preview.{key}")
            form.addRow("", preview)
            self.assist.attach(widget, preview, getattr(widget, "value", None))
        if not properties:
            form.addRow(QLabel("No settings."))
        return box


def _per_element(plugin: Any, config: Mapping[str, Any]) -> bool:
    """Whether for_each makes sense on the node (app.routine.validation's rule)."""
    return plugin is not None and plugin.id not in NOT_PER_ELEMENT and \
        tuple(plugin.output_ports(config)) == (DEFAULT_OUT,)


def _tipped(text: str, tip: str) -> QLabel:
    label = QLabel(text)
    label.setToolTip(tip)
    return label


def _field_label(key: str, schema: Mapping[str, Any], required: bool) -> QLabel:
    """The schema's title or the key humanised; required fields carry a red mark and say
    so in the tooltip."""
    text = field_label(key, schema)
    label = QLabel(f'{text} <span style="color:#e03131">*</span>' if required else text)
    label.setObjectName(f"label.{key}")
    tips = [schema.get("description", ""), "Required" if required else "", f"({key})"]
    label.setToolTip("\n".join(tip for tip in tips if tip))
    return label


def _preview_label() -> QLabel:
    """Under a field: what it renders to with the last run's data (or an error)."""
    preview = QLabel()
    preview.setWordWrap(True)
    preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    preview.setTextFormat(Qt.TextFormat.PlainText)
    preview.hide()
    return preview


def _retry(retry: RetryPolicy, initial: float) -> RetryPolicy:
    return dataclasses.replace(retry, initial_interval_s=initial,
                               max_interval_s=max(retry.max_interval_s, initial))
