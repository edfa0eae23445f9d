"""Pins and Run to here in the desktop editor, on the real dev server, driven as a person
would: run, pin the API call's output from the node menu, iterate on the next node with Run
to here (the API is not called again, nothing downstream runs), type a pin, unpin."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QTimer
from PySide6.QtGui import QContextMenuEvent, QKeySequence
from PySide6.QtWidgets import QApplication

from app.routine import parse_routine
from tests.conftest import ARTIFACTS
from tests.helpers import node, routine, slow, transform
from tests.test_gui_run import close_window, open_window, run_on_qt_loop
from tests.test_gui_run_input import finished_future
from tests.test_pins import api_routine


def layout(document: dict) -> dict:
    for x, item in zip((0, 280, 560), document["nodes"], strict=True):
        item["position"] = [x, 80]
        item["name"] = {"fetch": "Fetch user", "message": "Message", "post": "Notify"}[item["id"]]
    return document


def menu_actions(window, node_id: str) -> dict:
    return {a.text(): a for a in window.node_menu(node_id).actions()}


def serve_user(http_server) -> None:
    http_server.routes["/user"] = lambda n, q: (200, {"name": "Ada", "email": "ada@x.io",
                                                      "orders": n})
    http_server.routes["/notify"] = lambda n, q: (200, {"ok": True})


def test_pin_from_the_run_then_run_to_here_never_calls_the_api_again(qapp, tmp_path, temporal,
                                                                       http_server):
    serve_user(http_server)
    window = open_window(tmp_path, temporal.info.address)
    window.services.store.save_routine(layout(api_routine(http_server.url)))
    window.open_routine("api")
    assert window.run_here_action.shortcut() == QKeySequence("F6")
    assert QKeySequence("Ctrl+Shift+Return") in window.run_here_action.shortcuts()
    assert not menu_actions(window, "fetch")["Pin output"].isEnabled()  # no run yet

    async def scenario():
        await window.start_engine()
        finished = finished_future(window)
        window.run_action.trigger()
        first = await finished
        assert first["status"] == "completed", first.get("error")

        menu = menu_actions(window, "fetch")
        assert menu["Pin output"].isEnabled() and not menu["Unpin"].isEnabled()
        menu["Pin output"].trigger()  # the node menu, after a run
        assert window.pinned_ids == {"fetch"}
        assert window.scene.pinned == {"fetch"}  # the badge
        assert window.scene.nodes["fetch"].pinned and not window.scene.nodes["message"].pinned
        await asyncio.sleep(0.05)  # painted (never processEvents inside the loop's task)
        window.grab().save(str(ARTIFACTS / "pins-pinned-node-light.png"))

        window.scene.select_nodes(["message"])
        finished = finished_future(window)
        window.run_here_action.trigger()  # F6 on the selected node
        here = await finished
        assert window.last_run == here and window.inspector.last_run == here  # the viewers
        assert window.scene.nodes["post"].run is None  # the downstream node shows no run
        assert window.statusBar().currentMessage().startswith("Run to Message completed")
        await asyncio.sleep(0.05)
        window.grab().save(str(ARTIFACTS / "pins-run-to-here-light.png"))
        assert http_server.calls["/notify"] == 1

        finished = finished_future(window)
        window.run_action.trigger()  # Run Now uses the pin too, and runs everything else
        whole = await finished
        assert whole["status"] == "completed", whole.get("error")
        assert whole["nodes"]["fetch"]["reused"] is True
        assert http_server.calls["/user"] == 1 and http_server.calls["/notify"] == 2
        await window.shutdown()
        return first, here

    try:
        first, here = run_on_qt_loop(qapp, scenario)
        message = window.statusBar().currentMessage()
    finally:
        close_window(window)
    assert http_server.calls["/user"] == 1, "the pinned API call was not repeated"
    assert here["status"] == "completed", here.get("error")
    assert sorted(here["nodes"]) == ["fetch", "message"]
    assert here["nodes"]["fetch"]["reused"] is True
    assert here["nodes"]["message"]["output"] == "Ada (ada@x.io) has 1 orders"
    assert window.services.store.run_state(here["run_id"])["nodes"]["message"]["output"] \
        == here["nodes"]["message"]["output"]
    assert message.startswith("Run completed") and "(1 pinned)" in message
    runs = window.services.store.runs("api")
    assert [r.source for r in runs] == ["manual"] * 3
    assert first["nodes"]["fetch"]["reused"] is False


def test_typed_pin_is_checked_bounded_and_unpinned_from_the_node_menu(qapp, tmp_path, temporal,
                                                                      http_server, monkeypatch):
    serve_user(http_server)
    window = open_window(tmp_path, temporal.info.address)
    document = layout(api_routine(http_server.url))
    window.services.store.save_routine(document)
    window.open_routine("api")
    try:
        shown: list[list[str]] = []

        def close_popup() -> None:
            popup = QApplication.activePopupWidget()
            if popup is None:
                QTimer.singleShot(20, close_popup)
                return
            shown.append([a.text() for a in popup.actions()])
            popup.close()

        QTimer.singleShot(0, close_popup)
        item = window.scene.nodes["message"]
        at = window.view.mapFromScene(item.mapToScene(item.boundingRect().center()))
        QApplication.sendEvent(window.view.viewport(), QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, at, window.view.viewport().mapToGlobal(at)))
        assert shown == [["Run to here", "Pin output", "Pin data…", "Unpin"]]
        assert window.scene.selected_node_ids() == ["message"]

        menu = menu_actions(window, "fetch")
        assert "Pin data…" in menu and not menu["Unpin"].isEnabled()
        menu["Pin data…"].trigger()  # no run yet: the output is typed
        dialog = window.pin_dialog
        assert dialog is not None and dialog.isVisible()
        assert not dialog.pin_button.isEnabled()  # nothing typed yet

        dialog.text.setPlainText('{"body": {"name": "Grace",}}')
        assert "Not valid JSON" in dialog.status.text() and not dialog.pin_button.isEnabled()
        dialog.text.setPlainText('{"body": "' + "x" * 1_600_000 + '"}')
        dialog.pin_button.click()  # refused, in a sentence; the text is kept
        assert "Temporal's payload limit" in dialog.status.text() and dialog.isVisible()
        assert len(dialog.text.toPlainText()) > 1_600_000
        assert window.services.pins("api") == {}

        typed = {"status": 200, "body": {"name": "Grace", "email": "g@x.io", "orders": 7}}
        dialog.text.setPlainText('{"status": 200, "body": {"name": "Grace", "email": '
                                 '"g@x.io", "orders": 7}}')
        dialog.grab().save(str(ARTIFACTS / "pins-pin-data-dialog-light.png"))
        dialog.pin_button.click()
        assert not dialog.isVisible()
        assert window.services.pins("api")["fetch"].output == typed
        assert window.pinned_ids == {"fetch"} and window.scene.nodes["fetch"].pinned
        assert window.services.stored("api")[0] == document  # never in the document

        menu = menu_actions(window, "fetch")
        assert "Edit pinned data…" in menu
        reopened = window.edit_pin("fetch")
        assert '"Grace"' in reopened.text.toPlainText()  # prefilled with the pin
        reopened.reject()
        window.scene.select_nodes(["fetch"])
        window.scene.update()
        window.view.centerOn(window.scene.nodes["message"])
        QApplication.processEvents()
        window.grab().save(str(ARTIFACTS / "pins-typed-pin-light.png"))

        menu["Unpin"].trigger()
        assert window.services.pins("api") == {} and window.pinned_ids == frozenset()
        assert not window.scene.nodes["fetch"].pinned
    finally:
        close_window(window)


def test_a_pinned_node_in_the_dark_theme(qapp, tmp_path, monkeypatch, temporal, http_server):
    from app.ui.theme import apply_theme

    monkeypatch.setenv("KIANAX_THEME", "dark")
    apply_theme(qapp)
    serve_user(http_server)
    window = open_window(tmp_path, temporal.info.address)
    try:
        document = layout(api_routine(http_server.url))
        window.services.store.save_routine(document)
        window.services.pin("api", "fetch", {"body": {"name": "Ada"}})
        window.open_routine("api")
        assert window.scene.nodes["fetch"].pinned
        window._show(parse_routine(document), 1)
        window.scene.select_nodes(["fetch"])
        QApplication.processEvents()
        window.grab().save(str(ARTIFACTS / "pins-pinned-node-dark.png"))
        dialog = window.edit_pin("fetch")
        assert '"Ada"' in dialog.text.toPlainText()
        dialog.grab().save(str(ARTIFACTS / "pins-pin-data-dialog-dark.png"))
        dialog.reject()
    finally:
        close_window(window)
        monkeypatch.setenv("KIANAX_THEME", "light")
        apply_theme(qapp)


def test_a_for_each_node_shows_its_progress_while_it_runs(qapp, tmp_path, temporal,
                                                          http_server):
    """Run Now draws "done/total" on a for_each node's card from the engine's progress
    events, and clears it when the node ends."""
    http_server.routes["/item"] = slow(0.05)
    document = routine([transform("list", {"items": list(range(30))}),
                        node("each", "http.request", url=f"{http_server.url}/item")],
                       [("list", "each")], rid="each")
    document["nodes"][1].update(for_each="{{ input.items }}", concurrency=2)
    for x, item in zip((0, 280), document["nodes"], strict=True):
        item["position"] = [x, 80]
    window = open_window(tmp_path, temporal.info.address)
    window.services.store.save_routine(document)
    window.open_routine("each")
    seen: list[tuple[int, int]] = []

    async def scenario():
        await window.start_engine()
        finished = finished_future(window)
        window.run_action.trigger()
        while not finished.done():
            shown = window.scene.progress.get("each")
            if shown is not None and (not seen or seen[-1] != shown):
                seen.append(shown)
            if shown is not None and 0 < shown[0] < shown[1] and len(seen) == 3:
                window.grab().save(str(ARTIFACTS / "pins-for-each-progress-light.png"))
            await asyncio.sleep(0.02)
        state = await finished
        await window.shutdown()
        return state

    try:
        state = run_on_qt_loop(qapp, scenario)
    finally:
        close_window(window)
    assert state["status"] == "completed", state.get("error")
    assert len(state["nodes"]["each"]["output"]) == 30
    assert any(0 < done < 30 and total == 30 for done, total in seen), seen
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)  # only forward
    assert "each" not in window.scene.progress  # cleared when the node ended


def test_pin_output_from_a_past_run_opened_in_the_runs_view(qapp, tmp_path, temporal,
                                                            http_server):
    window = open_window(tmp_path, temporal.info.address)
    document = layout(api_routine(http_server.url))
    store = window.services.store
    store.save_routine(document)
    store.record_run_started("api-past", "api", 1, None, source="manual")
    output = {"status": 200, "headers": {}, "body": {"name": "Lin", "email": "l@x.io",
                                                     "orders": 2}}
    store.record_run_state({
        "run_id": "api-past", "routine_id": "api", "status": "completed",
        "started_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:00:01Z",
        "nodes": {"fetch": {"status": "completed", "attempts": 1, "output": output,
                            "ports": ["out"], "started_at": "2026-01-01T10:00:00Z",
                            "finished_at": "2026-01-01T10:00:01Z", "error": None},
                  "message": {"status": "failed", "attempts": 1, "output": None,
                              "error": {"message": "boom"}, "ports": [],
                              "started_at": "2026-01-01T10:00:01Z",
                              "finished_at": "2026-01-01T10:00:01Z"}},
        "result": None, "error": {"message": "boom", "node": "message"}}, 1)
    try:
        assert window.show_run(parse_routine(document), 1, store.run_state("api-past"))
        assert not menu_actions(window, "message")["Pin output"].isEnabled()  # it failed
        menu_actions(window, "fetch")["Pin output"].trigger()
        pin = window.services.pins("api")["fetch"]
        assert (pin.output, pin.ports, pin.source_run) == (output, ["out"], "api-past")
        assert window.scene.nodes["fetch"].pinned
    finally:
        close_window(window)
