"""Import jobs on moto: real repositories, a fake followers source, a movable clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.imports.runner import FollowersSource, ImportRunner
from linecrm.imports.service import ImportService
from linecrm.imports.storage import UploadStore
from linecrm.jobs import JobStepQueue, StepBudget
from linecrm.line.client import FollowersPage
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.erasures import ErasureRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.imports import ImportJobRepository
from linecrm.resources import JOB_QUEUE, UPLOADS_BUCKET
from tests.unit.conftest import CHANNEL_ID, AwsWorld

START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def user(number: int) -> str:
    return f"U{number:032x}"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class FakeFollowers:
    """LINE's followers ids: pages of ``limit`` with an opaque ``next`` token."""

    user_ids: list[str]
    calls: list[tuple[str | None, int]] = field(default_factory=list)
    fail_with: Exception | None = None

    def followers_ids(self, start: str | None = None, limit: int = 1000) -> FollowersPage:
        self.calls.append((start, limit))
        if self.fail_with is not None:
            raise self.fail_with
        offset = int(start.removeprefix("tok-")) if start else 0
        page = self.user_ids[offset : offset + limit]
        more = offset + limit < len(self.user_ids)
        return FollowersPage(page, f"tok-{offset + limit}" if more else None)


def unlimited() -> int:
    return 60_000


@dataclass
class ImportWorld:
    aws: AwsWorld
    clock: Clock
    followers: FakeFollowers

    @property
    def table(self) -> str:
        return self.aws.resources.table_names["Main"]

    @property
    def jobs(self) -> ImportJobRepository:
        return ImportJobRepository(self.aws.client("dynamodb"), self.table)

    @property
    def friends(self) -> FriendRepository:
        return FriendRepository(self.aws.client("dynamodb"), self.table)

    @property
    def config(self) -> ChannelConfigRepository:
        return ChannelConfigRepository(self.aws.client("dynamodb"), self.table)

    @property
    def uploads(self) -> UploadStore:
        bucket = self.aws.resources.bucket_names[UPLOADS_BUCKET.logical_id]
        return UploadStore(self.aws.client("s3"), bucket)

    @property
    def queue_url(self) -> str:
        return self.aws.resources.queue_urls[JOB_QUEUE.logical_id]

    def service(self) -> ImportService:
        queue = JobStepQueue(self.aws.client("sqs"), self.queue_url)
        return ImportService(
            self.jobs, self.config, lambda: self.uploads, lambda: queue, self.clock
        )

    def runner(self, *, page_size: int = 50, friends: Any = None) -> ImportRunner:
        return ImportRunner(
            self.jobs,
            friends or self.friends,
            self.config,
            followers=lambda channel_id: self.source(channel_id),
            read_upload=self.uploads.read,
            clock=self.clock,
            erasures=ErasureRepository(self.aws.client("dynamodb"), self.table),
            page_size=page_size,
        )

    def source(self, channel_id: str) -> FollowersSource:
        assert channel_id == CHANNEL_ID
        return self.followers

    def queued_steps(self) -> list[dict[str, Any]]:
        sqs = self.aws.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def friend_count(self) -> int:
        items = self.aws.main_items()
        return sum(1 for item in items if item["sk"]["S"] == "PROFILE")


def budget(max_chunks: int | None = None, remaining: Callable[[], int] = unlimited) -> StepBudget:
    return StepBudget(remaining, max_chunks=max_chunks)


@pytest.fixture
def world(aws: AwsWorld) -> ImportWorld:
    return ImportWorld(aws, Clock(), FakeFollowers([user(n) for n in range(1, 121)]))
