"""Enrolling a segment through the admin function on moto: 202 and a job on the job
queue, its progress by id, the 4xx answers, and Idempotency-Key."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.admin.conftest import AdminApi, assert_error, user
from tests.unit.admin.test_admin_idempotency import queued_jobs

SCENARIO = {
    "name": "手動",
    "steps": [
        {"id": "hello", "timing": {"after": "1d"}, "messages": [{"type": "text", "text": "!"}]}
    ],
}
EVERYONE = {"segment": {"match": {"status": "active"}}}


@pytest.fixture
def scenario(api: AdminApi) -> AdminApi:
    answer = api.call("PUT", "/scenarios/manual", SCENARIO)
    assert answer.status == 200, answer.body
    api.follow(user(1), user(2))
    return api


def test_enrolling_answers_202_with_the_job_and_queues_its_first_step(scenario: AdminApi) -> None:
    answer = scenario.call("POST", "/scenarios/manual/enroll", EVERYONE)

    assert answer.status == 202, answer.body
    job: dict[str, Any] = answer.body
    assert (job["scenario_id"], job["status"], job["steps"]) == ("manual", "running", 0)
    assert job["counts"] == {"walked": 0, "matched": 0, "outcomes": {}}
    assert "lease_token" not in job
    assert queued_jobs(scenario) == [
        {
            "kind": "scenario_enroll",
            "channel_id": scenario.channel_id,
            "scenario_id": "manual",
            "job_id": job["job_id"],
        }
    ]
    shown = scenario.call("GET", f"/scenarios/manual/enrollments/{job['job_id']}")
    assert shown.status == 200 and shown.body == job


def test_unknown_scenarios_and_jobs_are_404s_with_the_reason(scenario: AdminApi) -> None:
    missing = scenario.call("POST", "/scenarios/nope/enroll", EVERYONE)
    assert_error(missing, 404)
    assert "no scenario 'nope'" in missing.body["message"]

    unknown = scenario.call("GET", "/scenarios/manual/enrollments/20261201T000000-0000")
    assert_error(unknown, 404)
    assert unknown.body["message"].startswith(
        "no enrolment job 20261201T000000-0000 for scenario 'manual'"
    )
    job = scenario.call("POST", "/scenarios/manual/enroll", EVERYONE).body
    # A job belongs to its scenario.
    scenario.call("PUT", "/scenarios/other", SCENARIO)
    assert_error(scenario.call("GET", f"/scenarios/other/enrollments/{job['job_id']}"), 404)


def test_a_bad_segment_is_a_422_and_a_paused_scenario_a_409_and_no_job_is_queued(
    scenario: AdminApi,
) -> None:
    bad = scenario.call("POST", "/scenarios/manual/enroll", {"segment": {"match": {"tag": "x"}}})
    assert_error(bad, 422)
    assert bad.body["field"].startswith("segment.match")
    assert_error(scenario.call("POST", "/scenarios/manual/enroll", {"segment": [1]}), 422)

    assert scenario.call("POST", "/scenarios/manual/pause").status == 200
    paused = scenario.call("POST", "/scenarios/manual/enroll", EVERYONE)
    assert_error(paused, 409)
    assert paused.body["message"] == (
        "scenario manual is paused: only an active scenario enrols (resume it first)"
    )
    assert queued_jobs(scenario) == []


def test_the_same_idempotency_key_gets_the_same_job_and_one_step(scenario: AdminApi) -> None:
    key = {"Idempotency-Key": "enrol-everyone-1"}
    first = scenario.call("POST", "/scenarios/manual/enroll", EVERYONE, headers=key)
    again = scenario.call("POST", "/scenarios/manual/enroll", EVERYONE, headers=key)

    assert first.status == again.status == 202, (first.body, again.body)
    assert again.body["job_id"] == first.body["job_id"]
    assert [step["job_id"] for step in queued_jobs(scenario)] == [first.body["job_id"]]
    # The key is bound to the request: another segment, or another scenario, is a 422.
    other = {"segment": {"match": {"status": "blocked"}}}
    reused = scenario.call("POST", "/scenarios/manual/enroll", other, headers=key)
    assert_error(reused, 422, "Idempotency-Key")
    scenario.call("PUT", "/scenarios/other", SCENARIO)
    elsewhere = scenario.call("POST", "/scenarios/other/enroll", EVERYONE, headers=key)
    assert_error(elsewhere, 422, "Idempotency-Key")
