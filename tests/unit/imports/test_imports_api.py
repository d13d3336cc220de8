"""The admin API's import routes and the jobs function, on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from linecrm.imports.csv_format import MAX_INLINE_CSV_BYTES
from linecrm.resources import JOB_QUEUE
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID
from tests.unit.imports.conftest import ImportWorld, user

BASE = f"/admin/channels/{CHANNEL_ID}"


def call(
    handler: Any,
    method: str,
    path: str,
    body: bytes | str | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    full = BASE + path
    event = http_event(
        method,
        full,
        route="/admin/{proxy+}",
        body=body,
        headers={"content-type": content_type} if body is not None else {},
        path_parameters={"proxy": full.split("?", 1)[0].removeprefix("/admin/")},
    )
    response = handler.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response)


@pytest.fixture
def admin(world: ImportWorld) -> Any:
    return load_handler("admin")


def test_followers_import_is_accepted_once_at_a_time(world: ImportWorld, admin: Any) -> None:
    status, job = call(admin, "POST", "/imports", json.dumps({"kind": "followers"}))
    assert status == 202, job
    assert job["status"] == "pending" and job["kind"] == "followers"
    assert "lease_token" not in job
    assert world.queued_steps() == [
        {"kind": "import_step", "channel_id": CHANNEL_ID, "job_id": job["job_id"]}
    ]

    status, body = call(admin, "POST", "/imports", json.dumps({"kind": "followers"}))
    assert status == 409, body
    assert job["job_id"] in body["message"]


def test_csv_in_the_body_is_stored_and_queued(world: ImportWorld, admin: Any) -> None:
    csv = f"user_id,tags,メモ\r\n{user(1)},,初回\r\n".encode("cp932")
    status, job = call(admin, "POST", "/imports/csv", csv, "text/csv")  # base64: not UTF-8
    assert status == 202, job
    assert job["rows_total"] == 1 and job["encoding"] == "cp932"
    assert job["ignored_columns"] == ["メモ"]
    assert world.uploads.read(job["source_key"]) == csv
    assert len(world.queued_steps()) == 1

    status, listing = call(admin, "GET", "/imports")
    assert status == 200 and [j["job_id"] for j in listing["jobs"]] == [job["job_id"]]
    status, progress = call(admin, "GET", f"/imports/{job['job_id']}")
    assert status == 200 and progress["counters"]["rows_seen"] == 0


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"name\nHanako\n", 422, "no 'user_id' column"),
        (b"user_id,field.nickname\nU1,x\n", 422, "no custom field 'nickname'"),
        (b"user_id\n" + b"U" * MAX_INLINE_CSV_BYTES, 413, "csv/uploads"),
    ],
)
def test_bad_csv_is_refused_with_the_reason(
    world: ImportWorld, admin: Any, body: bytes, status: int, message: str
) -> None:
    answer, error = call(admin, "POST", "/imports/csv", body, "text/csv")
    assert answer == status, error
    assert message in error["message"]
    assert world.queued_steps() == []


def test_start_request_validation_and_unknown_jobs(world: ImportWorld, admin: Any) -> None:
    status, error = call(admin, "POST", "/imports", json.dumps({"kind": "csv"}))
    assert status == 422 and "upload_id" in error["message"]
    status, error = call(admin, "POST", "/imports", json.dumps({"kind": "everything"}))
    assert status == 422
    status, error = call(
        admin, "POST", "/imports", json.dumps({"kind": "csv", "upload_id": "abc123"})
    )
    assert status == 422 and "nothing was uploaded" in error["message"]
    status, error = call(admin, "GET", "/imports/20260101T000000-00000000")
    assert status == 404


def test_large_csv_goes_through_a_presigned_upload(world: ImportWorld, admin: Any) -> None:
    status, form = call(admin, "POST", "/imports/csv/uploads")
    assert status == 201, form
    assert form["fields"]["key"] == f"imports/{CHANNEL_ID}/{form['upload_id']}.csv"
    assert "policy" in form["fields"]
    # What the S3 POST would store (moto in-process does not serve the form upload).
    world.uploads.put(form["fields"]["key"], f"user_id\n{user(1)}\n{user(2)}\n".encode())
    body = {"kind": "csv", "upload_id": form["upload_id"], "create_missing_tags": True}
    status, job = call(admin, "POST", "/imports", json.dumps(body))
    assert status == 202, job
    assert job["rows_total"] == 2 and job["options"] == {"create_missing_tags": True}


# ---------------------------------------------------------------- the jobs function
def sqs_event(world: ImportWorld, body: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "rh-1",
                "body": body,
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:ap-northeast-1:123456789012:{JOB_QUEUE.local_name}",
                "awsRegion": "ap-northeast-1",
            }
        ]
    }


def test_the_jobs_function_runs_a_step_and_queues_the_next(
    world: ImportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINECRM_IMPORT_CHUNKS_PER_STEP", "1")
    monkeypatch.setenv("LINECRM_IMPORT_PAGE_SIZE", "2")
    lines = "\n".join(user(n) for n in range(1, 4))
    job = world.service().start_csv(CHANNEL_ID, f"user_id\n{lines}\n".encode())
    (step,) = world.queued_steps()
    jobs = load_handler("jobs")

    context = FakeLambdaContext(timeout_ms=120_000)
    result = jobs.lambda_handler(sqs_event(world, json.dumps(step)), context)
    assert result == {"batchItemFailures": []}
    assert world.queued_steps() == [step]  # one chunk done, the next step queued

    result = jobs.lambda_handler(sqs_event(world, json.dumps(step)), context)
    assert world.queued_steps() == []
    done = world.jobs.get(CHANNEL_ID, job.job_id)
    assert done is not None and done.status == "done" and done.counters.rows_seen == 3


def test_the_jobs_function_dead_letters_poison_and_fails_the_job_on_the_last_try(
    world: ImportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINECRM_LINE_API_BASE_URL", "http://127.0.0.1:9")  # nobody there
    jobs = load_handler("jobs")
    result = jobs.lambda_handler(sqs_event(world, "not json"), FakeLambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}

    job = world.service().start_followers(CHANNEL_ID)
    step = json.dumps({"kind": "import_step", "channel_id": CHANNEL_ID, "job_id": job.job_id})
    last = sqs_event(world, step, receive_count=JOB_QUEUE.max_receive_count)
    result = jobs.lambda_handler(last, FakeLambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    failed = world.jobs.get(CHANNEL_ID, job.job_id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "gave up after 5 tries" in failed.error
