"""The inspector's run box: the selected node's input and output in data viewers (its pin
shown with a pin marker), and its error; and the node-details dialog's two viewers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QGroupBox, QLabel, QPlainTextEdit, QTabWidget, QVBoxLayout

from app.routine import Routine
from app.ui.data_viewer import paths
from app.ui.data_viewer.run_data import NO_VALUE, RunData
from app.ui.data_viewer.viewer import DataViewer


def input_viewer(data: RunData, node_id: str, services: Any = None,
                 origin: str = "") -> DataViewer:
    """``origin`` names what the input comes from (the nodes before it, or the trigger)."""
    viewer = DataViewer("Input", services)
    viewer.setObjectName("run.input")
    value = data.input(node_id)
    if value is NO_VALUE:
        viewer.set_empty("No input yet: run the routine (F5), or Run to here, to see what "
                         "this node receives.")
    else:
        viewer.set_value(value, "input", " · ".join(part for part in (origin, data.source)
                                                    if part))
    return viewer


def origin_of(routine: Routine, node_id: str) -> str:
    """``from fetch`` (the titles of the nodes connected into it) or ``from the trigger``."""
    titles = {node.id: node.title for node in routine.nodes}
    sources = list(dict.fromkeys(titles.get(c.source, c.source) for c in routine.connections
                                 if c.target == node_id))
    return f"from {', '.join(sources)}" if sources else "from the trigger"


def output_viewer(data: RunData, node_id: str, services: Any = None,
                  pin: Callable[[bool], None] | None = None) -> DataViewer:
    """``pin(True)`` pins what is shown, ``pin(False)`` unpins it."""
    viewer = DataViewer("Output", services, pinnable=pin is not None)
    viewer.setObjectName("run.output")
    value, pinned = data.output(node_id)
    if value is NO_VALUE:
        viewer.set_empty("No output yet: run the routine (F5) — or pin data from the node's "
                         "menu — to see what this node returns.")
        viewer.pin_button.hide()
    else:
        source = "" if pinned else data.source
        viewer.set_value(value, paths.node_root(node_id), source, pinned=pinned)
        if pin is not None:
            viewer.pinRequested.connect(lambda: pin(not viewer.pinned))
    return viewer


def run_box(data: RunData, node_id: str, services: Any,
            pin: Callable[[bool], None] | None, origin: str = "") -> QGroupBox | None:
    """The box under the inspector's forms, or None when the node has no data at all."""
    record = data.record(node_id)
    _, pinned = data.output(node_id)
    if not record and not pinned:
        return None
    box = QGroupBox(f"Last run: {record.get('status')}" if record else "Pinned output")
    layout = QVBoxLayout(box)
    tabs = QTabWidget()
    tabs.setObjectName("run.tabs")
    tabs.addTab(input_viewer(data, node_id, services, origin), "Input")
    tabs.addTab(output_viewer(data, node_id, services, pin), "Output")
    tabs.setCurrentIndex(1)
    tabs.setMinimumHeight(300)
    layout.addWidget(tabs)
    hint = QLabel("Drag a field onto a setting to use it · double-click the node (or press "
                  "Enter) for a larger view")
    hint.setWordWrap(True)
    hint.setStyleSheet("color: palette(placeholder-text)")
    layout.addWidget(hint)
    if record.get("error") is not None:
        layout.addWidget(QLabel("Error"))
        error = QPlainTextEdit(json.dumps(record["error"], indent=2, ensure_ascii=False))
        error.setReadOnly(True)
        error.setMaximumHeight(120)
        error.setObjectName("run.error")
        layout.addWidget(error)
    return box
