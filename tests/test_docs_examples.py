"""Every workflow and every command the docs show is executed, so the docs cannot drift.

- A fenced ``json`` block is a workflow (Opendream's or the original's): written to a file and
  replayed with ``opendream run`` on the tiny models; no layer may fail.
- A fenced ``sh`` block line, and an inline code span starting with ``opendream ``, is a
  command. A synopsis (``[--flag]``, ``UPPERCASE`` placeholders) must name only options the
  CLI has; any other ``opendream`` command runs as written (``serve`` until it answers
  ``/api/health``) in a folder holding the files the docs name (``cat.json`` ...).
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
from opendream.core.workflow import detect_format, embed_workflow_png
from tests.diffusion_fixtures import pinned_threads, tiny_dir

__all__ = ["pinned_threads", "tiny_dir"]
ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"^<!-- docs-test: not run \((?P<why>[^)]+)\) -->$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>\w*)\s*$")
INLINE_COMMAND = re.compile(r"`(opendream [^`]+)`")
SHELL = {"sh", "bash", "shell", "console"}
MAX_NOT_RUN = 4


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    kind: str  # "workflow" | "command"
    text: str
    not_run: str | None = None

    def __str__(self) -> str:
        return self.where


def _blocks(path: Path) -> list[tuple[int, str, str, str | None]]:
    """(line, info, body, not-run reason) of every fenced block."""
    lines = path.read_text("utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        marker = NOT_RUN.match(lines[index - 1].strip()) if index else None
        body = "\n".join(line[len(match["indent"]) :] for line in lines[index + 1 : end])
        blocks.append((index + 1, match["info"], body, marker["why"] if marker else None))
        index = end + 1
    return blocks


def collect() -> list[Example]:
    examples = []
    for path in DOCS:
        name = path.relative_to(ROOT)
        text = path.read_text("utf-8")
        for line, info, body, why in _blocks(path):
            where = f"{name}:{line}"
            if info == "json":
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


def test_examples_are_found_and_few_are_not_run() -> None:
    assert len(WORKFLOWS) >= 2 and len(COMMANDS) >= 5
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
