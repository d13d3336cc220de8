"""Publishing a menu set on LINE (no call when unchanged) and bulk relinking friends
in chunks of LINE's limit, with the friends' menus recorded (moto)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from linecrm.delivery.pacing import Pacer
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldCatalog
from linecrm.domain.tags import Tag, TagCatalog
from linecrm.repositories.friends import FriendRepository
from linecrm.richmenus.assignment import AppliedAssignment, AppliedRule, compile_assignment
from linecrm.richmenus.model import MenuSet, menu_fingerprint
from linecrm.richmenus.sync import BULK_LIMIT, MenuPublisher, PendingMenu, Relinker
from tests.unit.conftest import CHANNEL_ID, AwsWorld

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
VIP = "richmenu-" + "c" * 32


class FakeLine:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.created = 0

    def create_rich_menu(self, menu: dict[str, object]) -> str:
        self.created += 1
        self.calls.append(("create", menu["name"]))
        return f"richmenu-{self.created:032x}"

    def upload_rich_menu_image(self, rich_menu_id: str, image: bytes, content_type: str) -> None:
        self.calls.append(("upload", content_type))

    def point_rich_menu_alias(self, alias_id: str, rich_menu_id: str) -> None:
        self.calls.append(("alias", alias_id))

    def set_default_rich_menu(self, rich_menu_id: str | None) -> None:
        self.calls.append(("default", rich_menu_id))

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        self.calls.append(("delete", rich_menu_id))

    def bulk_link_rich_menu(self, rich_menu_id: str, user_ids: list[str]) -> None:
        assert len(user_ids) <= BULK_LIMIT
        self.calls.append(("bulk_link", len(user_ids)))

    def bulk_unlink_rich_menu(self, user_ids: list[str]) -> None:
        assert len(user_ids) <= BULK_LIMIT
        self.calls.append(("bulk_unlink", len(user_ids)))


def _set(name: str = "メイン") -> MenuSet:
    area = {
        "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
        "label": "ショップ",
        "action": {"type": "uri", "uri": "https://shop.example/"},
    }
    return MenuSet.model_validate(
        {
            "menus": [
                {"id": "main", "name": name, "size": "compact", "areas": [area]},
                {"id": "vip", "name": "VIP", "size": "compact", "areas": [area]},
            ],
            "default": "main",
        }
    )


def _prints(menu_set: MenuSet, images: dict[str, bytes]) -> dict[str, str]:
    return {menu.id: menu_fingerprint(menu, images[menu.id]) for menu in menu_set.menus}


def _unread(menu_id: str) -> bytes:
    raise AssertionError(f"the image of unchanged menu {menu_id} was read")


def test_publishing_an_unchanged_set_calls_nothing_and_a_change_replaces_one_menu() -> None:
    line = FakeLine()
    publisher = MenuPublisher(line)
    images = {"main": b"\x89PNG main", "vip": b"\x89PNG vip"}
    first = publisher.publish(_set(), _prints(_set(), images), images.__getitem__, {}, None)
    assert first.calls == 7 and first.retired == []  # 2 x (create, upload, alias) + default
    line.calls.clear()
    again = publisher.publish(
        _set(), _prints(_set(), images), _unread, first.menus, first.menus["main"].rich_menu_id
    )
    assert again.calls == 0 and line.calls == []
    renamed = _set("新メイン")
    changed = publisher.publish(
        renamed,
        _prints(renamed, images),
        images.__getitem__,
        first.menus,
        first.menus["main"].rich_menu_id,
    )
    assert [c[0] for c in line.calls] == ["create", "upload", "alias", "default"]
    assert changed.retired == [first.menus["main"].rich_menu_id]
    assert changed.menus["vip"] == first.menus["vip"]


class Repairs:
    def __init__(self) -> None:
        self.tasks: list[Any] = []

    def enqueue_task(self, task: Any) -> None:
        self.tasks.append(task)


def test_a_rule_change_relinks_1200_friends_in_ceil_1200_over_500_bulk_calls(
    aws: AwsWorld,
) -> None:
    friends = FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    for n in range(1200):
        friends.record_follow(CHANNEL_ID, f"U{n:032x}", AT)
    config = ChannelConfig(
        CHANNEL_ID, TagCatalog([Tag(tag_id="t1", name="VIP")], []), FieldCatalog([]), []
    )
    everyone = AppliedAssignment(
        version=2,
        rules=[AppliedRule(menu="vip", rich_menu_id=VIP, segment={"match": {"status": "active"}})],
    )
    line = FakeLine()
    repairs = Repairs()
    relinker = Relinker(
        friends, lambda _c: line, Pacer(1, sleep=lambda _s: None), lambda: AT, lambda: repairs
    )
    compiled = compile_assignment(everyone, config)
    after, more, total = None, True, 0
    while more:
        page = relinker.relink_page(CHANNEL_ID, compiled, after, page_size=1000)
        after, more = page.last_user_id, page.more
        total += page.counts["linked"]
    assert total == 1200
    bulk = [c for c in line.calls if c[0] == "bulk_link"]
    assert len(bulk) == math.ceil(1200 / 500) == 3
    assert sum(n for _, n in bulk) == 1200
    assert friends.get(CHANNEL_ID, f"U{0:032x}").rich_menu_id == VIP  # type: ignore[union-attr]
    # Run again: every friend already has the menu: no LINE call.
    line.calls.clear()
    page = relinker.relink_page(CHANNEL_ID, compiled, None, page_size=1200)
    assert line.calls == [] and page.counts["unchanged"] == 1200
    # The rule goes: everyone back to the default, in 3 bulk unlinks.
    none = compile_assignment(AppliedAssignment(version=3), config)
    relinker.relink_page(CHANNEL_ID, none, None, page_size=1200)
    assert [c[0] for c in line.calls] == ["bulk_unlink"] * 3
    assert repairs.tasks == []  # every record followed: nothing to repair


def test_a_friend_a_rule_switched_during_the_bulk_call_gets_a_repair_link(
    aws: AwsWorld,
) -> None:
    friends = FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    user = f"U{1:032x}"
    friends.record_follow(CHANNEL_ID, user, AT)
    config = ChannelConfig(
        CHANNEL_ID, TagCatalog([Tag(tag_id="t1", name="VIP")], []), FieldCatalog([]), []
    )
    everyone = AppliedAssignment(
        version=2,
        rules=[AppliedRule(menu="vip", rich_menu_id=VIP, segment={"match": {"status": "active"}})],
    )

    class SwitchedDuringTheCall(FakeLine):
        def bulk_link_rich_menu(self, rich_menu_id: str, user_ids: list[str]) -> None:
            super().bulk_link_rich_menu(rich_menu_id, user_ids)
            # The follower records another menu for the friend before the relinker does.
            friends.change_rich_menu(
                friends.rich_menu_change(CHANNEL_ID, user, None, "richmenu-other")
            )

    repairs = Repairs()
    relinker = Relinker(
        friends,
        lambda _c: SwitchedDuringTheCall(),
        Pacer(1, sleep=lambda _s: None),
        lambda: AT,
        lambda: repairs,
    )
    page = relinker.relink_page(CHANNEL_ID, compile_assignment(everyone, config), None)

    assert page.counts["repaired"] == 1
    (task,) = repairs.tasks
    assert (task.user_id, task.rich_menu, task.assigned) == (user, "richmenu-other", True)


class Crash(Exception):
    pass


class HoldingLine(FakeLine):
    """A FakeLine that holds menus and images as LINE does (one image per menu)."""

    def __init__(self) -> None:
        super().__init__()
        self.menus: dict[str, dict[str, object]] = {}
        self.images: set[str] = set()
        self.crash_on: str | None = None

    def create_rich_menu(self, menu: dict[str, object]) -> str:
        rich_menu_id = super().create_rich_menu(menu)
        self.menus[rich_menu_id] = menu
        return rich_menu_id

    def upload_rich_menu_image(self, rich_menu_id: str, image: bytes, content_type: str) -> None:
        assert rich_menu_id in self.menus and rich_menu_id not in self.images  # LINE: 400
        self.images.add(rich_menu_id)
        if self.crash_on == "upload answer":
            raise Crash("the upload went through, its answer was lost")

    def point_rich_menu_alias(self, alias_id: str, rich_menu_id: str) -> None:
        if self.crash_on == "alias":
            raise Crash("before the alias")
        super().point_rich_menu_alias(alias_id, rich_menu_id)

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        super().delete_rich_menu(rich_menu_id)
        self.menus.pop(rich_menu_id, None)
        self.images.discard(rich_menu_id)

    def find_rich_menus(self, menu: dict[str, object]) -> list[str]:
        return [rich_menu_id for rich_menu_id, body in self.menus.items() if body == menu]


@pytest.mark.parametrize(
    "crash", ["create answer", "upload answer", "after upload", "alias"], ids=str
)
def test_a_publish_that_crashed_midway_leaves_no_orphan_menu_on_line(crash: str) -> None:
    """ "main" is published, then the step dies during "vip"; the retry (the message
    redelivered) leaves LINE holding exactly the set, each menu with its image."""
    theirs = "richmenu-" + "e" * 32  # made by another tool: never touched
    line = HoldingLine()
    line.menus[theirs] = {"name": "別のツール", "size": {}}
    images = {"main": b"\x89PNG main", "vip": b"\x89PNG vip"}
    recorded: dict[str, PendingMenu] = {}

    def record(menu_id: str, pending: PendingMenu) -> None:
        if menu_id == "vip":
            if crash == "create answer" and pending.stage == "created":
                raise Crash("LINE made the menu; our save of its id never happened")
            if crash == "after upload" and pending.stage == "uploaded":
                raise Crash("the image is on LINE; our save of that never happened")
            if crash == "upload answer" and pending.stage == "created":
                line.crash_on = crash
            if crash == "alias" and pending.stage == "uploaded":
                line.crash_on = crash
        recorded[menu_id] = pending

    publisher = MenuPublisher(line)
    prints = _prints(_set(), images)
    with pytest.raises(Crash):
        publisher.publish(_set(), prints, images.__getitem__, {}, None, record=record)
    line.crash_on = None
    crash = "none"  # the retry runs through

    published = publisher.publish(
        _set(), prints, images.__getitem__, {}, None, pending=recorded, record=record
    )
    ours = {menu.rich_menu_id for menu in published.menus.values()}
    assert len(ours) == 2
    assert set(line.menus) == ours | {theirs}  # no orphan left, theirs kept
    assert line.images == ours  # every menu of the set has its image
    assert {("alias", "main"), ("alias", "vip")} <= set(line.calls)
