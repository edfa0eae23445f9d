"""Semantic validation of a routine: plugins, ports, connections, cycles, configs, expressions.

Every problem is returned at once, each with its place in the document, so an
editor can mark them all and the CLI can print them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from app.routine.bounds import document_problems
from app.routine.document import read_routine
from app.routine.expressions import is_template, template_problems
from app.routine.graph import find_cycle
from app.routine.model import DEFAULT_OUT, ERROR_PORT, Node, Routine
from app.routine.problems import Problem, join_path

if TYPE_CHECKING:
    import jsonschema


class PluginShape(Protocol):
    """What validation needs to know about a plugin (``app.plugin_api.Plugin`` fits)."""

    inputs: tuple[str, ...]
    config_schema: Mapping[str, Any]

    def output_ports(self, config: Mapping[str, Any]) -> tuple[str, ...]: ...


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and is_template(value)


def _skipping_expressions(keyword: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not _is_expression(instance):
            yield from keyword(validator, value, instance, schema)

    return check


@functools.cache
def _config_validator() -> Any:
    """Draft 2020-12, where a field that is exactly one {{ expression }} (it may produce any
    value at run time) is judged by no keyword before the run. jsonschema loads on the first
    config checked: a process that checks none (its routines' configs were found valid
    before, see ``configs_known_valid``) never pays for the import."""
    import jsonschema
    from jsonschema import Draft202012Validator

    return jsonschema.validators.extend(
        Draft202012Validator,
        validators={name: _skipping_expressions(keyword)
                    for name, keyword in Draft202012Validator.VALIDATORS.items()},
    )


def validate_document(doc: Any, plugins: Mapping[str, PluginShape],
                      configs_known_valid: bool = False) -> tuple[Routine | None,
                                                                  list[Problem]]:
    """Every problem of a decoded document; the routine is None unless there are none.

    A document over the routine limits (size, node and connection counts, nesting; see
    :mod:`app.routine.limits`) gets only those problems: it is not read any further.
    ``configs_known_valid``: the caller knows these exact configs met these exact schemas
    before (see app.services.verdicts), so the schema check is skipped; everything else
    is checked as always.
    """
    problems, stop = document_problems(doc)
    if stop:
        return None, problems
    routine, found = read_routine(doc)
    if routine is not None:
        found += validate(routine, plugins, configs_known_valid)
    problems = list(dict.fromkeys([*problems, *found]))
    return (routine if not problems else None), problems


def validate(routine: Routine, plugins: Mapping[str, PluginShape],
             configs_known_valid: bool = False) -> list[Problem]:
    """Every semantic problem of ``routine`` against the known ``plugins``."""
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for index, node in enumerate(routine.nodes):
        path = f"nodes[{index}]"
        if node.id in first_index:
            problems.append(Problem(join_path(path, "id"), f"duplicate node id {node.id!r} "
                                    f"(also nodes[{first_index[node.id]}])"))
        else:
            first_index[node.id] = index
        problems.extend(_config_problems(node.config, plugins.get(node.plugin), node.plugin,
                                         join_path(path, "config"), join_path(path, "plugin"),
                                         configs_known_valid))
        problems.extend(_for_each_problems(node, plugins.get(node.plugin), path))
    problems.extend(_connection_problems(routine, plugins, first_index))
    problems.extend(_trigger_problems(routine, plugins))
    cycle = find_cycle([n.id for n in routine.nodes],
                       [c for c in routine.connections
                        if c.source in first_index and c.target in first_index])
    if cycle:
        problems.append(Problem("connections", "cycle: " + " → ".join(cycle)
                                + "; a routine must not loop back on itself"))
    return problems


def _config_problems(config: Mapping[str, Any], plugin: PluginShape | None, plugin_id: str,
                     path: str, plugin_path: str, known_valid: bool = False) -> list[Problem]:
    problems = [Problem(p, message) for p, message in template_problems(config, path)]
    if plugin is None:
        problems.append(Problem(plugin_path, f"unknown plugin {plugin_id!r}"))
        return problems
    if known_valid:
        return problems
    validator = _config_validator()(plugin.config_schema)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        place = path
        for key in error.absolute_path:
            place = join_path(place, key)
        problems.append(Problem(place, _schema_message(error)))
    return problems


NOT_PER_ELEMENT = ("core.approval", "core.merge")


def _for_each_problems(node: Node, plugin: PluginShape | None, path: str) -> list[Problem]:
    """``for_each`` runs the node once per element and emits the list on ``out``: the node
    needs one output port, and some nodes make no sense per element."""
    if node.for_each is None:
        return []
    where = join_path(path, "for_each")
    problems = [Problem(p, message) for p, message in template_problems(node.for_each, where)]
    if node.plugin in NOT_PER_ELEMENT:
        problems.append(Problem(where, f"{node.plugin} cannot run once per element"))
    elif plugin is not None and tuple(plugin.output_ports(node.config)) != (DEFAULT_OUT,):
        problems.append(Problem(where, f"{node.plugin} has several output ports; for_each "
                                "needs a node with one (put a condition after it instead)"))
    return problems


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    if error.validator == "pattern" and "description" in error.schema:
        return str(error.schema["description"])
    if error.validator in ("maximum", "minimum") and "description" in error.schema:
        return f"{error.message}: {error.schema['description']}"
    return error.message


def _connection_problems(routine: Routine, plugins: Mapping[str, PluginShape],
                         node_index: Mapping[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for index, conn in enumerate(routine.connections):
        path = f"connections[{index}]"
        key = (conn.source, conn.source_port, conn.target, conn.target_port)
        if key in seen:
            problems.append(Problem(path, f"duplicate of connections[{seen[key]}]"))
        seen.setdefault(key, index)
        if conn.source == conn.target:
            problems.append(Problem(join_path(path, "target"),
                                    f"node {conn.source!r} cannot connect to itself"))
        for end, node_id in (("source", conn.source), ("target", conn.target)):
            if node_id not in node_index:
                problems.append(Problem(join_path(path, end), f"no node with id {node_id!r}"))
        if conn.source in node_index:
            node = routine.nodes[node_index[conn.source]]
            plugin = plugins.get(node.plugin)
            if plugin is not None:
                ports = output_ports(plugin, node.config, node.on_error)
                if conn.source_port not in ports:
                    hint = " (set on_error to 'error_port' to use it)" \
                        if conn.source_port == ERROR_PORT else ""
                    problems.append(Problem(
                        join_path(path, "source_port"),
                        f"node {node.id!r} ({node.plugin}) has no output port "
                        f"{conn.source_port!r}{hint}; ports: {', '.join(ports)}"))
        if conn.target in node_index:
            node = routine.nodes[node_index[conn.target]]
            plugin = plugins.get(node.plugin)
            if plugin is not None and conn.target_port not in plugin.inputs:
                problems.append(Problem(
                    join_path(path, "target_port"),
                    f"node {node.id!r} ({node.plugin}) has no input port {conn.target_port!r}; "
                    f"ports: {', '.join(plugin.inputs)}"))
    return problems


def output_ports(plugin: PluginShape, config: Mapping[str, Any], on_error: str) -> tuple[str,
                                                                                          ...]:
    """The ports a node of ``plugin`` can emit on, including ``error`` when it has one."""
    try:
        ports = tuple(plugin.output_ports(config))
    except (TypeError, ValueError, KeyError, AttributeError):
        ports = ()
    return (*ports, ERROR_PORT) if on_error == "error_port" else ports


def _trigger_problems(routine: Routine, plugins: Mapping[str, PluginShape]) -> list[Problem]:
    trigger = routine.trigger
    if trigger.type != "event":
        return []
    problems = [Problem(p, m) for p, m in template_problems(trigger.options.get("when", ""),
                                                            "trigger.when")]
    check = trigger.options.get("check", {})
    plugin_id = check.get("plugin")
    config = check.get("config", {})
    if isinstance(plugin_id, str) and isinstance(config, dict):
        problems.extend(_config_problems(config, plugins.get(plugin_id), plugin_id,
                                         "trigger.check.config", "trigger.check.plugin"))
    return problems
