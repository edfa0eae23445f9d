"""The one workflow that runs every routine: an interpreter over the routine document.

The routine document is the workflow input, so a run is pinned to the version
it started with. Pure plugins are evaluated here, inside the workflow; delays
are durable timers; every other plugin is an activity whose type is its plugin
id. Temporal's sandbox re-imports this module for each run: it imports only
the pure routine model and the core plugin manifests, never Qt or I/O.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from app.engine.approvals import NodeFailed, RunControl, iso, node_error
    from app.engine.for_each import Element, ForEach
    from app.engine.pacing import Pacing
    from app.engine.stored_data import StoredData
    from app.engine.subroutines import SubRoutines
    from app.plugin_api import RUN_CONTEXT_PLUGINS, Emission, PluginError
    from app.routine import Node, RoutineInvalid, parse_routine
    from app.routine.graph import incoming, outgoing, topological_order
    from app.routine.limits import MAX_DURATION_S
    from app.routine.model import ERROR_PORT
    from app.routine.rerun import parse_reuse
    from app.routine.runstate import (
        MAX_PAYLOAD_BYTES,
        MAX_STATE_BYTES,
        RUN_SOURCES,
        NodeRun,
        Outcome,
        bounded_nodes,
        describe_size,
        json_size,
        shortened,
    )
    from plugins.core import APPROVAL, ROUTINE_CALL
    from plugins.core import PLUGINS as CORE_PLUGINS

WORKFLOW_NAME = "KianaxRoutine"
WORKFLOW_PLUGINS = {plugin.id: plugin for plugin in CORE_PLUGINS}
# A dead worker's activity is retried once no heartbeat arrives for this long; activities
# heartbeat every few seconds while a plugin runs (app.engine.activities).
HEARTBEAT_TIMEOUT = timedelta(seconds=10)


# The state query shows a trigger input larger than this shortened (the input is kept whole
# in the workflow's history; the state leaves room for the nodes).
TRIGGER_SHOWN_BYTES = 400_000


def _routine_of(request: Any) -> dict[str, Any]:
    routine = request.get("routine") if isinstance(request, dict) else None
    return routine if isinstance(routine, dict) else {}


# Any exception escaping the workflow fails the run (with its message) instead of failing
# the workflow task, which Temporal would retry forever: a broken interpreter or an input it
# cannot read ends the run rather than wedging it.
# Not sandboxed: the sandbox made expression evaluation about 3x slower (so the work budget
# would no longer bound an activation's time) and guards nothing here — this module imports
# only the pure routine model and core plugins, and reads time and randomness only through
# `workflow`. It stays importable by the sandbox (tests/test_replay.py checks both ways).
@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[Exception], sandboxed=False)
class RoutineWorkflow(RunControl, SubRoutines, ForEach, StoredData, Pacing):
    """Runs a routine: nodes start as soon as every incoming connection is resolved."""

    @workflow.init
    def __init__(self, request: dict[str, Any]) -> None:
        self._request = request
        self._status = "running"
        self._error: dict[str, Any] | None = None
        self._result: dict[str, Any] | None = None
        self._finished_at: str | None = None
        self._events: list[dict[str, Any]] = []
        nodes = _routine_of(request).get("nodes")
        self._nodes: dict[str, NodeRun] = {
            str(node.get("id")): NodeRun()
            for node in (nodes if isinstance(nodes, list) else [])
            if isinstance(node, dict)
        }
        self._init_pacing()
        depth = request.get("depth") if isinstance(request, dict) else 0
        self._depth = depth if isinstance(depth, int) and depth >= 0 else 0  # routine calls
        self._init_control()

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            routine = parse_routine(_routine_of(request) or request["routine"])
        except (RoutineInvalid, KeyError, TypeError, ValueError, RecursionError) as exc:
            reason = exc if isinstance(exc, RoutineInvalid) else "the run request has no " \
                "readable routine document"
            self._finish("failed", {"message": f"invalid routine: {reason}", "node": None})
            raise ApplicationError(f"invalid routine: {reason}", type="RoutineInvalid",
                                   non_retryable=True) from None
        try:
            self._reuse = parse_reuse(request.get("reuse"), {node.id for node in routine.nodes})
        except ValueError as exc:
            self._finish("failed", {"message": f"invalid run request: {exc}", "node": None})
            raise ApplicationError(f"invalid run request: {exc}", type="RoutineInvalid",
                                   non_retryable=True) from None
        self._routine = routine
        self._trigger = request.get("trigger")
        info = workflow.info()
        self._run_context = {"id": info.workflow_id, "routine_id": routine.id,
                             "started_at": iso(info.start_time)}
        self._index = {node.id: index for index, node in enumerate(routine.nodes)}
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
            self._cancel_in_flight()
            self._finish("cancelled", {"message": "the run was cancelled", "node": None})
            raise
        if self._crash is not None:
            crash = self._crash
            self._fail_run({"message": f"internal error in the Kianax interpreter: "
                            f"{type(crash).__name__}: {crash}", "node": None}, "InternalError")
        if self._stopping is not None:
            self._fail_run(self._stopping, "NodeFailed")
        result = {
            node_id: self._nodes[node_id].output
            for node_id in self._order
            if not self._outgoing[node_id] and self._nodes[node_id].status == "completed"
        }
        if json_size(result, MAX_PAYLOAD_BYTES) > MAX_PAYLOAD_BYTES:
            self._fail_run({"message": f"the run's result (the outputs of its last nodes) is "
                            f"larger than the {describe_size(MAX_PAYLOAD_BYTES)} a run can "
                            "return; return less from the last nodes", "node": None},
                           "TooLarge")
        self._result = result
        self._finish("completed", None)
        return self.state()  # the final state: whoever waits needs no query (and no replay)

    def _fail_run(self, error: dict[str, Any], kind: str) -> None:
        self._finish("failed", error)
        raise ApplicationError(error["message"], error, self.state(), type=kind,
                               non_retryable=True)

    @workflow.query
    def state(self) -> dict[str, Any]:
        """The run state of design §3 and §8 (app.routine.runstate.RunState.to_dict's shape;
        the CLI's ``--json`` prints it)."""
        request = self._request if isinstance(self._request, dict) else {}
        trigger = request.get("trigger")
        size = json_size(trigger)
        if size > TRIGGER_SHOWN_BYTES:
            trigger = shortened(trigger, size)
        source = request.get("source")
        if source not in RUN_SOURCES:  # a schedule's action names no source; its trigger says
            source = "cron" if request.get("trigger") == {"type": "cron"} else "cli"
        return {
            "run_id": workflow.info().workflow_id,
            "routine_id": _routine_of(request).get("id"),
            "status": self._run_status(),
            "started_at": iso(workflow.info().start_time),
            "finished_at": self._finished_at,
            "version": request.get("version"),
            "trigger": trigger,
            "source": source,
            "rerun_of": request.get("rerun_of"),
            "nodes": bounded_nodes(self._nodes, MAX_STATE_BYTES - json_size(self._result)
                                   - json_size(trigger)),
            "result": self._result,
            "error": self._error,
        }

    @workflow.query
    def progress(self, since: int) -> dict[str, Any]:
        """Node state changes after the first ``since``, so a watcher misses none."""
        return {"status": self._run_status(), "events": self._events[since:]}

    def _finish(self, status: str, error: dict[str, Any] | None) -> None:
        self._status = status
        self._error = error
        self._finished_at = iso(workflow.now())
        self._events.append({"node": None, "status": status})

    def _set(self, node_id: str, status: str, **changes: Any) -> None:
        record = self._nodes[node_id]
        record.status = status
        for key, value in changes.items():
            setattr(record, key, value)
        event = {
            "node": node_id, "status": status, "attempts": record.attempts,
            "started_at": record.started_at, "finished_at": record.finished_at,
            "error": record.error["message"] if record.error else None,
        }
        if status == "waiting":
            event["prompt"] = record.prompt
        if record.progress is not None:
            event["progress"] = list(record.progress)
        self._events.append(event)

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
                    self._set(node_id, "skipped", ports=[])
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
        outcome: Outcome | None = None
        try:
            if self._paused:
                await self._hold_while_paused()
                if self._stopping is not None:
                    return  # a node failed meanwhile: this one never starts
            reused = self._reuse.get(node.id)
            if reused is not None:
                value, _ = self._inputs(node)
                self._set(node.id, "running", started_at=iso(workflow.now()), input=value,
                          reused=True)
                outcome = Outcome(reused[0], reused[1], 0)
            else:
                outcome = await self._run_plugin(node)
        except Exception as exc:
            self._crash = exc
            return
        finally:
            self._in_flight -= 1
        if outcome is not None:
            status = "failed" if outcome.error else "completed"
            self._set(node.id, status, output=outcome.output, attempts=outcome.attempts,
                      error=outcome.error, finished_at=iso(workflow.now()),
                      ports=list(outcome.ports))
            self._resolve(node.id, outcome.ports)
        self._start_ready()

    async def _run_plugin(self, node: Node) -> Outcome | None:
        each = node.for_each is not None and node.enabled
        if node.plugin in WORKFLOW_PLUGINS and not each:
            await self._breathe()
        value, sources = self._inputs(node)
        self._set(node.id, "running", started_at=iso(workflow.now()), input=value)
        try:
            if each:
                return await self._run_each(node, value, sources)
            return await self._execute(node, value, sources)
        except NodeFailed as failure:
            return self._on_error(node, failure)

    def _on_error(self, node: Node, failure: NodeFailed) -> Outcome | None:
        if node.on_error == "stop":
            self._set(node.id, "failed", attempts=failure.attempts, error=failure.error,
                      finished_at=iso(workflow.now()))
            if self._stopping is None:
                self._stopping = failure.error
            return None
        emitted = {"error": failure.error}
        port = ERROR_PORT if node.on_error == "error_port" else "out"
        return Outcome((port,), emitted, failure.attempts, failure.error)

    def _runs_in_workflow(self, node: Node) -> bool:
        return node.plugin in WORKFLOW_PLUGINS

    def _context(self, node: Node, value: Any, element: Element | None = None) -> dict[str, Any]:
        """What the node's expressions see; ``item`` and ``index`` for a for_each element."""
        context = {
            "trigger": self._trigger,
            "input": value,
            "nodes": {nid: {"output": run.output, "status": run.status, "error": run.error}
                      for nid, run in self._nodes.items() if run.status in ("completed",
                                                                            "failed")},
            "run": self._run_context,
        }
        if element is not None:
            context["item"], context["index"] = element.item, element.index
        return context

    async def _execute(self, node: Node, value: Any, sources: dict[str, Any],
                       element: Element | None = None) -> Outcome | None:
        plugin = WORKFLOW_PLUGINS.get(node.plugin)
        if not node.enabled:
            ports = plugin.output_ports(node.config) if plugin else ("out",)
            return Outcome(ports[:1], value, 0)
        if element is not None and plugin is not None:
            await self._breathe(element=True)
        context = self._context(node, value, element)
        config = await self._render(node, node.config, context,
                                    f"nodes[{self._index[node.id]}].config")
        if plugin is None:
            extra: dict[str, Any] = {} if element is None else {"element": element.index,
                                                                "elements": element.total}
            if node.plugin in RUN_CONTEXT_PLUGINS:
                extra["context"] = {"trigger": context["trigger"], "nodes": context["nodes"]}
            return await self._execute_activity(node, value, config, extra)
        try:
            emission: Emission = plugin.evaluate(value, config, sources)
            delay = float(emission.delay_s)
            if not math.isfinite(delay) or not 0 <= delay <= MAX_DURATION_S:
                raise PluginError(f"a delay of {emission.delay_s!r} s is not possible; use 0 "
                                  f"to {MAX_DURATION_S} s (366 days)", kind="BadConfig")
        except PluginError as exc:
            raise NodeFailed(node_error(node, str(exc), exc.kind), 1) from None
        except Exception as exc:
            raise NodeFailed(node_error(node, f"{type(exc).__name__}: {exc}", "PluginCrash"),
                             1) from None
        if node.plugin == APPROVAL:
            return await self._wait_for_person(node, emission.output)
        if node.plugin == ROUTINE_CALL:
            return await self._call_routine(node, emission.output, WORKFLOW_NAME,
                                            None if element is None else element.index)
        if delay > 0:
            await workflow.sleep(delay, summary=f"{node.title}: delay")
        return Outcome(emission.ports, emission.output, 1)

    async def _execute_activity(self, node: Node, value: Any, config: Any,
                                extra: dict[str, Any]) -> Outcome:
        retry = node.retry
        request = {"node_id": node.id, "routine_id": self._routine.id,
                   "run_id": self._run_context["id"], "input": value, "config": config, **extra}
        if json_size(request, MAX_PAYLOAD_BYTES) > MAX_PAYLOAD_BYTES:
            message = (f"its input and config are larger than the "
                       f"{describe_size(MAX_PAYLOAD_BYTES)} a node can be sent; pass it less")
            raise NodeFailed(node_error(node, message, "TooLarge"), 0)
        try:
            result = await workflow.execute_activity(
                node.plugin,
                request,
                start_to_close_timeout=timedelta(seconds=node.timeout_s),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
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
            return node_error(node, cause.message, cause.type or "Error"), attempts
        if isinstance(cause, TimeoutError):
            message = f"timed out after {node.timeout_s:g} s"
            return node_error(node, message, "Timeout"), attempts
        return node_error(node, str(cause or exc), type(cause or exc).__name__), attempts
