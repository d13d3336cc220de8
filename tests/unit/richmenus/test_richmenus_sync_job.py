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
from linecrm.richmenus.service import PUBLISH_LEASE, ApplyRequest, RichMenuService
from linecrm.richmenus.sync import Relinker
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.richmenus.test_richmenus_sync import FakeLine, HoldingLine

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
        lambda: AT,
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


class AliasingLine(HoldingLine):
    """Holds menus, aliases and the default as LINE does."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[str, str] = {}
        self.default: str | None = None
        self.during_create: Any = None

    def create_rich_menu(self, menu: dict[str, object]) -> str:
        rich_menu_id = super().create_rich_menu(menu)
        if self.during_create is not None:
            self.during_create(menu)
        return rich_menu_id

    def point_rich_menu_alias(self, alias_id: str, rich_menu_id: str) -> None:
        super().point_rich_menu_alias(alias_id, rich_menu_id)
        self.aliases[alias_id] = rich_menu_id

    def set_default_rich_menu(self, rich_menu_id: str | None) -> None:
        super().set_default_rich_menu(rich_menu_id)
        self.default = rich_menu_id


def test_a_set_applied_while_the_previous_one_publishes_ends_with_lines_aliases_on_it(
    aws: AwsWorld,
) -> None:
    """v2 is applied while v1's publish step is between LINE calls. v1 stops at its next
    save (deleting the menu it had just made); v2 waits until v1's step cannot be
    running, then publishes, points every alias and the default, and retires what v1
    made. LINE ends holding v2's menus only, with its aliases and default on them."""
    service, _runner, _line, steps, (repository, config) = _world(aws)
    dynamodb, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    uploads = UploadStore(aws.client("s3"), aws.resources.bucket_names["Uploads"])
    line = AliasingLine()
    now = [AT]
    runner = RichMenuSyncRunner(
        repository,
        config.load,
        config,
        uploads.read,
        lambda _c: line,
        Relinker(
            FriendRepository(dynamodb, table),
            lambda _c: line,
            Pacer(1, sleep=lambda _s: None),
            lambda: now[0],
            lambda: Repairs(),
        ),
        lambda: steps,
        lambda: now[0],
    )
    service.apply(CHANNEL_ID, _request({"status": "active"}), dry_run=False)
    changed = _request({"status": "blocked"})
    changed.menus[0]["name"] = "メイン2"

    def apply_v2_when_v1_makes_vip(menu: dict[str, object]) -> None:
        if menu["name"] == "VIP":
            line.during_create = None
            service.apply(CHANNEL_ID, changed, dry_run=False)

    line.during_create = apply_v2_when_v1_makes_vip
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.LOST_RACE
    v1_main = line.aliases["main"]
    assert set(line.menus) == {v1_main}  # v1's vip, made after v2 came, deleted at once

    steps.sent.clear()
    assert runner.run_step(CHANNEL_ID, 2, _budget()) is StepOutcome.CONTINUE  # waits
    assert steps.sent and set(line.menus) == {v1_main}

    now[0] = AT + PUBLISH_LEASE
    while runner.run_step(CHANNEL_ID, 2, _budget()) is StepOutcome.CONTINUE:
        pass
    stored = repository.load(CHANNEL_ID)
    assert stored is not None and stored.status == "ready"
    v2 = {menu_id: menu.rich_menu_id for menu_id, menu in stored.line.items()}
    assert set(line.menus) == set(v2.values())  # v1's main retired, no orphan
    assert line.aliases == v2 and line.default == v2["main"]
