"""Pinned outputs: iterate on a node without re-running (or re-calling) what feeds it.

A pin fixes a node's output for the editor's runs (Run Now from the editor, Run to here):
the run gets the pins as ``reuse`` (app.engine.runs.start_run), so a pinned node completes
at once with its pin, and the nodes after it see that output. Pins live in the store beside
the routine, keyed by routine id and node id — never in the document — so saved versions,
exports, activated triggers, the tray's Run Now and the CLI never see them.

A pin travels to Temporal inside the run request, which Temporal caps at 2 MB: each pin is
bounded by :data:`MAX_PAYLOAD_BYTES` of JSON, and so are all the pins one run carries.
Larger data belongs in a blob, whose small reference can be pinned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.routine import Routine
from app.routine.runstate import MAX_PAYLOAD_BYTES, describe_size, json_size
from app.routine.upstream import upstream_routine
from app.services.errors import UserError
from app.store.common import Pin, now

if TYPE_CHECKING:
    from app.store import Store

__all__ = ["Pin", "Pins"]
MAX_ID = 64


class Pins:
    """Pin, unpin and read pins; turn them into an editor run's ``reuse``."""

    store: Store

    def pins(self, routine_id: str) -> dict[str, Pin]:
        """The routine's pins by node id (pins of nodes since deleted included: undoing
        the deletion brings the node back pinned)."""
        return self.store.pins(routine_id)

    def pin(self, routine_id: str, node_id: str, output: Any, ports: list[str] | None = None,
            source_run: str | None = None) -> Pin:
        """Pin ``output`` as the node's output on ``ports`` (default ``["out"]``); UserError
        in one sentence when it is not JSON a run can carry."""
        ports = ["out"] if ports is None else ports
        if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_ID:
            raise UserError("a pin needs the id of a node (1 to 64 characters)")
        if not isinstance(ports, list) or not ports or \
                not all(isinstance(port, str) and port for port in ports):
            raise UserError(f"the pin of node {node_id!r} needs the ports it is emitted on, "
                            "e.g. [\"out\"]")
        _check_output(node_id, output)
        pin = Pin(node_id, output, list(ports), now(), source_run)
        self.store.save_pin(routine_id, pin)
        return pin

    def unpin(self, routine_id: str, node_id: str) -> None:
        self.store.delete_pin(routine_id, node_id)

    def adopt_draft(self, draft_id: str, routine_id: str) -> None:
        """A new routine drawn under a draft id and saved under ``routine_id`` keeps what
        the editor kept beside it: its pins and Run Now's test input."""
        self.store.move_pins(draft_id, routine_id)
        saved_input = self.store.test_input(draft_id)
        if saved_input is not None:
            self.store.set_test_input(routine_id, saved_input)

    def pin_from_run(self, routine_id: str, node_id: str, state: Mapping[str, Any]) -> Pin:
        """Pin what ``node_id`` output in a run (``state``: the last run, or a past run
        opened in the Runs view), on the ports it emitted on."""
        nodes = state.get("nodes")
        record = nodes.get(node_id) if isinstance(nodes, Mapping) else None
        if not isinstance(record, Mapping) or record.get("status") != "completed":
            status = record.get("status") if isinstance(record, Mapping) else "not run"
            raise UserError(f"node {node_id!r} did not complete in run "
                            f"{state.get('run_id')} ({status}), so it has no output to pin")
        output = record.get("output")
        if isinstance(output, Mapping) and output.get("$truncated") is True:
            raise UserError(f"run {state.get('run_id')} kept only a shortened copy of node "
                            f"{node_id!r}'s output (it was too large to carry), so it "
                            "cannot be pinned; pin a smaller output or a blob reference")
        ports = record.get("ports")
        ports = [str(port) for port in ports] if isinstance(ports, list) and ports else ["out"]
        return self.pin(routine_id, node_id, output, ports, source_run=state.get("run_id"))

    def editor_reuse(self, routine: Routine,
                     pins: Mapping[str, Pin] | None = None) -> dict[str, dict[str, Any]]:
        """The ``reuse`` of an editor run of ``routine`` (the whole routine or the part Run to
        here runs): the pins of the nodes it has. UserError when together they are more
        than a run request can carry."""
        pins = self.pins(routine.id) if pins is None else pins
        present = {node.id for node in routine.nodes}
        reuse = {node_id: {"output": pin.output, "ports": list(pin.ports)}
                 for node_id, pin in pins.items() if node_id in present}
        size = json_size(reuse, MAX_PAYLOAD_BYTES)
        if size > MAX_PAYLOAD_BYTES:
            raise UserError(f"the pinned outputs of this run are together more than the "
                            f"{describe_size(MAX_PAYLOAD_BYTES)} of JSON a run can carry to "
                            "the engine (Temporal's payload limit); unpin some of them")
        return reuse

    def run_to_here(self, routine: Routine, node_id: str) -> tuple[Routine, dict[str, Any]]:
        """What Run to here runs: the node and its ancestors, with their pins as reuse. A
        pinned node needs nothing upstream, so what feeds only pinned nodes does not run
        (the API behind a pinned call is not called)."""
        pins = self.pins(routine.id)
        present = {node.id for node in routine.nodes}
        try:
            part = upstream_routine(routine, node_id, {n for n in pins if n in present})
        except KeyError:
            raise UserError(f"routine {routine.id!r} has no node {node_id!r}") from None
        return part, self.editor_reuse(part, pins)


def _check_output(node_id: str, output: Any) -> None:
    """JSON a run can carry: bounded size (Temporal's payload limit), finite numbers."""
    size = json_size(output, MAX_PAYLOAD_BYTES)
    if size > MAX_PAYLOAD_BYTES:
        raise UserError(f"the output pinned on node {node_id!r} is more than the "
                        f"{describe_size(MAX_PAYLOAD_BYTES)} of JSON a run can carry "
                        "(Temporal's payload limit); pin a smaller value, or a blob reference "
                        "to the data")
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UserError(f"the output pinned on node {node_id!r} is not JSON a run can carry "
                        f"({exc})") from None
