"""Idempotency-Key on the creating admin routes, through the admin function on moto."""

from __future__ import annotations

import json
from typing import Any

from linecrm.resources import JOB_QUEUE
from tests.unit.admin.conftest import AdminApi, assert_error

SALE = [{"type": "text", "text": "本日限定セール"}]


def queued_jobs(api: AdminApi) -> list[dict[str, Any]]:
    sqs = api.aws.client("sqs")
    url = api.aws.resources.queue_urls[JOB_QUEUE.logical_id]
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found.extend(json.loads(message["Body"]) for message in batch)
    return found


def broadcasts(api: AdminApi) -> list[str]:
    answer = api.call("GET", "/broadcasts")
    assert answer.status == 200, answer.body
    return [broadcast["broadcast_id"] for broadcast in answer.body["broadcasts"]]


def test_send_now_pressed_twice_with_one_key_is_one_broadcast(api: AdminApi) -> None:
    body = {"name": "sale", "messages": SALE}
    key = {"Idempotency-Key": "5f0c7f3e-2b1a-4c7d-9e8f-0a1b2c3d4e5f"}

    first = api.call("POST", "/broadcasts", body, headers=key)
    again = api.call(
        "POST", "/broadcasts", body, headers={"idempotency-key": key["Idempotency-Key"]}
    )

    assert first.status == again.status == 202, (first.body, again.body)
    assert again.body["broadcast_id"] == first.body["broadcast_id"]
    assert broadcasts(api) == [first.body["broadcast_id"]]
    assert [job["broadcast_id"] for job in queued_jobs(api)] == [first.body["broadcast_id"]]


def test_the_same_key_with_another_body_is_a_422_with_the_reason(api: AdminApi) -> None:
    key = {"Idempotency-Key": "order-42"}
    first = api.call("POST", "/broadcasts", {"name": "sale", "messages": SALE}, headers=key)
    assert first.status == 202, first.body

    other = api.call("POST", "/broadcasts", {"name": "other", "messages": SALE}, headers=key)

    assert_error(other, 422, "Idempotency-Key")
    assert "different request body" in other.body["message"]
    assert first.body["broadcast_id"] in other.body["message"]
    assert broadcasts(api) == [first.body["broadcast_id"]]
    # …and the key is bound to its route: it cannot start an import either.
    imports = api.call("POST", "/imports", {"kind": "followers"}, headers=key)
    assert_error(imports, 422, "Idempotency-Key")
    assert "POST /broadcasts" in imports.body["message"]


def test_without_a_key_each_request_creates_and_keys_are_per_request(api: AdminApi) -> None:
    body = {"name": "sale", "messages": SALE}
    assert api.call("POST", "/broadcasts", body).status == 202
    assert api.call("POST", "/broadcasts", body).status == 202
    assert api.call("POST", "/broadcasts", body, headers={"Idempotency-Key": "a"}).status == 202
    assert api.call("POST", "/broadcasts", body, headers={"Idempotency-Key": "b"}).status == 202
    assert len(broadcasts(api)) == 4
    assert len(queued_jobs(api)) == 4


def test_a_malformed_key_is_refused(api: AdminApi) -> None:
    body = {"name": "sale", "messages": SALE}
    for bad in ("with space", "x" * 256, "キー"):
        answer = api.call("POST", "/broadcasts", body, headers={"Idempotency-Key": bad})
        assert answer.status == 422, (bad, answer.body)
    assert broadcasts(api) == []


def test_a_refused_request_does_not_use_up_its_key(api: AdminApi) -> None:
    key = {"Idempotency-Key": "fix-and-retry"}
    bad = api.call(
        "POST", "/broadcasts", {"name": "sale", "messages": [{"type": "nope"}]}, headers=key
    )
    assert_error(bad, 422, "messages")

    good = api.call("POST", "/broadcasts", {"name": "sale", "messages": SALE}, headers=key)
    assert good.status == 202, good.body


def test_an_import_with_one_key_twice_is_one_job(api: AdminApi) -> None:
    key = {"Idempotency-Key": "import-1"}
    first = api.call("POST", "/imports", {"kind": "followers"}, headers=key)
    # Without the key this would be a 409 (a followers import is running): with it, the
    # retry is answered with the job it started.
    again = api.call("POST", "/imports", {"kind": "followers"}, headers=key)

    assert first.status == again.status == 202, (first.body, again.body)
    assert again.body["job_id"] == first.body["job_id"]
    assert [job["job_id"] for job in queued_jobs(api)] == [first.body["job_id"]]
    assert_error(api.call("POST", "/imports", {"kind": "followers"}), 409)


def test_an_inline_csv_with_one_key_twice_is_one_job(api: AdminApi) -> None:
    key = {"Idempotency-Key": "csv-1", "content-type": "text/csv"}
    csv = f"user_id\r\nU{1:032x}\r\n"
    first = api.call("POST", "/imports/csv", raw_body=csv, headers=key)
    again = api.call("POST", "/imports/csv", raw_body=csv, headers=key)
    other = api.call("POST", "/imports/csv", raw_body=csv + f"U{2:032x}\r\n", headers=key)

    assert first.status == again.status == 202, (first.body, again.body)
    assert again.body["job_id"] == first.body["job_id"]
    assert_error(other, 422, "Idempotency-Key")
    assert len(queued_jobs(api)) == 1
