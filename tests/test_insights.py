"""Insights per routine (design §8): runs per day from the store, and the desktop panel's
numbers and chart over a known mix of runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.paths import Paths
from app.services import Kianax
from app.store import Store
from app.ui.insights import InsightsDialog, day_labels, duration_text, summary
from tests.conftest import ARTIFACTS
from tests.test_run_history import _run


def test_runs_per_day_counts_each_calendar_day_with_empty_days_included(tmp_path):
    store = Store(tmp_path / "k.db")
    until = datetime(2026, 3, 10, 18, 0)
    _run(store, "a1", "a", "completed", 1, datetime(2026, 3, 10, 9, 0))
    _run(store, "a2", "a", "failed", 1, datetime(2026, 3, 10, 10, 0), "boom")
    _run(store, "a3", "a", "cancelled", 1, datetime(2026, 3, 8, 23, 59))
    _run(store, "a4", "a", "completed", 1, datetime(2026, 3, 4, 0, 0))  # the first day
    _run(store, "a5", "a", "completed", 1, datetime(2026, 3, 3, 23, 59))  # before it
    _run(store, "a6", "a", "completed", 1, datetime(2026, 3, 10, 19, 0))  # after `until`
    _run(store, "b1", "b", "completed", 1, datetime(2026, 3, 10, 9, 0))

    days = store.runs_per_day("a", 7, until=until, tz=UTC)

    assert [d.day for d in days] == [date(2026, 3, 4) + timedelta(days=i) for i in range(7)]
    assert [(d.runs, d.completed, d.failed, d.other) for d in days] == [
        (1, 1, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (1, 0, 0, 1), (0, 0, 0, 0),
        (2, 1, 1, 0)]
    assert sum(d.runs for d in store.runs_per_day(None, 7, until=until, tz=UTC)) == 5
    # a day is the person's calendar day: 23:59 UTC on the 8th is the 9th two hours east
    east = datetime(2026, 3, 10, 20, 0, tzinfo=UTC).astimezone().tzinfo  # any fixed zone
    assert len(store.runs_per_day("a", 30, until=until, tz=east)) == 30


def test_summary_texts_read_as_a_person_measures():
    assert duration_text(0.04) == "40 ms" and duration_text(4) == "4.00 s"
    assert duration_text(125) == "2 min 05 s" and duration_text(None) == "–"
    assert summary(None)["runs"] == "0" and summary(None)["success"] == "–"


def test_insights_shows_the_numbers_of_a_known_mix(qapp, tmp_path):
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs").ensure())
    services.store.save_routine({"format": "kianax/routine@1", "id": "a", "name": "Orders",
                                 "nodes": [], "connections": []})
    services.store.save_routine({"format": "kianax/routine@1", "id": "b", "name": "b",
                                 "nodes": [], "connections": []})
    noon = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)

    def at(days_ago: int) -> datetime:
        return (noon - timedelta(days=days_ago)).astimezone(UTC).replace(tzinfo=None)

    for i, seconds in enumerate((1, 2, 3)):
        _run(services.store, f"ok-{i}", "a", "completed", seconds, at(1))
    for i, seconds in enumerate((4, 5, 6)):
        _run(services.store, f"ok2-{i}", "a", "completed", seconds, at(2))
    _run(services.store, "f1", "a", "failed", 10, at(2), "timeout")
    _run(services.store, "f2", "a", "failed", 10, at(3), "timeout")
    _run(services.store, "f3", "a", "failed", 10, at(3), "HTTP 500 from the shop")
    _run(services.store, "c1", "a", "cancelled", 0.5, at(4))
    _run(services.store, "old", "a", "failed", 1, at(40), "ancient")
    _run(services.store, "b1", "b", "completed", 0.04, at(1))

    dialog = InsightsDialog(services, "a")
    dialog.resize(900, 640)
    dialog.show()
    qapp.processEvents()
    try:
        tiles = {name: tile.value.text() for name, tile in dialog.tiles.items()}
        assert tiles == {"runs": "10", "success": "60 %", "p50": "4.00 s", "p95": "10.00 s"}
        assert dialog.breakdown.text() == "6 completed · 3 failed · 1 cancelled"
        rows = [(dialog.failures.item(r, 0).text(), dialog.failures.item(r, 1).text())
                for r in range(dialog.failures.rowCount())]
        assert rows == [("2", "timeout"), ("1", "HTTP 500 from the shop")]
        assert len(dialog.days) == 30 and dialog.days[-1].day == noon.date()
        per_day = {(noon.date() - d.day).days: (d.completed, d.failed, d.other)
                   for d in dialog.days if d.runs}
        assert per_day == {1: (3, 0, 0), 2: (3, 1, 0), 3: (0, 2, 0), 4: (0, 0, 1)}
        [series] = dialog.chart.series()
        sets = {bars.label(): [bars.at(i) for i in range(bars.count())]
                for bars in series.barSets()}
        assert sum(sets["completed"]) == 6 and sum(sets["failed"]) == 3
        assert sets["failed"][-4] == 2  # three days ago, oldest first
        assert len(set(day_labels(dialog.days))) == 30  # categories must be unique
        ARTIFACTS.mkdir(exist_ok=True)
        dialog.grab().save(str(ARTIFACTS / "insights.png"))

        dialog.period.setCurrentIndex(0)  # last 7 days: same runs, the old one still out
        assert len(dialog.days) == 7 and dialog.tiles["runs"].value.text() == "10"
        dialog.routine.setCurrentIndex(dialog.routine.findData("b"))
        assert dialog.tiles["p50"].value.text() == "40 ms"
        assert dialog.tiles["success"].value.text() == "100 %"
        assert dialog.failures.rowCount() == 0
    finally:
        dialog.close()
        services.close()
