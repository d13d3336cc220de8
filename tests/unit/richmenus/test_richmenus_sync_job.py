"""The sync job's steps on moto with a fake LINE: publish → relink (a page per step,
the next step queued) → retire; a superseded version stops at once; a failure is kept
with its reason; a re-run of a finished job does nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from linecrm.delivery.pacing import Pacer
from linecrm.imports.storage import UploadStore
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.rich_menus import RichMenuRepository
from linecrm.richmenus.assignment import applied_assignment
from linecrm.richmenus.jobs import RichMenuSyncRunner
from linecrm.richmenus.service import ApplyRequest, RichMenuService
from linecrm.richmenus.sync import Relinker
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.richmenus.test_richmenus_sync import FakeLine

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AREA = {
    "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
    "label": "ショップ",
    "action": {"type": "uri", "uri": "https://shop.example/"},
}


class Steps:
    def __init__(self) -> None:
        self.sent: list[BaseModel] = []

    def send_step(self, step: BaseModel, delay_seconds: int = 0) -> None:
        self.sent.append(step)


def _request(rule: dict[str, Any]) -> ApplyRequest:
    return ApplyRequest(
        menus=[
            {"id": "main", "name": "メイン", "size": "compact", "areas": [AREA]},
            {"id": "vip", "name": "VIP", "size": "compact", "areas": [AREA]},
        ],
        default="main",
        rules=[{"menu": "vip", "segment": {"match": rule}}],
    )


def _world(aws: AwsWorld) -> tuple[RichMenuService, RichMenuSyncRunner, FakeLine, Steps, Any]:
    dynamodb, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    repository = RichMenuRepository(dynamodb, table)
    config = ChannelConfigRepository(dynamodb, table)
    uploads = UploadStore(aws.client("s3"), aws.resources.bucket_names["Uploads"])
    friends = FriendRepository(dynamodb, table)
    line, steps = FakeLine(), Steps()
    service = RichMenuService(repository, config.load, lambda: uploads, lambda: steps, lambda: AT)
    runner = RichMenuSyncRunner(
        repository,
        config.load,
        config,
        uploads.read,
        lambda _c: line,
        Relinker(
            friends, lambda _c: line, Pacer(1, sleep=lambda _s: None), lambda: AT, lambda: Repairs()
        ),
        lambda: steps,
        page_size=2,
    )
    for n in range(3):
        friends.record_follow(CHANNEL_ID, f"U{n:032x}", AT)
    return service, runner, line, steps, (repository, config)


class Repairs:
    def __init__(self) -> None:
        self.tasks: list[Any] = []

    def enqueue_task(self, task: Any) -> None:
        self.tasks.append(task)


def _budget() -> StepBudget:
    return StepBudget(lambda: 900_000, max_chunks=1)


def test_publish_relink_a_page_per_step_then_retire(aws: AwsWorld) -> None:
    service, runner, line, steps, (repository, config) = _world(aws)
    service.apply(CHANNEL_ID, _request({"status": "active"}), dry_run=False)
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.CONTINUE
    assert [c[0] for c in line.calls][:7] == ["create", "upload", "alias"] * 2 + ["default"]
    assert len(steps.sent) == 2  # the apply's first step, and the next page's
    assigned = applied_assignment(config.load(CHANNEL_ID))
    assert assigned is not None and assigned.version == 1
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.DONE
    stored = repository.load(CHANNEL_ID)
    assert stored is not None and stored.status == "ready" and stored.progress.phase == "done"
    assert stored.progress.counts == {"linked": 3, "bulk_calls": 2}
    line.calls.clear()
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.FINISHED
    assert line.calls == []

    # A changed vip menu: one new LINE menu; the old one is deleted after relinking.
    old_vip = stored.line["vip"].rich_menu_id
    changed = _request({"status": "active"})
    changed.menus[1]["name"] = "VIP会員"
    service.apply(CHANNEL_ID, changed, dry_run=False)
    while runner.run_step(CHANNEL_ID, 2, _budget()) is StepOutcome.CONTINUE:
        pass
    kinds = [c[0] for c in line.calls]
    assert kinds.count("create") == 1 and kinds.count("bulk_link") == 2
    assert kinds[-1] == "delete" and line.calls[-1] == ("delete", old_vip)


def test_a_superseded_version_stops_and_a_failure_keeps_its_reason(aws: AwsWorld) -> None:
    service, runner, line, _steps, _repositories = _world(aws)
    service.apply(CHANNEL_ID, _request({"status": "active"}), dry_run=False)
    service.apply(CHANNEL_ID, _request({"status": "blocked"}), dry_run=False)
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.LOST_RACE
    assert line.calls == []
    runner.fail(CHANNEL_ID, 2, "gave up after 3 tries: LINE answered 500")
    shown = service.show(CHANNEL_ID)
    assert (shown.status, shown.reason) == ("failed", "gave up after 3 tries: LINE answered 500")
    # A failed set is applied again even if unchanged.
    again = service.apply(CHANNEL_ID, _request({"status": "blocked"}), dry_run=False)
    assert (again.action, again.version) == ("applied", 3)
