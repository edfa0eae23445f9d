"""Webhook, event and file triggers, hosted as the app and `kianax worker --triggers` host them:
a real dev server and worker, real SQLite, real HTTP on 127.0.0.1, a real folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.engine.devserver import free_port
from app.paths import Paths
from app.services import Kianax, UserError
from app.settings import Settings
from app.triggers import curl_example
from app.triggers.host import TriggerHost
from app.triggers.webhook import signed_headers
from app.vault import Vault
from tests.helpers import LocalHTTPServer, node, routine, transform
from tests.keyrings import MemoryKeyring
from tests.test_cli import kianax, write

SECRET = "whsec-correct-horse-battery"


@dataclass
class Hosted:
    app: Kianax
    engine: Any
    host: TriggerHost
    started: list[tuple[str, str]]

    def add(self, document: dict[str, Any]) -> str:
        version = self.app.store.save_routine(document)
        assert version >= 1
        return document["id"]

    async def activate(self, routine_id: str) -> str:
        message = await self.app.activate(routine_id, self.engine)
        await self.host.refresh()
        return message

    def url(self, path: str) -> str:
        return self.app.webhook_options().url(path)

    async def wait_runs(self, routine_id: str, count: int, timeout: float = 30) -> list[Any]:
        """The routine's recorded runs once ``count`` of them have ended."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            runs = self.app.store.runs(routine_id, limit=1000)
            ended = [r for r in runs if r.status != "running"]
            if len(ended) >= count or asyncio.get_running_loop().time() > deadline:
                return ended
            await asyncio.sleep(0.1)


@pytest.fixture
async def hosted(tmp_path: Path, temporal: Any) -> AsyncIterator[Hosted]:
    paths = Paths(tmp_path / "data", tmp_path / "config", tmp_path / "logs").ensure()
    Settings(server=temporal.info.address, workspace=f"trig-{os.getpid()}-{tmp_path.name[-10:]}"
             .replace("_", "-"), webhook_port=free_port(), webhook_rate_per_s=5,
             webhook_burst=10).save(paths.settings)
    app = Kianax(paths, vault=Vault(MemoryKeyring()))
    app.credentials.add("hook-key", "webhook_secret", {}, {"secret": SECRET})
    started: list[tuple[str, str]] = []
    async with app.engine() as engine:
        host = app.trigger_host(engine, on_run=lambda rid, run: started.append((rid, run)))
        await host.start()
        hosted = Hosted(app, engine, host, started)
        try:
            yield hosted
        finally:
            await hosted.host.close()
    app.close()


def hook_routine(rid: str = "hook", path: str = "orders") -> dict[str, Any]:
    echo = transform("echo", {"order": "{{ trigger.order }}", "qty": "{{ trigger.qty }}"})
    return routine([echo],
                   rid=rid, trigger={"type": "webhook", "path": path, "credential": "hook-key"})


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    """X-Kianax-Timestamp and X-Kianax-Signature for ``body``, signed now (or ``at``). The
    same body signed in the same second is the same request: a second one is a replay."""
    return {**signed_headers(secret.encode(), body, at), "Content-Type": "application/json"}


async def test_signed_webhook_starts_a_run_with_its_payload(hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    message = await hosted.activate(rid)
    assert hosted.url("orders") in message
    body = json.dumps({"order": "A-17", "qty": 3}).encode()
    async with httpx.AsyncClient() as http:
        headers = signed(body)
        accepted = await http.post(hosted.url("orders"), content=body, headers=headers)
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        again = await http.post(hosted.url("orders"), content=body, headers=headers)
        assert again.status_code == 401 and "replay" in again.json()["error"]
        body = json.dumps({"qty": 3, "order": "A-17"}).encode()  # a new request: new bytes
        waited = await http.post(hosted.url("orders") + "?wait=1", content=body,
                                 headers=signed(body), timeout=30)
    assert waited.status_code == 200
    assert waited.json()["status"] == "completed"
    assert waited.json()["result"] == {"echo": {"order": "A-17", "qty": 3}}
    [first] = [r for r in await hosted.wait_runs(rid, 2) if r.id == run_id]
    assert first.status == "completed"
    state = hosted.app.store.run_state(run_id)
    assert state["nodes"]["echo"]["output"] == {"order": "A-17", "qty": 3}
    assert (rid, run_id) in hosted.started


async def test_webhook_refusals_say_why(hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    await hosted.activate(rid)
    body = b'{"order": "A-1"}'
    big = b'{"pad": "' + b"x" * (hosted.app.settings.webhook_max_bytes + 10) + b'"}'
    async with httpx.AsyncClient() as http:
        missing = await http.post(hosted.url("orders"), content=body)
        wrong = await http.post(hosted.url("orders"), content=body,
                                headers=signed(body, "not-the-secret"))
        tampered = await http.post(hosted.url("orders"), content=b'{"order": "B-2"}',
                                   headers=signed(body))
        oversized = await http.post(hosted.url("orders"), content=big, headers=signed(big))

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: must stop at the limit
            for _ in range(40):
                yield b"y" * 65536

        streamed = await http.post(hosted.url("orders"), content=chunks())
        not_json = await http.post(hosted.url("orders"), content=b"order=A-1",
                                   headers=signed(b"order=A-1"))
        unknown = await http.post(hosted.url("nowhere"), content=body, headers=signed(body))
    assert [missing.status_code, wrong.status_code, tampered.status_code] == [401, 401, 401]
    assert "X-Kianax-Signature" in missing.json()["error"]
    assert oversized.status_code == 413 and streamed.status_code == 413
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert unknown.status_code == 404
    assert hosted.app.store.runs(rid) == []


async def test_deactivated_webhook_is_gone_and_the_listener_stops(hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    await hosted.activate(rid)
    body = b"{}"
    async with httpx.AsyncClient() as http:
        assert (await http.post(hosted.url("orders"), content=body,
                                headers=signed(body))).status_code == 202
        await hosted.app.deactivate(rid, hosted.engine)
        await hosted.host.refresh()
        with pytest.raises(httpx.ConnectError):
            await http.post(hosted.url("orders"), content=body, headers=signed(body))


async def test_webhook_flood_is_rate_limited_and_every_accepted_run_completes(
        hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    await hosted.activate(rid)
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        loop = asyncio.get_running_loop()
        began = loop.time()
        sent: list[float] = []

        async def post_at(slot: float) -> httpx.Response:
            await asyncio.sleep(max(0.0, began + slot - loop.time()))
            sent.append(loop.time())
            body = json.dumps({"order": f"flood-{slot}", "qty": 1}).encode()  # no replays
            return await http.post(hosted.url("orders"), content=body, headers=signed(body))

        # 300 requests sent at 100 per second, whatever the answers take
        replies = await asyncio.gather(*(post_at(i / 100) for i in range(300)))
        answered = loop.time() - began
        body = json.dumps({"order": "after", "qty": 1}).encode()
        after = await http.post(hosted.url("orders"), content=body, headers=signed(body))
    assert max(sent) - min(sent) < 3.5
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {202, 429}, set(statuses)
    accepted = [r.json()["run_id"] for r in replies if r.status_code == 202]
    # the bucket: a burst of 10, then 5/s for as long as requests kept arriving
    assert 10 <= len(accepted) <= 10 + 5 * answered + 1, (len(accepted), answered)
    assert after.status_code in (202, 429)  # the listener is still up
    ended = await hosted.wait_runs(rid, len(accepted), timeout=60)
    by_id = {r.id: r.status for r in ended}
    assert all(by_id.get(run_id) == "completed" for run_id in accepted), by_id


async def test_a_webhook_whose_secret_is_gone_answers_503_and_the_owner_sees_why(
        hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    await hosted.activate(rid)
    hosted.app.credentials.vault.delete("hook-key")  # e.g. the keyring entry was removed
    hosted.app.store.touch_credential("hook-key")
    await hosted.host.refresh()
    [status] = hosted.host.statuses()
    assert "missing from the OS keyring" in status.error
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.post(hosted.url("orders"), content=b"{}", headers=signed(b"{}"))
    assert reply.status_code == 503 and "keyring" not in reply.text
    assert hosted.app.store.runs(rid) == []


async def test_webhook_activation_refuses_what_cannot_work(hosted: Hosted) -> None:
    no_secret = hook_routine("no-secret", "a")
    del no_secret["trigger"]["credential"]
    hosted.add(no_secret)
    with pytest.raises(UserError, match="needs a signing secret"):
        await hosted.app.activate("no-secret", hosted.engine)
    hosted.add(hook_routine("first", "same"))
    hosted.add(hook_routine("second", "same"))
    await hosted.activate("first")
    with pytest.raises(UserError, match="first already listens at /hooks/same"):
        await hosted.app.activate("second", hosted.engine)
    assert not hosted.app.is_active("second")


@pytest.fixture
def quote_server() -> Any:
    """A quote service whose price the test moves; it counts every check."""
    prices = {"now": 120.0}
    server = LocalHTTPServer(routes={"/quote": lambda _n, _q: (200, {"price": prices["now"]})})
    server.start()
    yield server, prices
    server.stop()


def price_below_100(rid: str, server: LocalHTTPServer) -> dict[str, Any]:
    """A routine whose event trigger checks the quote server every second."""
    return routine([transform("alert", "low")], rid=rid, trigger={
        "type": "event", "every_s": 1, "when": "{{ check.body.price < 100 }}",
        "check": {"plugin": "http.request", "config": {"url": f"{server.url}/quote"}}})


async def wait_checks(server: LocalHTTPServer, more: int, timeout: float = 20) -> None:
    target = server.calls["/quote"] + more
    deadline = asyncio.get_running_loop().time() + timeout
    while server.calls["/quote"] < target:
        assert asyncio.get_running_loop().time() < deadline, "the event check stopped"
        await asyncio.sleep(0.05)


async def test_event_trigger_fires_once_per_drop_below_the_threshold(
        hosted: Hosted, quote_server: Any) -> None:
    server, prices = quote_server
    document = routine([transform("alert", "dropped to {{ trigger.check.body.price }} from "
                                  "{{ trigger.previous.body.price }}")], rid="dip",
                       trigger={"type": "event", "every_s": 1,
                                "check": {"plugin": "http.request",
                                          "config": {"url": f"{server.url}/quote"}},
                                "when": "{{ check.body.price < 100 }}"})
    rid = hosted.add(document)
    assert "every 1 s" in await hosted.activate(rid)
    await wait_checks(server, 2)
    assert hosted.app.store.runs(rid) == []

    prices["now"] = 90.0
    [first] = await hosted.wait_runs(rid, 1)
    assert hosted.app.store.run_state(first.id)["result"] == {"alert": "dropped to 90.0 from 120.0"}
    await wait_checks(server, 3)  # staying low starts nothing
    assert len(hosted.app.store.runs(rid)) == 1

    prices["now"] = 130.0
    await wait_checks(server, 2)
    prices["now"] = 80.0
    runs = await hosted.wait_runs(rid, 2)
    await wait_checks(server, 2)
    assert len(hosted.app.store.runs(rid)) == 2
    assert hosted.app.store.run_state(runs[0].id)["result"] == {
        "alert": "dropped to 80.0 from 130.0"}
    assert hosted.app.store.trigger_state(rid)["held"] is True


async def test_event_trigger_remembers_across_a_restart(hosted: Hosted, quote_server: Any,
                                                        tmp_path: Path) -> None:
    """A condition that already held before a restart does not fire again after it."""
    server, prices = quote_server
    prices["now"] = 50.0
    rid = hosted.add(price_below_100("low", server))
    await hosted.activate(rid)
    await hosted.wait_runs(rid, 1)
    await hosted.host.close()
    host = hosted.app.trigger_host(hosted.engine)
    await host.start()
    try:
        await wait_checks(server, 2)
    finally:
        await host.close()
    assert len(hosted.app.store.runs(rid)) == 1


async def test_reactivating_an_event_trigger_starts_fresh(hosted: Hosted,
                                                          quote_server: Any) -> None:
    server, prices = quote_server
    prices["now"] = 50.0
    rid = hosted.add(price_below_100("again", server))
    await hosted.activate(rid)
    await hosted.wait_runs(rid, 1)
    await hosted.app.deactivate(rid, hosted.engine)
    await hosted.host.refresh()
    assert hosted.app.store.trigger_state(rid) is None and hosted.host.statuses() == []
    checks = server.calls["/quote"]
    await asyncio.sleep(1.5)
    assert server.calls["/quote"] == checks  # no checks while inactive
    await hosted.activate(rid)  # what held before is forgotten: it fires again
    assert len(await hosted.wait_runs(rid, 2)) == 2


async def test_event_check_secrets_never_reach_the_store(hosted: Hosted,
                                                         http_server: LocalHTTPServer) -> None:
    """A check with a credential: the server echoes the token; `previous` keeps `***`."""
    token = "tok-event-check-4f9a2c"
    hosted.app.credentials.add("quotes", "bearer_token", {}, {"token": token})
    http_server.routes["/echo"] = lambda _n, _q: (200, {
        "auth": http_server.headers_seen[-1].get("Authorization"), "price": 10})
    rid = hosted.add(routine([transform("alert", "{{ trigger.check.body.auth }}")],
                             rid="echo", trigger={
        "type": "event", "every_s": 1, "when": "{{ check.body.price < 100 }}",
        "check": {"plugin": "http.request",
                  "config": {"url": f"{http_server.url}/echo", "credential": "quotes"}}}))
    await hosted.activate(rid)
    [run] = await hosted.wait_runs(rid, 1)
    assert http_server.headers_seen[-1]["Authorization"] == f"Bearer {token}"
    assert hosted.app.store.trigger_state(rid)["previous"]["body"]["auth"] == "Bearer ***"
    assert hosted.app.store.run_state(run.id)["result"] == {"alert": "Bearer ***"}
    await hosted.host.close()
    hosted.app.close()
    for path in hosted.app.paths.store.parent.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"check secret found in {path}"


async def test_event_check_failure_is_reported_not_fatal(hosted: Hosted) -> None:
    port = free_port()  # nothing listens there
    rid = hosted.add(routine([transform("alert", "x")], rid="dead", trigger={
        "type": "event", "every_s": 1, "when": "{{ check.status == 200 }}",
        "check": {"plugin": "http.request", "config": {"url": f"http://127.0.0.1:{port}/q"}}}))
    await hosted.activate(rid)
    for _ in range(100):
        [status] = hosted.host.statuses()
        if status.error:
            break
        await asyncio.sleep(0.1)
    assert status.type == "event" and "127.0.0.1" in status.error
    assert hosted.app.store.runs(rid) == []


async def test_file_written_slowly_starts_exactly_one_run_once_complete(
        hosted: Hosted, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "old.csv").write_text("there before\n")
    rid = hosted.add(routine([transform("got", "{{ trigger.name }} {{ trigger.size }}")],
                             rid="inbox", trigger={"type": "file", "path": str(inbox),
                                                   "pattern": "*.csv"}))
    assert "*.csv" in await hosted.activate(rid)
    await asyncio.sleep(0.5)  # the watch is set up
    (inbox / "notes.txt").write_text("not a csv\n")
    (inbox / "old.csv").write_text("changed, but not new\n")
    target = inbox / "orders.csv"
    with target.open("w") as out:
        for line in range(8):
            out.write(f"{line},item-{line}\n" * 50)
            out.flush()
            await asyncio.sleep(0.4)
    finished = asyncio.get_running_loop().time()
    size = target.stat().st_size
    [run] = await hosted.wait_runs(rid, 1)
    assert asyncio.get_running_loop().time() - finished >= 1.0
    await asyncio.sleep(2.5)
    assert [r.id for r in hosted.app.store.runs(rid)] == [run.id]
    state = hosted.app.store.run_state(run.id)
    assert state["result"] == {"got": f"orders.csv {size}"}


async def test_a_folder_removed_and_recreated_is_watched_again(hosted: Hosted,
                                                               tmp_path: Path) -> None:
    inbox = tmp_path / "drop"
    inbox.mkdir()
    rid = hosted.add(routine([transform("got", "{{ trigger.name }}")], rid="drop",
                             trigger={"type": "file", "path": str(inbox)}))
    await hosted.activate(rid)
    await asyncio.sleep(0.5)
    inbox.rmdir()
    for _ in range(100):
        await hosted.host.refresh()
        [status] = hosted.host.statuses()
        if status.error and "does not exist" in status.error:
            break
        await asyncio.sleep(0.1)
    assert "does not exist" in status.error
    inbox.mkdir()
    for _ in range(100):  # the watch notices the folder is back
        await hosted.host.refresh()
        if hosted.host.statuses()[0].error is None:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    (inbox / "late.txt").write_text("hello")
    [run] = await hosted.wait_runs(rid, 1)
    assert hosted.app.store.run_state(run.id)["result"] == {"got": "late.txt"}


async def test_file_trigger_refuses_a_missing_folder(hosted: Hosted, tmp_path: Path) -> None:
    rid = hosted.add(routine([transform("got", "x")], rid="nofolder",
                             trigger={"type": "file", "path": str(tmp_path / "absent")}))
    with pytest.raises(UserError, match="does not exist"):
        await hosted.app.activate(rid, hosted.engine)


def test_headless_worker_serves_webhooks_of_active_routines(tmp_path: Path, temporal: Any,
                                                            secret_service: Any) -> None:
    """`kianax worker --triggers` is all a server needs: no desktop, same store and vault."""
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    port = free_port()
    Settings(server=temporal.info.address,
             workspace=f"headless-{os.getpid()}-{tmp_path.name[-10:]}".replace("_", "-")
             ).save(paths.settings)
    assert kianax("credential", "add", "hook-key", "--kind", "webhook_secret", home=home,
                  stdin=SECRET).returncode == 0
    first = write(tmp_path / "a.json", hook_routine("first", "a"))
    second = write(tmp_path / "b.json", hook_routine("second", "b"))
    for path in (first, second):
        assert kianax("import", str(path), home=home).returncode == 0
    activated = kianax("activate", "first", home=home)
    assert f"http://127.0.0.1:{port}/hooks/a" not in activated.stdout  # saved port: 8765
    assert "/hooks/a" in activated.stdout, activated.stdout + activated.stderr
    assert "X-Kianax-Signature: sha256=$SIG" in activated.stdout  # the curl example

    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--triggers", "--webhook-port", str(port)],
        env={**os.environ, "KIANAX_HOME": str(home)}, stderr=subprocess.PIPE, text=True)
    try:
        banner = [worker.stderr.readline() for _ in range(3)]
        assert any("first: webhook" in line for line in banner), banner
        body = b'{"order": "headless", "qty": 2}'
        reply = httpx.post(f"http://127.0.0.1:{port}/hooks/a?wait=1", content=body,
                           headers=signed(body), timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == {"echo": {"order": "headless", "qty": 2}}

        assert kianax("activate", "second", home=home).returncode == 0  # picked up live
        deadline = time.monotonic() + 15
        while True:
            reply = httpx.post(f"http://127.0.0.1:{port}/hooks/b", content=body,
                               headers=signed(body), timeout=30)
            if reply.status_code == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert reply.status_code == 202, reply.text
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        log = worker.stderr.read()
    runs = json.loads(kianax("runs", "--json", home=home).stdout)
    assert {r["routine_id"] for r in runs} == {"first", "second"}
    by_hand = hook_routine("second", "b")
    by_hand["trigger"] = {"type": "manual"}
    reimported = kianax("import", str(write(tmp_path / "b2.json", by_hand)), home=home)
    assert "now has a manual trigger, so it was deactivated" in reimported.stdout
    listed = {r["id"]: r["active"] for r in json.loads(kianax("list", "--json",
                                                               home=home).stdout)}
    assert listed == {"first": True, "second": False}
    assert SECRET not in log + "".join(banner)
    for path in home.rglob("*"):  # store, settings, logs: the secret lives in the keyring only
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"webhook secret found in {path}"


async def test_the_curl_example_shown_to_users_really_works(hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    await hosted.activate(rid)
    script = curl_example(hosted.url("orders"), "hook-key").replace(
        "paste-the-webhook-secret", SECRET)
    script = script.replace("""BODY='{"hello": "world"}'""",
                            """BODY='{"order": "from-curl", "qty": 1}'""")
    shell = await asyncio.create_subprocess_exec("bash", "-c", script,
                                                 stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(shell.communicate(), 60)
    assert shell.returncode == 0, err.decode()
    reply = json.loads(out)
    assert reply["status"] == "completed", reply
    assert reply["result"] == {"echo": {"order": "from-curl", "qty": 1}}


async def test_a_run_left_running_by_a_quit_is_recorded_when_triggers_start_again(
        hosted: Hosted) -> None:
    """Quitting mid-run loses nothing: the run goes on in Temporal, and the next start of
    the app (or worker) records how it ended."""
    document = routine([node("wait", "core.delay", seconds=1), transform("done", "late")],
                       [("wait", "done")], rid="slowhook",
                       trigger={"type": "webhook", "path": "slow", "credential": "hook-key"})
    rid = hosted.add(document)
    await hosted.activate(rid)
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.post(hosted.url("slow"), content=b"{}", headers=signed(b"{}"))
    run_id = reply.json()["run_id"]
    await hosted.host.close()  # "quit" while the run waits
    assert [r.status for r in hosted.app.store.runs(rid)] == ["running"]
    await asyncio.sleep(2.5)
    assert [r.status for r in hosted.app.store.runs(rid)] == ["running"]

    hosted.host = hosted.app.trigger_host(hosted.engine)
    await hosted.host.start()
    [run] = await hosted.wait_runs(rid, 1, timeout=20)
    assert run.id == run_id and run.status == "completed"
    assert hosted.app.store.run_state(run_id)["result"] == {"done": "late"}


async def test_a_draft_saved_with_problems_is_not_served_until_fixed(hosted: Hosted) -> None:
    rid = hosted.add(hook_routine())
    await hosted.activate(rid)
    broken = hook_routine()
    broken["nodes"][0]["plugin"] = "no.such.plugin"
    hosted.app.store.save_routine(broken)  # what the desktop's Save does with a draft
    await hosted.host.refresh()
    [status] = hosted.host.statuses()
    assert "version 2 has problems" in status.error
    body = b"{}"
    async with httpx.AsyncClient(timeout=30) as http:
        refused = await http.post(hosted.url("orders"), content=body, headers=signed(body))
        assert refused.status_code == 503 and "has problems" in refused.json()["error"]
        hosted.app.store.save_routine(hook_routine())
        await hosted.host.refresh()
        assert hosted.host.statuses()[0].error is None
        assert (await http.post(hosted.url("orders"), content=body,
                                headers=signed(body))).status_code == 202


async def test_one_host_per_store_the_second_waits_and_takes_over(hosted: Hosted,
                                                                  quote_server: Any) -> None:
    """The app and `kianax worker --triggers` on one store: only one serves, or every
    event and file trigger would fire twice. The other takes over when the first stops."""
    server, prices = quote_server
    prices["now"] = 50.0
    rid = hosted.add(price_below_100("once", server))
    await hosted.activate(rid)
    second = hosted.app.trigger_host(hosted.engine)
    await second.start()
    try:
        [status] = second.statuses()
        assert status.detail == "standby" and "another Kianax process" in status.error
        await hosted.wait_runs(rid, 1)
        await wait_checks(server, 3)
        assert len(hosted.app.store.runs(rid)) == 1  # not two

        await hosted.host.close()  # the first quits
        hook = hosted.add(hook_routine())
        await hosted.app.activate(hook, hosted.engine)
        await second.refresh()
        assert {s.routine_id: s.error for s in second.statuses()} == {rid: None, hook: None}
        async with httpx.AsyncClient(timeout=30) as http:
            reply = await http.post(hosted.url("orders"), content=b'{"order": 1, "qty": 1}',
                                    headers=signed(b'{"order": 1, "qty": 1}'))
        assert reply.status_code == 202
        await wait_checks(server, 2)
        assert len(hosted.app.store.runs(rid)) == 1  # the condition still holds: no re-fire
    finally:
        await second.close()
