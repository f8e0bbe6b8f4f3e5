"""The command line: a thin face over the workspace."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from opendream.core import workflow
from opendream.core.errors import OpendreamError
from opendream.core.registry import REGISTRY
from opendream.engine.events import Event
from opendream.engine.workspace import Workspace, load_ops
from opendream.settings import Settings

app = typer.Typer(help="Opendream: layered, non-destructive image generation.", no_args_is_help=True)
extensions_app = typer.Typer(help="Extensions: list what is installed.", no_args_is_help=True)
app.add_typer(extensions_app, name="extensions")
console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: OPENDREAM_DATA_DIR or the user data dir)"),
]
TinyOption = Annotated[bool, typer.Option("--tiny-models", help="Use tiny random-weight test models")]


def make_settings(data_dir: Path | None = None, tiny_models: bool = False) -> Settings:
    overrides: dict = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if tiny_models:
        overrides["tiny_models"] = True
    return Settings(**overrides)


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "layer"


@app.command()
def run(
    workflow_file: Annotated[
        Path, typer.Argument(help="Workflow JSON, exported PNG, or original Opendream JSON")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write each layer's PNG and composite.png here")
    ] = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    force: Annotated[bool, typer.Option("--force", help="Ignore the cache and re-run remote ops")] = False,
    tiny_models: TinyOption = False,
) -> None:
    """Replay a workflow headless and report, per layer, whether it matches the file.

    Example: opendream run cat.json --out renders/
    """
    settings = make_settings(data_dir, tiny_models)
    extensions = load_ops(settings)
    try:
        size = workflow_file.stat().st_size
        if size > workflow.MAX_WORKFLOW_BYTES:
            raise fail(
                f"{workflow_file} is {size} bytes; a workflow may be at most {workflow.MAX_WORKFLOW_BYTES}"
            )
        imported = workflow.import_any(workflow_file.read_bytes(), REGISTRY)
    except OSError as exc:
        raise fail(f"cannot read {workflow_file}: {exc.strerror or exc}") from None
    except OpendreamError as exc:
        raise fail(f"{workflow_file}: {exc.message}") from None

    workspace = Workspace(settings, extensions=extensions)
    try:
        project = workspace.import_workflow(imported)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json or not console.is_terminal,
        ) as progress:
            todo = project.topological_order() if force else project.needs_run()
            task = progress.add_task("replaying", total=len({project.layer(i).group for i in todo}))

            def on_event(event: Event) -> None:
                if event.type in ("layer.completed", "layer.failed", "layer.cancelled"):
                    progress.advance(task)
                elif event.type == "layer.progress":
                    layers = ",".join(event.data["layers"])
                    progress.update(
                        task, description=f"{layers} step {event.data['step']}/{event.data['total']}"
                    )
                elif event.type == "layer.status":
                    progress.update(
                        task, description=f"{','.join(event.data['layers'])} {event.data['text']}"
                    )
                elif event.type == "layer.download":
                    megabytes = event.data["done_bytes"] / 2**20
                    progress.update(task, description=f"downloading model: {megabytes:.0f} MB")

            revision = project.revision
            report = workspace.replay(project, imported.expected, force=force, on_event=on_event)
            workspace.save(project, expected_revision=revision)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for layer in project.layers:
                if layer.blob:
                    (out / f"{layer.id}-{_slug(layer.name)}.png").write_bytes(
                        workspace.data.blobs.get(layer.blob)
                    )
            try:
                workspace.composite(project).save(out / "composite.png")
            except OpendreamError as exc:
                raise fail(f"composite.png not written: {exc.message}") from None
    finally:
        workspace.close()

    if as_json:
        typer.echo(json.dumps({"project": project.id, **report.to_dict()}, indent=2))
    else:
        table = Table(title=f"{project.name} ({project.id})")
        for column in ("layer", "name", "op", "run", "seconds", "result"):
            table.add_column(column)
        colours = {"exact": "green", "new": "cyan", "differs": "yellow", "failed": "red"}
        for row in report.layers:
            result = f"[{colours[row.result]}]{row.result}[/]" + (f" ({row.error})" if row.error else "")
            table.add_row(row.layer, row.name, row.op, row.outcome, f"{row.seconds:.2f}", result)
        Console().print(table)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Interface to bind (default 127.0.0.1); others need a token")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port (default 8000)")] = None,
    data_dir: DataDirOption = None,
    tiny_models: TinyOption = False,
    token: Annotated[
        str | None, typer.Option("--token", help="API token (generated when binding beyond loopback)")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=16, help="Job worker threads")] = 1,
) -> None:
    """Start the web app and its API (REST under /api, events on /api/ws).

    Example: opendream serve --tiny-models
    """
    import secrets

    import uvicorn

    from opendream.server.app import create_app
    from opendream.server.security import is_loopback

    settings = make_settings(data_dir, tiny_models)
    settings.host = host or settings.host
    settings.port = port or settings.port
    settings.token = token or settings.token
    if not is_loopback(settings.host) and not settings.token:
        settings.token = secrets.token_urlsafe(24)
        console.print(
            f"Binding to {settings.host}: API token (shown once) [bold]{settings.token}[/]\n"
            f"Open http://{settings.host}:{settings.port}/?token={settings.token}",
            highlight=False,
        )
    application = create_app(settings, workers=workers)
    config = uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=5,
        log_level="info",
    )
    uvicorn.Server(config).run()


@app.command()
def ops(
    as_json: Annotated[bool, typer.Option("--json", help="Print every op with its JSON Schema")] = False,
) -> None:
    """List the installed ops."""
    load_ops(Settings())
    specs = list(REGISTRY)
    if as_json:
        typer.echo(
            json.dumps(
                [s.describe() for s in specs],
                indent=2,
            )
        )
        return
    table = Table()
    for column in ("op", "version", "category", "extension", "inputs", "description"):
        table.add_column(column)
    for s in specs:
        table.add_row(
            s.name, s.version, s.category, s.extension or "", ", ".join(s.layer_param_names), s.description
        )
    Console().print(table)


@extensions_app.command("list")
def extensions_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Installed extensions with their ops, and the error of any that failed to load."""
    statuses = load_ops(Settings())
    if as_json:
        typer.echo(json.dumps([vars(s) for s in statuses], indent=2))
        return
    table = Table()
    for column in ("extension", "ops", "error"):
        table.add_column(column)
    for s in statuses:
        table.add_row(s.name, ", ".join(s.ops), f"[red]{s.error}[/]" if s.error else "")
    Console().print(table)


@extensions_app.command("install")
def extensions_install(
    url: Annotated[str, typer.Argument(help="http(s) URL of one extension .py file")],
    yes_hash: Annotated[
        str | None,
        typer.Option("--yes-hash", help="Enable it if its sha256 is exactly this (else you are asked)"),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Download an extension into quarantine, show its source and sha256, and enable it only once
    that exact hash is confirmed. Needs OPENDREAM_ALLOW_URL_INSTALL=1 and a loopback host.

    Example: opendream extensions install https://example.org/posterize.py --yes-hash 3f2a...
    """
    from opendream.engine import installer

    settings = make_settings(data_dir)
    try:
        pending = installer.fetch(url, settings, settings.host)
        console.print(
            f"downloaded [bold]{pending.name}[/] ({pending.size} bytes) into quarantine\n"
            f"  source: {pending.url}\n  sha256: {pending.sha256}",
            highlight=False,
        )
        if yes_hash is None:
            if not sys.stdin.isatty():
                raise fail(f"not enabled; re-run with --yes-hash {pending.sha256} after checking the file", 1)
            yes_hash = typer.prompt("Type or paste the sha256 above to enable it (anything else cancels)")
        if yes_hash.strip().lower() != pending.sha256:
            installer.discard(settings, pending.sha256)
            raise fail("the hash does not match the download; nothing was enabled", 1)
        target = installer.enable(settings, pending.sha256, settings.host)
    except OpendreamError as exc:
        raise fail(exc.message) from None
    console.print(f"enabled {target} (pinned sha256 {pending.sha256}); it loads on the next start or reload")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
