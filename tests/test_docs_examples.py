"""Every workflow and every command the docs show is executed, so the docs cannot drift.

- A fenced ``json`` block is a workflow (Opendream's or the original's): written to a file and
  replayed with ``opendream run`` on the tiny models; no layer may fail.
- A fenced ``sh`` block line, and an inline code span starting with ``opendream ``, is a
  command. A synopsis (``[--flag]``, ``UPPERCASE`` placeholders) must name only options the
  CLI has; any other ``opendream`` command runs as written (``serve`` until it answers
  ``/api/health``) in a folder holding the files the docs name (``cat.json`` ...).
- A fenced ``python`` block after ``<!-- docs-test: extension NAME.py -->`` is an extension:
  saved as ``NAME.py`` in an extensions folder, loaded by the loader and its op run on the tiny
  models; it has to make an image, report progress with previews, and stay short.
- A block that cannot run offline says so on the line before its fence with
  ``<!-- docs-test: not run (why) -->``; there are few of them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opendream.cli import app as cli
from opendream.core.images import encode_png
from opendream.core.registry import OpRegistry
from opendream.core.workflow import detect_format, embed_workflow_png
from opendream.engine.loader import load_extension_dirs
from tests.diffusion_fixtures import make_context

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"^<!-- docs-test: not run \((?P<why>[^)]+)\) -->$")
EXTENSION = re.compile(r"^<!-- docs-test: extension (?P<file>\w+\.py) -->$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>\w*)\s*$")
INLINE_COMMAND = re.compile(r"`(opendream [^`]+)`")
SHELL = {"sh", "bash", "shell", "console"}
MAX_NOT_RUN = 4
MAX_EXTENSION_LINES = 24  # issue 13: a diffusion extension with previews in under 25 lines


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    kind: str  # "workflow" | "command" | "extension"
    text: str
    not_run: str | None = None
    file: str | None = None  # an extension's file name

    def __str__(self) -> str:
        return self.where


def _blocks(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, info, body, the line before the fence) of every fenced block."""
    lines = path.read_text("utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        before = lines[index - 1].strip() if index else ""
        body = "\n".join(line[len(match["indent"]) :] for line in lines[index + 1 : end])
        blocks.append((index + 1, match["info"], body, before))
        index = end + 1
    return blocks


def collect() -> list[Example]:
    examples = []
    for path in DOCS:
        name = path.relative_to(ROOT)
        text = path.read_text("utf-8")
        for line, info, body, before in _blocks(path):
            where = f"{name}:{line}"
            not_run, extension = NOT_RUN.match(before), EXTENSION.match(before)
            why = not_run["why"] if not_run else None
            if info == "python" and extension:
                examples.append(Example(where, "extension", body, file=extension["file"]))
            elif info == "json":
                examples.append(Example(where, "workflow", body, why))
            elif info in SHELL:
                commands = [c for c in body.splitlines() if c.strip() and not c.lstrip().startswith("#")]
                examples.extend(Example(where, "command", c.split(" #")[0].strip(), why) for c in commands)
        outside = re.sub(r"(?ms)^ *```.*?^ *```", "", text)  # inline spans outside fenced blocks
        for match in INLINE_COMMAND.finditer(outside):
            line = text.count("\n", 0, text.index(match.group(0))) + 1
            examples.append(Example(f"{name}:{line}", "command", match.group(1)))
    return examples


EXAMPLES = collect()
WORKFLOWS = [x for x in EXAMPLES if x.kind == "workflow" and not x.not_run]
COMMANDS = list({x.text: x for x in EXAMPLES if x.kind == "command" and not x.not_run}.values())
EXTENSIONS = [x for x in EXAMPLES if x.kind == "extension"]


def test_examples_are_found_and_few_are_not_run() -> None:
    assert len(WORKFLOWS) >= 2 and len(COMMANDS) >= 5
    assert EXTENSIONS, "docs/extensions.md shows a diffusion extension"
    not_run = [x for x in EXAMPLES if x.not_run]
    assert len({x.where for x in not_run}) <= MAX_NOT_RUN, [str(x) for x in not_run]


def test_only_json_and_shell_blocks_hold_workflows_or_commands() -> None:
    """A workflow or command in a block of another language would escape these tests."""
    for path in DOCS:
        for line, info, body, _ in _blocks(path):
            if info in SHELL or info == "json":
                continue
            first = body.lstrip()
            assert not first.startswith(("opendream ", "curl ", "{")), (
                f"{path.name}:{line}: tag it json or sh"
            )


@pytest.fixture
def example_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_dir: Path, pinned_threads: int) -> Path:
    """A folder holding every file the docs' commands name, as the current directory, with the
    environment pointing Opendream at a fresh data dir and the tiny models."""
    v1 = _only("workflow.md", lambda doc: "format" in doc)
    original = _only("workflow.md", lambda doc: "format" not in doc)
    files = {"cat.json": v1, "project.json": v1, "original.json": original}
    folder = tmp_path / "examples"
    folder.mkdir()
    for name, document in files.items():
        (folder / name).write_text(document)
    picture = embed_workflow_png(encode_png(_blank()), json.loads(v1), None)
    (folder / "picture.png").write_bytes(picture)
    monkeypatch.chdir(folder)
    for key, value in _env(tmp_path, tiny_dir).items():
        monkeypatch.setenv(key, value)
    return folder


def _env(tmp_path: Path, tiny_dir: Path) -> dict[str, str]:
    return {
        "OPENDREAM_DATA_DIR": str(tmp_path / "data"),
        "OPENDREAM_TINY_MODELS": "1",
        "OPENDREAM_TINY_MODELS_DIR": str(tiny_dir),
        "OPENDREAM_DEVICE": "cpu",
    }


def _blank():
    from PIL import Image

    return Image.new("RGB", (64, 64), (40, 90, 160))


def _only(doc_name: str, wanted) -> str:
    found = [
        x.text for x in WORKFLOWS if x.where.startswith(f"docs/{doc_name}:") and wanted(json.loads(x.text))
    ]
    assert len(found) == 1, f"expected one such example in {doc_name}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("example", WORKFLOWS, ids=str)
def test_workflow_example_replays_with_tiny_models(example: Example, example_dir: Path) -> None:
    document = json.loads(example.text)
    assert detect_format(document) in ("workflow", "original")
    path = example_dir / "example.json"
    path.write_text(example.text)
    result = CliRunner().invoke(cli, ["run", str(path), "--json"])
    assert result.exit_code == 0, f"{example}: {result.output}"
    report = json.loads(result.stdout)
    failed = [(x["layer"], x["error"]) for x in report["layers"] if x["result"] == "failed"]
    assert not failed and report["ok"], f"{example}: {failed or report}"


@pytest.mark.parametrize("example", COMMANDS, ids=lambda x: f"{x.where} {x.text}")
def test_command_example_runs(example: Example, example_dir: Path, tmp_path: Path, tiny_dir: Path) -> None:
    words = shlex.split(example.text)
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    assert words[0] == "opendream", f"{example}: not an opendream command: {example.text}"
    args = words[1:]
    if _is_synopsis(args):
        _check_synopsis(example, args)
    elif args[0] == "serve":
        _serve(example, args, {**os.environ, **env})
    else:
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 0, f"{example}: {example.text}\n{result.output}"


def _is_synopsis(args: list[str]) -> bool:
    return any("[" in a or re.fullmatch(r"[A-Z][A-Z_]+", a) for a in args)


def _check_synopsis(example: Example, args: list[str]) -> None:
    """Every subcommand and ``--option`` of a synopsis exists in the CLI."""
    command = typer.main.get_command(cli)  # typer's group, not necessarily a click.Group
    words = [a for a in args if not a.startswith("[") and not re.fullmatch(r"[A-Z][A-Z_]+\]?", a)]
    while words and hasattr(command, "commands") and not words[0].startswith("-"):
        assert words[0] in command.commands, f"{example}: no command {words[0]!r}"
        command = command.commands[words.pop(0)]
    options = {o for p in command.params for o in p.opts}
    named = set(re.findall(r"--[a-z][a-z-]*", " ".join(args)))
    assert named <= options, f"{example}: {sorted(named - options)} not options of {command.name!r}"


def _serve(example: Example, args: list[str], env: dict[str, str]) -> None:
    """Run the server as the docs say, on a free port (OPENDREAM_PORT), until it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**env, "OPENDREAM_PORT": str(port), "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "opendream.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{example}: exited: {process.stderr.read().decode()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                    return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"{example}: the server did not answer within 120 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("example", EXTENSIONS, ids=str)
def test_extension_example_loads_and_runs_with_previews(
    example: Example, tmp_path: Path, tiny_manager, tiny_settings, ops: OpRegistry
) -> None:
    """Saved into an extensions folder and loaded as users do, the docs' extension makes an
    image on the tiny models, reporting every step with live previews."""
    assert len(example.text.splitlines()) <= MAX_EXTENSION_LINES, f"{example}: too long to be the short one"
    folder = tmp_path / "extensions"
    folder.mkdir()
    path = folder / example.file
    path.write_text(example.text)
    try:
        (status,) = load_extension_dirs([folder], ops)
        assert status.error is None and len(status.ops) == 1, f"{example}: {status}"
        spec = ops.get(status.ops[0])
        ctx = make_context(tiny_manager, tiny_settings, spec.name)
        params = {"prompt": "a lighthouse", "width": 64, "height": 96, "steps": 3}
        (out,) = spec.call(spec.validate_params(params), {}, ctx)
    finally:
        sys.modules.pop(f"opendream_ext_{path.stem}", None)
    assert out.kind == "image" and out.image.size == (64, 96) and out.image.mode == "RGB"
    events = ctx.recorder.events
    assert [(step, total) for step, total, _ in events] == [(1, 3), (2, 3), (3, 3)]
    assert all(p is not None and p.mode == "RGB" for _, _, p in events), "a live preview every step"
