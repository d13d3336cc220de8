"""Every ``sh`` block of the README runs as written against a local stack.

The blocks run in README order, in a directory holding the files the README shows
(fenced blocks with ``file=<name>``). A block marked ``skip="reason"`` is not run
(``make dev`` itself, AWS). What is substituted, as a reader would:

- ``U…`` (or ``U1aa7…``): the user id the last command printed (``userId``);
- ``ID``: the broadcast id (``broadcast …``) or delivery id (``deliveries …``) printed
  last (also in ``broadcast:ID``); ``JOB_ID``: the import job id printed last;
  ``<token>``: an ID token the emulator mints for that user;
- the local URLs (``http://127.0.0.1:8080``, ``:8090``) and ports: this stack's;
- ``--at <time>``: tomorrow, if the README's time is no longer ahead (within a year).

``linecrm`` commands run in this process (``linecrm_local.cli.main``, split like a
shell would); other lines (curl, openssl) run in bash. Each must succeed (exit 0), and
a ``# 200`` / ``# 401`` at the end of a ``curl -i`` line is the status it must answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from linecrm_local import cli
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_USER_PLACEHOLDER = re.compile(r"U[0-9a-f]*…")
_LOCAL_GATEWAY = "http://127.0.0.1:8080"
_LOCAL_EMULATOR = "http://127.0.0.1:8090"
_EXPECTED_STATUS = re.compile(r"#\s*(\d{3})\s*$")
_LEARNED = {"userId": "user", "broadcast_id": "broadcast", "delivery_id": "delivery"}


@dataclass(frozen=True)
class Block:
    language: str
    attributes: dict[str, str]
    body: str
    line: int  # of the opening fence


def readme_blocks(text: str) -> list[Block]:
    blocks = []
    for match in _FENCE.finditer(text):
        attributes = dict(part.split("=", 1) for part in shlex.split(match.group(2)) if "=" in part)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(match.group(1), attributes, match.group(3), line))
    return blocks


def commands(block: Block) -> Iterator[tuple[int, str]]:
    """(README line, command line) for each line of the block, continuations joined."""
    pending = ""
    start = 0
    for offset, line in enumerate(block.body.splitlines(), start=block.line + 1):
        if not pending:
            start = offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full and not full.startswith("#"):
            yield start, full


@dataclass
class ReadmeSession:
    stack: LocalStack
    learned: dict[str, str] = field(default_factory=dict)
    shell_assignments: list[str] = field(default_factory=list)

    # ------------------------------------------------------------ linecrm
    def run_linecrm(self, where: int, command: str) -> None:
        argv = shlex.split(command, comments=True)
        assert argv[0] == ".venv/bin/linecrm", f"README line {where}: {command}"
        argv = self._substituted(argv[1:])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(argv)
        assert status == 0, (
            f"README line {where}: `linecrm {shlex.join(argv)}` exited {status}: {err.getvalue()}"
        )
        if argv[0] == "report" and not {"--json", "--csv"} & set(argv):
            assert out.getvalue().strip(), f"README line {where}: no report printed"
            return  # a table for the terminal (linecrm report), nothing to learn
        self._learn(json.loads(out.getvalue()))

    def _substituted(self, argv: list[str]) -> list[str]:
        result: list[str] = []
        for index, token in enumerate(argv):
            if _USER_PLACEHOLDER.fullmatch(token):
                token = self.learned["user"]
            elif token == "ID":
                token = self.learned["delivery" if argv[0] == "deliveries" else "broadcast"]
            elif token == "broadcast:ID":  # a broadcast's campaign key (linecrm report)
                token = f"broadcast:{self.learned['broadcast']}"
            elif token == "JOB_ID":
                token = self.learned["job"]
            elif index > 0 and argv[index - 1] == "--at":
                token = self._time_ahead(token)
            result.append(token)
        return result

    def _time_ahead(self, text: str) -> str:
        now = self.stack.clock.now()
        at = datetime.fromisoformat(text)
        if now + timedelta(minutes=5) < at < now + timedelta(days=365):
            return text
        return (now + timedelta(days=1)).isoformat()

    def _learn(self, output: Any) -> None:
        found: dict[str, str] = {}

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    name = _LEARNED.get(key) or ("job" if key == "job_id" else None)
                    if name and isinstance(item, str) and name not in found:
                        found[name] = item
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(output)
        self.learned.update(found)

    # ------------------------------------------------------------ shell
    def run_shell(self, where: int, command: str) -> None:
        line = command.replace(_LOCAL_GATEWAY, self.stack.gateway_url)
        line = line.replace(_LOCAL_EMULATOR, self.stack.emulator_url)
        if "user" in self.learned:
            line = _USER_PLACEHOLDER.sub(self.learned["user"], line)
        if "<token>" in line:
            token = self.stack.emulator.issue_id_token(DEMO_CHANNEL_ID, self.learned["user"])
            line = line.replace("<token>", token)
        if re.match(r"^\w+=", line):  # a variable the next lines use
            self.shell_assignments.append(line)
            return
        script = "\n".join([*self.shell_assignments, line])
        done = subprocess.run(
            ["/bin/bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"README line {where}: {command}\n{done.stderr}"
        expected = _EXPECTED_STATUS.search(command)
        if expected and " -i " in command:
            status_line = done.stdout.splitlines()[0]
            assert f" {expected.group(1)}" in status_line, (
                f"README line {where}: expected {expected.group(1)}, got {status_line!r}"
            )
        with contextlib.suppress(ValueError):
            self._learn(json.loads(done.stdout))


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=1, scheduler_tick_seconds=0.2) as local:
        yield local


def test_readme_blocks_are_found() -> None:
    """The parser sees the README's blocks (else the test below would pass vacuously)."""
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    runnable = [
        block for block in blocks if block.language == "sh" and "skip" not in block.attributes
    ]
    files = {block.attributes["file"] for block in blocks if "file" in block.attributes}
    assert len(runnable) >= 6
    assert {"rules.yaml", "sale.yaml", "policy.yaml", "friends.csv"} <= files
    assert sum(1 for block in runnable for _ in commands(block)) >= 30


def test_every_readme_command_runs_as_written(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    for block in blocks:
        if "file" in block.attributes:
            (tmp_path / block.attributes["file"]).write_text(block.body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINECRM_API_URL", stack.gateway_url)
    monkeypatch.setenv("LINECRM_EMULATOR_URL", stack.emulator_url)
    monkeypatch.setenv("LINECRM_CHANNEL_ID", DEMO_CHANNEL_ID)
    session = ReadmeSession(stack)
    for block in blocks:
        if block.language != "sh" or "skip" in block.attributes:
            continue
        session.shell_assignments = []
        for where, command in commands(block):
            if command.startswith(".venv/bin/linecrm"):
                for part in command.split(" ; "):
                    session.run_linecrm(where, part)
            else:
                session.run_shell(where, command)
