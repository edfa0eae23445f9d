"""Cron triggers on real Temporal Schedules: activate, trigger now, pause, a real minute
boundary, deactivate, and start-up reconciliation."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest

from app.engine.devserver import find_temporal
from app.engine.worker import build_worker
from app.paths import Paths
from app.services import Kianax
from app.settings import Settings
from tests.helpers import routine, transform
from tests.test_cli import kianax, write


@pytest.fixture
def cron_home(tmp_path, temporal, client, plugins):
    """A Kianax home on its own workspace (so its own task queue), with a worker on it."""
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    settings = Settings(server=temporal.info.address, workspace=f"cron-{os.getpid()}-"
                        f"{tmp_path.name[-12:].replace('_', '-')}")
    settings.save(paths.settings)
    return home, settings


def cron_routine(rid: str, schedule: str = "0 3 * * *") -> dict:
    return routine([transform("stamp", "fired {{ trigger.type }}")], rid=rid,
                   trigger={"type": "cron", "schedule": schedule, "timezone": "UTC"})


def temporal_cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_temporal(), *args, "--address", address], capture_output=True,
                          text=True, timeout=30)


def activate_then_lose_schedule(home, temporal, tmp_path, stem: str) -> str:
    """An active cron routine whose schedule was deleted behind Kianax's back."""
    rid = f"{stem}-{tmp_path.name[-8:].replace('_', '-')}"
    kianax("import", str(write(tmp_path / "r.json", cron_routine(rid))), home=home)
    assert kianax("activate", rid, home=home).returncode == 0
    deleted = temporal_cli(temporal.info.address, "schedule", "delete", "--schedule-id",
                           f"kianax-routine-{rid}")
    assert deleted.returncode == 0, deleted.stderr
    return rid


async def wait_for_run(client, routine_id: str, at_least: int = 1, timeout: float = 90):
    handle = client.get_schedule_handle(f"kianax-routine-{routine_id}")
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        description = await handle.describe()
        actions = description.info.recent_actions
        if len(actions) >= at_least:
            workflow_id = actions[-1].action.workflow_id
            return (await client.get_workflow_handle(workflow_id).result())["result"]
        await asyncio.sleep(0.5)
    raise AssertionError(f"no scheduled run of {routine_id} within {timeout} s")


async def test_activate_trigger_pause_and_deactivate(cron_home, temporal, client, plugins,
                                                      tmp_path):
    home, settings = cron_home
    address = temporal.info.address
    rid = f"nightly-{tmp_path.name[-8:].replace('_', '-')}"
    assert kianax("import", str(write(tmp_path / "r.json", cron_routine(rid))),
                  home=home).returncode == 0

    activated = kianax("activate", rid, home=home)
    assert activated.returncode == 0, activated.stderr
    assert "cron 0 3 * * *" in activated.stdout
    described = temporal_cli(address, "schedule", "describe", "--schedule-id",
                             f"kianax-routine-{rid}", "-o", "json")
    assert described.returncode == 0 and '"timezoneName": "UTC"' in described.stdout
    assert f"kianax-routine-{rid}" in temporal_cli(address, "schedule", "list").stdout
    handle = client.get_schedule_handle(f"kianax-routine-{rid}")
    assert await (await handle.describe()).memo_value("cron") == "0 3 * * *"  # not kept otherwise

    async with build_worker(client, settings.task_queue, plugins):
        assert kianax("schedule", "trigger", rid, home=home).returncode == 0
        assert await wait_for_run(client, rid) == {"stamp": "fired cron"}

    newer = cron_routine(rid, "30 4 * * *")
    reimported = kianax("import", str(write(tmp_path / "r2.json", newer)), home=home)
    assert "its trigger follows" in reimported.stdout
    action = (await handle.describe()).schedule.action
    request = client.data_converter.payload_converter.from_payload(action.args[0], dict)
    assert request["version"] == 2
    assert await (await handle.describe()).memo_value("cron") == "30 4 * * *"

    paused = kianax("schedule", "pause", rid, home=home)
    assert "paused" in paused.stdout
    assert (await handle.describe()).schedule.state.paused
    assert "active" in kianax("schedule", "resume", rid, home=home).stdout
    assert not (await handle.describe()).schedule.state.paused
    assert [r["active"] for r in json.loads(kianax("list", "--json", home=home).stdout)] == \
        [True]

    assert kianax("deactivate", rid, home=home).returncode == 0
    listed = temporal_cli(address, "schedule", "list")
    assert f"kianax-routine-{rid}" not in listed.stdout
    assert [r["active"] for r in json.loads(kianax("list", "--json", home=home).stdout)] == \
        [False]


async def test_reconciliation_repairs_a_deleted_schedule(cron_home, temporal, client,
                                                         tmp_path):
    home, _ = cron_home
    rid = activate_then_lose_schedule(home, temporal, tmp_path, "repair")

    services = Kianax(Paths(home / "data", home / "config", home / "logs"))
    async with services.engine(worker=False) as engine:
        _, upserted = await services.reconcile(engine)
    services.close()

    assert rid in upserted
    described = await client.get_schedule_handle(f"kianax-routine-{rid}").describe()
    assert await described.memo_value("cron") == "0 3 * * *"


def test_activation_refuses_what_cannot_fire_and_says_why(tmp_path, temporal):
    home = tmp_path / "home"
    kianax("import", str(write(tmp_path / "m.json", routine([transform("a", 1)], rid="by-hand"))),
           home=home)
    kianax("import", str(write(tmp_path / "w.json", routine(
        [transform("a", 1)], rid="hook", trigger={"type": "webhook", "path": "hook"}))), home=home)
    manual = kianax("activate", "by-hand", "--server", temporal.info.address, home=home)
    unsigned = kianax("activate", "hook", "--server", temporal.info.address, home=home)
    assert manual.returncode == unsigned.returncode == 2
    assert "manual trigger: there is nothing to activate" in manual.stderr
    assert "needs a signing secret" in unsigned.stderr
    assert "--kind webhook_secret" in unsigned.stderr
    listed = json.loads(kianax("list", "--json", home=home).stdout)
    assert not any(item["active"] for item in listed)


@pytest.mark.slow
async def test_every_minute_schedule_fires_across_a_real_minute_boundary(
        cron_home, client, plugins, tmp_path):
    home, settings = cron_home
    rid = f"minutely-{tmp_path.name[-8:].replace('_', '-')}"
    kianax("import", str(write(tmp_path / "r.json", cron_routine(rid, "* * * * *"))),
           home=home)
    assert kianax("activate", rid, home=home).returncode == 0
    try:
        async with build_worker(client, settings.task_queue, plugins):
            assert await wait_for_run(client, rid, timeout=75) == {"stamp": "fired cron"}
    finally:
        kianax("deactivate", rid, home=home)


def test_the_desktop_app_repairs_schedules_when_its_engine_starts(qapp, cron_home, temporal,
                                                                    tmp_path):
    from app.ui.main_window import MainWindow
    from tests.test_gui_run import close_window, run_on_qt_loop

    home, _ = cron_home
    rid = activate_then_lose_schedule(home, temporal, tmp_path, "boot")
    window = MainWindow(Kianax(Paths(home / "data", home / "config", home / "logs")))

    async def scenario():
        await window.start_engine()
        description = await window.engine.client.get_schedule_handle(
            f"kianax-routine-{rid}").describe()
        await window.shutdown()
        return await description.memo_value("cron")

    try:
        assert run_on_qt_loop(qapp, scenario) == "0 3 * * *"
    finally:
        close_window(window)
