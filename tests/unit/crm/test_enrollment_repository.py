"""EnrollmentRepository on moto: a friend is in a scenario at most once at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.repositories.dynamo import from_item, to_item
from linecrm.repositories.enrollments import EnrollmentRepository
from linecrm.repositories.friends import friend_pk
from tests.unit.conftest import CHANNEL_ID, AwsWorld

USER = "U" + "a" * 32
OTHER_USER = "U" + "b" * 32
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)


@pytest.fixture
def enrollments(aws: AwsWorld) -> EnrollmentRepository:
    return EnrollmentRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def stored(aws: AwsWorld, scenario_id: str, user_id: str = USER) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(
        TableName=aws.resources.table_names["Main"],
        Key=to_item({"pk": friend_pk(CHANNEL_ID, user_id), "sk": f"SCENARIO#{scenario_id}"}),
    )
    item = response.get("Item")
    return from_item(item) if item else None


def test_start_twice_only_enrols_once(enrollments: EnrollmentRepository, aws: AwsWorld) -> None:
    assert enrollments.start(CHANNEL_ID, USER, "welcome", T0) is True
    assert enrollments.start(CHANNEL_ID, USER, "welcome", T1) is False
    item = stored(aws, "welcome")
    assert item is not None
    assert item["status"] == "active" and item["scenario_id"] == "welcome"
    assert item["started_at"].startswith("2026-11-23T03:00")  # the second start changed nothing


def test_stop_an_active_enrolment_once(enrollments: EnrollmentRepository, aws: AwsWorld) -> None:
    enrollments.start(CHANNEL_ID, USER, "welcome", T0)
    assert enrollments.stop(CHANNEL_ID, USER, "welcome", T1) is True
    assert enrollments.stop(CHANNEL_ID, USER, "welcome", T2) is False
    item = stored(aws, "welcome")
    assert item is not None
    assert item["status"] == "stopped" and item["stopped_at"].startswith("2026-11-24T03:00")


def test_stop_without_an_enrolment_is_false_and_writes_nothing(
    enrollments: EnrollmentRepository, aws: AwsWorld
) -> None:
    assert enrollments.stop(CHANNEL_ID, USER, "welcome", T0) is False
    assert stored(aws, "welcome") is None


def test_start_after_stop_enrols_again(enrollments: EnrollmentRepository, aws: AwsWorld) -> None:
    enrollments.start(CHANNEL_ID, USER, "welcome", T0)
    enrollments.stop(CHANNEL_ID, USER, "welcome", T1)
    assert enrollments.start(CHANNEL_ID, USER, "welcome", T2) is True
    item = stored(aws, "welcome")
    assert item is not None
    assert item["status"] == "active"
    assert item["started_at"].startswith("2026-11-25T03:00")
    assert "stopped_at" not in item
    assert enrollments.start(CHANNEL_ID, USER, "welcome", T2) is False
    assert enrollments.stop(CHANNEL_ID, USER, "welcome", T2) is True


def test_scenarios_and_friends_are_independent(
    enrollments: EnrollmentRepository, aws: AwsWorld
) -> None:
    assert enrollments.start(CHANNEL_ID, USER, "welcome", T0) is True
    assert enrollments.start(CHANNEL_ID, USER, "seminar", T0) is True
    assert enrollments.start(CHANNEL_ID, OTHER_USER, "welcome", T0) is True
    assert enrollments.stop(CHANNEL_ID, USER, "seminar", T1) is True
    assert stored(aws, "welcome")["status"] == "active"  # type: ignore[index]
    assert stored(aws, "welcome", OTHER_USER)["status"] == "active"  # type: ignore[index]
    assert enrollments.start(CHANNEL_ID, USER, "seminar", T2) is True
