"""The messages of the WebSocket ``/api/ws`` as pydantic models. The server builds them as
plain dicts where they happen (worker threads, routes); these models declare their shape once,
for the OpenAPI document (``add_to_openapi``), the web UI's generated types and the test that
checks every published event against them. Unknown fields are refused, so a new field has to
be declared here first."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from opendream.core.recipe import LayerStatus
from opendream.server.models import JobOut


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobChanged(Message):
    """A job was queued, started or ended."""

    type: Literal["job.queued", "job.started", "job.completed", "job.failed", "job.cancelled"]
    job: JobOut


class JobActivity(Message):
    job: str = Field(description="The job's id")
    project: str
    layers: list[str] = Field(description="The layers of the group the job runs")


class JobProgress(JobActivity):
    type: Literal["job.progress"]
    step: int
    total: int
    preview: str | None = Field(None, description="Base64 JPEG (at most 128 px) when the op sent one")


class JobDownload(JobActivity):
    """Model weights being fetched before the first step."""

    type: Literal["job.download"]
    done_bytes: int
    total_bytes: int = Field(description="0 when the size is not known yet")


class JobStatus(JobActivity):
    type: Literal["job.status"]
    text: str = Field(description="What the op is doing before its first step, e.g. `loading model …`")


class LayerState(Message):
    id: str
    status: LayerStatus
    blob: str | None
    error: str | None


class LayerChanged(Message):
    type: Literal["layer.changed"]
    project: str
    revision: int
    layers: list[LayerState] | None = Field(None, description="The current state of each changed layer")
    deleted: list[str] | None = Field(None, description="The ids of deleted layers")


class ProjectChanged(Message):
    type: Literal["project.changed"]
    project: str
    revision: int | None = Field(None, description="The saved revision (absent when deleted)")
    deleted: Literal[True] | None = Field(None, description="true: the project was deleted")


class ExtensionsChanged(Message):
    """The ops changed (a reload, an enabled extension, an edited file): fetch ``/api/ops`` again."""

    type: Literal["extensions.changed"]


class ConsentNeeded(Message):
    """A layer of the project stopped before calling out and waits for consent (``GET …/consent``)."""

    type: Literal["consent.needed"]
    project: str


class CancelAccepted(Message):
    """The answer to a client's ``cancel``."""

    type: Literal["cancel.accepted"]
    job: JobOut


class ErrorMessage(Message):
    """The answer to a client message the server cannot act on."""

    type: Literal["error"]
    detail: str


class Cancel(Message):
    """The one message a client sends."""

    type: Literal["cancel"]
    job: Annotated[str, Field(min_length=1, max_length=64)]


ServerEvent = Annotated[
    JobChanged
    | JobProgress
    | JobDownload
    | JobStatus
    | LayerChanged
    | ProjectChanged
    | ExtensionsChanged
    | ConsentNeeded
    | CancelAccepted
    | ErrorMessage,
    Field(discriminator="type"),
]
SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(ServerEvent)
REF_TEMPLATE = "#/components/schemas/{model}"


def add_to_openapi(document: dict[str, Any]) -> None:
    """Declare ``ServerEvent`` (what the server sends) and ``ClientMessage`` (what a client
    sends) among the document's component schemas, with the models they name."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (
        ("ServerEvent", SERVER_EVENT.json_schema(ref_template=REF_TEMPLATE, mode="serialization")),
        ("ClientMessage", Cancel.model_json_schema(ref_template=REF_TEMPLATE, mode="serialization")),
    ):
        for model, definition in schema.pop("$defs", {}).items():
            # JobOut is a REST model too: FastAPI has declared it already, the same way.
            if schemas.setdefault(model, definition) != definition:
                raise ValueError(f"two different schemas are named {model}")
        schemas[name] = schema
