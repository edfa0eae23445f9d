"""Core flow-control plugins. All are pure and run inside the interpreter workflow."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.plugin_api import Emission, Plugin, PluginError
from app.routine.limits import MAX_DURATION_S
from app.routine.reader import ID_PATTERN

_SINGLE_EXPRESSION = {
    "type": "string",
    "pattern": r"^\s*\{\{.*\}\}\s*$",
    "description": "must be one {{ expression }}, e.g. {{ input.price < 100 }}",
}


def _transform(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    return Emission(config.get("value"))


def _condition(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    return Emission(input, ("true",) if config["expression"] else ("false",))


def _switch_ports(config: Mapping[str, Any]) -> tuple[str, ...]:
    return (*(str(case) for case in config.get("cases", [])), "default")


def _switch(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    value = config.get("value")
    key = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
        else str(value)
    return Emission(input, (key,) if key in config.get("cases", []) else ("default",))


def _merge(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    return Emission(dict(sources))


_DELAY_RANGE = f"from 0 to {MAX_DURATION_S:,} (366 days)"


def _delay(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    """Checked here too, not only by validation: ``seconds`` may come from an expression."""
    seconds = config.get("seconds", 0)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise PluginError(f"seconds must be a number {_DELAY_RANGE}, not "
                          f"{type(seconds).__name__}")
    if not 0 <= seconds <= MAX_DURATION_S:  # NaN fails every comparison
        shown = repr(seconds) if isinstance(seconds, float) or seconds.bit_length() <= 64 \
            else f"a {seconds.bit_length() * 30103 // 100000 + 1}-digit number"
        raise PluginError(f"seconds must be a number {_DELAY_RANGE}, not {shown}")
    return Emission(input, delay_s=float(seconds))


APPROVAL = "core.approval"
ON_TIMEOUT = ("reject", "fail")


def _approval(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    """Checks the (rendered) config and says what to ask; the interpreter does the durable
    wait for a person's decision (app.engine.approvals) and emits on approved / rejected."""
    prompt = config.get("prompt", "")
    timeout = config.get("timeout_s", 0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) \
            or not 0 <= timeout <= MAX_DURATION_S:
        raise PluginError(f"timeout_s must be a number {_DELAY_RANGE}, 0 to wait forever; "
                          f"not {timeout!r}"[:300], kind="BadConfig")
    on_timeout = config.get("on_timeout", "reject")
    if on_timeout not in ON_TIMEOUT:
        raise PluginError(f"on_timeout must be 'reject' or 'fail', not {on_timeout!r}"[:300],
                          kind="BadConfig")
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False,
                                                             default=str)
    return Emission({"prompt": text or "Approve to continue?", "timeout_s": float(timeout),
                     "on_timeout": on_timeout}, ports=())


ROUTINE_CALL = "routine.call"


def _call(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    """Checks the (rendered) config and says whom to call with what; the interpreter loads
    the called routine's current version and runs it as a child workflow
    (app.engine.subroutines)."""
    routine = config.get("routine")
    if not isinstance(routine, str) or not ID_PATTERN.fullmatch(routine):
        raise PluginError(f"routine must be the id of a stored routine, not {routine!r}"[:300],
                          kind="BadConfig")
    return Emission({"routine": routine, "input": config.get("input", input)}, ports=())


def _fail(input: Any, config: Mapping[str, Any], sources: Mapping[str, Any]) -> Emission:
    raise PluginError(str(config.get("message") or "failed by core.fail"), kind="Fail")


PLUGINS = [
    Plugin(
        id="core.transform", title="Transform", category="Flow", runs_in="workflow",
        icon="transform", evaluate=_transform,
        description="Build a new value from templates over the input and earlier nodes.",
        config_schema={"type": "object", "properties": {"value": {}}, "required": ["value"],
                       "additionalProperties": False},
    ),
    Plugin(
        id="core.condition", title="Condition", category="Flow", runs_in="workflow",
        icon="condition", evaluate=_condition, outputs=("true", "false"),
        description="Send the input on 'true' or 'false' depending on an expression.",
        config_schema={"type": "object", "properties": {"expression": _SINGLE_EXPRESSION},
                       "required": ["expression"], "additionalProperties": False},
    ),
    Plugin(
        id="core.switch", title="Switch", category="Flow", runs_in="workflow",
        icon="switch", evaluate=_switch, outputs=("default",), dynamic_outputs=_switch_ports,
        description="Send the input on the port whose case equals a value, else 'default'.",
        config_schema={
            "type": "object",
            "properties": {"value": {}, "cases": {"type": "array", "items": {"type": "string"},
                                                  "uniqueItems": True}},
            "required": ["value", "cases"], "additionalProperties": False,
        },
    ),
    Plugin(
        id="core.merge", title="Merge", category="Flow", runs_in="workflow",
        icon="merge", evaluate=_merge,
        description="Wait for every live branch and combine their outputs by node id.",
        config_schema={"type": "object", "additionalProperties": False},
    ),
    Plugin(
        id="core.delay", title="Delay", category="Time", runs_in="workflow",
        icon="delay", evaluate=_delay,
        description="Wait durably, then pass the input on. Survives restarts.",
        config_schema={"type": "object",
                       "properties": {"seconds": {
                           "type": "number", "minimum": 0, "maximum": MAX_DURATION_S,
                           "description": f"seconds to wait, {_DELAY_RANGE}"}},
                       "required": ["seconds"], "additionalProperties": False},
    ),
    Plugin(
        id=APPROVAL, title="Approval", category="Flow", runs_in="workflow",
        icon="approval", evaluate=_approval, outputs=("approved", "rejected"),
        description="Wait, durably, for a person to approve or reject; then go on on "
                    "'approved' or 'rejected'. Survives restarts.",
        config_schema={
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "description": "what to ask (a template)"},
                "timeout_s": {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S,
                              "description": f"seconds to wait, {_DELAY_RANGE}; 0 waits "
                                             "forever"},
                "on_timeout": {"enum": list(ON_TIMEOUT),
                               "description": "when time runs out: take 'rejected' "
                                              "(reject) or fail the node (fail)"},
            },
            "additionalProperties": False,
        },
    ),
    Plugin(
        id=ROUTINE_CALL, title="Call Routine", category="Flow", runs_in="workflow",
        icon="call", evaluate=_call,
        description="Run another stored routine (its current version) as a run of its own "
                    "and wait for it; its result is the output. Cancelled with this run.",
        config_schema={
            "type": "object",
            "properties": {
                "routine": {"type": "string", "pattern": ID_PATTERN.pattern,
                            "description": "the id of the stored routine to run"},
                "input": {"description": "its trigger input (default: this node's input)"},
            },
            "required": ["routine"], "additionalProperties": False,
        },
    ),
    Plugin(
        id="core.fail", title="Fail", category="Flow", runs_in="workflow",
        icon="fail", evaluate=_fail,
        description="Fail with a message (for error paths).",
        config_schema={"type": "object", "properties": {"message": {"type": "string"}},
                       "additionalProperties": False},
    ),
]
