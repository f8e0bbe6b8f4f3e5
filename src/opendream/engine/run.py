"""One way to run a layer group, whoever asks: the CLI's runner, the server's workers and, next,
a remote executor all call ``plan`` then ``run_group`` with one ``Hooks`` object, so the rules
for what runs, cancel, consent, failures and the status a group ends in live here only."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from opendream.core.errors import Cancelled, ConsentRequired, OpendreamError
from opendream.core.recipe import LayerState, Recipe
from opendream.core.registry import OpSpec
from opendream.engine.consent import USER, Trust
from opendream.engine.executor import Execution, Executor, InputBlobs
from opendream.engine.hooks import Hooks

log = logging.getLogger(__name__)

RunOutcome = Literal["computed", "cached", "reused", "failed", "cancelled", "skipped", "needs consent"]
#: What to do with a group before running it: run it, keep its results as they are (``skip``: it
#: is ready), or take the results it holds (``reuse``: a remote or random op's kept results).
Plan = Literal["run", "skip", "reuse"]


@dataclass(frozen=True)
class GroupRun:
    """How one run of a group ended: its ``outcome``, the ``status`` its layers take when it
    gave no outputs (``None`` when it did: the caller stores ``execution.outputs``), and the
    ``error`` the layers show."""

    outcome: RunOutcome
    status: str | None = None
    error: str | None = None
    execution: Execution | None = None

    @property
    def layer_error(self) -> str | None:
        """The error the group's layers keep (none when they keep their results)."""
        if self.status == "ready":
            return None
        if self.outcome == "needs consent":
            return f"waiting for consent: {self.error}"
        return self.error


def holds_results(group: Sequence[LayerState], has_blob: Callable[[str], bool]) -> bool:
    """Whether every layer of ``group`` is ready with its pixels stored."""
    return all(x.status == "ready" and x.blob and has_blob(x.blob) for x in group)


def plan(
    spec: OpSpec,
    group: Sequence[LayerState],
    has_blob: Callable[[str], bool],
    *,
    force: bool,
    replay: bool,
) -> Plan:
    """Whether ``group`` needs to run. ``force`` runs it whatever it holds. A ``replay`` (of a
    file, whose recipes are as recorded) takes back the stored results of a remote or random op,
    so it never calls a paid service again for results it has. A queued job (not a replay)
    leaves a group that became ready meanwhile as it is; its remote results are not reused, as
    an edit keeps the old pixels until the new recipe has run."""
    if force:
        return "run"
    if replay:
        kept = not spec.deterministic and all(x.blob and has_blob(x.blob) for x in group)
        return "reuse" if kept else "run"
    return "skip" if holds_results(group, has_blob) else "run"


def failure_message(exc: BaseException) -> str:
    """What a failed layer shows: an op's own error as it said it; anything else is a bug,
    named by its type (its traceback goes to the log)."""
    if isinstance(exc, OpendreamError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def run_group(
    executor: Executor,
    recipe: Recipe,
    inputs: InputBlobs,
    hooks: Hooks,
    *,
    use_cache: bool = True,
    trust: Trust = USER,
    had_results: bool = False,
) -> GroupRun:
    """Run ``recipe`` on ``inputs`` (or take its cached outputs) and say how it ended; never
    raises for what an op does. ``had_results``: the group held results when this (forced) run
    began, so a run that may not happen without consent leaves them in place."""
    try:
        if hooks.cancelled:
            raise Cancelled("cancelled before it started")
        execution = executor.execute(recipe, inputs, hooks, use_cache=use_cache, trust=trust)
    except ConsentRequired as exc:
        # Nothing was sent: the group waits for the user, or keeps the results it has.
        return GroupRun("needs consent", "ready" if had_results else "pending", exc.message)
    except Cancelled as exc:
        return GroupRun("cancelled", "cancelled", exc.message)
    except Exception as exc:
        message = failure_message(exc)
        if isinstance(exc, OpendreamError):  # the user's to read, in the layer and the report
            log.info("op %s failed: %s", recipe.op, message)
        else:
            log.exception("op %s failed", recipe.op)
        return GroupRun("failed", "failed", message)
    return GroupRun("cached" if execution.cache_hit else "computed", execution=execution)
