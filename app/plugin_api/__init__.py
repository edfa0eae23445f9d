"""The plugin contract: what a plugin declares and how it is called.

Plugins never import Temporal: workflow plugins are pure functions the
interpreter calls inside the workflow; activity plugins are coroutines the
engine wraps as Temporal activities whose activity type is the plugin id.

This is version ``PLUGIN_API_VERSION`` of the contract. A third-party plugin module (an
installed package's ``kianax.plugins`` entry point, or a ``.py`` file in the user's plugin
folder) exports ``PLUGINS``, a list of :class:`Plugin`, and may declare
``KIANAX_PLUGIN_API = 1``; a module declaring another version is refused at load. Third-party
plugins run as activities only (a worker's workflow sandbox cannot import their code).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, Protocol

from app.routine.model import DEFAULT_IN, DEFAULT_OUT

RunsIn = Literal["workflow", "activity"]
PLUGIN_API_VERSION = 1
"""The plugin contract's version: bumped only when a change would break existing plugins
(a field removed or changing meaning, execute() called differently). Adding an optional
field or a context method keeps the version."""
RUN_CONTEXT_PLUGINS = frozenset({"code.python"})
"""Activity plugins the interpreter also sends the run's trigger input and the outputs of
the nodes done so far (``ctx.run_context``): code is written against them, as expressions
are. Every other activity gets only its input and rendered config, which keeps payloads
small (the workflow cannot read a plugin's manifest: it imports no plugin code)."""


@dataclass(frozen=True, slots=True)
class Emission:
    """What a workflow plugin produced: ``output`` on each of ``ports``, after ``delay_s``."""

    output: Any
    ports: tuple[str, ...] = (DEFAULT_OUT,)
    delay_s: float = 0.0


class PluginError(Exception):
    """A node failed. ``retryable=False`` fails the node at once (bad config, HTTP 4xx, auth)."""

    def __init__(self, message: str, *, retryable: bool = False, kind: str = "PluginError"):
        self.retryable = retryable
        self.kind = kind
        super().__init__(message)


def library(name: str, plugin_id: str) -> ModuleType:
    """``import name``, for an activity's ``execute``: a plugin module imports its heavy
    libraries (an HTTP client, a parser) here, on first use, so reading the manifests (every
    cold ``kianax run``, the editor's palette) never pays for them. A library that cannot be
    imported fails the node with a sentence naming it, not a bare ModuleNotFoundError."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PluginError(f"{plugin_id} needs the Python package {name.split('.')[0]!r}, "
                          f"which cannot be imported here ({exc}); reinstall Kianax",
                          kind="MissingLibrary") from None


class ActivityContext(Protocol):
    """What the engine hands an activity plugin."""

    node_id: str
    attempt: int
    logger: logging.LoggerAdapter | logging.Logger

    @property
    def idempotency_key(self) -> str:
        """The same on every attempt of this node in this run (and this element of a
        fan-out): send it so a receiving API can drop a repeated side effect. Empty
        outside a run (an event trigger's check)."""

    async def credential(self, name: str) -> Mapping[str, Any]:
        """The named credential's kind and secret fields, resolved on the worker."""

    def heartbeat(self, *details: Any) -> None:
        """Tell the engine the activity is alive (long-running work)."""

    @property
    def blobs(self) -> Any:
        """The worker's blob store (``app.blobs.BlobStore``; None on a worker without one):
        write large results with ``put_json`` / ``writer()`` and return the reference
        (``ref.to_json()``); read a reference from the config with ``open`` / ``read``."""

    @property
    def run_context(self) -> Mapping[str, Any]:
        """``{"trigger", "nodes": {id: {"output", "status", "error"}}}`` for the plugins in
        :data:`RUN_CONTEXT_PLUGINS`; empty for the others."""


Evaluate = Callable[[Any, Mapping[str, Any], Mapping[str, Any]], Emission]
Execute = Callable[[ActivityContext, Any, Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Plugin:
    """A plugin's manifest and implementation.

    ``evaluate(input, config, sources)`` is for ``runs_in="workflow"`` (pure,
    deterministic; ``sources`` maps each live source node id to its output);
    ``execute(ctx, input, config)`` is for ``runs_in="activity"``.
    """

    id: str
    title: str
    category: str
    runs_in: RunsIn
    description: str = ""
    icon: str = "node"
    inputs: tuple[str, ...] = (DEFAULT_IN,)
    outputs: tuple[str, ...] = (DEFAULT_OUT,)
    config_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    credential_kinds: tuple[str, ...] = ()
    evaluate: Evaluate | None = None
    execute: Execute | None = None
    dynamic_outputs: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = None
    needs_trust: bool = False
    """True for plugins that can touch the machine (run programs, read or write files,
    send mail): a routine from a file that uses one runs only once the user trusts it."""

    def output_ports(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Output ports for a node with this ``config`` (a switch has one per case)."""
        return self.dynamic_outputs(config) if self.dynamic_outputs else self.outputs
