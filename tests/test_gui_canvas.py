"""The canvas as a user sees it: node cards (summary, category colour, badges), sticky notes,
the minimap, find, auto-layout, the empty-canvas hint and the canvas polish of issue 14."""

from __future__ import annotations

import itertools
import json

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from app.paths import Paths
from app.resources import sample
from app.routine import parse_routine
from app.services import Kianax
from app.ui.editor.summary import summarize
from app.ui.main_window import MainWindow
from tests.conftest import ARTIFACTS
from tests.gui_helpers import drag, run_now_once
from tests.test_gui_run import close_window


def sample_text(name: str) -> str:
    return sample(name).read_text(encoding="utf-8")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    # a first save asks for the routine's name: the user keeps the one offered
    monkeypatch.setattr(QInputDialog, "getText",
                        lambda *args, text="", **kwargs: (text or "Named", True))
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs"))
    win = MainWindow(services)
    win.resize(1300, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    close_window(win)


def doc(nodes, connections=(), notes=None, rid="canvas"):
    document = {"format": "kianax/routine@1", "id": rid, "name": "Canvas", "nodes": nodes,
                "connections": [{"source": c[0], "target": c[1]} if len(c) == 2 else
                                {"source": c[0], "source_port": c[1], "target": c[2]}
                                for c in connections]}
    if notes is not None:
        document["notes"] = notes
    return parse_routine(document)


def render(scene, rect: QRectF) -> QImage:
    image = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    scene.render(painter, QRectF(image.rect()), rect)
    painter.end()
    return image


def contrast_with_white(colour: QColor) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    luminance = (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
                 + 0.0722 * linear(colour.blueF()))
    return 1.05 / (luminance + 0.05)


def card(window, node_id) -> QRectF:
    item = window.scene.nodes[node_id]
    return item.mapRectToScene(item.boundingRect()).adjusted(-2, -2, 2, 2)


# Node cards

def test_summaries_say_what_each_node_does():
    assert summarize("http.request", {"method": "POST", "url": "https://x.test/a"}) == \
        "POST https://x.test/a"
    assert summarize("http.request", {"url": "https://x.test/a"}) == "GET https://x.test/a"
    assert summarize("core.condition", {"expression": "{{ input.total >= 100 }}"}) == \
        "input.total >= 100"
    assert summarize("shell.command", {"command": ["tar", "-czf", "out file.tgz", "."]}) == \
        "tar -czf 'out file.tgz' ."
    assert summarize("routine.call", {"routine": "report"}) == "calls report"
    assert summarize("files.write", {"path": "/tmp/x.txt", "content": "hi"}) == \
        "write /tmp/x.txt"
    assert summarize("llm.chat", {"model": "gpt-4o-mini", "prompt": "hi"}) == "gpt-4o-mini"
    # any other plugin: the first non-empty string value, on one line, bounded
    assert summarize("example.slugify", {"n": 3, "text": "  Hello\n  world "}) == "Hello world"
    long = summarize("example.x", {"text": "word " * 100_000})
    assert len(long) <= 200 and long.endswith("…")
    assert summarize("core.merge", {}) == ""
    assert summarize("http.request", {"url": ["not", "a", "string"]}).startswith("GET")


def test_cards_show_the_summary_elided_and_follow_edits(window):
    window._show(doc([{"id": "fetch", "plugin": "http.request",
                       "config": {"method": "GET", "url": "https://api.example.com/quote"}}]),
                 None)
    item = window.scene.nodes["fetch"]
    assert item.summary == "GET https://api.example.com/quote"
    before = render(window.scene, card(window, "fetch"))
    window.editor.update_node("fetch", config={"method": "POST",
                                               "url": "https://api.example.com/quote"})
    assert item.summary == "POST https://api.example.com/quote"
    assert render(window.scene, card(window, "fetch")) != before


def test_categories_have_distinct_header_colours_in_both_themes(window, monkeypatch):
    from app.ui.theme import _colors

    categories = {p.category for p in window.services.plugins}
    assert {"Flow", "Time", "Network", "System", "Code", "Files", "Email", "AI"} <= categories
    for dark in (False, True):
        headers = _colors(dark).header
        named = [headers[c].name() for c in sorted(categories)]
        assert len(set(named)) == len(named), f"dark={dark}: {named}"
        for colour in named:  # the white title reads on each (WCAG contrast 4.5:1)
            assert contrast_with_white(QColor(colour)) >= 4.5, colour
    nodes = [{"id": "a", "plugin": "core.delay", "config": {"seconds": 1}, "position": [0, 0]},
             {"id": "b", "plugin": "files.read", "config": {"path": "x"}, "position": [300, 0]}]
    window._show(doc(nodes), None)
    tree = window.palette.tree  # the palette's categories wear the same colours
    for row in range(tree.topLevelItemCount()):
        category = tree.topLevelItem(row)
        shown = category.icon(0).pixmap(12, 12).toImage().pixelColor(6, 6)
        assert shown == _colors(False).header[category.text(0)], category.text(0)
    header_a = render(window.scene, card(window, "a")).pixelColor(40, 20)
    header_b = render(window.scene, card(window, "b")).pixelColor(40, 20)
    assert header_a != header_b


def test_pin_badge_marks_exactly_the_pinned_nodes(window):
    nodes = [{"id": "a", "plugin": "core.transform", "config": {"value": 1}, "position": [0, 0]},
             {"id": "b", "plugin": "core.transform", "config": {"value": 2},
              "position": [300, 0]}]
    window._show(doc(nodes), None)
    a, b = render(window.scene, card(window, "a")), render(window.scene, card(window, "b"))
    window.scene.set_pinned({"a"})
    assert window.scene.nodes["a"].pinned and not window.scene.nodes["b"].pinned
    assert render(window.scene, card(window, "a")) != a
    assert render(window.scene, card(window, "b")) == b
    assert "Pinned" in window.scene.nodes["a"].toolTip()
    assert window.editor.routine.nodes == doc(nodes).nodes  # nothing else changes
    assert window.editor.undo_stack.count() == 0
    window.scene.set_pinned(set())
    assert render(window.scene, card(window, "a")) == a


def test_progress_shows_done_of_total_and_clears(window):
    nodes = [{"id": "each", "plugin": "core.transform", "config": {"value": "{{ item }}"},
              "for_each": "{{ trigger.items }}", "position": [0, 0]}]
    window._show(doc(nodes), None)
    item = window.scene.nodes["each"]
    plain = render(window.scene, card(window, "each"))
    window.scene.set_progress("each", 237, 1000)
    assert item.progress == (237, 1000)
    assert render(window.scene, card(window, "each")) != plain
    window.scene.set_progress("each", 0, None)
    assert item.progress is None
    assert render(window.scene, card(window, "each")) == plain
    window.scene.set_progress("missing", 1, 2)  # a node not on the canvas is ignored
    window.scene.set_progress("each", 5, 10)
    window._show(doc(nodes), None)  # opened again: that run's progress is gone
    assert window.scene.nodes["each"].progress is None


def test_for_each_nodes_wear_an_each_badge(window):
    nodes = [{"id": "a", "plugin": "core.transform", "config": {"value": 1}, "position": [0, 0]},
             {"id": "b", "plugin": "core.transform", "config": {"value": 1},
              "for_each": "{{ trigger.items }}", "position": [300, 0]}]
    window._show(doc(nodes), None)
    assert window.scene.nodes["b"].for_each and not window.scene.nodes["a"].for_each
    a, b = render(window.scene, card(window, "a")), render(window.scene, card(window, "b"))
    assert a != b  # same plugin and config: only the badge differs
    assert "for each element of {{ trigger.items }}" in window.scene.nodes["b"].toolTip()


# Sticky notes

def note_ids(window):
    return [n.id for n in window.editor.routine.notes]


def test_sticky_notes_add_edit_move_resize_colour_delete_each_one_undo_step(window, qtbot):
    window.add_note()  # Edit ▸ Add sticky note (Shift+S on the canvas)
    [note_id] = note_ids(window)
    item = window.scene.notes[note_id]
    assert item.editor_item is not None, "a new note opens for typing"
    item.editor_item.setPlainText("Ask Dana before changing the URL")
    item.editor_item.clearFocus()  # ends the editing: committed
    QApplication.processEvents()
    assert window.editor.routine.notes[0].text == "Ask Dana before changing the URL"
    steps = window.editor.undo_stack.count()

    start = window.view.mapFromScene(item.mapToScene(QPointF(30, 30)))
    drag(window.view, start, start + QPoint(120, 60))
    moved = window.editor.routine.notes[0].position
    grip = window.view.mapFromScene(item.mapToScene(QPointF(item.size[0] - 4,
                                                             item.size[1] - 4)))
    drag(window.view, grip, grip + QPoint(100, 80))
    resized = window.editor.routine.notes[0].size
    item.set_colour("blue")
    assert window.editor.routine.notes[0].colour == "blue"
    assert window.editor.undo_stack.count() == steps + 3
    assert moved != (0.0, 0.0) and resized[0] > 240 and resized[1] > 120

    window.scene.clearSelection()
    item.setSelected(True)
    window.delete_selection()
    assert window.editor.routine.notes == ()
    assert not window.scene.notes
    for expected in ("blue", "yellow"):  # undo: back comes the note, then its old colour
        window.editor.undo_stack.undo()
        assert window.editor.routine.notes[0].colour == expected
    window.editor.undo_stack.undo()
    assert window.editor.routine.notes[0].size == (240.0, 120.0)
    window.editor.undo_stack.undo()
    assert window.scene.notes[note_id].pos() == QPointF(*window.editor.routine.notes[0].position)
    assert window.editor.routine.notes[0].position != moved
    window.editor.undo_stack.undo()
    assert window.editor.routine.notes[0].text == ""
    window.editor.undo_stack.undo()
    assert window.editor.routine.notes == () and not window.scene.notes


def test_typing_in_a_note_never_deletes_the_note_or_adds_another(window, qtbot):
    window.add_note()
    [note_id] = note_ids(window)
    editor = window.scene.notes[note_id].editor_item
    window.view.setFocus()
    editor.setFocus()
    qtbot.keyClicks(window.view.viewport(), "Say")  # capital S: Shift+S adds a note elsewhere
    qtbot.keyClick(window.view.viewport(), Qt.Key.Key_Backspace)
    editor.clearFocus()
    QApplication.processEvents()
    assert note_ids(window) == [note_id]
    assert window.editor.routine.notes[0].text == "Sa"


def test_shift_s_on_the_canvas_adds_a_note_and_delete_removes_it(window, qtbot):
    from PySide6.QtWidgets import QLineEdit

    window.editor.add_node("core.condition", (0, 0))
    window.scene.select_nodes([window.editor.routine.nodes[0].id])
    field = window.inspector.findChild(QLineEdit, "config.expression")
    field.setFocus()
    qtbot.keyClicks(field, "Sum")  # a capital S in a form field is just typing
    assert field.text().endswith("Sum")
    assert window.editor.routine.notes == ()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier)
    assert len(window.editor.routine.notes) == 1
    note = window.scene.notes[window.editor.routine.notes[0].id]
    note.editor_item.clearFocus()
    QApplication.processEvents()
    window.scene.clearSelection()
    note.setSelected(True)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert window.editor.routine.notes == ()
    assert window.editor.undo_stack.undoText() == "Delete note"


def test_notes_round_trip_through_save_and_export(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window._show(doc([{"id": "a", "plugin": "core.transform", "config": {"value": 1}}]), None)
    window.editor.add_note((300.0, -120.0), "Why: the vendor API rate-limits at 5/s")
    note_id = window.editor.routine.notes[0].id
    window.editor.update_note(note_id, size=(320.0, 160.0))
    window.editor.update_note(note_id, colour="green")
    window.save()
    stored, _ = window.services.store.routine(window.editor.routine.id)
    assert stored["notes"] == [{"id": note_id, "text": "Why: the vendor API rate-limits at 5/s",
                                "position": [300, -120], "size": [320, 160],
                                "colour": "green"}]
    out = tmp_path / "exported.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.export_file()
    exported = parse_routine(json.loads(out.read_text()))
    assert exported.notes == window.editor.routine.notes
    window.open_routine(window.editor.routine.id)
    window._show(exported, 1)
    assert set(window.scene.notes) == {note_id}
    assert window.scene.notes[note_id].size == (320.0, 160.0)


# Minimap, find, auto-layout, the empty canvas

def test_minimap_frames_the_view_and_a_click_moves_it(window, qtbot):
    from tests.bench.bench_editor import big_routine

    window._show(big_routine(), None)
    window.view.resetTransform()
    window.view.centerOn(0, 0)
    minimap = window.view.minimap
    assert minimap.isVisible()
    corner = window.view.viewport().geometry().bottomRight()
    assert minimap.geometry().bottomRight().x() <= corner.x()
    assert minimap.geometry().bottomRight().y() <= corner.y()
    bounds = minimap.bounds()
    far = minimap.to_map(QPointF(6000, 2500), bounds)  # the last row's far end
    qtbot.mouseClick(minimap, Qt.MouseButton.LeftButton, pos=far.toPoint())
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert abs(centre.x() - 6000) < 60 and abs(centre.y() - 2500) < 60
    toggle = next(a for a in window.findChildren(type(window.save_action))
                  if a.text() == "&Minimap")
    toggle.trigger()  # View ▸ Minimap off
    assert not minimap.isVisible()
    window.editor.add_node("core.delay", (0, 0))
    assert not minimap.isVisible(), "an edit does not bring it back"
    toggle.trigger()
    assert minimap.isVisible()


def test_minimap_costs_under_5_ms_a_frame_on_500_nodes(window):
    import statistics
    import time

    from tests.bench.bench_editor import big_routine

    window._show(big_routine(), None)
    minimap = window.view.minimap
    image = QImage(minimap.size(), QImage.Format.Format_ARGB32_Premultiplied)

    def frame() -> float:
        started = time.perf_counter()
        minimap.render(image)
        return (time.perf_counter() - started) * 1000

    scroll = window.view.horizontalScrollBar()
    cold, warm = [], []
    for step in range(30):
        minimap.invalidate()  # the routine changed: redraw it all
        cold.append(frame())
        scroll.setValue(scroll.value() + 7 * (1 if step % 2 else -1))  # a scroll: a frame
        warm.append(frame())
    print(f"\nminimap, 500 nodes / 600 connections: frame {statistics.median(warm):.2f} ms "
          f"median (max {max(warm):.2f}); after an edit {statistics.median(cold):.2f} ms "
          f"median (max {max(cold):.2f})")
    assert statistics.median(warm) < 5  # the bound, per frame
    assert statistics.median(cold) < 5  # once per edit


def test_ctrl_f_finds_by_id_name_or_plugin_and_enter_cycles(window, qtbot):
    nodes = [{"id": "fetch", "plugin": "http.request", "name": "Fetch quote",
              "config": {"url": "https://x.test"}, "position": [0, 0]},
             {"id": "check", "plugin": "core.condition", "name": "Price up?",
              "config": {"expression": "{{ true }}"}, "position": [3000, 0]},
             {"id": "post", "plugin": "http.request", "name": "Post to chat",
              "config": {"url": "https://y.test"}, "position": [3000, 2000]}]
    window._show(doc(nodes), None)
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = window.view.find_bar
    assert bar.isVisible() and bar.field.hasFocus()

    def centred(node_id):
        item = window.scene.nodes[node_id]
        centre = window.view.mapToScene(window.view.viewport().rect().center())
        return item.sceneBoundingRect().contains(centre)

    qtbot.keyClicks(bar.field, "price")  # by name, any case
    assert window.scene.selected_node_ids() == ["check"] and centred("check")
    bar.field.clear()
    qtbot.keyClicks(bar.field, "http.request")  # by plugin: two matches
    assert bar.count.text() == "1 of 2"
    assert window.scene.selected_node_ids() == ["fetch"] and centred("fetch")
    qtbot.keyClick(bar.field, Qt.Key.Key_Return)
    assert window.scene.selected_node_ids() == ["post"] and centred("post")
    assert bar.count.text() == "2 of 2"
    qtbot.keyClick(bar.field, Qt.Key.Key_Return)  # wraps around
    assert window.scene.selected_node_ids() == ["fetch"]
    bar.field.clear()
    qtbot.keyClicks(bar.field, "chec")  # by id
    assert window.scene.selected_node_ids() == ["check"]
    qtbot.keyClicks(bar.field, "zzz")
    assert bar.count.text() == "No match"
    qtbot.keyClick(bar.field, Qt.Key.Key_Escape)
    assert not bar.isVisible()


def test_auto_layout_puts_nodes_in_columns_by_depth_as_one_undo_step(window):
    routine = parse_routine(json.loads(sample_text("order-triage.json")))
    scattered = {"order": [900, 700], "is_large": [0, 0], "flag": [-400, 300],
                 "tag": [1200, -200], "join": [50, 900], "summary": [300, 300]}
    document = json.loads(sample_text("order-triage.json"))
    for item in document["nodes"]:
        item["position"] = scattered[item["id"]]
    document["nodes"].reverse()  # document order must not decide: the ports do
    window._show(parse_routine(document), None)
    steps = window.editor.undo_stack.count()
    window.scene.auto_layout()
    assert window.editor.undo_stack.count() == steps + 1
    assert window.editor.undo_stack.undoText() == "Auto-layout"
    at = {n.id: n.position for n in window.editor.routine.nodes}
    xs = sorted({x for x, _ in at.values()})
    assert len(xs) == 5  # order | is_large | flag, tag | join | summary
    assert [xs.index(at[n][0]) for n in ("order", "is_large", "flag", "tag", "join",
                                         "summary")] == [0, 1, 2, 2, 3, 4]
    assert at["flag"][1] < at["tag"][1]  # true above false, as the ports are
    assert at["order"][1] == at["is_large"][1] == at["join"][1] == at["summary"][1]
    rects = [window.scene.nodes[n].sceneBoundingRect() for n in at]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    window.editor.undo_stack.undo()
    assert {n.id: list(n.position) for n in window.editor.routine.nodes} == scattered
    assert routine.nodes  # the sample reads


def test_auto_layout_of_500_nodes_is_quick_and_overlap_free(window):
    import time

    from tests.bench.bench_editor import big_routine

    window._show(big_routine(), None)
    started = time.perf_counter()
    window.scene.auto_layout()
    took = time.perf_counter() - started
    print(f"\nauto-layout, 500 nodes: {took * 1000:.0f} ms")
    assert took < 3
    boxes = sorted((n.position[0], n.position[1], window.scene.nodes[n.id].height)
                   for n in window.editor.routine.nodes)
    for (x1, y1, h1), (x2, y2, _h2) in itertools.pairwise(boxes):
        assert x1 != x2 or y2 >= y1 + h1  # in a column, each below the previous


def test_an_empty_canvas_says_how_to_start_and_double_click_adds(window, qtbot):
    from app.ui.editor.view import EMPTY_HINT

    assert "Tab" in EMPTY_HINT and "double-click" in EMPTY_HINT and "Plugins" in EMPTY_HINT
    centre = window.view.viewport().rect().center()

    def ink_at_centre() -> int:
        image = window.view.viewport().grab().toImage()
        background = window.scene.colors.canvas
        return sum(image.pixelColor(x, y) != background
                   for x in range(centre.x() - 200, centre.x() + 200, 2)
                   for y in range(centre.y() - 30, centre.y() + 30, 2))

    assert ink_at_centre() > 50, "the hint is drawn"
    assert not window.view.minimap.isVisible(), "nothing to map yet"
    qtbot.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.quick_add.isVisible(), "double-click on the canvas opens quick-add"
    qtbot.keyClicks(window.quick_add.search, "delay")
    qtbot.keyClick(window.quick_add.search, Qt.Key.Key_Return)
    assert [n.plugin for n in window.editor.routine.nodes] == ["core.delay"]
    assert window.view.minimap.isVisible()
    window.view.centerOn(5000, 5000)  # away from the node: only the hint could draw here
    QApplication.processEvents()
    assert ink_at_centre() < 10, "the hint is gone once there is a node"


def test_quick_add_stays_inside_the_window(window):
    from app.ui.palette import inside

    frame = window.geometry()
    size = window.quick_add.size()
    corner = window.mapToGlobal(QPoint(window.width() - 5, window.height() - 5))
    window.quick_add.popup(corner)
    shown = window.quick_add.frameGeometry()
    assert QRect(window.mapToGlobal(QPoint(0, 0)), window.size()).contains(shown), \
        (shown, frame)
    window.quick_add.hide()
    bounds = QRect(0, 0, 800, 600)
    assert inside(QPoint(790, 590), size, bounds) == QPoint(790 - size.width(),
                                                           590 - size.height())
    assert inside(QPoint(10, 10), size, bounds) == QPoint(10, 10)
    assert inside(QPoint(-50, 10), size, bounds).x() == 0


# Polish: problems, undo/redo, dead connections

def test_problems_name_the_node_and_a_single_click_shows_it(window, qtbot):
    nodes = [{"id": "ok", "plugin": "core.transform", "config": {"value": 1},
              "position": [0, 0]},
             {"id": "fetch", "plugin": "http.request", "name": "Fetch quote",
              "config": {"url": ""}, "position": [4000, 3000]}]
    window._show(doc(nodes), None)
    assert window.problems.count() == 1
    item = window.problems.item(0)
    assert item.text() == "⚠ Fetch quote (fetch) · url: '' should be non-empty"
    assert window.problems_dock.windowTitle() == "Problems (1)"
    window.scene.clearSelection()
    rect = window.problems.visualItemRect(item)
    qtbot.mouseClick(window.problems.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())
    assert window.scene.selected_node_ids() == ["fetch"]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.nodes["fetch"].sceneBoundingRect().contains(centre)


def test_counts_say_problem_or_problems(window):
    from app.routine import Problem
    from app.ui.problems_list import describe, plural

    assert plural(1, "problem") == "1 problem" and plural(2, "problem") == "2 problems"
    routine = doc([{"id": "a", "plugin": "core.transform", "config": {"value": 1}}])
    assert describe(Problem("trigger.schedule", "is required"), routine) == \
        "Trigger · schedule: is required"
    window.editor.add_node("http.request", (0, 0))
    window.save()
    assert window.statusBar().currentMessage().endswith("draft with 1 problem")
    window.editor.add_node("http.request", (300, 0))
    window.save()
    assert window.statusBar().currentMessage().endswith("draft with 2 problems")
    assert "(s)" not in window.statusBar().currentMessage()


def test_undo_and_redo_buttons_keep_their_width_and_tell_the_action(window):
    from PySide6.QtWidgets import QToolBar

    toolbar = window.findChild(QToolBar, "main-toolbar")
    undo = toolbar.widgetForAction(window.undo_action)
    redo = toolbar.widgetForAction(window.redo_action)
    widths = (undo.sizeHint().width(), redo.sizeHint().width())
    before = toolbar.widgetForAction(window.run_action).mapTo(toolbar, QPoint(0, 0))
    window.editor.add_node("core.transform", (0, 0))
    node_id = window.editor.routine.nodes[0].id
    window.editor.update_node(node_id, "Rename node to something long", name="A long name")
    assert window.undo_action.text() == "&Undo"
    assert window.undo_action.toolTip().startswith("Undo rename node to something long")
    window.editor.undo_stack.undo()
    assert window.redo_action.toolTip().startswith("Redo rename node to something long")
    assert window.redo_action.isEnabled()
    QApplication.processEvents()
    assert (undo.sizeHint().width(), redo.sizeHint().width()) == widths
    assert toolbar.widgetForAction(window.run_action).mapTo(toolbar, QPoint(0, 0)) == before
    window.editor.undo_stack.undo()
    assert not window.undo_action.isEnabled()
    assert window.undo_action.toolTip().startswith("Nothing to undo")


def test_after_a_run_the_skipped_branch_of_order_triage_is_drawn_dead(qapp, tmp_path,
                                                                     temporal):
    """Run Now on the dev server: the connections out of the untaken port and out of the
    skipped node are dead (dashed, dimmed); the ones data went along are live."""

    from tests.test_gui_run import open_window, run_on_qt_loop

    window = open_window(tmp_path, temporal.info.address)
    window._show(parse_routine(json.loads(sample_text("order-triage.json"))), None)

    try:
        state = run_on_qt_loop(qapp, lambda: run_now_once(window))
        assert state["status"] == "completed"
        live = {(c.source, c.source_port, c.target): edge.live
                for c, edge in window.scene.edges.items()}
        assert live == {("order", "out", "is_large"): True,
                        ("is_large", "true", "flag"): True,
                        ("is_large", "false", "tag"): False,
                        ("flag", "out", "join"): True,
                        ("tag", "out", "join"): False,  # was drawn live: the bug
                        ("join", "out", "summary"): True}
        dead = window.scene.edges[next(c for c in window.scene.edges if c.source == "tag")]
        assert dead.pen().style() == Qt.PenStyle.DashLine
        assert dead.pen().color().alphaF() < 0.6
        window.grab().save(str(ARTIFACTS / "canvas-order-triage-after-run.png"))
    finally:
        close_window(window)


def test_marks_carry_the_ports_a_node_fired_on():
    from app.ui.editor.node_item import RunMark, marks_from_state

    marks = marks_from_state({"nodes": {"c": {"status": "completed", "ports": ["true"]},
                                        "old": {"status": "completed"}}})
    assert marks["c"] == RunMark("completed", 0, None, ("true",))
    assert marks["old"].ports is None  # a record from before ports: judged by statuses


# Screenshots

def showcase():
    """A routine using every category, with notes, a for_each node and long summaries."""
    nodes = [
        {"id": "fetch", "plugin": "http.request", "name": "Fetch orders",
         "config": {"method": "GET", "url": "https://shop.example.com/api/orders?status=new"},
         "position": [0, 96]},
        {"id": "big", "plugin": "core.condition", "name": "Any big order?",
         "config": {"expression": "{{ len(input.body.orders) > 0 }}"}, "position": [288, 96]},
        {"id": "ask", "plugin": "llm.chat", "name": "Summarise",
         "config": {"model": "gpt-4o-mini", "prompt": "Summarise {{ input }}"},
         "position": [576, 0]},
        {"id": "each", "plugin": "files.write", "name": "Save each order",
         "config": {"path": "~/orders/{{ item.id }}.json", "content": "{{ item }}"},
         "for_each": "{{ nodes.fetch.output.body.orders }}", "position": [576, 216]},
        {"id": "mail", "plugin": "email.send", "name": "Mail the team",
         "config": {"credential": "smtp", "to": ["team@example.com"],
                    "subject": "New orders", "text": "{{ input }}"}, "position": [864, 0]},
        {"id": "zip", "plugin": "shell.command", "name": "Archive",
         "config": {"command": ["tar", "-czf", "orders.tgz", "orders"]},
         "position": [864, 216]},
        {"id": "wait", "plugin": "core.delay", "name": "Cool down",
         "config": {"seconds": 30}, "position": [1152, 96]},
        {"id": "stats", "plugin": "code.python", "name": "Stats",
         "config": {"code": "result = {'count': len(data)}"}, "position": [1440, 96]},
    ]
    notes = [{"id": "n1", "text": "Orders API: 5 requests/s at most. Pinned while the mail "
                                  "template is being worked on.", "position": [0, -120],
              "size": [264, 96]},
             {"id": "n2", "text": "Archive runs tar on this machine (trusted when saved).",
              "position": [864, 360], "size": [240, 80], "colour": "blue"}]
    connections = [("fetch", "big"), ("big", "true", "ask"), ("big", "true", "each"),
                   ("ask", "mail"), ("each", "zip"), ("mail", "wait"), ("zip", "wait"),
                   ("wait", "stats")]
    return doc(nodes, connections, notes, rid="showcase")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshot_of_a_routine_with_notes_minimap_summaries_and_colours(qapp, qtbot,
                                                                          tmp_path,
                                                                          monkeypatch, theme):
    from app.ui.theme import apply_theme

    monkeypatch.setenv("KIANAX_THEME", theme)
    apply_theme(qapp)
    home = tmp_path / "home"
    win = MainWindow(Kianax(Paths(home / "data", home / "config", home / "logs")))
    try:
        win.resize(1500, 900)
        win.show()
        qtbot.waitExposed(win)
        ARTIFACTS.mkdir(exist_ok=True)
        assert win.view.grab().save(str(ARTIFACTS / f"canvas-empty-{theme}.png"))
        win._show(showcase(), None)
        win.scene.set_pinned({"fetch"})
        win.scene.set_progress("each", 237, 1000)
        win.scene.select_nodes(["ask"])
        QApplication.processEvents()
        win.view.fit()
        QApplication.processEvents()
        ARTIFACTS.mkdir(exist_ok=True)
        assert win.grab().save(str(ARTIFACTS / f"canvas-showcase-{theme}.png"))
        assert win.view.minimap.isVisible()
        win.view.find_bar.open_bar()
        qtbot.keyClicks(win.view.find_bar.field, "mail")
        QApplication.processEvents()
        assert win.view.grab().save(str(ARTIFACTS / f"canvas-find-{theme}.png"))
    finally:
        close_window(win)
        monkeypatch.setenv("KIANAX_THEME", "light")
        apply_theme(qapp)


def test_layout_depths_survive_a_loop_and_a_long_chain():
    from app.routine import Connection, Node, Routine
    from app.ui.editor.layout import depths, layered

    loop = Routine("r", "R", (Node("a", "core.merge"), Node("b", "core.merge")),
                   (Connection("a", "b"), Connection("b", "a")))  # only in a broken draft
    assert set(depths(loop)) == {"a", "b"}
    chain = Routine("c", "C", tuple(Node(f"n{i}", "core.merge") for i in range(3000)),
                    tuple(Connection(f"n{i}", f"n{i + 1}") for i in range(2999)))
    assert depths(chain)["n2999"] == 2999  # no recursion limit
    positions = layered(chain, {}, 200.0)
    assert positions["n1"][0] - positions["n0"][0] == 312  # a column: card and gap, snapped
