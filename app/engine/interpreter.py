"""The one workflow that runs every routine: an interpreter over the routine document.

The routine document is the workflow input, so a run is pinned to the version
it started with. Pure plugins are evaluated here, inside the workflow; delays
are durable timers; every other plugin is an activity whose type is its plugin
id. Temporal's sandbox re-imports this module for each run: it imports only
the pure routine model and the core plugin manifests, never Qt or I/O.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from app.plugin_api import Emission, PluginError
    from app.routine import Node, RoutineInvalid, parse_routine
    from app.routine.expressions import ExpressionError, render
    from app.routine.graph import incoming, outgoing, topological_order
    from app.routine.model import ERROR_PORT
    from app.routine.runstate import NodeRun, Outcome
    from plugins.core import PLUGINS as CORE_PLUGINS

WORKFLOW_NAME = "KianaxRoutine"
WORKFLOW_PLUGINS = {plugin.id: plugin for plugin in CORE_PLUGINS}


class NodeFailed(Exception):
    def __init__(self, error: dict[str, Any], attempts: int):
        self.error = error
        self.attempts = attempts
        super().__init__(error["message"])


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@workflow.defn(name=WORKFLOW_NAME)
class RoutineWorkflow:
    """Runs a routine: nodes start as soon as every incoming connection is resolved."""

    @workflow.init
    def __init__(self, request: dict[str, Any]) -> None:
        self._request = request
        self._status = "running"
        self._error: dict[str, Any] | None = None
        self._result: dict[str, Any] | None = None
        self._finished_at: str | None = None
        self._events: list[dict[str, Any]] = []
        self._nodes: dict[str, NodeRun] = {
            str(node.get("id")): NodeRun()
            for node in request.get("routine", {}).get("nodes", [])
            if isinstance(node, dict)
        }

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            routine = parse_routine(request["routine"])
        except RoutineInvalid as exc:
            self._finish("failed", {"message": f"invalid routine: {exc}", "node": None})
            raise ApplicationError(f"invalid routine: {exc}", type="RoutineInvalid",
                                   non_retryable=True) from None
        self._routine = routine
        self._trigger = request.get("trigger")
        info = workflow.info()
        self._run_context = {"id": info.workflow_id, "routine_id": routine.id,
                             "started_at": _iso(info.start_time)}
        self._order = topological_order(routine)
        self._incoming = incoming(routine)
        self._outgoing = outgoing(routine)
        self._live: dict[int, bool] = {}  # connection index -> live?
        self._started: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight = 0
        self._stopping: dict[str, Any] | None = None
        self._crash: BaseException | None = None

        self._start_ready()
        try:
            await workflow.wait_condition(
                lambda: self._crash is not None or (
                    self._in_flight == 0
                    and (self._stopping is not None or len(self._started) == len(self._order))))
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            self._finish("cancelled", {"message": "the run was cancelled", "node": None})
            raise
        if self._crash is not None:
            raise self._crash  # an interpreter bug: fail the workflow task; Temporal retries it
        if self._stopping is not None:
            self._finish("failed", self._stopping)
            raise ApplicationError(self._stopping["message"], self._stopping,
                                   type="NodeFailed", non_retryable=True)
        self._result = {
            node_id: self._nodes[node_id].output
            for node_id in self._order
            if not self._outgoing[node_id] and self._nodes[node_id].status == "completed"
        }
        self._finish("completed", None)
        return self._result

    @workflow.query
    def state(self) -> dict[str, Any]:
        """The run state in the shape of design §3 (the CLI's ``--json`` prints it)."""
        return {
            "run_id": workflow.info().workflow_id,
            "routine_id": self._request.get("routine", {}).get("id"),
            "status": self._status,
            "started_at": _iso(workflow.info().start_time),
            "finished_at": self._finished_at,
            "nodes": {node_id: run.to_dict() for node_id, run in self._nodes.items()},
            "result": self._result,
            "error": self._error,
        }

    @workflow.query
    def progress(self, since: int) -> dict[str, Any]:
        """Node state changes after the first ``since``, so a watcher misses none."""
        return {"status": self._status, "events": self._events[since:]}

    def _finish(self, status: str, error: dict[str, Any] | None) -> None:
        self._status = status
        self._error = error
        self._finished_at = _iso(workflow.now())
        self._events.append({"node": None, "status": status})

    def _set(self, node_id: str, status: str, **changes: Any) -> None:
        record = self._nodes[node_id]
        record.status = status
        for key, value in changes.items():
            setattr(record, key, value)
        self._events.append({
            "node": node_id, "status": status, "attempts": record.attempts,
            "started_at": record.started_at, "finished_at": record.finished_at,
            "error": record.error["message"] if record.error else None,
        })

    def _start_ready(self) -> None:
        """Start (in topological order) every node whose incoming connections are resolved."""
        progressed = True
        while progressed and self._stopping is None:
            progressed = False
            for node_id in self._order:
                if node_id in self._started:
                    continue
                states = [self._live.get(i) for i in self._incoming[node_id]]
                if any(state is None for state in states):
                    continue
                self._started.add(node_id)
                progressed = True
                if states and not any(states):
                    self._set(node_id, "skipped")
                    self._resolve(node_id, ())
                    continue
                self._in_flight += 1
                self._tasks.append(asyncio.create_task(self._run_node(self._routine.node(node_id))))

    def _resolve(self, node_id: str, ports: tuple[str, ...]) -> None:
        for index in self._outgoing[node_id]:
            self._live[index] = self._routine.connections[index].source_port in ports

    def _inputs(self, node: Node) -> tuple[Any, dict[str, Any]]:
        sources: dict[str, Any] = {}
        for index in self._incoming[node.id]:
            if self._live[index]:
                source = self._routine.connections[index].source
                sources[source] = self._nodes[source].output
        if not self._incoming[node.id]:
            return self._trigger, {}
        if len(sources) == 1:
            return next(iter(sources.values())), sources
        return dict(sources), sources

    async def _run_node(self, node: Node) -> None:
        value, sources = self._inputs(node)
        self._set(node.id, "running", started_at=_iso(workflow.now()), input=value)
        try:
            outcome = await self._execute(node, value, sources)
        except NodeFailed as failure:
            outcome = self._on_error(node, failure)
        except Exception as exc:
            self._crash = exc
            return
        finally:
            self._in_flight -= 1
        if outcome is not None:
            status = "failed" if outcome.error else "completed"
            self._set(node.id, status, output=outcome.output, attempts=outcome.attempts,
                      error=outcome.error, finished_at=_iso(workflow.now()))
            self._resolve(node.id, outcome.ports)
        self._start_ready()

    def _on_error(self, node: Node, failure: NodeFailed) -> Outcome | None:
        if node.on_error == "stop":
            self._set(node.id, "failed", attempts=failure.attempts, error=failure.error,
                      finished_at=_iso(workflow.now()))
            if self._stopping is None:
                self._stopping = failure.error
            return None
        emitted = {"error": failure.error}
        port = ERROR_PORT if node.on_error == "error_port" else "out"
        return Outcome((port,), emitted, failure.attempts, failure.error)

    async def _execute(self, node: Node, value: Any, sources: dict[str, Any]) -> Outcome:
        plugin = WORKFLOW_PLUGINS.get(node.plugin)
        if not node.enabled:
            ports = plugin.output_ports(node.config) if plugin else ("out",)
            return Outcome(ports[:1], value, 0)
        context = {
            "trigger": self._trigger,
            "input": value,
            "nodes": {nid: {"output": run.output, "status": run.status, "error": run.error}
                      for nid, run in self._nodes.items() if run.status in ("completed",
                                                                            "failed")},
            "run": self._run_context,
        }
        try:
            config = render(node.config, context)
        except ExpressionError as exc:
            error = self._node_error(node, f"config: {exc}", "ExpressionError")
            raise NodeFailed(error, 0) from None
        if plugin is None:
            return await self._execute_activity(node, value, config)
        try:
            emission: Emission = plugin.evaluate(value, config, sources)
        except PluginError as exc:
            raise NodeFailed(self._node_error(node, str(exc), exc.kind), 1) from None
        except (TypeError, ValueError, KeyError) as exc:
            raise NodeFailed(self._node_error(node, f"{type(exc).__name__}: {exc}", "PluginCrash"),
                             1) from None
        if emission.delay_s > 0:
            await workflow.sleep(emission.delay_s, summary=f"{node.title}: delay")
        return Outcome(emission.ports, emission.output, 1)

    async def _execute_activity(self, node: Node, value: Any, config: Any) -> Outcome:
        retry = node.retry
        try:
            result = await workflow.execute_activity(
                node.plugin,
                {"node_id": node.id, "routine_id": self._routine.id,
                 "run_id": self._run_context["id"], "input": value, "config": config},
                start_to_close_timeout=timedelta(seconds=node.timeout_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=retry.initial_interval_s),
                    backoff_coefficient=retry.backoff,
                    maximum_interval=timedelta(seconds=retry.max_interval_s),
                    maximum_attempts=retry.max_attempts,
                ),
                summary=node.title,
            )
        except ActivityError as exc:
            raise NodeFailed(*self._activity_failure(node, exc)) from None
        return Outcome(("out",), result["output"], int(result["attempt"]))

    def _activity_failure(self, node: Node, exc: ActivityError) -> tuple[dict[str, Any], int]:
        cause = exc.cause
        attempts = node.retry.max_attempts
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details else {}
            attempts = int(details.get("attempt", attempts)) if isinstance(details, dict) \
                else attempts
            return self._node_error(node, cause.message, cause.type or "Error"), attempts
        if isinstance(cause, TimeoutError):
            message = f"timed out after {node.timeout_s:g} s"
            return self._node_error(node, message, "Timeout"), attempts
        return self._node_error(node, str(cause or exc), type(cause or exc).__name__), attempts

    def _node_error(self, node: Node, message: str, kind: str) -> dict[str, Any]:
        return {"node": node.id, "plugin": node.plugin, "type": kind,
                "message": f"node '{node.id}' ({node.plugin}): {message}"}

