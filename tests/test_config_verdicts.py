"""Configs found valid once are not checked against their schemas again, in any process;
any change to what was checked is checked in full, and problems are always found afresh."""

from __future__ import annotations

import json
from pathlib import Path

from app.paths import Paths
from app.services import Kianax
from app.services.verdicts import VERDICTS_KEPT, ConfigVerdicts
from app.vault import Vault
from tests.helpers import node, routine
from tests.keyrings import MemoryKeyring
from tests.test_cold_start import python

DOC = routine([node("get", "http.request", url="http://127.0.0.1:9/x", method="GET")])


def check_in_a_fresh_process(home: Path, document: dict) -> tuple[list[str], bool]:
    """The problems of ``document``, and whether checking it imported jsonschema."""
    result = python(f"""
        import json, sys
        from app.paths import Paths
        from app.services import Kianax
        from tests.keyrings import MemoryKeyring
        from app.vault import Vault
        home = {str(home)!r}
        from pathlib import Path
        app = Kianax(Paths(*(Path(home) / d for d in "dcl")).ensure(),
                     vault=Vault(MemoryKeyring()))
        _, problems = app.check(json.loads({json.dumps(document)!r}), remembered=True)
        print(json.dumps([[str(p.path), p.message] for p in problems]))
        print("jsonschema" in sys.modules)
        """)
    assert result.returncode == 0, result.stderr
    problems, imported = result.stdout.strip().splitlines()[-2:]
    return [message for _, message in json.loads(problems)], imported == "True"


def test_a_routine_checked_before_loads_no_schema_library(tmp_path):
    assert check_in_a_fresh_process(tmp_path, DOC) == ([], True)
    assert check_in_a_fresh_process(tmp_path, DOC) == ([], False)


def test_the_editors_check_after_every_edit_keeps_nothing(tmp_path):
    """Each edit is a new set of configs: remembering them would only churn the folder."""
    app = Kianax(Paths(tmp_path / "d", tmp_path / "c", tmp_path / "l").ensure(),
                 vault=Vault(MemoryKeyring()))
    assert app.check(DOC) == app.check(DOC)
    assert app.check(DOC)[1] == []
    assert not (tmp_path / "d" / "cache" / "valid-configs").exists()


def test_a_changed_config_is_checked_in_full(tmp_path):
    assert check_in_a_fresh_process(tmp_path, DOC)[0] == []
    changed = json.loads(json.dumps(DOC))
    changed["nodes"][0]["config"]["method"] = 7
    problems, imported = check_in_a_fresh_process(tmp_path, changed)
    assert imported and len(problems) == 1, problems
    assert check_in_a_fresh_process(tmp_path, changed)[0] == problems  # never remembered


def test_the_seal_covers_configs_schemas_and_nothing_unreadable():
    schemas = {"http.request": {"type": "object"}}
    seal = ConfigVerdicts.seal(DOC, schemas)
    assert seal and seal == ConfigVerdicts.seal(json.loads(json.dumps(DOC)), schemas)
    assert seal != ConfigVerdicts.seal(DOC, {"http.request": {"type": "object",
                                                               "required": ["url"]}})
    renamed = json.loads(json.dumps(DOC))
    renamed["nodes"][0]["config"]["url"] = "http://127.0.0.1:9/y"
    assert seal != ConfigVerdicts.seal(renamed, schemas)
    assert ConfigVerdicts.seal({"nodes": "x"}, schemas) is None
    assert ConfigVerdicts.seal(["not", "a", "routine"], schemas) is None


def test_verdicts_stay_few_and_an_unwritable_folder_costs_nothing_but_the_check(tmp_path):
    verdicts = ConfigVerdicts(tmp_path / "v")
    for n in range(VERDICTS_KEPT + 20):
        verdicts.remember(f"{n:064x}")
    assert len(list((tmp_path / "v").iterdir())) == VERDICTS_KEPT
    blocked = tmp_path / "file"
    blocked.write_text("")
    ConfigVerdicts(blocked / "v").remember("0" * 64)  # no exception
    assert not ConfigVerdicts(blocked / "v").known("0" * 64)
