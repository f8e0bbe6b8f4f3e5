"""The command line: a thin face over the workspace.

The commands load ops into the global ``REGISTRY``, as one process runs one command; a registry
given as the context's object (``CliRunner().invoke(app, args, obj=registry)``) is used instead,
so that tests run commands in process without the extensions they load reaching the others."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from opendream.core import workflow
from opendream.core.errors import OpendreamError
from opendream.core.project import Project
from opendream.core.registry import REGISTRY, OpRegistry
from opendream.core.workflow_common import ImportedWorkflow
from opendream.engine import events
from opendream.engine.consent import Trust
from opendream.engine.events import Event
from opendream.engine.runner import cancelled_on_error
from opendream.engine.workspace import ReplayReport, Workspace, load_ops
from opendream.settings import Settings

app = typer.Typer(help="Opendream: layered, non-destructive image generation.", no_args_is_help=True)
extensions_app = typer.Typer(
    help="Extensions: list them, switch their overrides, install what they need.", no_args_is_help=True
)
app.add_typer(extensions_app, name="extensions")
console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: OPENDREAM_DATA_DIR or the user data dir)"),
]
TinyOption = Annotated[bool, typer.Option("--tiny-models", help="Use tiny random-weight test models")]
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor", help="Where ops run: local (in this process, the default) or ray (OPENDREAM_EXECUTOR)"
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster: auto, host:port (its head) or ray://host:port (its Ray Client server) "
        "(default: start a local Ray; OPENDREAM_RAY_ADDRESS)",
    ),
]


def make_settings(data_dir: Path | None = None, tiny_models: bool = False, **options: object) -> Settings:
    """The settings from the environment, with the options given (``None``: not given); a bad
    value of either is reported by name."""
    overrides: dict = {name: value for name, value in options.items() if value is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if tiny_models:
        overrides["tiny_models"] = True
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc']))} (OPENDREAM_{str(e['loc'][0]).upper()}): {e['msg']}"
            for e in exc.errors()
        ]
        raise fail("invalid settings: " + "; ".join(problems)) from None


def _registry(ctx: typer.Context) -> OpRegistry:
    """The registry the command loads and runs ops from: the context's object when it is one."""
    return ctx.obj if isinstance(ctx.obj, OpRegistry) else REGISTRY


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "layer"


def _read_workflow(path: Path, registry: OpRegistry) -> ImportedWorkflow:
    """The workflow in ``path``, checked; exits saying why it cannot be read."""
    try:
        size = path.stat().st_size
        if size > workflow.MAX_WORKFLOW_BYTES:
            raise fail(f"{path} is {size} bytes; a workflow may be at most {workflow.MAX_WORKFLOW_BYTES}")
        return workflow.import_any(path.read_bytes(), registry)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    except OpendreamError as exc:
        raise fail(f"{path}: {exc.message}") from None


def _progress_of(progress: Progress, task: TaskID, label: str) -> Callable[[Event], None]:
    """The event sink that shows a replay's progress on ``task``."""

    def on_event(event: Event) -> None:
        if event.type in (events.COMPLETED, events.FAILED, events.CANCELLED):
            progress.advance(task)
        elif event.type == events.PROGRESS:
            layers = ",".join(event.data["layers"])
            progress.update(
                task, description=f"{label}{layers} step {event.data['step']}/{event.data['total']}"
            )
        elif event.type == events.STATUS:
            progress.update(task, description=f"{label}{','.join(event.data['layers'])} {event.data['text']}")
        elif event.type == events.DOWNLOAD:
            megabytes = event.data["done_bytes"] / 2**20
            progress.update(task, description=f"{label}downloading model: {megabytes:.0f} MB")

    return on_event


def _write_out(workspace: Workspace, project: Project, out: Path) -> None:
    """Each layer's PNG and the composite in ``out``; nothing when the canvas is over the budget."""
    try:  # before any file is written: a canvas over the pixel budget writes nothing
        canvas = workspace.composite(project)
    except OpendreamError as exc:
        raise fail(f"composite.png not written: {exc.message}") from None
    out.mkdir(parents=True, exist_ok=True)
    for layer in project.layers:
        if layer.blob:
            (out / f"{layer.id}-{_slug(layer.name)}.png").write_bytes(workspace.data.blobs.get(layer.blob))
    canvas.save(out / "composite.png")


def _print_report(project: Project, report: ReplayReport) -> None:
    table = Table(title=f"{project.name} ({project.id})")
    for column in ("layer", "name", "op", "run", "seconds", "result"):
        table.add_column(column)
    colours = {"exact": "green", "new": "cyan", "differs": "yellow", "failed": "red"}
    for row in report.layers:
        why = row.error or row.reason
        result = f"[{colours[row.result]}]{row.result}[/]" + (f" ({why})" if why else "")
        result += f"\n[yellow]{row.note}[/]" if row.note else ""
        table.add_row(row.layer, row.name, row.op, row.outcome, f"{row.seconds:.2f}", result)
    Console().print(table)


@app.command()
def run(
    ctx: typer.Context,
    workflow_files: Annotated[
        list[Path],
        typer.Argument(
            help="Workflow JSON, exported PNG, or original Opendream JSON; several are a batch, "
            "replayed side by side when the executor has several workers"
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write each layer's PNG and composite.png here (a folder per file in a batch)"
        ),
    ] = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    force: Annotated[bool, typer.Option("--force", help="Ignore the cache and re-run remote ops")] = False,
    tiny_models: TinyOption = False,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Let the file's layers call paid or remote services and download the models they name",
        ),
    ] = False,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
) -> None:
    """Replay workflows headless and report, per layer, whether it matches the file.

    Layers of remote ops (DALL-E, serverless) and hub models the file names are not fetched
    unless you pass --allow-remote; results the file carries are used without asking. With
    several workers (--executor ray), a workflow's independent branches and a batch's files
    run side by side.

    Example: opendream run cat.json --out renders/
    """
    settings = make_settings(data_dir, tiny_models, executor=executor, ray_address=ray_address)
    registry = _registry(ctx)
    extensions = load_ops(settings, registry)
    stems = [_slug(path.stem) for path in workflow_files]
    if out is not None and len(set(stems)) < len(stems):
        raise fail(
            "with --out, the files of a batch need different names (each gets a folder named after it)"
        )
    imported = [_read_workflow(path, registry) for path in workflow_files]  # all checked before any runs

    try:
        workspace = Workspace(settings, registry=registry, extensions=extensions)
    except OpendreamError as exc:
        raise fail(exc.message) from None
    batch = len(workflow_files) > 1
    stop = threading.Event()  # set by Ctrl+C: the running ops stop at their next step
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json or not console.is_terminal,
        ) as progress:

            def replay(path: Path, file: ImportedWorkflow) -> tuple[Project, ReplayReport]:
                project = workspace.import_workflow(file)
                todo = project.topological_order() if force else project.needs_run()
                label = f"{path.name}: " if batch else ""
                task = progress.add_task(
                    f"{label}replaying", total=len({project.layer(i).group for i in todo})
                )
                revision = project.revision
                report = workspace.replay(
                    project,
                    file.expected,
                    file.environment,
                    force=force,
                    on_event=_progress_of(progress, task, label),
                    cancel_event=stop,
                    trust=Trust(from_file=True, consented=allow_remote),
                )
                workspace.save(project, expected_revision=revision)
                return project, report

            with (
                ThreadPoolExecutor(workspace.executor.parallelism, "opendream-batch") as pool,
                cancelled_on_error(stop),
            ):
                results = list(pool.map(replay, workflow_files, imported))
        if out is not None:
            for stem, (project, _) in zip(stems, results, strict=True):
                _write_out(workspace, project, out / stem if batch else out)
    finally:
        workspace.close()

    if as_json:
        reports = [
            {**({"file": str(path)} if batch else {}), "project": project.id, **report.to_dict()}
            for path, (project, report) in zip(workflow_files, results, strict=True)
        ]
        typer.echo(json.dumps(reports if batch else reports[0], indent=2))
    else:
        for project, report in results:
            _print_report(project, report)
    waiting = [row for _, report in results for row in report.layers if row.outcome == "needs consent"]
    if waiting:
        console.print(
            f"{len(waiting)} layer(s) were not run: "
            + "; ".join(sorted({row.error or "" for row in waiting}))
            + ". Re-run with --allow-remote to allow it.",
            highlight=False,
        )
    if not all(report.ok for _, report in results):
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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, max=16, help="Job worker threads (default 1; Ray: one per Ray worker)"
        ),
    ] = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
) -> None:
    """Start the web app and its API (REST under /api, events on /api/ws).

    Example: opendream serve --tiny-models
    """
    import secrets

    import uvicorn

    from opendream.server.app import create_app
    from opendream.server.security import is_loopback

    settings = make_settings(data_dir, tiny_models, executor=executor, ray_address=ray_address)
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
    try:
        application = create_app(settings, workers=workers)
    except OpendreamError as exc:
        raise fail(exc.message) from None
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
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print every op with its JSON Schema")] = False,
) -> None:
    """List the installed ops."""
    registry = _registry(ctx)
    load_ops(Settings(), registry)
    specs = list(registry)
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


def _extension_rows(settings: Settings, registry: OpRegistry) -> list[dict]:
    """Every extension as listed: its status, and the built-in ops it overrides."""
    from opendream.engine import overrides

    statuses = load_ops(settings, registry)
    return [{**vars(s), "overrides": overrides.listing(registry, s.source)} for s in statuses]


def _override_text(rows: list[dict]) -> str:
    return "\n".join(
        f"overrides {'built-in' if o['replaces'] == 'builtin' else o['replaces']} `{o['op']}`"
        + ("" if o["active"] else " (switched off: the built-in runs)")
        for o in rows
    )


@extensions_app.command("list")
def extensions_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Installed extensions with their ops, the built-in ops they override, the packages they
    need that are not installed, and the error of any that failed to load."""
    rows = _extension_rows(make_settings(data_dir), _registry(ctx))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table()
    for column in ("extension", "ops", "overrides", "needs", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["name"],
            ", ".join(row["ops"]),
            _override_text(row["overrides"]),
            ", ".join(row["missing"]),
            f"[red]{row['error']}[/]" if row["error"] else "",
        )
    Console().print(table)


@extensions_app.command("override")
def extensions_override(
    ctx: typer.Context,
    op: Annotated[str, typer.Argument(help="An op a user extension overrides, e.g. dream")],
    use: Annotated[
        str | None,
        typer.Option("--use", help="`builtin` runs the built-in op again; `extension` the override"),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show or choose which version of an overridden op runs; the choice is remembered.

    Example: opendream extensions override dream --use builtin
    """
    from opendream.engine import overrides

    settings = make_settings(data_dir)
    registry = _registry(ctx)
    load_ops(settings, registry)
    spec = next((s for s in registry.overriding() if s.name == op), None)
    if spec is None:
        raise fail(f"no extension overrides an op named {op!r}")
    if use is not None:
        if use not in ("builtin", "extension"):
            raise fail(f"--use has to be `builtin` or `extension`, not {use!r}")
        overrides.use_builtin(settings, registry, op, use == "builtin")
    running = "the built-in" if registry.get(op) is not spec else f"extension {spec.extension!r}"
    typer.echo(f"{op}: {running} runs (extension {spec.extension!r} overrides {spec.overrides.extension})")


@extensions_app.command("deps")
def extensions_deps(
    name: Annotated[str, typer.Argument(help="The extension (its file name without .py)")],
    install: Annotated[
        bool, typer.Option("--install", help="Install the missing packages with pip (asks first)")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Install without asking")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show the packages an extension needs (its PEP 723 `# /// script` dependencies, else what it
    imports) and which are missing; with --install, install those into Opendream's environment.

    Example: opendream extensions deps controlnet_canny --install
    """
    from opendream.engine import dependencies

    settings = make_settings(data_dir)
    folders = [settings.extensions_dir, *settings.extension_dirs]
    path = next((f / f"{name}.py" for f in folders if (f / f"{name}.py").is_file()), None)
    if path is None:
        raise fail(f"no extension {name!r} in {', '.join(str(f) for f in folders)}")
    try:
        needs = dependencies.needs(path)
    except dependencies.MetadataError as exc:
        raise fail(f"{path}: inline metadata: {exc}") from None
    if needs.declared is None:
        typer.echo(f"{name} declares no dependencies (no `# /// script` block); from its imports, it needs:")
        lines = [f"  {r}: missing" for r in needs.to_install] or [
            "  nothing more: every module it imports is installed"
        ]
    else:
        typer.echo(f"{name} declares (`# /// script` dependencies):")
        lines = [
            f"  {r}: "
            + (
                "missing"
                if r in needs.missing
                else f"installed {dependencies.installed_version(r.name) or '(not needed on this platform)'}"
            )
            for r in needs.declared
        ] + [f"  module `{m}` is imported but neither installed nor declared" for m in needs.undeclared]
    typer.echo("\n".join(lines))
    todo = needs.to_install
    if not todo:
        return
    command = dependencies.shell_command(todo)
    if not install:
        typer.echo(f"to install: {command}\n  or: opendream extensions deps {name} --install")
        raise typer.Exit(1)
    typer.echo(f"will run: {command}")
    if not yes:
        if not sys.stdin.isatty():
            raise fail("nothing installed; re-run with --yes after checking the command above", 1)
        if not typer.confirm(f"Install {', '.join(todo)} into {sys.prefix}?", default=False):
            raise fail("nothing installed", 1)
    code = dependencies.install(todo)
    if code != 0:
        raise fail(f"pip failed (exit status {code})", code)
    typer.echo(f"installed {', '.join(todo)}; reload the extensions (or restart) to load {name}")


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
