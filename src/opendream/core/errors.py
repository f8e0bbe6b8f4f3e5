"""Domain errors. Each carries an HTTP-ish ``status`` so faces (server, CLI) can translate them
without the core knowing about HTTP."""

from __future__ import annotations


class OpendreamError(Exception):
    """Base of every error Opendream reports to a user."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParams(OpendreamError):
    """Params or inputs of a recipe failed validation; ``errors`` names each parameter."""

    status = 422

    def __init__(self, op: str, errors: list[dict]) -> None:
        self.op = op
        self.errors = errors
        detail = "; ".join(f"`{e['param']}`: {e['message']}" for e in errors)
        super().__init__(f"invalid parameters for op {op!r}: {detail}")


class OpDefinitionError(OpendreamError):
    """An op's Python definition cannot be registered (bad type hint, name clash, ...)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file else ""
        super().__init__(f"{where}{message}")


class OpNotFound(OpendreamError):
    """One or more ops named by a recipe or workflow are not installed."""

    status = 404

    def __init__(self, names: list[str] | str, origins: dict[str, str] | None = None) -> None:
        """``origins`` maps an op to where it comes from, as a workflow file recorded it
        (e.g. ``extension 'bar' from https://… sha256 …``)."""
        self.names = sorted({names} if isinstance(names, str) else set(names))
        self.origins = {n: origins[n] for n in self.names if origins and n in origins}
        listed = ", ".join(f"{n!r} ({self.origins[n]})" if n in self.origins else repr(n) for n in self.names)
        super().__init__(
            f"op{'s' if len(self.names) > 1 else ''} not installed: {listed}. "
            "Install the extension that provides it, then try again."
        )


class LayerNotFound(OpendreamError):
    """A layer id does not exist in the project."""

    status = 404

    def __init__(self, layer_id: str) -> None:
        self.layer_id = layer_id
        super().__init__(f"no layer {layer_id!r} in this project")


class ProjectNotFound(OpendreamError):
    """A project id does not exist."""

    status = 404

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        super().__init__(f"no project {project_id!r}")


class CycleError(OpendreamError):
    """Recipe inputs would form a cycle."""

    def __init__(self, path: list[str]) -> None:
        self.path = path
        super().__init__(f"layer inputs form a cycle: {' -> '.join(path)}")


class NothingToUndo(OpendreamError):
    """Undo or redo was asked for with an empty history."""

    status = 409


class RevisionConflict(OpendreamError):
    """A save raced another writer (compare-and-swap on the project revision failed)."""

    status = 409

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"project changed meanwhile (revision {actual}, expected {expected}); reload and try again"
        )


class WorkflowError(OpendreamError):
    """A workflow file is malformed, too large, or inconsistent."""


class ImageRejected(OpendreamError):
    """An uploaded or embedded image is not an allowed format or is too large."""

    status = 415


class PixelBudgetExceeded(OpendreamError):
    """One request or op run would decode more pixels than the configured budget."""

    status = 413


class BlobMissing(OpendreamError):
    """A blob referenced by hash is not in the store."""

    status = 404

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(f"blob {digest} is not in the store")


class BlobCorrupt(OpendreamError):
    """A stored blob's bytes no longer match its hash."""

    status = 500

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(f"blob {digest} is corrupted on disk (content does not match its hash)")


class OpFailed(OpendreamError):
    """An op raised while running; the message is shown on the layer."""

    status = 500


class Cancelled(OpendreamError):
    """A running job was cancelled."""

    status = 409

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class ConsentRequired(OpendreamError):
    """A recipe from a file would call a remote service or download a model, and the user has
    not agreed yet; nothing was sent."""

    status = 403


class ModelUnavailable(OpendreamError):
    """Model weights cannot be had (offline, gated, missing, wrong kind)."""

    status = 424
