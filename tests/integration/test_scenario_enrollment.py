"""Enrolling a segment bigger than one request could (2,100 of 2,500 friends) through
the local stack: ``linecrm scenarios enroll`` → admin API (202, a job) → job queue →
jobs function, a page of 1,000 friends per step → every matched friend enrolled once,
the job's counts and the scenario's counters right. Every AWS call is checked against
the function's role in the CDK template (tests/support/grants.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm import resources
from linecrm.config.admin import AdminSettings
from linecrm.resources import MAIN_TABLE, Env
from linecrm.wiring import Container
from linecrm_local import cli
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack

# The waits have deadlines of their own; pytest's 300 s only on a very busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
MEMBERS = 2_100  # above the 2,000 one request used to enrol at most
OTHERS = 400
SCENARIO = {
    "name": "大口セグメント",
    "re_entry": "never",
    # A day later: nothing is sent while the test runs (the bucket's schedule is made).
    "steps": [
        {"id": "day1", "timing": {"after": "1d"}, "messages": [{"type": "text", "text": "!"}]}
    ],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Visibility: longer than a step takes on a busy machine (as on AWS, 6 x the
    # function's timeout). One page (1,000 friends) per step: the job takes 3 steps.
    with LocalStack(
        visibility_timeout_seconds=60,
        poll_interval_seconds=0.02,
        scheduler_tick_seconds=3600,
        settings={Env.IMPORT_CHUNKS_PER_STEP: "1"},
    ) as local:
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=120
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json()


def linecrm(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str, status: int = 0
) -> tuple[Any, str]:
    """Run the CLI in this process against the stack: its JSON output, and stderr."""
    capsys.readouterr()
    exited = cli.main(["--api-url", stack.gateway_url, *args])
    captured = capsys.readouterr()
    assert exited == status, captured.err
    return (json.loads(captured.out) if captured.out else None), captured.err


def test_a_segment_of_2100_friends_is_enrolled_once_each_by_a_job(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    container = Container(
        AdminSettings.from_env(stack.functions.environment(resources.ADMIN_FUNCTION.name)),
        clock=stack.clock.now,
    )
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    tag = admin(stack, "POST", "/tags", {"name": "大口"})["tag_id"]
    members = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, MEMBERS, tag_ids=(tag,))
    others = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, OTHERS)
    walked = MEMBERS + OTHERS  # the module's stack has no other friend rows
    admin(stack, "PUT", "/scenarios/big", SCENARIO)
    segment = tmp_path / "segment.yaml"
    segment.write_text("segment:\n  match: {tag: 大口}\n", encoding="utf-8")

    started, _ = linecrm(
        stack, capsys, "scenarios", "enroll", "big", "--segment", str(segment), "--no-wait"
    )
    assert (started["status"], started["counts"]["walked"]) == ("running", 0)
    outcome, progress = linecrm(
        stack, capsys, "scenarios", "enrollment", "big", started["job_id"], "--wait"
    )

    assert outcome["status"] == "done", progress
    assert (outcome["walked"], outcome["matched"]) == (walked, MEMBERS)
    assert outcome["outcomes"] == {"enrolled": MEMBERS}
    lines = progress.splitlines()
    assert lines[-1].startswith(f"enrolment {started['job_id']} done: {walked:,} friends walked")
    job, _ = linecrm(stack, capsys, "scenarios", "enrollment", "big", started["job_id"])
    assert job["status"] == "done" and job["steps"] >= 3  # a page of 1,000 per step
    assert job["counts"] == {
        "walked": walked,
        "matched": MEMBERS,
        "outcomes": {"enrolled": MEMBERS},
    }

    enrolled = container.enrollments.get_many(DEMO_CHANNEL_ID, "big", members + others)
    assert sorted(enrolled) == sorted(members)
    assert {(e.status, e.entries, e.step_id) for e in enrolled.values()} == {("active", 1, "day1")}
    counters = admin(stack, "GET", "/scenarios/big")["counters"]["day1"]
    assert counters["enrolled"] == MEMBERS and counters["due"] == MEMBERS
    assert stack.functions.error_count("jobs") == 0
    assert stack.gateway.internal_errors == 0


def test_cli_errors_are_one_line(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    segment = tmp_path / "segment.yaml"
    segment.write_text("match: {status: active}\n", encoding="utf-8")
    _, error = linecrm(
        stack, capsys, "scenarios", "enroll", "nope", "--segment", str(segment), status=2
    )
    assert error.strip() == "linecrm: admin API answered 404: no scenario 'nope'"
    _, error = linecrm(
        stack, capsys, "scenarios", "enrollment", "big", "20261201T000000-00000000", status=2
    )
    assert error.startswith(
        "linecrm: admin API answered 404: no enrolment job 20261201T000000-00000000"
    )
    assert len(error.strip().splitlines()) == 1
