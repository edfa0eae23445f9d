"""Mapping by drag: a field dragged from the data viewer onto a config field writes the
expression at the drop point — real drag and drop events on the real inspector."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QModelIndex, QPoint
from PySide6.QtGui import QDragLeaveEvent
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
)

from app.routine import parse_routine
from app.ui.data_viewer import paths
from app.ui.data_viewer.details import open_details
from app.ui.data_viewer.tree_model import PATH_ROLE
from app.ui.data_viewer.viewer import DataViewer
from app.ui.fields.code_edit import CodeEdit
from tests.conftest import ARTIFACTS
from tests.gui_data import (
    api_run,
    close_data_window,
    data_window,
    drag_over,
    drop_on,
    path_mime,
    show_run,
    themed,
)
from tests.helpers import node, routine, transform
from tests.test_gui_run import open_window, run_on_qt_loop


@pytest.fixture
def window(qtbot, tmp_path):
    win = data_window(qtbot, tmp_path)
    yield win
    close_data_window(win)


def find_row(viewer: DataViewer, *keys):
    """Expand the viewer's tree down ``keys`` (as a person clicks the arrows)."""
    model, index = viewer.tree_model, QModelIndex()
    for key in keys:
        if index.isValid():
            viewer.tree.expand(index)
        if model.canFetchMore(index):
            model.fetchMore(index)
        rows = [model.index(r, 0, index) for r in range(model.rowCount(index))]
        index = next(i for i in rows if model.entry(i).key == key)
    return index


def test_paths_are_written_as_people_type_them_and_read_back():
    assert paths.join_all("nodes.fetch.output", ["body", "items", 3, "title"]) == \
        "nodes.fetch.output.body.items[3].title"
    odd = paths.join_all("input", ["first name", "class", "ünï", 'say "hi"', 0])
    assert odd == 'input["first name"]["class"]["ünï"]["say \\"hi\\""][0]'
    assert paths.split(odd) == ["input", "first name", "class", "ünï", 'say "hi"', 0]
    assert paths.node_root("my-node") == 'nodes["my-node"].output'
    assert paths.as_python("nodes.fetch.output.items[0].id") == \
        'nodes["fetch"]["output"]["items"][0]["id"]'
    with pytest.raises(ValueError):
        paths.split("nodes.fetch + 1")


def test_dragging_an_output_field_onto_a_config_field_writes_the_expression(window):
    show_run(window, api_run(), "fetch")
    viewer = window.inspector.widget().findChild(DataViewer, "run.output")
    row = find_row(viewer, "body", "items", 0, "title")
    mime = viewer.tree_model.mimeData([row])
    assert bytes(mime.data(paths.PATH_MIME)).decode() == "nodes.fetch.output.body.items[0].title"
    assert viewer.tree.dragEnabled()

    window.scene.select_nodes(["message"])
    QApplication.processEvents()
    field = window.inspector.widget().findChild(QPlainTextEdit, "config.value")
    assert field.toPlainText() == "New issue: "
    cursor = field.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    end = field.cursorRect(cursor).center() + QPoint(40, 0)  # past the text's end
    assert drop_on(field.viewport(), mime, end)
    expected = "New issue: {{ nodes.fetch.output.body.items[0].title }}"
    assert window.editor.routine.node("message").config["value"] == expected
    window.editor.undo_stack.undo()  # one drop is one undoable edit
    assert window.editor.routine.node("message").config["value"] == "New issue: "


def test_a_drop_lands_where_it_is_dropped_in_a_line(window):
    show_run(window, api_run(), "fetch")
    field = window.inspector.widget().findChild(QLineEdit, "config.url")
    field.setText("https://x.test/issues?since=")
    at = field.cursorRect().center()
    field.setCursorPosition(len("https://x.test/"))
    slot = field.cursorRect().center()
    field.setCursorPosition(0)
    assert drop_on(field, path_mime("trigger.team"), QPoint(slot.x(), at.y()))
    url = window.editor.routine.node("fetch").config["url"]
    assert url == "https://x.test/{{ trigger.team }}issues?since=", url


def test_the_input_viewer_maps_input_paths_and_the_code_editor_gets_python(window, qtbot):
    show_run(window, api_run(), "message")
    dialog = open_details(window, "message")
    qtbot.waitExposed(dialog)
    row = find_row(dialog.input, "body", "total")
    assert row.data(PATH_ROLE) == "input.body.total"

    code = CodeEdit("return ", lambda value: None)
    window.inspector.assist.attach(code)
    code.show()
    cursor = code.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    assert drop_on(code.viewport(), path_mime("nodes.fetch.output.body.items[0].title"),
                   code.cursorRect(cursor).center() + QPoint(30, 0))
    assert code.toPlainText() == 'return nodes["fetch"]["output"]["body"]["items"][0]["title"]'
    dialog.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_drag_shows_where_it_will_land_and_leaving_clears_it(qtbot, qapp, tmp_path,
                                                                monkeypatch, theme):
    with themed(qapp, monkeypatch, theme):
        window = data_window(qtbot, tmp_path)
        try:
            show_run(window, api_run(), "fetch")
            dialog = open_details(window, "message")
            qtbot.waitExposed(dialog)
            field = dialog.settings.widget().findChild(QPlainTextEdit, "config.value")
            row = find_row(dialog.input, "body", "items", 0, "title")
            dialog.input.tree.setCurrentIndex(row)
            mime = dialog.input.tree_model.mimeData([row])
            assert drag_over(field.viewport(), mime, QPoint(20, 10))
            assert field.property("dropTarget") is True  # a dashed border: "drop here"
            ARTIFACTS.mkdir(exist_ok=True)
            dialog.grab().save(str(ARTIFACTS / f"drag-mapping-{theme}.png"))
            QApplication.sendEvent(field.viewport(), QDragLeaveEvent())
            assert not field.property("dropTarget")
            other = path_mime("x")
            other.removeFormat(paths.PATH_MIME)  # plain text: the field's own business
            assert not drag_over(field.viewport(), other, QPoint(20, 10)) or \
                not field.property("dropTarget")
            dialog.close()
        finally:
            close_data_window(window)


def test_a_drop_on_a_headers_cell_appends_the_expression_to_it(window):
    show_run(window, api_run(), "fetch")
    table = window.inspector.widget().findChild(QTableWidget, "config.headers")
    table.item(0, 0).setText("X-Team")
    table.item(0, 1).setText("team-")
    cell = table.visualItemRect(table.item(0, 1)).center()
    assert drop_on(table.viewport(), path_mime("trigger.team"), cell)
    assert window.editor.routine.node("fetch").config["headers"] == \
        {"X-Team": "team-{{ trigger.team }}"}


def test_three_fields_mapped_by_drag_then_iterated_on_without_calling_the_api_again(
        qapp, tmp_path, temporal, http_server):
    """Issue 14's "done when": an API's response mapped into a message by dragging three
    fields (no path typed), the API pinned, the message re-run alone (Run to here)."""
    http_server.routes["/user"] = lambda n, q: (200, {"name": "Ana", "email": "ana@x.test",
                                                      "orders": 3})
    window = open_window(tmp_path, temporal.info.address)
    doc = routine([node("fetch", "http.request", url=f"{http_server.url}/user"),
                   transform("message", "Hello "), transform("notify", "{{ input }}")],
                  [("fetch", "message"), ("message", "notify")], rid="gui-map")
    window._show(parse_routine(doc), None)

    def drag_field(dialog, key: str, words: str) -> None:
        field = dialog.settings.widget().findChild(QPlainTextEdit, "config.value")
        row = find_row(dialog.input, "body", key)
        cursor = field.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        assert drop_on(field.viewport(), dialog.input.tree_model.mimeData([row]),
                       field.cursorRect(cursor).center() + QPoint(60, 0))
        field.moveCursor(cursor.MoveOperation.End)
        field.insertPlainText(words)  # the words between the fields, typed
        field.commit_now()

    async def run(start) -> dict:
        finished = asyncio.get_running_loop().create_future()
        window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
        start()
        try:
            return await asyncio.wait_for(finished, 60)  # a busy shared machine
        except TimeoutError:
            raise AssertionError(window.statusBar().currentMessage()) from None

    async def scenario():
        await window.start_engine()
        first = await run(window.run_now)
        dialog = open_details(window, "message")
        drag_field(dialog, "name", " (")
        drag_field(dialog, "email", ") has ")
        drag_field(dialog, "orders", " orders")
        window.scene.select_nodes(["fetch"])
        await asyncio.sleep(0.05)  # never processEvents() inside the qasync loop
        window.inspector.widget().findChild(DataViewer, "run.output").pin_button.click()
        second = await run(dialog.findChild(QPushButton, "details.run_here").click)
        dialog.close()
        await window.shutdown()
        return first, second

    try:
        first, second = run_on_qt_loop(qapp, scenario, timeout=150)
        assert first["status"] == "completed" and second["status"] == "completed"
        message = window.editor.routine.node("message").config["value"]
        assert message == ("Hello {{ input.body.name }} ({{ input.body.email }}) has "
                           "{{ input.body.orders }} orders")
        assert second["nodes"]["fetch"]["reused"] is True  # pinned: not run again
        assert http_server.calls["/user"] == 1
        assert second["nodes"]["message"]["output"] == "Hello Ana (ana@x.test) has 3 orders"
        assert "notify" not in second["nodes"]  # run to here: nothing after it
    finally:
        close_data_window(window)
