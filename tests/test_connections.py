"""Connecting through a TLS-terminating nginx proxy (mTLS, API key), and payload encryption."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
import temporalio.converter
from keyring.backends import SecretService
from temporalio.worker import Replayer

from app.engine.codec import ENCODING, EncryptionCodec
from app.engine.interpreter import RoutineWorkflow
from app.paths import Paths
from app.services import Kianax
from app.vault import Vault
from tests.test_cli import SAMPLES, kianax
from tests.tls_proxy import start_proxy

SAMPLE = str(SAMPLES / "order-triage.json")


@pytest.fixture
def proxy(tmp_path, temporal):
    proxy = start_proxy(tmp_path / "proxy", temporal.info.address, "right-api-key-123")
    yield proxy
    proxy.stop()


def add_credential(home, name, kind, secret, *fields):
    result = kianax("credential", "add", name, "--kind", kind,
                    *[arg for f in fields for arg in ("--field", f)], home=home, stdin=secret)
    assert result.returncode == 0, result.stderr


def test_right_client_certificate_connects_and_runs(tmp_path, proxy, secret_service):
    home = tmp_path / "home"
    certs = proxy.certificates
    add_credential(home, "cloud-mtls", "temporal_mtls", certs.client_key.read_text(),
                   f"cert_file={certs.client_cert}")
    flags = ["--server", proxy.mtls_address, "--tls-ca", str(certs.ca),
             "--mtls-credential", "cloud-mtls"]

    tested = kianax("connection", "test", *flags, home=home)
    run = kianax("run", SAMPLE, "--json", *flags, home=home)

    assert tested.returncode == 0, tested.stderr
    assert f"connected to {proxy.mtls_address}" in tested.stdout
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "completed"


def test_missing_or_wrong_client_certificate_is_a_clear_tls_error(tmp_path, proxy,
                                                                    secret_service):
    home = tmp_path / "home"
    certs = proxy.certificates
    add_credential(home, "stranger", "temporal_mtls", certs.stranger_key.read_text(),
                   f"cert_file={certs.stranger_cert}")
    base = ["connection", "test", "--server", proxy.mtls_address, "--tls-ca", str(certs.ca)]

    missing = kianax(*base, home=home)
    wrong = kianax(*base, "--mtls-credential", "stranger", home=home)
    untrusted = kianax("connection", "test", "--server", proxy.mtls_address, "--tls",
                       home=home)

    for result in (missing, wrong):
        assert result.returncode == 1
        assert "did not accept the client certificate" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert "server's certificate is not trusted" in untrusted.stderr


def test_api_key_right_works_and_wrong_is_an_auth_error(tmp_path, proxy, secret_service):
    home = tmp_path / "home"
    add_credential(home, "cloud-key", "temporal_api_key", proxy.api_key)
    add_credential(home, "bad-key", "temporal_api_key", "not-the-key")
    base = ["--server", proxy.key_address, "--tls-ca", str(proxy.certificates.ca)]

    run = kianax("run", SAMPLE, "--json", *base, "--api-key-credential", "cloud-key",
                 home=home)
    wrong = kianax("connection", "test", *base, "--api-key-credential", "bad-key", home=home)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "completed"
    assert wrong.returncode == 1
    assert "authentication failed" in wrong.stderr


async def test_encrypted_payloads_run_and_replay_with_the_codec(tmp_path, temporal, client,
                                                                secret_service):
    home = tmp_path / "home"
    run = kianax("run", SAMPLE, "--json", "--server", temporal.info.address, "--encrypt",
                 "--input", '{"customer": "Initech", "total": 250}', home=home)
    assert run.returncode == 0, run.stderr
    state = json.loads(run.stdout)
    assert state["result"] == {"summary": "Initech ordered 250: needs review"}

    history = await client.get_workflow_handle(state["run_id"]).fetch_history()
    payloads = list(_payloads(json.loads(history.to_json())))
    assert payloads, "the history has payloads"
    encrypted = base64.b64encode(ENCODING).decode()
    assert all(p["metadata"].get("encoding") == encrypted for p in payloads)
    assert "Initech" not in history.to_json()

    services = Kianax(Paths(home / "data", home / "config", home / "logs"),
                      vault=Vault(SecretService.Keyring()))
    key = services.payload_key("payload-key")
    services.close()
    converter = dataclasses.replace(temporalio.converter.default(),
                                    payload_codec=EncryptionCodec(key))
    replayer = Replayer(workflows=[RoutineWorkflow], data_converter=converter)
    assert (await replayer.replay_workflow(history)).replay_failure is None


def _payloads(value):
    if isinstance(value, dict):
        if "metadata" in value and "data" in value:
            yield value
        for item in value.values():
            yield from _payloads(item)
    elif isinstance(value, list):
        for item in value:
            yield from _payloads(item)
