"""``code.python`` with real Python processes: the returned value is the output whatever the
code prints; errors point at the line of the user's code; time, memory and output are
bounded, and the process with everything it started is killed at the limits."""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

import pytest

from app.engine.activities import no_vault
from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext
from app.plugin_api.registry import discover
from app.routine.validation import validate_document
from plugins.code import _python_code
from tests.helpers import node, routine, transform
from tests.test_plugin_shell import gone


def ctx() -> CredentialContext:
    return CredentialContext(node_id="n", attempt=1, logger=logging.getLogger("test"),
                             resolver=no_vault)


async def python(code: str, input: Any = None, **config: Any) -> Any:
    return await _python_code(ctx(), input, {"code": code, **config})


async def failure(code: str, input: Any = None, **config: Any) -> PluginError:
    with pytest.raises(PluginError) as failed:
        await python(code, input, **config)
    return failed.value


ORDER_CODE = """\
print("checking", len(input["items"]), "items")   # goes to the log, not the output
total = sum(item["price"] * item["qty"] for item in input["items"])
return {"total": total, "customer": data["customer"], "big": total > data["limit"]}
"""


async def test_routine_returns_what_the_code_returns_despite_its_prints(runner):
    doc = routine([transform("order", {"items": "{{ trigger.items }}"}),
                   node("price", "code.python", code=ORDER_CODE,
                        data={"customer": "{{ trigger.customer }}", "limit": 100})],
                  [("order", "price")])

    state = await runner.run(doc, {"customer": "ACME", "items": [{"price": 30, "qty": 4},
                                                                 {"price": 2.5, "qty": 2}]})

    assert state["status"] == "completed", state.get("error")
    assert state["result"] == {"price": {"total": 125.0, "customer": "ACME", "big": True}}


async def test_code_reads_the_trigger_and_earlier_nodes_as_expressions_do(runner):
    code = ("rates = nodes['rates']['output']\n"
            "return {'eur': round(trigger['usd'] * rates['EUR'], 2), 'from': input['from']}")
    doc = routine([transform("rates", {"EUR": 0.5, "from": "bank"}),
                   node("convert", "code.python", code=code)], [("rates", "convert")])

    state = await runner.run(doc, {"usd": 12.5})

    assert state["status"] == "completed", state.get("error")
    assert state["result"] == {"convert": {"eur": 6.25, "from": "bank"}}


async def test_exception_fails_the_run_once_naming_the_line_of_the_users_code(runner):
    code = "rates = {'EUR': 1.1}\n\nreturn input * rates[data]\n"
    doc = routine([transform("amount", 10), node("convert", "code.python", code=code,
                                                 data="GBP")], [("amount", "convert")])

    state = await runner.run(doc)

    assert state["status"] == "failed"
    assert state["nodes"]["convert"]["attempts"] == 1  # not retried
    assert state["error"]["message"] == ("node 'convert' (code.python): KeyError: 'GBP' "
                                         "(line 3: return input * rates[data])")


async def test_error_inside_a_function_of_the_code_names_the_innermost_user_line():
    code = "def half(x):\n    return x / 0\n\nreturn half(input)\n"

    error = await failure(code, 4)

    assert str(error) == "ZeroDivisionError: division by zero (line 2: return x / 0)"
    assert not error.retryable


async def test_syntax_error_names_its_line():
    error = await failure("x = 1\nif x\n    return x\n")

    assert str(error).startswith("SyntaxError: ") and "(line 2: if x)" in str(error)


async def test_standard_library_imports_and_isolated_mode():
    assert await python("import statistics, sys\nreturn [statistics.mean(input), "
                        "sys.flags.isolated]", [1, 2, 3, 4]) == [2.5, 1]


async def test_non_json_return_values_are_clear_errors():
    error = await failure("return {1, 2}")
    assert error.kind == "NotJSON" and "returned a set, which is not a JSON value" in str(error)
    error = await failure("return float('nan')")
    assert "returned a float, which is not a JSON value" in str(error)
    error = await failure("class Point: pass\nreturn Point()")
    assert "returned a Point, which is not a JSON value" in str(error)


async def test_timeout_kills_the_code_and_the_processes_it_started(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = (f"import subprocess, time\nchild = subprocess.Popen(['sleep', '60'])\n"
            f"open({str(pidfile)!r}, 'w').write(str(child.pid))\ntime.sleep(60)\n")
    began = time.monotonic()

    error = await failure(code, timeout_s=1)

    assert time.monotonic() - began < 3
    assert error.kind == "Timeout" and not error.retryable
    assert str(error) == ("the code ran past its 1 s timeout and was killed, with every "
                          "process it started")
    assert await gone(int(pidfile.read_text()))


async def test_allocating_two_gigabytes_under_a_100_mb_limit_is_a_clear_error():
    error = await failure("buffer = bytearray(2 * 1024 ** 3)\nreturn len(buffer)",
                          memory_mb=100)

    assert error.kind == "MemoryLimit" and not error.retryable
    assert str(error) == ("the code ran out of memory (line 1: buffer = bytearray(2 * 1024 "
                          "** 3)): memory_mb is 100")


async def test_endless_printing_is_bounded_and_stopped_at_the_timeout():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    error = await failure("while True:\n    print('spam' * 1000)", timeout_s=1.5)

    assert error.kind == "Timeout"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50, f"the worker grew {grown_mb:.0f} MB while the code printed"


async def test_printing_megabytes_never_corrupts_the_returned_value(caplog):
    caplog.set_level(logging.INFO, logger="test")

    value = await python("for i in range(20000):\n    print('{\"fake\": 1}' * 30)\n"
                         "return {'real': input}", [1, 2])

    assert value == {"real": [1, 2]}
    logged = [r.getMessage() for r in caplog.records if "code.python printed" in r.message]
    assert len(logged) == 1 and "bytes omitted" in logged[0] and len(logged[0]) < 20_000


async def test_returning_more_than_a_node_output_can_hold_is_refused():
    error = await failure("return 'x' * 2_000_000")

    assert error.kind == "TooLarge" and "1.5 MB" in str(error)


async def test_exiting_or_crashing_without_an_answer_is_reported():
    assert str(await failure("import os\nos._exit(4)")) == \
        "the code's Python process exited with 4 without an answer"
    error = await failure("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert str(error) == "the code's Python process was killed by SIGKILL (memory_mb is 512)"


async def test_cancelling_kills_the_code_process(tmp_path):
    pidfile = tmp_path / "me.pid"
    task = asyncio.create_task(python(f"import os, time\nopen({str(pidfile)!r}, 'w')"
                                      ".write(str(os.getpid()))\ntime.sleep(60)"))
    while not pidfile.exists() or not pidfile.read_text():
        await asyncio.sleep(0.05)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await gone(int(pidfile.read_text()))


def test_templates_inside_the_code_are_refused_before_the_run():
    plugins = {p.id: p for p in discover(None)}
    doc = routine([node("c", "code.python", code="return '{{ trigger.name }}'")])

    _, problems = validate_document(doc, plugins)

    assert [p.path for p in problems] == ["nodes[0].config.code"]
    assert "no templates inside" in problems[0].message
    assert plugins["code.python"].needs_trust
