"""The inspector's purpose-built config fields, driven by "x-widget" schema hints, on a real
window, a real store and a real vault: each finished edit is one undo step that undo reverts."""

from __future__ import annotations

import json
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
)

from app.paths import Paths
from app.plugin_api import Plugin
from app.services import Kianax
from app.ui.fields.code_edit import CodeEdit
from app.ui.fields.credential_picker import CredentialPicker
from app.ui.fields.path_edit import PathEdit
from app.ui.fields.string_list import StringListEdit, split_command
from app.ui.main_window import MainWindow
from app.vault import Vault
from tests.conftest import ARTIFACTS
from tests.keyrings import MemoryKeyring
from tests.test_gui_run import close_window


async def _never_run(ctx, value, config):  # the tests edit nodes, they never run them
    return value


FIELDS = Plugin(
    id="test.fields", title="Run a script", category="test", runs_in="activity",
    description="A test plugin with one field of each hinted kind.",
    credential_kinds=("bearer_token", "api_key"), execute=_never_run,
    config_schema={
        "type": "object",
        "properties": {
            "args": {"type": ["array", "string"], "items": {"type": "string"},
                     "x-widget": "string-list", "description": "Command arguments"},
            "code": {"type": "string", "x-widget": "code-python",
                     "description": "Python run for each item"},
            "credential": {"type": "string", "x-widget": "credential",
                           "description": "Token sent to the API"},
            "script": {"type": "string", "x-widget": "file"},
            "workdir": {"type": "string", "x-widget": "folder"},
            "target": {"type": "string", "x-widget": "path"},
            "prompt": {"type": "string", "x-widget": "multiline",
                       "description": "System prompt"},
        },
        "required": ["args"],
    })


@pytest.fixture
def window(qtbot, tmp_path):
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs"),
                      vault=Vault(MemoryKeyring()))
    services.plugins.add_all([FIELDS], origin="test")
    services.credentials.add("github", "bearer_token", {}, {"token": "ghp_not_shown"})
    services.credentials.add("weather", "api_key", {"name": "X-Key"}, {"key": "k-not-shown"})
    services.credentials.add("mailbox", "smtp", {"host": "127.0.0.1"}, {"password": "pw"})
    win = MainWindow(services)
    win.resize(1300, 860)
    win.show()
    qtbot.waitExposed(win)
    yield win
    close_window(win)


def select(window, config=None) -> str:
    """Add a test.fields node (with ``config``, as opening a saved routine would) and
    show it in the inspector; returns its id."""
    node_id = window.editor.add_node("test.fields", (0, 0))
    if config is not None:
        window.editor.update_node(node_id, config=config)
    window.editor.undo_stack.clear()
    window.scene.select_nodes([node_id])
    return node_id


def field(window, key, kind):
    return window.inspector.widget().findChild(kind, f"config.{key}")


def config(window, node_id):
    return window.editor.routine.node(node_id).config


def test_string_list_is_edited_with_the_keyboard_and_undone_in_one_step(window, qtbot):
    node_id = select(window)
    items = field(window, "args", StringListEdit)
    rows = items.rows
    assert config(window, node_id) == {"args": []}

    for text in ("-l", "{{ input.dir }}", "--all"):
        qtbot.keyClick(rows, Qt.Key.Key_Return)  # a new row, being edited
        editor = QApplication.focusWidget()
        assert isinstance(editor, QLineEdit) and rows.isAncestorOf(editor)
        qtbot.keyClicks(editor, text)
        qtbot.keyClick(editor, Qt.Key.Key_Return)  # the view closes its editor queued
        qtbot.waitUntil(lambda: rows.state() != QAbstractItemView.State.EditingState)
    assert config(window, node_id)["args"] == ["-l", "{{ input.dir }}", "--all"]

    rows.setCurrentRow(2)
    qtbot.keyClick(rows, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert config(window, node_id)["args"] == ["-l", "--all", "{{ input.dir }}"]
    rows.setCurrentRow(0)
    qtbot.keyClick(rows, Qt.Key.Key_Delete)
    assert config(window, node_id)["args"] == ["--all", "{{ input.dir }}"]

    assert window.editor.undo_stack.count() == 1  # one field, one step
    window.editor.undo_stack.undo()
    assert config(window, node_id) == {"args": []}
    assert field(window, "args", StringListEdit).value() == []


def test_a_command_held_as_one_string_is_shown_as_is_and_split_on_request(window, qtbot):
    node_id = select(window, {"args": "grep -n 'two words' {{ input.file | default('a b') }}"})
    items = field(window, "args", StringListEdit)
    assert items.in_line_mode()
    assert items.line.text() == "grep -n 'two words' {{ input.file | default('a b') }}"

    items.to_rows()

    assert config(window, node_id)["args"] == \
        ["grep", "-n", "two words", "{{ input.file | default('a b') }}"]
    window.editor.undo_stack.undo()
    assert config(window, node_id)["args"] == \
        "grep -n 'two words' {{ input.file | default('a b') }}"
    assert split_command("echo 'unbalanced") == ["echo", "'unbalanced"]


def test_a_template_error_in_a_list_row_is_shown_under_the_field(window, qtbot):
    select(window, {"args": ["ok", "{{ input.x"]})
    error = field(window, "args", StringListEdit).parentWidget().findChildren(QLabel)
    shown = [label.text() for label in error if label.isVisible() and "{{" in label.text()]
    assert shown and shown[0].startswith("[1]: ")


def test_python_code_is_highlighted_indented_and_committed_once(window, qtbot):
    node_id = select(window)
    code = field(window, "code", CodeEdit)
    assert code.font().fixedPitch() or code.fontInfo().fixedPitch()
    assert code.height() >= code.fontMetrics().lineSpacing() * 12
    code.setFocus()

    qtbot.keyClicks(code, "def total(items):")
    qtbot.keyClick(code, Qt.Key.Key_Return)  # keeps the indent, one level deeper
    qtbot.keyClicks(code, "return sum(items)  # all")
    qtbot.keyClick(code, Qt.Key.Key_Return)
    qtbot.keyClick(code, Qt.Key.Key_Backtab)
    qtbot.keyClick(code, Qt.Key.Key_Tab)
    qtbot.keyClicks(code, "x")
    assert "code" not in config(window, node_id)  # nothing committed while typing
    qtbot.keyClick(code, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    expected = "def total(items):\n    return sum(items)  # all\n    x"
    assert config(window, node_id)["code"] == expected
    qtbot.keyClick(code, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert not code.hasFocus() and code.toPlainText() == expected  # Ctrl+Tab leaves
    assert window.editor.undo_stack.count() == 1
    window.editor.undo_stack.undo()
    assert "code" not in config(window, node_id)

    def colour_at(block_number: int, column: int) -> QColor:
        block = code.document().findBlockByNumber(block_number)
        for span in block.layout().formats():
            if span.start <= column < span.start + span.length:
                return span.format.foreground().color()
        return code.palette().text().color()

    code = field(window, "code", CodeEdit)
    code.setPlainText(expected + "\nbar'x' + b'y' + '#' + {{ input.n }}")
    keyword, builtin, plain = colour_at(0, 0), colour_at(1, 11), colour_at(0, 4)
    comment = colour_at(1, 24)
    assert plain == code.palette().text().color()
    assert len({keyword.name(), builtin.name(), comment.name(), plain.name()}) == 4
    string, template = colour_at(3, 3), colour_at(3, 27)
    assert colour_at(3, 2) == plain  # the r of bar is not a string prefix
    assert colour_at(3, 9) == colour_at(3, 10) == colour_at(3, 18) == string != plain
    assert template not in (plain, string, comment)


def test_a_triple_quoted_string_stays_a_string_across_lines(window):
    select(window, {"args": [], "code": 'text = """\nif for while\n"""\nif x: pass'})
    code = field(window, "code", CodeEdit)
    inside = code.document().findBlockByNumber(1).layout().formats()
    after = code.document().findBlockByNumber(3).layout().formats()
    assert {span.format.foreground().color().name() for span in inside} == \
        {code.highlighter.formats["string"].foreground().color().name()}
    assert after[0].format.foreground() == code.highlighter.formats["keyword"].foreground()


def test_paths_are_typed_with_templates_or_picked(window, qtbot, tmp_path, monkeypatch):
    node_id = select(window)
    script = field(window, "script", PathEdit)
    script.line.setFocus()
    qtbot.keyClicks(script.line, "{{ input.dir }}/run.sh")
    qtbot.keyClick(script.line, Qt.Key.Key_Return)
    assert config(window, node_id)["script"] == "{{ input.dir }}/run.sh"
    window.editor.undo_stack.undo()
    assert "script" not in config(window, node_id)

    # the modal dialogs are the only stand-ins: what a user would pick in them
    (tmp_path / "tool.py").write_text("print('hi')\n")
    asked = []
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getOpenFileName",
                        lambda parent, title, start: asked.append(start) or
                        (str(tmp_path / "tool.py"), ""))
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getExistingDirectory",
                        lambda parent, title, start: asked.append(start) or str(tmp_path))
    field(window, "script", PathEdit).button.click()
    assert config(window, node_id)["script"] == str(tmp_path / "tool.py")
    workdir = field(window, "workdir", PathEdit)
    workdir.button.click()
    assert config(window, node_id)["workdir"] == str(tmp_path)
    target = field(window, "target", PathEdit)
    assert [a.text() for a in target.button.menu().actions()] == ["File…", "Folder…"]
    target.button.menu().actions()[1].trigger()
    assert config(window, node_id)["target"] == str(tmp_path)
    assert window.editor.undo_stack.count() == 3  # one per field
    field(window, "script", PathEdit).button.click()
    assert asked[-1] == str(tmp_path)  # it opens where the current path is


def test_multiline_text_is_kept_as_typed_not_parsed(window, qtbot):
    node_id = select(window)
    prompt = field(window, "prompt", QPlainTextEdit)
    empty = prompt.sizeHint().height()
    prompt.setFocus()
    qtbot.keyClicks(prompt, "[1, 2]")
    qtbot.keyClick(prompt, Qt.Key.Key_Return)
    qtbot.keyClicks(prompt, "{{ input.name }}")
    qtbot.keyClick(prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert config(window, node_id)["prompt"] == "[1, 2]\n{{ input.name }}"
    window.editor.undo_stack.undo()
    assert "prompt" not in config(window, node_id)

    prompt = field(window, "prompt", QPlainTextEdit)
    line = prompt.fontMetrics().lineSpacing()
    prompt.setPlainText("a\nb\nc\nd")
    assert prompt.sizeHint().height() - empty >= 2 * line  # grows with its text
    prompt.setPlainText("a\n" * 500)
    assert prompt.sizeHint().height() - empty <= 8 * line  # and then scrolls


def test_credential_picker_offers_only_accepted_kinds_and_keeps_a_missing_name(window, qtbot):
    node_id = select(window)
    picker = field(window, "credential", CredentialPicker)
    combo = picker.combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["(none)", "github", "weather"]
    assert picker.value() is None

    combo.setCurrentIndex(combo.findText("weather"))
    assert config(window, node_id)["credential"] == "weather"
    window.editor.undo_stack.undo()
    assert "credential" not in config(window, node_id)

    window.editor.update_node(node_id, config={"args": [], "credential": "old-token"})
    picker = field(window, "credential", CredentialPicker)
    assert picker.combo.currentText() == "old-token (missing)"
    assert picker.value() == "old-token"
    picker.combo.setCurrentIndex(0)
    assert "credential" not in config(window, node_id)

    window.services.credentials.add("later", "api_key", {}, {"key": "added-elsewhere"})
    picker.combo.showPopup()  # lists again as it opens
    assert picker.names() == ["github", "later", "weather"]  # old-token is no longer used
    assert picker.value() is None and "credential" not in config(window, node_id)
    picker.combo.hidePopup()


def test_new_credential_from_the_picker_is_saved_in_the_vault_and_chosen(window, qtbot):
    node_id = select(window)
    picker = field(window, "credential", CredentialPicker)
    picker.new_button.click()
    form = picker.form
    assert form.isVisible()
    assert [form.kind.itemText(i) for i in range(form.kind.count())] == \
        ["api_key", "bearer_token"]  # only what the plugin accepts
    form.name.setText("deploy")
    form.kind.setCurrentText("bearer_token")
    form.secret.setText("tok-123456")
    form._save()

    assert config(window, node_id)["credential"] == "deploy"
    assert window.services.credentials.resolve("deploy")["fields"] == {"token": "tok-123456"}
    assert "deploy" in picker.names()


def test_delete_and_backspace_in_a_field_never_delete_the_node(window, qtbot):
    node_id = select(window)
    picker = field(window, "credential", CredentialPicker)
    picker.combo.setFocus()
    for key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
        qtbot.keyClick(picker.combo, key)
    field(window, "script", PathEdit).button.setFocus()
    qtbot.keyClick(field(window, "script", PathEdit).button, Qt.Key.Key_Delete)
    assert [n.id for n in window.editor.routine.nodes] == [node_id]
    window.view.setFocus()  # on the canvas, Delete still deletes
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert window.editor.routine.nodes == ()


def test_edits_of_two_fields_are_two_undo_steps(window, qtbot):
    node_id = select(window)
    picker = field(window, "credential", CredentialPicker)
    picker.combo.setCurrentIndex(picker.combo.findText("github"))
    prompt = field(window, "prompt", QPlainTextEdit)
    prompt.setPlainText("hello")
    prompt.commit_now()
    assert window.editor.undo_stack.count() == 2
    window.editor.undo_stack.undo()
    assert config(window, node_id) == {"args": [], "credential": "github"}


def test_screenshot_of_the_hinted_fields(window, qtbot):
    ARTIFACTS.mkdir(exist_ok=True)
    select(window, {"args": ["--verbose", "{{ input.dir }}", "-o", "out.csv"],
                    "code": "def run(items):\n    # keep the big ones\n"
                            "    return [i for i in items if i['size'] > 1_000]\n",
                    "credential": "github", "script": "/usr/local/bin/tool",
                    "prompt": "You are a careful assistant."})
    QApplication.processEvents()
    shot = window.inspector.widget().grab()  # the whole form, not just what is scrolled to
    assert shot.save(str(ARTIFACTS / "inspector-fields.png"))
    assert shot.width() > 250 and shot.height() > 400
    select(window)  # a new node: empty fields say what goes in them
    QApplication.processEvents()
    assert window.inspector.widget().grab().save(str(ARTIFACTS / "inspector-fields-new.png"))


def test_big_and_odd_values_open_quickly_and_are_shown_faithfully(window, qtbot):
    line = "total = sum(x * 2 for x in range(10))  # 'quoted' \"text\" 0x1F\n"
    hostile = "{{ '\"#" * 1500 + "\n"  # unclosed templates and strings, 9 000 characters
    code = line * (500_000 // len(line)) + hostile * 50  # about the largest value allowed
    started = time.perf_counter()
    node_id = select(window, {"args": [f"arg{i}" for i in range(5000)], "code": code,
                              "prompt": "x" * 1_000_000})
    opened = time.perf_counter() - started
    assert opened < 5, f"opening the node took {opened:.1f} s"
    assert field(window, "code", CodeEdit).toPlainText() == code
    assert field(window, "args", StringListEdit).rows.count() == 5000

    # a value the hinted editor cannot hold as-is falls back to the JSON editor, unchanged
    window.editor.update_node(node_id, config={"args": [1, {"a": 2}], "credential": 7})
    assert field(window, "args", StringListEdit) is None
    assert field(window, "credential", CredentialPicker) is None
    assert json.loads(field(window, "args", QPlainTextEdit).toPlainText()) == [1, {"a": 2}]


def test_a_list_of_one_template_becomes_the_whole_list_expression(window, qtbot):
    node_id = select(window, {"args": ["{{ input.args }}"]})
    items = field(window, "args", StringListEdit)
    items.to_line()
    assert config(window, node_id)["args"] == "{{ input.args }}"
    items.line.setText("{{ input.args | join(' ') ")
    items.line.editingFinished.emit()
    labels = items.parentWidget().findChildren(QLabel)
    assert any("'{{' without a matching '}}'" in label.text() for label in labels
               if label.isVisible())
