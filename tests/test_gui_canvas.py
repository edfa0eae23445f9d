"""The canvas as a user sees it: node cards (summary, category colour, badges), sticky notes,
the minimap, find, auto-layout, the empty-canvas hint and the canvas polish of issue 14."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from app.paths import Paths
from app.routine import parse_routine
from app.services import Kianax
from app.ui.editor.summary import summarize
from app.ui.main_window import MainWindow
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


def test_for_each_nodes_wear_an_each_badge(window):
    nodes = [{"id": "a", "plugin": "core.transform", "config": {"value": 1}, "position": [0, 0]},
             {"id": "b", "plugin": "core.transform", "config": {"value": 1},
              "for_each": "{{ trigger.items }}", "position": [300, 0]}]
    window._show(doc(nodes), None)
    assert window.scene.nodes["b"].for_each and not window.scene.nodes["a"].for_each
    a, b = render(window.scene, card(window, "a")), render(window.scene, card(window, "b"))
    assert a != b  # same plugin and config: only the badge differs
    assert "for each element of {{ trigger.items }}" in window.scene.nodes["b"].toolTip()
