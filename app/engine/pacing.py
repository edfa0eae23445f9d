"""Pacing in-workflow evaluation across activations.

Temporal's deadlock detector fails a workflow task whose activation runs over 2 s, so long
stretches of in-workflow evaluation are split across activations: the interpreter awaits a
no-op local activity (a new activation in the same workflow task, ~5 ms; a timer would cost a
second, the dev server's timer granularity). What triggers a split is counted, never timed, so
a replay splits at exactly the same places:

- after :data:`PURE_NODES_PER_ACTIVATION` pure nodes (a node's whole config renders within the
  expression work budget, about 0.1 s, app.routine.limits.MAX_WORK; measured 0.2 s at worst
  inside the workflow, so an activation stays near 1 s at worst);
- for ``for_each`` elements, which are usually tiny, after :data:`WORK_PER_ACTIVATION` steps of
  expression work or :data:`ELEMENTS_PER_ACTIVATION` elements, whichever comes first — so 10,000
  cheap elements take a handful of activations, not 2,000.

Like the interpreter, this module runs unsandboxed and stays importable by the sandbox.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

BREATHE_ACTIVITY = "kianax.breathe"
PURE_NODES_PER_ACTIVATION = 5
WORK_PER_ACTIVATION = 30_000_000  # expression steps: 3 work budgets, well under 2 s
ELEMENTS_PER_ACTIVATION = 500


class Pacing:
    """Mixin of the interpreter workflow: wait for a new activation when this one did enough."""

    def _init_pacing(self) -> None:
        self._pure_in_activation = 0
        self._elements_in_activation = 0
        self._work_in_activation = 0
        self._pause: asyncio.Task[None] | None = None

    def _spent(self, work: int) -> None:
        """Expression work done in this activation (``Budget.work`` of a render)."""
        self._work_in_activation += work

    async def _breathe(self, element: bool = False) -> None:
        """Before evaluating a pure node (or one element of a for_each node): wait for a new
        activation once this one has done enough."""
        while (self._pure_in_activation >= PURE_NODES_PER_ACTIVATION
               or self._elements_in_activation >= ELEMENTS_PER_ACTIVATION
               or self._work_in_activation >= WORK_PER_ACTIVATION):
            if self._pause is None:
                self._pause = asyncio.create_task(self._next_activation())
            await self._pause
        if element:
            self._elements_in_activation += 1
        else:
            self._pure_in_activation += 1

    async def _next_activation(self) -> None:
        await workflow.execute_local_activity(BREATHE_ACTIVITY,
                                              start_to_close_timeout=timedelta(seconds=30))
        self._pure_in_activation = self._elements_in_activation = self._work_in_activation = 0
        self._pause = None
