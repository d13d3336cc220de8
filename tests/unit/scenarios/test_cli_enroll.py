"""``linecrm scenarios enroll|enrollment``: start the job (with an Idempotency-Key),
wait for it showing progress, the outcome, a failed job's exit status, and one-line
errors for a bad segment file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from linecrm_local import cli, cli_scenarios
from linecrm_local.admin_cli import AdminCliError, IncompleteResult


def job(status: str, walked: int, matched: int, enrolled: int, **extra: Any) -> dict[str, Any]:
    outcomes = {"enrolled": enrolled} if enrolled else {}
    return {
        "job_id": "j1",
        "scenario_id": "s",
        "status": status,
        "counts": {"walked": walked, "matched": matched, "outcomes": outcomes},
        **extra,
    }


class FakeClient:
    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, Any, bool]] = []

    def call(self, method: str, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        self.calls.append((method, path, body, idempotent))
        return self.answers.pop(0)


def args(*argv: str) -> Any:
    return cli.build_parser().parse_args(["scenarios", *argv])


@pytest.fixture
def segment(tmp_path: Path) -> Path:
    path = tmp_path / "segment.yaml"
    path.write_text("segment:\n  match: {tag: VIP}\n", encoding="utf-8")
    return path


def test_enroll_starts_the_job_once_and_waits_for_its_outcome(
    segment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = FakeClient(
        job("running", 0, 0, 0),
        job("running", 1000, 800, 800),
        job("running", 1000, 800, 800),
        job("done", 2500, 2100, 2000, steps=3)
        | {
            "counts": {
                "walked": 2500,
                "matched": 2100,
                "outcomes": {"enrolled": 2000, "re-entry is never": 100},
            }
        },
    )
    sleeps: list[float] = []
    outcome = cli_scenarios.run(
        args("enroll", "s", "--segment", str(segment)), client=client, sleep=sleeps.append
    )

    assert outcome == {
        "scenario_id": "s",
        "job_id": "j1",
        "status": "done",
        "walked": 2500,
        "matched": 2100,
        "outcomes": {"enrolled": 2000, "re-entry is never": 100},
    }
    assert client.calls[0] == (
        "POST",
        "/scenarios/s/enroll",
        {"segment": {"match": {"tag": "VIP"}}},
        True,  # the invocation's Idempotency-Key: a retried request starts one job
    )
    assert [call[:2] for call in client.calls[1:]] == [("GET", "/scenarios/s/enrollments/j1")] * 3
    assert len(sleeps) == 3
    # A line when the progress changes, not one per poll.
    assert capsys.readouterr().err.splitlines() == [
        "enrolment j1 running: 0 friends walked, 0 matched, 0 enrolled",
        "enrolment j1 running: 1,000 friends walked, 800 matched, 800 enrolled",
        "enrolment j1 done: 2,500 friends walked, 2,100 matched, 2,000 enrolled",
    ]


def test_no_wait_prints_the_job_and_enrollment_shows_it(segment: Path) -> None:
    started = job("running", 0, 0, 0)
    client = FakeClient(started, job("running", 1000, 10, 10))
    assert (
        cli_scenarios.run(
            args("enroll", "s", "--segment", str(segment), "--no-wait"), client=client
        )
        == started
    )
    shown = cli_scenarios.run(args("enrollment", "s", "j1"), client=client)
    assert shown == job("running", 1000, 10, 10)
    assert client.calls[1][:2] == ("GET", "/scenarios/s/enrollments/j1")


def test_a_failed_job_prints_what_it_did_and_exits_non_zero(segment: Path) -> None:
    failed = job("failed", 1000, 500, 500, reason="scenario s is paused: …")
    client = FakeClient(job("running", 0, 0, 0), failed)
    with pytest.raises(IncompleteResult) as raised:
        cli_scenarios.run(
            args("enroll", "s", "--segment", str(segment)), client=client, sleep=lambda _: None
        )
    assert str(raised.value) == "enrolment j1 failed: scenario s is paused: …"
    assert raised.value.result["outcomes"] == {"enrolled": 500}


def test_waiting_gives_up_after_the_timeout_and_says_how_to_look_later() -> None:
    client = FakeClient(job("running", 0, 0, 0))
    clock = iter([0.0, 5.0])
    with pytest.raises(AdminCliError, match="scenarios enrollment s j1"):
        cli_scenarios.wait_for_enrollment(
            client, job("running", 0, 0, 0), 2, sleep=lambda _: None, monotonic=lambda: next(clock)
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("match: [unclosed\n", "not valid YAML"),
        ("- match: {tag: VIP}\n", "expected a segment"),
    ],
)
def test_a_bad_segment_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "segment.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    # Nothing is called: the admin API's URL points nowhere.
    argv = ["--api-url", "http://127.0.0.1:9", "scenarios", "enroll", "s", "--segment", str(path)]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
