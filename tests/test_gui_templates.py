"""File ▸ New from template: every bundled sample with its description and a picture; the
chosen one opens as a new unsaved routine that never overwrites a stored one, and saving
it in the editor trusts it."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QLabel

from app.paths import Paths
from app.resources import resource_dir
from app.services import Kianax
from app.ui.main_window import MainWindow
from app.ui.templates_dialog import TemplatesDialog, blurb, templates, thumbnail
from tests.conftest import ARTIFACTS
from tests.test_gui_run import close_window


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    # a first save asks for the routine's name: the user keeps the one offered
    monkeypatch.setattr(QInputDialog, "getText",
                        lambda *args, text="", **kwargs: (text or "Named", True))
    home = tmp_path / "home"
    win = MainWindow(Kianax(Paths(home / "data", home / "config", home / "logs")))
    win.resize(1300, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    close_window(win)


def open_dialog(window, qtbot) -> TemplatesDialog:
    action = next(a for a in window.findChildren(type(window.save_action))
                  if a.text() == "New from &template…")
    assert action.shortcut().toString() == "Ctrl+Shift+N"
    action.trigger()
    dialog = window.findChild(TemplatesDialog)
    qtbot.waitExposed(dialog)
    return dialog


def test_lists_every_sample_with_name_description_and_a_picture(window, qtbot):
    samples = sorted(resource_dir().glob("samples/*.json"))
    names = {json.loads(p.read_text())["name"] for p in samples}
    dialog = open_dialog(window, qtbot)
    assert dialog.list.count() == len(samples) >= 7
    assert {r.name for r in dialog.routines} == names
    for row in range(dialog.list.count()):
        widget = dialog.list.itemWidget(dialog.list.item(row))
        texts = " ".join(label.text() for label in widget.findChildren(QLabel))
        routine = dialog.routines[row]
        assert routine.name in texts and blurb(routine.description) in texts
        assert dialog.list.item(row).toolTip() == routine.description
        picture = next(label.pixmap() for label in widget.findChildren(QLabel)
                       if not label.pixmap().isNull())
        image = picture.toImage()
        background = QColor(window.scene.colors.canvas)
        drawn = sum(image.pixelColor(x, y) != background
                    for x in range(0, image.width(), 4) for y in range(0, image.height(), 4))
        assert drawn > 100, f"{routine.name}: the picture shows its graph"
    dialog.reject()


def test_enter_opens_the_template_as_a_new_unsaved_routine_with_a_fresh_id(window, qtbot):
    original = next(r for r in templates() if r.id == "order-triage")
    window.services.save(original)  # a stored routine with the sample's own id
    dialog = open_dialog(window, qtbot)
    dialog.list.setCurrentRow(dialog.routines.index(original))
    qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert not dialog.isVisible()
    opened = window.editor.routine
    assert opened.id != "order-triage" and opened.id.startswith("order-triage")
    assert (opened.nodes, opened.connections, opened.name) == \
        (original.nodes, original.connections, original.name)
    assert window.version is None, "nothing is stored until the user saves"
    assert set(window.scene.nodes) == {n.id for n in original.nodes}
    window.save()
    assert window.services.store.routine("order-triage")[1] == 1, "the stored one is intact"
    assert window.services.store.routine(opened.id)[1] == 1


def test_a_template_that_touches_the_machine_is_trusted_once_saved(window, qtbot):
    dialog = open_dialog(window, qtbot)
    backup = next(r for r in dialog.routines if r.id == "folder-backup")
    assert window.services.trust_items(json.loads(
        (resource_dir() / "samples" / "folder-backup.json").read_text())), \
        "the sample runs a command: it needs trust"
    dialog.list.setCurrentRow(dialog.routines.index(backup))
    where = dialog.list.visualItemRect(dialog.list.currentItem()).center()
    qtbot.mouseClick(dialog.list.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert dialog.isVisible(), "one click only chooses"
    qtbot.mouseDClick(dialog.list.viewport(), Qt.MouseButton.LeftButton, pos=where)
    QApplication.processEvents()
    routine_id = window.editor.routine.id
    assert routine_id.startswith("folder-backup")
    window.save()
    assert window.services.current_untrusted(routine_id) is None


def test_the_list_shows_descriptions_without_command_line_hints():
    text = ("Packs a folder into a dated .tar.gz. Try: kianax run folder-backup.json "
            "--trust --input '{\"folder\": \"/home/me\"}'")
    assert blurb(text) == "Packs a folder into a dated .tar.gz."
    assert blurb("word " * 100).endswith("…") and len(blurb("word " * 100)) <= 241


def test_thumbnails_are_quick(window):
    import time

    started = time.perf_counter()
    for routine in templates():
        thumbnail(routine, window.services.plugins)
    took = time.perf_counter() - started
    print(f"\n{len(templates())} template pictures: {took * 1000:.0f} ms")
    assert took < 2


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshot_of_the_template_dialog(qapp, qtbot, tmp_path, monkeypatch, theme):
    from app.ui.theme import apply_theme

    monkeypatch.setenv("KIANAX_THEME", theme)
    apply_theme(qapp)
    home = tmp_path / "home"
    win = MainWindow(Kianax(Paths(home / "data", home / "config", home / "logs")))
    try:
        dialog = TemplatesDialog(win.services.plugins, win)
        dialog.resize(760, 720)
        dialog.show()
        qtbot.waitExposed(dialog)
        ARTIFACTS.mkdir(exist_ok=True)
        assert dialog.grab().save(str(ARTIFACTS / f"templates-dialog-{theme}.png"))
        dialog.reject()
    finally:
        close_window(win)
        monkeypatch.setenv("KIANAX_THEME", "light")
        apply_theme(qapp)
