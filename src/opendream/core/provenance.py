"""Which op implementation made a layer. A user's extension may override a built-in op of the
same name (a ``dream`` that calls DALL-E); a workflow records that per layer, so a replay on a
machine without the override says so instead of silently running the built-in."""

from __future__ import annotations

from opendream.core.recipe import RunRecord
from opendream.core.registry import BUILTIN, OpSpec

MadeBy = dict[str, str]  # {} for a built-in op; else {"extension": ..., "overrides"?: ...}


def describe(made_by: MadeBy, op: str) -> str:
    if not made_by.get("extension"):
        return f"the built-in `{op}`"
    text = f"extension {made_by['extension']!r}"
    replaced = made_by.get("overrides")
    if replaced:
        whose = "the built-in" if replaced == BUILTIN else f"extension {replaced!r}'s"
        text += f" (overriding {whose} `{op}`)"
    return text


def recorded(entry: dict) -> MadeBy:
    """What a workflow layer entry says made it."""
    return {key: entry[key] for key in ("extension", "overrides") if isinstance(entry.get(key), str)}


def changed(before: MadeBy | None, now: MadeBy, op: str) -> str | None:
    """Why what makes a layer now (``now``) is not what made it (``before``), when an override
    is involved on either side; ``None`` when it is the same, or nothing was recorded."""
    if before is None or before == now or ("overrides" not in before and "overrides" not in now):
        return None
    return f"made by {describe(before, op)}; here {describe(now, op)} runs"


def mismatch(made_by: MadeBy | None, spec: OpSpec) -> str | None:
    """``changed`` for the op this registry runs."""
    return changed(made_by, spec.provenance, spec.name)


def layer_note(run: RunRecord, spec: OpSpec | None) -> str | None:
    """For a replay report: the note of the layer's last run, else why the op installed here is
    not what made its pixels (those kept from the file, e.g. a remote op's)."""
    return run.note or (mismatch(run.made_by, spec) if spec is not None else None)
