"""Settings ▸ Data storage (issue 13: the blob store "configured in Settings"): the dialog shows
what is stored, checks a bucket against a real S3-compatible server before keeping it, and
keeps the retention settings."""

from __future__ import annotations

from minio import Minio

from app.paths import Paths
from app.services import Kianax
from app.settings import Settings
from app.ui.main_window import MainWindow
from app.ui.storage_dialog import BUCKET, FOLDER, StorageDialog
from app.vault import Vault
from tests.keyrings import MemoryKeyring
from tests.s3_server import S3Server
from tests.test_gui_run import close_window, run_on_qt_loop

ACCESS, SECRET = "storage-access", "storage-secret"


def open_window(tmp_path):
    """The main window on a store of its own and an in-memory keyring (no engine needed)."""
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    Settings(server="127.0.0.1:1").save(paths.settings)
    window = MainWindow(Kianax(paths, vault=Vault(MemoryKeyring())))
    window.show()
    return window


def test_a_bucket_is_checked_before_it_is_kept_and_retention_is_saved(qapp, tmp_path):
    window = open_window(tmp_path)
    services = window.services
    services.credentials.add("team-bucket", "s3", {"access_key": ACCESS}, {"secret_key": SECRET})
    services.blobs.put_json({"big": "x" * 1000})
    try:
        with S3Server(tmp_path / "moto.log") as s3:
            assert isinstance(window.show_storage(), StorageDialog)  # Settings ▸ Data storage
            # (saved from here, the window would restart its engine: the dialog alone is tested)
            dialog = StorageDialog(services, window)
            dialog.show()
            assert dialog.usage.text().startswith("1 stored value,")
            assert not dialog.url.isVisible()  # folder: no bucket fields
            dialog.where.setCurrentIndex(dialog.where.findData(BUCKET))
            assert dialog.url.isVisible()
            dialog.url.setText("s3://kianax-team/blobs")
            dialog.endpoint.setText(s3.endpoint)
            dialog.region.setText("us-east-1")
            dialog.credential.setCurrentIndex(dialog.credential.findData("team-bucket"))
            dialog.runs_days.setValue(7)

            assert not run_on_qt_loop(qapp, dialog.save)  # the bucket does not exist yet
            assert "kianax-team" in dialog.error.text() and dialog.isVisible()
            assert services.settings.blob_store_url == ""  # nothing kept

            Minio(s3.endpoint.removeprefix("http://"), ACCESS, SECRET, secure=False,
                  region="us-east-1").make_bucket("kianax-team")
            assert run_on_qt_loop(qapp, dialog.save)
            assert services.settings.blob_store_url == "s3://kianax-team/blobs"
            assert services.settings.blob_store_credential == "team-bucket"
            assert services.settings.run_retention_days == 7
            assert services.blobs.description.startswith("s3://kianax-team/blobs")

            back = StorageDialog(services, window)  # and back to the folder
            back.where.setCurrentIndex(back.where.findData(FOLDER))
            assert run_on_qt_loop(qapp, back.save)
            assert services.settings.blob_store_url == ""
            assert services.settings.blob_store_endpoint == ""
    finally:
        close_window(window)


def test_delete_unreferenced_data_now_collects(qapp, tmp_path):
    window = open_window(tmp_path)
    try:
        dialog = StorageDialog(window.services, window)
        run_on_qt_loop(qapp, dialog._collect)
        assert dialog.usage.text().startswith("Deleted 0 unreferenced values")
    finally:
        close_window(window)
