"""The editor as a user drives it: palette drops, port drags, inspector edits, undo/redo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QTimer
from PySide6.QtGui import QFocusEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QLineEdit

from app.paths import Paths
from app.routine import Connection, dump_routine, parse_routine
from app.services import Kianax
from app.ui.main_window import MainWindow
from tests.gui_helpers import drag, drop_plugin, port_in_view
from tests.test_gui_run import close_window


@pytest.fixture
def window(qtbot, tmp_path):
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs"))
    win = MainWindow(services)
    win.resize(1300, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    close_window(win)  # tests leave edits unsaved on purpose: it discards them


def test_build_three_nodes_through_the_gui_save_and_reload(window, qtbot):
    view = window.view
    drop_plugin(view, "core.transform", QPoint(200, 200))
    drop_plugin(view, "core.condition", QPoint(520, 200))
    drop_plugin(view, "core.transform", QPoint(840, 120))
    assert [n.plugin for n in window.editor.routine.nodes] == \
        ["core.transform", "core.condition", "core.transform"]
    first, check, last = (n.id for n in window.editor.routine.nodes)

    drag(view, port_in_view(window, first, "out", True), port_in_view(window, check, "in", False))
    drag(view, port_in_view(window, check, "true", True), port_in_view(window, last, "in", False))
    assert window.editor.routine.connections == (
        Connection(first, check), Connection(check, last, "true", "in"))

    window.scene.select_nodes([check])
    expression = window.inspector.findChild(QLineEdit, "config.expression")
    expression.setText("{{ input > 1 }}")
    expression.editingFinished.emit()
    window.scene.select_nodes([first])
    value = window.inspector.widget().findChild(object, "config.value")
    value.setPlainText("5")
    QApplication.sendEvent(value, QFocusEvent(QEvent.Type.FocusOut))
    assert window.editor.routine.node(check).config == {"expression": "{{ input > 1 }}"}
    assert window.editor.routine.node(first).config == {"value": 5}
    assert window.windowTitle().startswith("Untitled routine")
    assert window.isWindowModified()

    def name_it() -> None:  # a first save asks for the routine's name
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, name_it)
            return
        dialog.setTextValue("Three nodes")
        dialog.accept()

    QTimer.singleShot(0, name_it)
    window.save_action.trigger()

    assert not window.isWindowModified()
    assert (window.editor.routine.id, window.editor.routine.name) == ("three-nodes", "Three nodes")
    stored, version = window.services.store.routine(window.editor.routine.id)
    assert version == 1
    assert stored == dump_routine(window.editor.routine)
    assert parse_routine(stored) == window.editor.routine


def test_a_refused_connection_is_not_drawn_and_says_why(window):
    view = window.view
    drop_plugin(view, "core.transform", QPoint(200, 200))
    drop_plugin(view, "core.transform", QPoint(520, 200))
    a, b = (n.id for n in window.editor.routine.nodes)
    drag(view, port_in_view(window, a, "out", True), port_in_view(window, b, "in", False))

    drag(view, port_in_view(window, b, "out", True), port_in_view(window, a, "in", False))

    assert len(window.editor.routine.connections) == 1
    assert len(window.scene.edges) == 1
    assert "loop" in window.statusBar().currentMessage()


def test_dragging_a_node_moves_it_as_one_undo_step(window):
    drop_plugin(window.view, "core.merge", QPoint(300, 300))
    node_id = window.editor.routine.nodes[0].id
    before = window.editor.routine.node(node_id).position
    item = window.scene.nodes[node_id]
    grab = window.view.mapFromScene(item.mapToScene(item.boundingRect().center()))
    steps_before = window.editor.undo_stack.count()

    drag(window.view, grab, grab + QPoint(150, 90), steps=10)

    after = window.editor.routine.node(node_id).position
    assert after != before
    assert window.editor.undo_stack.count() == steps_before + 1
    window.editor.undo_stack.undo()
    assert window.editor.routine.node(node_id).position == before
    assert window.scene.nodes[node_id].pos().x() == before[0]


def test_undo_and_redo_of_every_kind_of_edit_restore_the_exact_model(window):
    editor = window.editor
    snapshots = [dump_routine(editor.routine)]

    def step(action):
        action()
        snapshots.append(dump_routine(editor.routine))

    step(lambda: editor.add_node("core.transform", (0, 0)))
    step(lambda: editor.add_node("http.request", (300, 0)))
    step(lambda: editor.add_node("core.switch", (600, 0)))
    ids = [n.id for n in editor.routine.nodes]
    step(lambda: editor.connect(Connection(ids[0], ids[1])))
    step(lambda: editor.connect(Connection(ids[1], ids[2])))
    step(lambda: editor.move({ids[0]: (48, 96)}))
    step(lambda: editor.update_node(ids[1], config={"url": "http://127.0.0.1:9/x"}))
    step(lambda: editor.update_node(ids[1], name="Fetch"))
    step(lambda: editor.update_node(ids[1], enabled=False))
    step(lambda: editor.update_node(ids[2], on_error="error_port"))
    step(lambda: editor.update_routine(name="Renamed", description="about"))
    step(lambda: editor.paste(editor.copy(ids[:2])))
    step(lambda: editor.duplicate([ids[2]]))
    step(lambda: editor.delete([], [Connection(ids[0], ids[1])]))
    step(lambda: editor.delete([ids[1]]))

    for expected in reversed(snapshots[:-1]):
        editor.undo_stack.undo()
        assert dump_routine(editor.routine) == expected
        assert set(window.scene.nodes) == {n["id"] for n in expected["nodes"]}
        assert len(window.scene.edges) == len(expected["connections"])
    for expected in snapshots[1:]:
        editor.undo_stack.redo()
        assert dump_routine(editor.routine) == expected


def test_copy_paste_puts_routine_json_on_the_clipboard(window, qtbot):
    window.editor.add_node("core.delay", (0, 0))
    window.scene.select_nodes([window.editor.routine.nodes[0].id])
    window.copy()
    text = QGuiApplication.clipboard().text()
    assert '"format": "kianax/routine@1"' in text
    window.paste()
    assert [n.plugin for n in window.editor.routine.nodes] == ["core.delay", "core.delay"]
    assert len({n.id for n in window.editor.routine.nodes}) == 2


def test_problems_are_drawn_on_nodes_and_listed(window):
    window.editor.add_node("http.request", (0, 0))  # url is required and empty
    node_id = window.editor.routine.nodes[0].id
    assert window.scene.nodes[node_id].problems
    assert window.problems.count() >= 1
    text = window.problems.item(0).text()  # the node's name and the field, not a JSON path
    assert text.startswith("⚠ HTTP Request (request) · url:") and "nodes[" not in text
