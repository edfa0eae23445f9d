"""``email.send`` against a real SMTP server (aiosmtpd, STARTTLS + AUTH) and ``email.fetch``
against a real IMAP server (Dovecot, unprivileged): what arrives, what is marked read, the
errors a user sees — and that the password never shows up in a log record, an output or an
error. Ends with routines on the real engine, one of them started by the event poller
when a mail arrives."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from app.blobs import BlobRef, FolderStore
from app.engine.devserver import free_port
from app.engine.worker import build_worker
from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext
from app.plugin_api.registry import PluginRegistry
from app.routine.runstate import MAX_PAYLOAD_BYTES, json_size
from app.store import Store
from app.triggers import ActiveRoutine
from app.triggers.event import EventPoller
from plugins.email import _send
from plugins.email_fetch import fetch_messages
from tests.conftest import Runner
from tests.helpers import node, routine
from tests.mail_servers import Dovecot, SmtpServer
from tests.peak_memory import Peak
from tests.tls_proxy import Certificates, make_certificates


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("mail-certs"))


@pytest.fixture
def smtp(certificates: Certificates) -> Iterator[SmtpServer]:
    server = SmtpServer(certificates).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dovecot(certificates: Certificates) -> Iterator[Dovecot]:
    server = Dovecot(certificates).start()
    yield server
    server.stop()


@pytest.fixture
def user() -> str:
    """A fresh mailbox for each test (Dovecot lets any user name log in)."""
    return f"user-{secrets.token_hex(4)}"


class Vault:
    """Credentials by name, resolved the way the worker resolves them."""

    def __init__(self, certificates: Certificates, smtp: SmtpServer | None, dovecot: Dovecot,
                 user: str):
        tls = {"ca_file": str(certificates.ca), "host": "127.0.0.1"}
        self.entries: dict[str, dict[str, Any]] = {
            "imap": {"kind": "imap", "fields": {**tls, "port": dovecot.ssl_port, "tls": "ssl",
                                                "username": user, "password": dovecot.password}},
            "imap-starttls": {"kind": "imap", "fields": {
                **tls, "port": dovecot.port, "tls": "starttls", "username": user,
                "password": dovecot.password}},
            "imap-plain": {"kind": "imap", "fields": {
                **tls, "port": dovecot.port, "tls": "none", "username": user,
                "password": dovecot.password}},
            "imap-wrong": {"kind": "imap", "fields": {
                **tls, "port": dovecot.ssl_port, "tls": "ssl", "username": user,
                "password": dovecot.password + "x"}},
        }
        self.secrets = [dovecot.password]
        if smtp is not None:
            login = {**tls, "port": smtp.port, "tls": "starttls", "username": smtp.username}
            self.entries |= {
                "smtp": {"kind": "smtp", "fields": {**login, "password": smtp.password}},
                "smtp-wrong": {"kind": "smtp", "fields": {**login,
                                                          "password": smtp.password[:-1]}},
                "smtp-untrusted": {"kind": "smtp", "fields": {
                    **login, "ca_file": "", "password": smtp.password}},
            }
            self.secrets.append(smtp.password)

    async def resolve(self, name: str) -> dict[str, Any]:
        return self.entries[name]

    def context(self, store: FolderStore | None = None) -> CredentialContext:
        return CredentialContext("mail", 1, logging.getLogger("kianax.test.mail"), self.resolve,
                                 blobs=store)

    def assert_nowhere(self, *things: Any) -> None:
        for thing in things:
            text = thing if isinstance(thing, str) else json.dumps(thing, default=str)
            for secret in self.secrets:
                assert secret not in text


@pytest.fixture
def vault(certificates: Certificates, smtp: SmtpServer, dovecot: Dovecot, user: str,
          caplog: pytest.LogCaptureFixture) -> Iterator[Vault]:
    """The credentials; afterwards, no log record of the test holds a password."""
    caplog.set_level(logging.DEBUG)
    found = Vault(certificates, smtp, dovecot, user)
    yield found
    found.assert_nowhere(*(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records))


async def send(vault: Vault, store: FolderStore | None = None, **config: Any) -> Any:
    output = await _send(vault.context(store), None, {"credential": "smtp", **config})
    vault.assert_nowhere(output)
    return output


async def send_fails(vault: Vault, store: FolderStore | None = None, **config: Any
                     ) -> PluginError:
    with pytest.raises(PluginError) as caught:
        await _send(vault.context(store), None, {"credential": "smtp", **config})
    vault.assert_nowhere(str(caught.value))
    return caught.value


async def fetch(vault: Vault, store: FolderStore | None = None, **config: Any
                ) -> list[dict[str, Any]]:
    output = await fetch_messages(vault.context(store), None, {"credential": "imap", **config})
    vault.assert_nowhere(output)
    return output["messages"]


async def fetch_fails(vault: Vault, **config: Any) -> PluginError:
    with pytest.raises(PluginError) as caught:
        await fetch_messages(vault.context(), None, {"credential": "imap", **config})
    vault.assert_nowhere(str(caught.value))
    return caught.value


def mail(subject: str, body: str = "hello", attachment: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "Shop <orders@shop.test>"
    message["To"] = "me@example.test"
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content(body)
    message.add_alternative(f"<p>{body[:20]}</p>", subtype="html")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf",
                               filename="invoice.pdf")
    return message.as_bytes()


async def test_a_message_arrives_with_its_recipients_bodies_and_attachment_bytes(
        smtp: SmtpServer, vault: Vault, tmp_path: Path) -> None:
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(os.urandom(150_000))
    (tmp_path / "notes.txt").write_text("line one\n")
    output = await send(vault, to="Ann <ann@example.test>, bob@example.test",
                        cc=["carol@example.test"], bcc="dan@example.test",
                        subject="Invoice Nº 42", text="See attached.", html="<b>See</b>",
                        attachments=[str(invoice), str(tmp_path / "notes.txt")])
    assert output["accepted"] == ["ann@example.test", "bob@example.test",
                                  "carol@example.test", "dan@example.test"]
    [received] = smtp.received
    assert received.sender == smtp.username and received.recipients == output["accepted"]
    message = email.message_from_bytes(received.data, policy=default_policy)
    assert message["Message-ID"] == output["message_id"]
    assert message["To"] == "Ann <ann@example.test>, bob@example.test"
    assert message["Cc"] == "carol@example.test" and message["Bcc"] is None
    assert message["Subject"] == "Invoice Nº 42"
    assert message.get_body(("plain",)).get_content().strip() == "See attached."
    assert message.get_body(("html",)).get_content().strip() == "<b>See</b>"
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["invoice.pdf"].get_content_type() == "application/pdf"
    assert files["invoice.pdf"].get_content() == invoice.read_bytes()
    assert files["notes.txt"].get_content() == "line one\n"


async def test_attachments_from_stored_data_arrive_intact(smtp: SmtpServer, vault: Vault,
                                                         tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "blobs")
    scan = os.urandom(3_000_000)
    pdf = store.put_bytes(scan, "application/pdf")
    table = store.put_bytes(b"sku,qty\nA1,3\n", "application/octet-stream")
    (tmp_path / "notes.txt").write_text("line one\n")
    await send(vault, store, to="ann@example.test", text="three files",
               attachments=[pdf.to_json(), {"content": table.to_json(), "filename": "stock.csv"},
                            str(tmp_path / "notes.txt")])
    [received] = smtp.received
    message = email.message_from_bytes(received.data, policy=default_policy)
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert list(files) == ["attachment.pdf", "stock.csv", "notes.txt"]
    assert files["attachment.pdf"].get_content_type() == "application/pdf"
    assert files["attachment.pdf"].get_content() == scan  # byte for byte
    assert files["stock.csv"].get_content_type() == "text/csv"  # from the name
    assert files["stock.csv"].get_content() == "sku,qty\nA1,3\n"

    store.delete(table.digest)
    error = await send_fails(vault, store, to="ann@example.test", attachments=[table.to_json()])
    assert error.kind == "BlobMissing" and not error.retryable
    error = await send_fails(vault, None, to="ann@example.test", attachments=[pdf.to_json()])
    assert error.kind == "BadConfig" and "no blob store" in str(error)
    big = store.put_bytes(b"\0" * 26_000_000, "application/octet-stream")
    error = await send_fails(vault, store, to="ann@example.test", attachments=[big.to_json()])
    assert error.kind == "TooLarge"
    error = await send_fails(vault, store, to="ann@example.test", attachments=[{"x": 1}])
    assert error.kind == "BadConfig" and "each attachment must be" in str(error)
    assert len(smtp.received) == 1  # nothing else was sent


@pytest.fixture
def maildir_smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """aiosmtpd in its own process, writing what it receives to a maildir: the sender's
    memory is then the test process's alone."""
    port, maildir = free_port(), tmp_path / "maildir"
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-s", "40000000",
                               "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox",
                               str(maildir)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield port, maildir
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_a_24_mb_stored_attachment_streams_in_bounded_memory(
        maildir_smtp: tuple[int, Path], tmp_path: Path) -> None:
    port, maildir = maildir_smtp
    store = FolderStore(tmp_path / "blobs")
    data = os.urandom(24_000_000)
    ref = store.put_bytes(data, "application/zip")

    async def sink(name: str) -> dict[str, Any]:
        return {"kind": "smtp", "fields": {"host": "127.0.0.1", "port": port, "tls": "none"}}

    context = CredentialContext("mail", 1, logging.getLogger("kianax.test.mail"), sink,
                                blobs=store)
    config = {"credential": "sink", "from": "me@example.test", "to": "ann@example.test",
              "text": "the archive", "attachments": {"content": ref.to_json(),
                                                     "filename": "archive.zip"}}
    with Peak() as peak:
        await _send(context, None, config)
    print(f"\n24 MB stored attachment sent: grew {peak.grown / 1e6:.1f} MB")
    assert peak.grown < 16_000_000  # the message is never built whole (34 MB as base64)
    [received] = list((maildir / "new").iterdir())
    message = email.message_from_bytes(received.read_bytes(), policy=default_policy)
    [part] = message.iter_attachments()
    assert part.get_filename() == "archive.zip" and part.get_content() == data

    stored = store.path_of(ref.digest)  # damaged at rest: found at the blob's end,
    damaged = bytearray(stored.read_bytes())  # mid-message; the connection is dropped
    damaged[20_000_000] ^= 1
    stored.write_bytes(bytes(damaged))
    with pytest.raises(PluginError) as caught:
        await _send(context, None, config)
    assert caught.value.kind == "BlobError" and "is damaged" in str(caught.value)
    await asyncio.sleep(0.5)
    assert len(list((maildir / "new").iterdir())) == 1  # nothing half-sent was delivered


async def test_fetched_attachments_come_as_references_that_can_be_sent_on(
        smtp: SmtpServer, dovecot: Dovecot, vault: Vault, user: str, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "blobs")
    invoice = os.urandom(200_000)
    dovecot.deliver(user, mail("invoice", attachment=invoice))
    [message] = await fetch(vault, store)
    [attachment] = message["attachments"]
    assert attachment["filename"] == "invoice.pdf" and attachment["size"] == len(invoice)
    assert store.read(BlobRef.of(attachment["content"]), 10**7) == invoice
    await send(vault, store, to="ann@example.test", text="fwd", attachments=attachment)
    [received] = smtp.received
    [part] = email.message_from_bytes(received.data, policy=default_policy).iter_attachments()
    assert part.get_filename() == "invoice.pdf" and part.get_content() == invoice


async def test_refused_recipients_are_named(smtp: SmtpServer, vault: Vault) -> None:
    smtp.refuse = {"ghost@example.test"}
    error = await send_fails(vault, to=["ann@example.test", "ghost@example.test"], text="x")
    assert str(error).startswith("the server refused ghost@example.test (550 5.1.1 no such "
                                 "mailbox here); the message went to ann@example.test")
    assert not error.retryable and smtp.received[0].recipients == ["ann@example.test"]
    error = await send_fails(vault, to="ghost@example.test", text="x")
    assert "refused ghost@example.test (550" in str(error) and "nothing was sent" in str(error)


async def test_a_wrong_password_fails_at_once_without_showing_it(smtp: SmtpServer,
                                                                  vault: Vault) -> None:
    with pytest.raises(PluginError) as caught:
        await _send(vault.context(), None, {"credential": "smtp-wrong", "to": "a@b.test"})
    error = caught.value
    assert str(error) == (f"SMTP 127.0.0.1:{smtp.port} refused the login of "
                          f"'{smtp.username}' (535) — check the credential")
    assert error.kind == "AuthError" and not error.retryable
    assert smtp.password[:-1] not in str(error) and smtp.received == []


async def test_implicit_tls_works_and_no_tls_never_sends_the_password(
        certificates: Certificates, smtp: SmtpServer, vault: Vault) -> None:
    implicit = SmtpServer(certificates, implicit_tls=True, password=smtp.password).start()
    try:
        vault.entries["smtp"]["fields"].update(port=implicit.port, tls="ssl")
        assert (await send(vault, to="a@b.test"))["accepted"] == ["a@b.test"]
        assert implicit.received[0].recipients == ["a@b.test"]
    finally:
        implicit.stop()
    vault.entries["smtp"]["fields"].update(port=smtp.port, tls="none")
    error = await send_fails(vault, to="a@b.test")  # this server offers AUTH only over TLS
    assert "does not offer a login (AUTH) on this connection" in str(error)
    assert not error.retryable and smtp.received == []


async def test_an_untrusted_certificate_is_refused_and_says_how_to_trust_it(
        smtp: SmtpServer, vault: Vault) -> None:
    with pytest.raises(PluginError) as caught:
        await _send(vault.context(), None, {"credential": "smtp-untrusted", "to": "a@b.test"})
    assert "certificate is not trusted" in str(caught.value) and "ca_file" in str(caught.value)
    assert not caught.value.retryable and smtp.received == []


async def test_no_server_or_a_silent_one_is_retryable(vault: Vault) -> None:
    vault.entries["smtp"]["fields"]["port"] = free_port()  # nothing listens there
    error = await send_fails(vault, to="a@b.test")
    assert "could not connect" in str(error) and error.retryable
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        vault.entries["smtp"]["fields"]["port"] = silent.getsockname()[1]
        began = asyncio.get_running_loop().time()
        error = await send_fails(vault, to="a@b.test", timeout_s=0.5)
        assert asyncio.get_running_loop().time() - began < 5
    assert "timed out" in str(error) and error.retryable and error.kind == "Timeout"


async def test_line_breaks_cannot_forge_headers_and_a_missing_attachment_is_named(
        smtp: SmtpServer, vault: Vault, tmp_path: Path) -> None:
    error = await send_fails(vault, to="a@b.test", subject="Hi\r\nBcc: victim@evil.test")
    assert "a header value is not allowed" in str(error) and "nothing was sent" in str(error)
    error = await send_fails(vault, to="a@b.test\nBcc: victim@evil.test")
    assert "line break" in str(error)
    error = await send_fails(vault, to="not-an-address")
    assert "'not-an-address' is not an email address" in str(error)
    error = await send_fails(vault, to="a@b.test", attachments=[str(tmp_path / "gone.pdf")])
    assert str(error) == f"attachment {tmp_path / 'gone.pdf'} cannot be read: No such file " \
                         "or directory"
    assert smtp.received == []


async def test_fetch_returns_unread_messages_oldest_first_and_marks_them_read(
        dovecot: Dovecot, vault: Vault, user: str) -> None:
    dovecot.deliver(user, mail("already read"))
    await fetch(vault)  # marks it read
    pdf = os.urandom(30_000)
    dovecot.deliver(user, mail("Order 1", "first order", attachment=pdf))
    dovecot.deliver(user, mail("=?utf-8?q?Caf=C3=A9?= order", "second"))
    peeked = await fetch(vault, mark_seen=False, limit=1)
    assert [m["subject"] for m in peeked] == ["Order 1"]
    first = peeked[0]
    assert first["from"] == "Shop <orders@shop.test>" and first["to"] == "me@example.test"
    assert first["date"] == "2026-11-23T10:00:00+00:00"
    assert first["text"] == "first order\n" and first["html"] == "<p>first order</p>\n"
    assert first["attachments"] == [{"filename": "invoice.pdf", "size": len(pdf),
                                     "media_type": "application/pdf"}]
    assert first["truncated"] is False
    assert [b"\\Seen" in flags for flags in dovecot.flags(user)] == [True, False, False]
    taken = await fetch(vault)
    assert [m["subject"] for m in taken] == ["Order 1", "Café order"]
    assert [b"\\Seen" in flags for flags in dovecot.flags(user)] == [True, True, True]
    assert await fetch(vault) == []


async def test_fetch_over_starttls_and_plain_and_from_another_folder(
        dovecot: Dovecot, vault: Vault, user: str) -> None:
    dovecot.deliver(user, mail("in the archive"), folder="Archive 2026")
    for credential in ("imap-starttls", "imap-plain"):
        output = await fetch_messages(vault.context(), None, {
            "credential": credential, "folder": "Archive 2026", "mark_seen": False})
        assert [m["subject"] for m in output["messages"]] == ["in the archive"]


async def test_fetch_errors_are_clear(certificates: Certificates, vault: Vault, user: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    # A Dovecot of its own: after a failed login Dovecot slows later logins from the same
    # address for seconds, which would slow every test after this one.
    own = Dovecot(certificates).start()
    try:
        wrong = Vault(certificates, None, own, user)
        with pytest.raises(PluginError) as caught:
            await fetch_messages(wrong.context(), None, {"credential": "imap-wrong"})
    finally:
        own.stop()
    assert caught.value.kind == "AuthError" and not caught.value.retryable
    assert f"refused the login of {user!r}" in str(caught.value)
    wrong.assert_nowhere(str(caught.value), *(r.getMessage() for r in caplog.records))
    error = await fetch_fails(vault, folder="Nowhere")
    assert "folder 'Nowhere' cannot be opened" in str(error) and not error.retryable
    vault.entries["imap"]["fields"]["port"] = free_port()
    assert (await fetch_fails(vault)).retryable


async def test_large_bodies_are_cut_to_fit_a_node_output(dovecot: Dovecot, vault: Vault,
                                                         user: str) -> None:
    for number in range(3):
        dovecot.deliver(user, mail(f"big {number}", "é" * 1_500_000))
    messages = await fetch(vault)
    assert [m["truncated"] for m in messages] == [True, True, True]
    assert json_size({"messages": messages}, MAX_PAYLOAD_BYTES) < MAX_PAYLOAD_BYTES
    assert messages[0]["text"].startswith("éé") and messages[0]["size"] > 3_000_000


@pytest.fixture
async def mail_runner(client: Any, plugins: PluginRegistry, vault: Vault
                      ) -> AsyncIterator[Runner]:
    """A worker whose credential resolver knows the test's credentials."""
    queue = f"kianax-mail-{os.getpid()}-{secrets.token_hex(3)}"
    async with build_worker(client, queue, plugins, credentials=vault.resolve):
        yield Runner(client, queue)


async def test_a_routine_sends_mail_and_a_refused_login_fails_the_node_once(
        mail_runner: Runner, plugins: PluginRegistry, smtp: SmtpServer, vault: Vault) -> None:
    assert plugins["email.send"].needs_trust
    document = routine([
        node("total", "core.transform", value={"sum": 42}),
        node("mail", "email.send", credential="smtp", to="boss@example.test",
             subject="Total {{ nodes.total.output.sum }}", text="done"),
    ], [("total", "mail")], rid="mail-e2e")
    state = await mail_runner.run(document)
    assert state["status"] == "completed", state
    assert state["nodes"]["mail"]["output"]["accepted"] == ["boss@example.test"]
    assert email.message_from_bytes(smtp.received[0].data)["Subject"] == "Total 42"
    document["nodes"][1]["config"]["credential"] = "smtp-wrong"
    state = await mail_runner.run(document)
    assert state["status"] == "failed"
    assert "refused the login" in json.dumps(state["nodes"]["mail"])
    assert state["nodes"]["mail"]["attempts"] == 1  # not retried
    vault.assert_nowhere(state, mail_runner.events)


async def test_the_folder_backup_sample_mails_the_log_when_asked(
        mail_runner: Runner, smtp: SmtpServer, vault: Vault, tmp_path: Path) -> None:
    """resources/samples/folder-backup.json end to end: tar packs the folder, and with an
    "email" in the input the log goes out through the 'smtp' credential; without, no mail."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    sample = Path(__file__).parent.parent / "resources" / "samples" / "folder-backup.json"
    document = json.loads(sample.read_text())
    trigger = {"folder": str(folder), "to": str(tmp_path / "out")}

    state = await mail_runner.run(document, {**trigger, "email": "me@example.test"})

    assert state["status"] == "completed", state["error"]
    [received] = smtp.received
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert received.recipients == ["me@example.test"]
    assert message["Subject"] == f"Backup of {folder}: 3 entries"  # ./ a.txt b.txt
    body = message.get_content()
    assert "./a.txt" in body and ".tar.gz" in body
    assert state["result"]["report"]["log"].count(".txt") == 2

    quiet = await mail_runner.run(document, trigger)
    assert quiet["status"] == "completed" and quiet["nodes"]["mail"]["status"] == "skipped"
    assert len(smtp.received) == 1


class EngineLauncher:
    """Starts the routine on the real engine, the way the trigger host does."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.states: list[dict[str, Any]] = []

    async def launch(self, active: ActiveRoutine, payload: Any) -> tuple[str, Any]:
        state = await self.runner.run(active.document, trigger=payload)
        self.states.append(state)
        done = asyncio.get_running_loop().create_future()
        done.set_result(state)
        return str(state.get("run_id", "")), done

    async def close(self) -> None:
        pass


@pytest.mark.slow
async def test_an_event_trigger_starts_a_routine_when_a_mail_arrives(
        mail_runner: Runner, plugins: PluginRegistry, dovecot: Dovecot, vault: Vault,
        user: str, tmp_path: Path) -> None:
    """The check only looks (mark_seen false); the routine's first node takes the mail, so
    the condition turns false again and the next mail fires a new run."""
    document = routine(
        [node("take", "email.fetch", credential="imap"),
         node("subjects", "core.transform",
              value={"count": "{{ len(nodes.take.output.messages) }}",
                     "first": "{{ nodes.take.output.messages[0].subject }}"})],
        [("take", "subjects")], rid="on-mail",
        trigger={"type": "event", "every_s": 60, "when": "{{ len(check.messages) > 0 }}",
                 "check": {"plugin": "email.fetch",
                           "config": {"credential": "imap", "mark_seen": False, "limit": 1}}})
    store = Store(tmp_path / "kianax.db")
    launcher = EngineLauncher(mail_runner)
    poller = EventPoller(store, plugins, vault.resolve, launcher)
    try:
        poller.set_routines({"on-mail": ActiveRoutine("on-mail", 1, document)})  # checks now
        while store.trigger_state("on-mail") is None:
            await asyncio.sleep(0.02)
        assert store.trigger_state("on-mail")["held"] is False and launcher.states == []
        dovecot.deliver(user, mail("Order 7"))
        assert await poller.check("on-mail") is True
        [state] = launcher.states
        assert state["status"] == "completed", state
        assert state["nodes"]["subjects"]["output"] == {"count": 1, "first": "Order 7"}
        assert await poller.check("on-mail") is False  # taken: nothing unread any more
        dovecot.deliver(user, mail("Order 8"))
        assert await poller.check("on-mail") is True
        assert launcher.states[-1]["nodes"]["subjects"]["output"] == {"count": 1,
                                                                       "first": "Order 8"}
    finally:
        poller.stop()
        store.close()
    vault.assert_nowhere(launcher.states)
