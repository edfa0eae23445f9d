"""The data viewer: a node's input and output as a tree, a table or JSON; search, copy,
paging and blob references — bounded for big values; in the inspector and node details."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from app.paths import Paths
from app.routine import parse_routine
from app.services import Kianax
from app.ui.data_viewer.details import open_details
from app.ui.data_viewer.tree_model import MORE_ROLE, PATH_ROLE
from app.ui.data_viewer.values import blob_label, search
from app.ui.data_viewer.viewer import DataViewer
from app.vault import Vault
from tests.conftest import ARTIFACTS
from tests.gui_data import api_run, close_data_window, data_window, show_run, themed
from tests.helpers import routine, transform
from tests.keyrings import MemoryKeyring
from tests.test_gui_mapping import find_row
from tests.test_gui_run import open_window, run_on_qt_loop


def viewer_with(qtbot: QtBot, value, root="nodes.fetch.output", services=None) -> DataViewer:
    viewer = DataViewer("Output", services)
    qtbot.addWidget(viewer)
    viewer.resize(700, 500)
    viewer.show()
    viewer.set_value(value, root, "last run")
    return viewer


def test_a_10000_element_list_pages_fast_and_never_builds_it_all(qtbot):
    elements = [{"id": i, "name": f"user {i}", "tags": list(range(i % 7))}
                for i in range(10_000)]
    began = time.perf_counter()
    viewer = viewer_with(qtbot, elements)
    QApplication.processEvents()
    shown = time.perf_counter() - began
    assert viewer.page_label.text() == "Items 1–50 of 10,000"
    assert viewer.stack.currentWidget() is viewer.table  # a list of objects: a table
    assert viewer.table_model.rowCount() == 50
    assert viewer.table_model.columns == ["id", "name", "tags"]
    timings = []
    for _ in range(20):
        began = time.perf_counter()
        viewer.next.click()
        QApplication.processEvents()
        timings.append(time.perf_counter() - began)
    assert viewer.page_label.text() == "Items 1,001–1,050 of 10,000"
    assert viewer.table_model.headerData(0, Qt.Orientation.Vertical) == "1000"
    viewer.show_page(10_000)  # past the end: the last page
    assert viewer.page_label.text() == "Items 9,951–10,000 of 10,000"
    assert not viewer.next.isEnabled()
    viewer.mode_group.button(1).click()  # the tree pages the same way
    assert viewer.tree_model.rowCount() == 50
    assert viewer.tree_model.index(0, 0).data(PATH_ROLE) == "nodes.fetch.output[9950]"
    print(f"\n10,000 elements: first view {shown * 1000:.1f} ms, page turn "
          f"{max(timings) * 1000:.1f} ms (worst of 20)")
    assert shown < 1.0 and max(timings) < 0.25


def test_a_nested_long_list_loads_a_hundred_rows_at_a_time(qtbot):
    viewer = viewer_with(qtbot, {"rows": list(range(100_000))})
    model = viewer.tree_model
    rows = model.index(0, 0)
    viewer.tree.expand(rows)
    assert model.rowCount(rows) == 101  # 100 and "… 99,900 more"
    more = model.index(100, 0, rows)
    assert more.data(MORE_ROLE) and "99,900 more" in more.data()
    viewer.tree.doubleClicked.emit(more)
    assert model.rowCount(rows) == 201
    assert model.index(150, 0, rows).data(PATH_ROLE) == "nodes.fetch.output.rows[150]"


def test_search_keeps_only_matching_fields_and_their_parents(qtbot):
    viewer = viewer_with(qtbot, api_run()["nodes"]["fetch"]["output"])
    viewer.search.setText("host-42")
    qtbot.waitUntil(lambda: "match" in viewer.status.text(), timeout=2000)
    assert viewer.status.text() == "1 match"
    assert viewer.stack.currentWidget() is viewer.tree
    model = viewer.tree_model
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["body"]
    title = find_row(viewer, "body", "items", 42, "title")
    assert title.data(PATH_ROLE) == "nodes.fetch.output.body.items[42].title"
    assert model.data(title, Qt.ItemDataRole.BackgroundRole) is not None  # highlighted
    items = title.parent().parent()
    assert model.rowCount(items) == 1  # the other 119 issues are filtered out
    viewer.search.clear()
    qtbot.waitUntil(lambda: viewer.status.text() == "", timeout=2000)
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == \
        ["status", "headers", "body"]


def test_search_is_bounded_on_a_huge_value():
    huge = [{"a": list(range(100))} for _ in range(10_000)]  # a million values
    began = time.perf_counter()
    found = search(huge, "7")
    assert time.perf_counter() - began < 2.0
    assert found.stopped and len(found.matches) <= 500
    deep: list = ["x"]
    for _ in range(100_000):  # its paths would cost 5e9 keys if the search went all the way
        deep = [deep]
    began = time.perf_counter()
    assert search(deep, "x").stopped and time.perf_counter() - began < 1.0


def test_copy_value_and_path_with_keys_and_the_menu(qtbot):
    viewer = viewer_with(qtbot, api_run()["nodes"]["fetch"]["output"])
    user = find_row(viewer, "body", "items", 3, "user")
    viewer.tree.setCurrentIndex(user)
    viewer.tree.setFocus()
    qtbot.keyClick(viewer.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert json.loads(QGuiApplication.clipboard().text()) == {"login": "ana", "id": 7}
    qtbot.keyClick(viewer.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert QGuiApplication.clipboard().text() == "nodes.fetch.output.body.items[3].user"
    menu = {action.text(): action for action in viewer.tree.actions()}
    menu["Copy as {{ expression }}"].trigger()
    assert QGuiApplication.clipboard().text() == "{{ nodes.fetch.output.body.items[3].user }}"


def test_raw_json_shows_at_most_200_kb_of_a_large_value(qtbot):
    big = {"rows": ["x" * 1000] * 5000}  # 5 MB
    viewer = viewer_with(qtbot, big)
    viewer.mode_group.button(2).click()
    assert viewer.stack.currentWidget() is viewer.raw
    assert len(viewer.raw.toPlainText()) <= 200_000
    assert viewer.status.text() == "Showing the first 200 kB"
    small = viewer_with(qtbot, {"a": 1})
    small.mode_group.button(2).click()
    assert json.loads(small.raw.toPlainText()) == {"a": 1} and small.status.text() == ""


def test_a_blob_reference_shows_its_size_a_preview_and_saves(qtbot, tmp_path, monkeypatch):
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs"),
                      vault=Vault(MemoryKeyring()))  # the blobs are sealed with its key
    try:
        rows = [{"id": i, "text": "é" * 40} for i in range(40_000)]
        ref = services.blobs.put_json(rows).to_json()
        viewer = viewer_with(qtbot, {"status": 200, "body": ref}, services=services)
        body = find_row(viewer, "body")
        assert body.siblingAtColumn(1).data() == blob_label(ref)
        assert body.siblingAtColumn(1).data().endswith("MB JSON")
        viewer.tree.setCurrentIndex(body)  # read in a thread: the window never waits
        qtbot.waitUntil(lambda: "reading" not in viewer.blob.label.text(), timeout=5000)
        assert viewer.blob.label.text().startswith(f"<b>{blob_label(ref)}</b>")
        assert "showing the first 64 kB" in viewer.blob.label.text()
        assert viewer.blob.preview.toPlainText().startswith('[{"id":0,"text":"éé')
        target = tmp_path / "saved.json"
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *args, **kwargs: (str(target), "")))
        viewer.blob.save.click()
        qtbot.waitUntil(lambda: viewer.status.text().startswith("Saved"), timeout=10_000)
        assert json.loads(target.read_text()) == rows

        missing = dict(ref, **{"$blob": "sha256:" + "0" * 64})
        viewer.set_value(missing, "nodes.fetch.output", "last run")  # an output that is a ref
        qtbot.waitUntil(lambda: "reading" not in viewer.blob.label.text(), timeout=5000)
        assert "cannot read it" in viewer.blob.label.text()
        assert blob_label(missing) in viewer.blob.label.text()
    finally:
        services.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_node_details_show_input_settings_and_output(qtbot, qapp, tmp_path, monkeypatch,
                                                     theme):
    with themed(qapp, monkeypatch, theme):
        window = data_window(qtbot, tmp_path)
        try:
            show_run(window, api_run(), "fetch")
            box_viewer = window.inspector.widget().findChild(DataViewer, "run.output")
            assert box_viewer.value["body"]["total"] == 120  # the inspector's run box
            viewport = window.view.viewport()
            centre = window.view.mapFromScene(window.scene.nodes["fetch"].sceneBoundingRect()
                                              .center())
            qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=centre)
            dialog = window.details_dialog
            qtbot.waitExposed(dialog)
            assert dialog.node_id == "fetch" and dialog.windowTitle() == "fetch — http.request"
            assert dialog.input.value == {"team": "ops"}
            viewer = dialog.output
            viewer.mode_group.button(1).click()
            items = find_row(viewer, "body", "items")
            viewer.tree.expand(items)
            first = viewer.tree_model.index(0, 0, items)
            viewer.tree.expand(first)
            viewer.tree.setCurrentIndex(viewer.tree_model.index(1, 0, first))
            QApplication.processEvents()
            ARTIFACTS.mkdir(exist_ok=True)
            dialog.grab().save(str(ARTIFACTS / f"data-viewer-{theme}.png"))
            viewer.mode_group.button(0).click()  # the table of body.items, selected
            assert viewer.stack.currentWidget() is viewer.table
            window.inspector.ensureWidgetVisible(  # the run box, scrolled to
                window.inspector.widget().findChild(DataViewer, "run.output"))
            window.grab().save(str(ARTIFACTS / f"data-viewer-inspector-{theme}.png"))
            dialog.close()
            window.scene.select_nodes(["message"])
            window.view.setFocus()
            qtbot.keyClick(window.view, Qt.Key.Key_Return)  # Enter opens the selected node
            assert window.details_dialog.node_id == "message"
            window.details_dialog.close()
        finally:
            close_data_window(window)


def test_a_pinned_output_shows_its_pin_and_the_button_unpins_it(qtbot, tmp_path):
    window = data_window(qtbot, tmp_path)
    try:
        routine_id = window.editor.routine.id
        window.services.pin(routine_id, "fetch", {"body": {"items": [{"id": 1}]}})
        window._pins_changed()
        window.scene.select_nodes(["fetch"])  # no run at all: the pin is the data
        QApplication.processEvents()
        viewer = window.inspector.widget().findChild(DataViewer, "run.output")
        assert viewer.pinned and viewer.source.text().startswith("Pinned")
        assert viewer.pin_mark.isVisible()
        assert viewer.pin_button.text() == "Unpin"
        window.inspector.ensureWidgetVisible(viewer)
        ARTIFACTS.mkdir(exist_ok=True)
        window.grab().save(str(ARTIFACTS / "data-viewer-pinned.png"))
        viewer.pin_button.click()
        assert window.services.pins(routine_id) == {}
        show_run(window, api_run(), "fetch")
        viewer = window.inspector.widget().findChild(DataViewer, "run.output")
        assert not viewer.pinned and viewer.pin_button.text() == "Pin this output"
        viewer.pin_button.click()  # pins what the run output
        assert window.services.pins(routine_id)["fetch"].output["body"]["total"] == 120
        viewer = window.inspector.widget().findChild(DataViewer, "run.output")
        assert viewer.pinned
        assert window.inspector.widget().findChild(DataViewer, "run.input") \
            .tree_model.index(0, 0) != QModelIndex()
    finally:
        close_data_window(window)


def test_run_to_here_from_node_details_fills_its_viewers(qapp, tmp_path, temporal, qtbot):
    window = open_window(tmp_path, temporal.info.address)
    doc = routine([transform("ticket", {"title": "Disk full", "tags": ["ops"]}),
                   transform("message", "page: {{ input.title }}"),
                   transform("after", "never run")],
                  [("ticket", "message"), ("message", "after")], rid="gui-details")
    window._show(parse_routine(doc), None)
    dialog = open_details(window, "message")
    assert dialog.output.stack.currentWidget() is dialog.output.empty  # nothing run yet

    async def scenario():
        await window.start_engine()
        finished = asyncio.get_running_loop().create_future()
        window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
        QTest.keyClick(dialog, Qt.Key.Key_F6)  # Run to here, from the details view
        state = await finished
        await asyncio.sleep(0.05)
        await window.shutdown()
        return state

    try:
        state = run_on_qt_loop(qapp, scenario)
        assert state["status"] == "completed" and "after" not in state["nodes"]
        assert dialog.input.value == {"title": "Disk full", "tags": ["ops"]}
        assert dialog.output.value == "page: Disk full"
        assert dialog.output.tree_model.index(0, 1).data() == "page: Disk full"
        dialog.close()
    finally:
        close_data_window(window)
