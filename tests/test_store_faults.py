"""A damaged or unwritable store, automatic backups and restoring one: real files, real
SQLite, the real `kianax` command."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.paths import Paths
from app.services import Kianax
from app.store import Store, StoreError, backup
from app.vault import Vault
from tests.keyrings import MemoryKeyring
from tests.test_cli import kianax

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
ROOT = os.name == "posix" and os.geteuid() == 0


def paths_of(home: Path) -> Paths:
    return Paths(home / "data", home / "config", home / "logs")


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def filled_store(home: Path, versions: int = 8, backed_up: bool = True) -> Path:
    """A store with a few versions of real routines, as `kianax import` leaves it, and
    (``backed_up``) its backup, as the next day's start takes it."""
    paths = paths_of(home).ensure()
    store = Store(paths.store)
    for i in range(versions):
        store.save_routine(sample(("ticket-router.json", "stock-alert.json")[i % 2]))
    store.close()
    if backed_up:
        backup.take(paths.store, paths.backups)
    return paths.store


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "pages":  # the header intact, later pages overwritten: SQLite opens it
        path.write_bytes(data[:12288] + os.urandom(4096) + data[16384:])
    elif how == "folder":
        path.unlink()
        path.mkdir()
        (path / "something").write_text("x")


@contextlib.contextmanager
def unwritable(*paths: Path) -> Iterator[None]:
    """Files and folders that cannot be written. As root chmod does not stop writes, so
    the immutable attribute (chattr +i) does; otherwise files 0400, folders 0500."""
    if ROOT:
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()!r}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        return
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(0o500 if p.is_dir() else 0o400)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    return stderr.strip().splitlines()[0]


@pytest.mark.parametrize("how", ["garbage", "truncated", "pages", "folder"])
def test_a_damaged_store_is_one_sentence_naming_the_file_and_how_to_restore(tmp_path, how):
    home = tmp_path / "home"
    store = filled_store(home)
    damage(store, how)

    result = kianax("list", home=home)

    assert result.returncode == 1
    line = error_line(result.stderr)
    assert line.startswith(f"error: the Kianax store {store} is ")
    assert ("a folder" if how == "folder" else "damaged") in line
    assert "kianax store restore" in line
    assert result.stdout == ""


def test_a_damaged_store_without_backups_says_to_move_it_away(tmp_path):
    home = tmp_path / "home"
    store = filled_store(home, backed_up=False)
    damage(store, "garbage")

    line = error_line(kianax("runs", home=home).stderr)

    assert line == (f"error: the Kianax store {store} is damaged (file is not a database); "
                    f"there is no backup in {store.parent / 'backups'} yet, so move the file "
                    "away to start with an empty store")


def test_import_into_a_damaged_store_is_reported_as_not_done(tmp_path):
    home = tmp_path / "home"
    store = filled_store(home)
    damage(store, "pages")  # before: "imported order-triage as version 1", exit 0

    result = kianax("import", str(SAMPLES / "order-triage.json"), home=home)

    assert result.returncode == 1
    assert "imported" not in result.stdout
    line = error_line(result.stderr)
    assert f"the Kianax store {store} is damaged" in line
    assert "kianax store restore" in line


def test_import_into_an_unwritable_store_is_reported_as_not_done(tmp_path):
    home = tmp_path / "home"
    store = filled_store(home)
    before = store.read_bytes()

    with unwritable(store, store.parent):
        result = kianax("import", str(SAMPLES / "order-triage.json"), home=home)

    assert result.returncode == 1
    assert "imported" not in result.stdout
    line = error_line(result.stderr)
    assert f"the Kianax store {store} cannot be written" in line
    assert "writable" in line
    assert store.read_bytes() == before
    assert "order-triage" not in kianax("list", home=home).stdout


@pytest.mark.skipif(not ROOT, reason="making a file unwritable under an open connection needs "
                    "chattr +i (root); chmod does not affect open files")
def test_a_write_that_fails_at_commit_is_all_undone_and_says_so(tmp_path):
    path = tmp_path / "k.db"
    store = Store(path)
    store.save_routine(sample("ticket-router.json"))
    with unwritable(path, Path(f"{path}-wal")), pytest.raises(StoreError) as caught:
        store.save_routine(sample("ticket-router.json"))  # routine row + version row
    assert caught.value.kind == "unwritable"
    assert str(caught.value).startswith(f"the Kianax store {path} cannot be written")
    assert [v for v, _ in store.versions("ticket-router")] == [1]
    store.close()
    assert [v for v, _ in Store(path).versions("ticket-router")] == [1]


def test_each_start_backs_up_once_a_day_and_keeps_the_five_newest(tmp_path):
    paths = paths_of(tmp_path / "home")
    store = filled_store(tmp_path / "home", backed_up=False)
    for day in range(1, 7):  # six old backups, the newest a week old
        shutil.copyfile(store, paths.backups / f"kianax-2020010{day}T000000Z.db")

    Kianax(paths, vault=Vault(MemoryKeyring())).close()
    Kianax(paths, vault=Vault(MemoryKeyring())).close()  # the same day: no second backup

    kept = backup.backups(paths.backups)
    assert len(kept) == backup.KEEP
    assert kept[0].taken_at.year > 2020  # today's
    assert [b.name for b in kept[1:]] == [f"kianax-2020010{d}T000000Z.db" for d in (6, 5, 4, 3)]
    assert oct(kept[0].path.stat().st_mode & 0o777) == "0o600"
    with contextlib.closing(sqlite3.connect(kept[0].path)) as copy:
        assert copy.execute("select count(*) from routine_versions").fetchone() == (8,)
        assert copy.execute("pragma journal_mode").fetchone() == ("delete",)


def test_a_damaged_store_never_rotates_good_backups_out(tmp_path):
    home = tmp_path / "home"
    paths = paths_of(home)
    store = filled_store(home, backed_up=False)
    for day in range(1, 6):
        shutil.copyfile(store, paths.backups / f"kianax-2020010{day}T000000Z.db")
    before = {p.name: p.read_bytes() for p in paths.backups.glob("kianax-*.db")}
    damage(store, "pages")

    assert kianax("list", home=home).returncode == 1
    assert kianax("store", "backup", home=home).returncode == 1

    assert {p.name: p.read_bytes() for p in paths.backups.glob("kianax-*.db")} == before


def test_a_long_running_process_backs_up_again_when_a_day_has_passed(tmp_path):
    folder = tmp_path / "backups"
    store = Store(tmp_path / "k.db", backups=folder)
    assert len(backup.backups(folder)) == 1  # at start
    store.backup_check_s, store.backup_every = 0.0, timedelta(0)  # "a day later"

    store.save_routine(sample("ticket-router.json"))
    assert store._backup_thread is not None
    store._backup_thread.join(10)

    newest = backup.backups(folder)[0]
    assert len(backup.backups(folder)) == 2
    with contextlib.closing(sqlite3.connect(newest.path)) as copy:
        assert copy.execute("select id from routines").fetchall() == [("ticket-router",)]
    store.close()


def test_restore_replaces_the_store_and_keeps_the_damaged_file_beside_it(tmp_path):
    home = tmp_path / "home"
    paths = paths_of(home)
    filled_store(home, backed_up=False)
    assert kianax("store", "backup", home=home).returncode == 0
    listing = kianax("store", "backups", home=home)
    assert listing.returncode == 0
    newest = backup.backups(paths.backups)[0]
    assert newest.name in listing.stdout and str(paths.backups) in listing.stdout
    damage(paths.store, "garbage")
    damaged_bytes = paths.store.read_bytes()

    refused = kianax("store", "restore", home=home, stdin="")  # not a terminal: no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert paths.store.read_bytes() == damaged_bytes

    result = kianax("store", "restore", "--yes", home=home)

    assert result.returncode == 0, result.stderr
    assert f"from {newest.name}" in result.stdout
    kept = list(paths.data.glob("kianax.db.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged_bytes
    assert str(kept[0]) in result.stdout
    listed = kianax("list", home=home)
    assert listed.returncode == 0 and "ticket-router" in listed.stdout


def test_restore_a_named_backup_and_refuse_a_damaged_one(tmp_path):
    home = tmp_path / "home"
    paths = paths_of(home)
    filled_store(home, versions=1, backed_up=False)
    first = backup.take(paths.store, paths.backups)
    damage(first.path, "garbage")

    result = kianax("store", "restore", first.name, "--yes", home=home)

    assert result.returncode == 1
    assert f"the backup {first.path} is damaged too" in error_line(result.stderr)
    assert not list(paths.data.glob("kianax.db.*-*"))  # nothing moved


def test_restore_is_refused_while_another_process_has_the_store_open(tmp_path):
    home = tmp_path / "home"
    paths = paths_of(home)
    filled_store(home)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('select 1 from routines').fetchall(); print('open', flush=True); "
         "time.sleep(60)", str(paths.store)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = kianax("store", "restore", "--yes", home=home)
    finally:
        holder.kill()
        holder.wait()

    assert result.returncode == 1
    assert f"process {holder.pid}" in result.stderr and "quit Kianax" in result.stderr
    assert not list(paths.data.glob("kianax.db.*-*"))


def test_the_folder_case_restores_too(tmp_path):
    home = tmp_path / "home"
    paths = paths_of(home)
    filled_store(home)
    damage(paths.store, "folder")

    result = kianax("store", "restore", "--yes", home=home)

    assert result.returncode == 0, result.stderr
    assert paths.store.is_file()
    assert [p.is_dir() for p in paths.data.glob("kianax.db.damaged-*") if p.name[-4:] not in
            ("-wal", "-shm")] == [True]


@pytest.mark.parametrize("stored", ["[1]", "not json"])
def test_a_stored_document_edited_by_hand_is_one_sentence(tmp_path, stored):
    home = tmp_path / "home"
    store = filled_store(home, versions=1)
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute("UPDATE routine_versions SET document = ?", (stored,))

    result = kianax("run", "ticket-router", home=home)

    assert result.returncode == 2
    assert "is damaged" in result.stderr and "kianax store restore" in result.stderr
    assert "Traceback" not in result.stderr
