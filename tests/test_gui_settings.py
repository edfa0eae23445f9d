"""The Credentials and Connection dialogs, on real widgets, a real store and a real server."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QLineEdit

from app.paths import Paths
from app.services import Kianax
from app.settings import Settings
from app.ui.credentials_dialog import CredentialForm, CredentialsDialog
from app.ui.main_window import MainWindow
from app.vault import Vault
from tests.conftest import ARTIFACTS
from tests.keyrings import MemoryKeyring
from tests.test_gui_run import close_window, run_on_qt_loop


def services_at(tmp_path, keyring=None) -> Kianax:
    home = tmp_path / "home"
    return Kianax(Paths(home / "data", home / "config", home / "logs"),
                  vault=Vault(keyring or MemoryKeyring()))


def test_credentials_dialog_creates_rotates_deletes_with_masked_values(qtbot, tmp_path):
    keyring = MemoryKeyring()
    services = services_at(tmp_path, keyring)
    dialog = CredentialsDialog(services.credentials)
    qtbot.addWidget(dialog)

    form = CredentialForm(services.credentials, dialog)
    form.name.setText("login")
    form.kind.setCurrentText("basic_auth")
    form.public["username"].setText("alice")
    form.secret.setText("s3cret-pass")
    assert form.secret.echoMode() == QLineEdit.EchoMode.Password
    form._save()
    dialog.refresh()

    assert dialog.table.rowCount() == 1
    shown = [dialog.table.item(0, c).text() for c in range(4)]
    assert shown == ["login", "basic_auth", "username=alice", "••••••••"]
    assert services.credentials.resolve("login")["fields"] == {"username": "alice",
                                                               "password": "s3cret-pass"}
    dialog.resize(640, 300)
    dialog.grab().save(str(ARTIFACTS / "credentials-dialog.png"))
    dialog.rotate_to("login", "n3w-pass")
    assert services.credentials.resolve("login")["fields"]["password"] == "n3w-pass"
    assert dialog.status.text() == "Rotated login"
    dialog.delete_named("login")
    assert dialog.table.rowCount() == 0
    assert keyring.entries == {}
    services.close()


def test_credential_form_shows_what_is_wrong_and_keeps_the_dialog_open(qtbot, tmp_path):
    services = services_at(tmp_path)
    form = CredentialForm(services.credentials)
    qtbot.addWidget(form)
    form.name.setText("x")
    form.kind.setCurrentText("basic_auth")
    form.secret.setText("pw-1234")
    form._save()
    assert "needs --field username" in form.error.text()
    assert services.credentials.list() == []
    services.close()


def test_connection_dialog_tests_saves_and_the_worker_restarts(qapp, tmp_path, temporal):
    services = services_at(tmp_path)
    window = MainWindow(services)
    window.show()
    dialog = window.show_connection()
    dialog.mode.setCurrentIndex(dialog.mode.findData("address"))
    dialog.encrypt.setChecked(False)

    async def scenario():
        await window.start_engine()
        embedded = window.engine.address
        dialog.address.setText("127.0.0.1:1")
        refused = await dialog.test()
        dialog.address.setText(temporal.info.address)
        good = await dialog.test()
        await asyncio.sleep(0.05)
        dialog.grab().save(str(ARTIFACTS / "connection-dialog.png"))
        dialog.save()
        for _ in range(200):
            if window.engine is not None and window.engine.address == temporal.info.address:
                break
            await asyncio.sleep(0.05)
        switched = window.engine.address if window.engine else None
        await window.shutdown()
        return embedded, refused, good, switched

    try:
        embedded, refused, good, switched = run_on_qt_loop(qapp, scenario)
    finally:
        close_window(window)
    assert "connection refused" in refused
    assert good.startswith(f"✔ connected to {temporal.info.address}")
    assert switched == temporal.info.address != embedded
    assert Settings.load(services.paths.settings).server == temporal.info.address
    assert "ready at " + temporal.info.address in window.engine_label.text()
