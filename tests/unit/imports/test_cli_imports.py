"""``linecrm import``: argument parsing, waiting for a job, and its progress lines."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm_local import cli
from linecrm_local.admin_cli import AdminCliError
from linecrm_local.cli_imports import progress_line, wait_for


def job(status: str, rows_seen: int, **extra: Any) -> dict[str, Any]:
    counters = {
        "rows_seen": rows_seen,
        "friends_created": rows_seen,
        "friends_updated": 0,
        "rows_rejected": 0,
    }
    return {"job_id": "j1", "kind": "csv", "status": status, "counters": counters, **extra}


class FakeClient:
    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.paths: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.paths.append(f"{method} {path}")
        return self.answers.pop(0)


def test_wait_polls_until_done_and_shows_progress(capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient(job("running", 500, rows_total=900), job("done", 900, rows_total=900))
    sleeps: list[float] = []
    done = wait_for(client, job("pending", 0, rows_total=900), sleep=sleeps.append)  # type: ignore[arg-type]
    assert done["status"] == "done"
    assert client.paths == ["GET /imports/j1", "GET /imports/j1"]
    assert len(sleeps) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == "j1 csv running: 500/900 rows, 500 new, 0 known, 0 rejected"


def test_a_failed_job_is_an_error_with_its_reason() -> None:
    client = FakeClient(job("failed", 0, error="LineRequestRejected: LINE answered 403"))
    with pytest.raises(AdminCliError, match="403"):
        wait_for(client, job("running", 0), sleep=lambda _: None)  # type: ignore[arg-type]


def test_parser_knows_the_import_commands() -> None:
    args = cli.build_parser().parse_args(["import", "csv", "f.csv", "--create-missing-tags"])
    assert (args.command, args.action, args.create_missing_tags) == ("import", "csv", True)
    args = cli.build_parser().parse_args(["import", "status", "j1", "--wait"])
    assert (args.job_id, args.wait) == ("j1", True)
    assert progress_line(job("done", 3)) == "j1 csv done: 3 rows, 3 new, 0 known, 0 rejected"


def test_a_missing_file_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "csv", "/nonexistent/friends.csv"]) == 2
    assert "cannot read /nonexistent/friends.csv" in capsys.readouterr().err
