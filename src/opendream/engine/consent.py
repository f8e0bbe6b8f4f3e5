"""Consent for what a workflow file's layers would do beyond this machine.

Opening or replaying a file must not spend the user's paid keys or make the server contact a
hub on the file's say-so. A recipe from a file (``Trust.from_file``) runs a remote op
(``OpSpec.remote``) or downloads a model it names only once the user agreed
(``Trust.consented``); its models resolve only inside the model folders. Results the file
carries, or the cache holds, are used without asking: nothing is sent for them."""

from __future__ import annotations

from dataclasses import dataclass

from opendream.core.project import Project
from opendream.core.recipe import Recipe, canonical_json, sha256_hex
from opendream.core.registry import OpRegistry


@dataclass(frozen=True)
class Trust:
    """Where a recipe came from and what its user agreed to."""

    from_file: bool = False
    consented: bool = False


#: A recipe the user made here: no restriction.
USER = Trust()


def recipe_digest(recipe: Recipe) -> str:
    """What identifies a recipe as the one a file brought (any edit changes it)."""
    return sha256_hex(
        canonical_json(
            {
                "op": recipe.op,
                "op_version": recipe.op_version,
                "params": recipe.params,
                "inputs": recipe.inputs,
            }
        ).encode()
    )


def remote_reason(service: str) -> str:
    return f"calls {service}"


def file_layers(project: Project, registry: OpRegistry) -> dict[str, tuple[str, str | None]]:
    """Every layer group of an imported ``project``: ``{group: (recipe digest, reason)}``, the
    reason set for groups of remote ops that have no result yet (they would call the service)."""
    rows: dict[str, tuple[str, str | None]] = {}
    needs_run = set(project.needs_run())
    for layer in project.layers:
        if layer.group in rows:
            continue
        spec = registry.ops.get(layer.recipe.op)
        group = project.group(layer.id)
        missing = any(x.id in needs_run for x in group)
        reason = remote_reason(spec.service) if spec is not None and spec.service and missing else None
        rows[layer.group] = (recipe_digest(group[0].recipe), reason)
    return rows
