"""What the tray says: one look for many routines, and menu lines a person can scan."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.services import ActiveView
from app.ui.tray import routine_line, tooltip, tray_state, when

NOW = datetime(2026, 11, 23, 9, 0).astimezone()


def view(name: str = "Orders", trigger: str = "cron", *, next_run: datetime | None = None,
         last: str | None = None, paused: bool = False, error: str | None = None) -> ActiveView:
    return ActiveView(name.lower(), name, trigger, trigger, next_run, last, None, paused, error)


def test_paused_beats_failed_beats_running_beats_fine():
    assert tray_state([]) == "ok"
    assert tray_state([view(last="completed")]) == "ok"
    assert tray_state([view(last="completed")], running=True) == "running"
    assert tray_state([view(last="running"), view(last="failed")]) == "failed"
    assert tray_state([view(error="folder gone")]) == "failed"
    assert tray_state([view(paused=True, last="failed"), view(paused=True)]) == "paused"
    assert tray_state([view(paused=True), view(last="failed")]) == "failed"


def test_menu_lines_say_next_run_trigger_and_last_status():
    soon = NOW + timedelta(minutes=5)
    assert routine_line(view(next_run=soon, last="completed")) == \
        f"Orders — next {when(soon)} · last ✓ completed"
    assert routine_line(view(trigger="webhook", last="failed")) == \
        "Orders — on webhook · last ✗ failed"
    assert routine_line(view(trigger="file")) == "Orders — on new file"
    assert routine_line(view(paused=True, next_run=soon)) == "Orders — paused"
    long = routine_line(view(trigger="webhook", error="x" * 200))
    assert long.endswith("…") and len(long) < 100


def test_times_are_short_and_local():
    assert when(NOW.replace(hour=14, minute=5), NOW) == "14:05"
    assert when(NOW + timedelta(days=2), NOW) == f"{NOW + timedelta(days=2):%a %H:%M}"
    assert when(NOW + timedelta(days=30), NOW) == f"{NOW + timedelta(days=30):%Y-%m-%d %H:%M}"
    assert when(None) == ""


def test_tooltip_names_the_next_run_and_what_needs_attention():
    soon = datetime.now().astimezone() + timedelta(minutes=3)
    later = soon + timedelta(hours=1)
    text = tooltip([view("Later", next_run=later), view("Soon", next_run=soon),
                    view("Hook", "webhook", last="failed")], "failed")
    assert f"Next: Soon at {when(soon)}" in text
    assert "Needs attention: Hook" in text
    assert tooltip([], "ok") == "Kianax\nNo active routines"


def approval(routine: str = "Buy shares", prompt: str = "Buy 3 shares?", run: str = "r1",
             node_id: str = "ask"):
    from app.run_history import WaitingApproval

    return WaitingApproval(run, routine.lower(), routine, node_id, prompt)


def test_a_waiting_approval_is_a_menu_line_a_badge_and_a_header():
    from app.ui.tray import approval_badge, approval_line, approval_notice, menu_header

    assert approval_line(approval()) == "Approve? Buy shares: Buy 3 shares?"
    assert approval_line(approval(prompt="  ")) == "Approve? Buy shares: node ask"
    long = approval_line(approval(prompt="Ship\nit " + "x" * 200))
    assert long.startswith("Approve? Buy shares: Ship it x") and long.endswith("…")
    assert "\n" not in long and len(long) < 100
    assert approval_badge([]) == ""
    assert approval_badge([approval()] * 3) == "3"
    assert approval_badge([approval()] * 12) == "9+"
    assert menu_header("failed", []) == "Kianax — the last run failed"
    assert menu_header("failed", [approval()]) == "Kianax — 1 approval waiting"
    assert menu_header("ok", [approval(), approval(run="r2")]) == "Kianax — 2 approvals waiting"
    title, message = approval_notice(approval())
    assert title == "Buy shares waits for your approval" and message.startswith("Buy 3 shares?")


def test_tooltip_names_the_routines_waiting_for_approval():
    text = tooltip([view(last="failed")], "failed",
                   [approval(), approval(run="r2"), approval("Alpha", run="r3")])
    assert "Waiting for approval: Alpha, Buy shares" in text
    assert "Needs attention: Orders" in text
    assert "approval" not in tooltip([view()], "ok")
