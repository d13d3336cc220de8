"""Importing existing friends through the local stack: the admin API starts a job, the
SQS poller drives the jobs function step by step, progress shows on the admin API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm.repositories.friends import friends_list
from linecrm.repositories.sharding import all_shard_keys
from linecrm.resources import MAIN_TABLE, Env
from linecrm_local import cli
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

# The waits have deadlines of their own (DEADLINE); pytest's 300 s would cut them short
# on a machine far busier than its cores.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FOLLOWERS = 1_200
PAGE_SIZE = 300  # LINE allows 1,000; smaller pages make the job take several steps
HEADERS = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
DEADLINE = 600  # seconds: generous, a busy machine is slow; the tests wait for events
READ = (10, 120)  # connect, read timeouts of admin requests


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Visibility: longer than a step takes on a busy machine (as on AWS, 6 x the
    # function's timeout); shorter, SQS hands a running step's message to a second
    # consumer, which finds the job busy, and the message can run out of receives.
    # The jobs function's settings: one LINE page per step.
    with LocalStack(
        visibility_timeout_seconds=60,
        poll_interval_seconds=0.02,
        scheduler_tick_seconds=3600,
        settings={Env.IMPORT_PAGE_SIZE: str(PAGE_SIZE), Env.IMPORT_CHUNKS_PER_STEP: "1"},
    ) as local:
        yield local


def admin_url(stack: LocalStack, path: str) -> str:
    return f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}{path}"


def start(stack: LocalStack, path: str, **kwargs: Any) -> dict[str, Any]:
    response = requests.post(admin_url(stack, path), headers=HEADERS, timeout=READ, **kwargs)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def wait_until_finished(
    stack: LocalStack, job_id: str, timeout: float = DEADLINE
) -> tuple[dict[str, Any], list[int]]:
    """The finished job, and the rows_seen values seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(
            admin_url(stack, f"/imports/{job_id}"), headers=HEADERS, timeout=READ
        )
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        seen.append(job["counters"]["rows_seen"])
        if job["status"] in ("done", "failed"):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def friend_rows(stack: LocalStack) -> int:
    dynamodb = stack.aws.session().client("dynamodb")
    count = 0
    for shard_key in all_shard_keys(friends_list(DEMO_CHANNEL_ID)):
        request: dict[str, Any] = {
            "TableName": stack.resources.table_names[MAIN_TABLE.logical_id],
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :list",
            "ExpressionAttributeValues": {":list": {"S": shard_key}},
            "Select": "COUNT",
        }
        while True:
            page = dynamodb.query(**request)
            count += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return count


def test_followers_import_takes_several_steps_and_creates_every_friend(
    stack: LocalStack,
) -> None:
    for number in range(FOLLOWERS):
        stack.emulator.add_friend(DEMO_CHANNEL_ID, user_id=f"U{number:032x}")
    followers = len(stack.emulator.state.following_friends(DEMO_CHANNEL_ID))
    before = friend_rows(stack)

    job = start(stack, "/imports", json={"kind": "followers"})
    done, seen = wait_until_finished(stack, job["job_id"])

    assert done["status"] == "done", done
    assert done["counters"]["rows_seen"] == followers
    assert done["counters"]["friends_created"] + done["counters"]["friends_updated"] == followers
    assert done["steps"] >= FOLLOWERS // PAGE_SIZE  # one LINE page per step
    assert any(0 < rows < followers for rows in seen), seen  # progress was visible
    assert friend_rows(stack) == before + done["counters"]["friends_created"]
    assert friend_rows(stack) >= FOLLOWERS
    assert len(stack.emulator.calls("followers_ids")) >= FOLLOWERS // PAGE_SIZE
    assert stack.gateway.internal_errors == 0
    assert stack.functions.error_count("jobs") == 0

    listing = requests.get(admin_url(stack, "/imports"), headers=HEADERS, timeout=READ).json()
    assert listing["jobs"][0]["job_id"] == job["job_id"]


def test_csv_import_tags_existing_friends(stack: LocalStack, tmp_path: Path) -> None:
    response = requests.post(
        admin_url(stack, "/tags"), headers=HEADERS, json={"name": "セミナー参加"}, timeout=READ
    )
    assert response.status_code == 201, response.text
    tag_id = response.json()["tag_id"]
    users = [f"U{number:032x}" for number in (1, 2, 3)]
    rows = [f"{user_id},セミナー参加" for user_id in users] + [f"U{'f' * 32},未知のタグ"]
    path = tmp_path / "seminar.csv"
    path.write_bytes(("user_id,tags\r\n" + "\r\n".join(rows) + "\r\n").encode("cp932"))

    status = cli.main(
        [
            "--api-url",
            stack.gateway_url,
            "--channel",
            DEMO_CHANNEL_ID,
            "import",
            "csv",
            str(path),
            "--wait",
        ]
    )

    assert status == 0
    jobs = requests.get(admin_url(stack, "/imports"), headers=HEADERS, timeout=READ).json()["jobs"]
    done = jobs[0]
    assert done["kind"] == "csv" and done["status"] == "done" and done["encoding"] == "cp932"
    assert done["counters"]["rows_seen"] == 4
    assert done["counters"]["rows_rejected"] == 1
    assert done["rejections"][0]["row"] == 5
    for user_id in users:
        friend = requests.get(
            admin_url(stack, f"/friends/{user_id}"), headers=HEADERS, timeout=READ
        ).json()
        assert tag_id in {tag["tag_id"] for tag in friend["tags"]}, friend
    assert stack.gateway.internal_errors == 0
