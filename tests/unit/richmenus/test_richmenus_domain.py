"""Rich menus as config: LINE's rules, the generated image, the assignment rules and
the signal listener that switches a friend's menu."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldCatalog, FieldDefinition
from linecrm.domain.friends import Friend
from linecrm.domain.signals import (
    FieldSet,
    Followed,
    MessageReceived,
    TagAdded,
    TagRemoved,
    Unlinked,
)
from linecrm.domain.tags import Tag, TagCatalog
from linecrm.models.send import RichMenuLink
from linecrm.repositories.dynamo import ConditionalUpdate
from linecrm.richmenus.assignment import (
    ASSIGNMENT_SETTING,
    AppliedAssignment,
    AppliedRule,
    compile_assignment,
)
from linecrm.richmenus.follower import RichMenuFollower
from linecrm.richmenus.image import ImageNotDrawable, draw_menu, missing_glyphs
from linecrm.richmenus.model import Menu, MenuSet, image_problem, menu_fingerprint

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
VIP_MENU = "richmenu-" + "a" * 32
MEMBER_MENU = "richmenu-" + "b" * 32


def _menu(**overrides: Any) -> dict[str, Any]:
    menu: dict[str, Any] = {
        "id": "main",
        "name": "メイン",
        "size": "compact",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "label": "会員連携",
                "action": {"type": "postback", "data": "linecrm=1&tag.add=VIP"},
            },
            {
                "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                "label": "ショップ",
                "action": {"type": "uri", "uri": "https://shop.example/"},
            },
        ],
    }
    menu.update(overrides)
    return menu


def _problem(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as error:
        MenuSet.model_validate(document)
    return str(error.value)


# ---------------------------------------------------------------------- validation
def test_a_valid_menu_becomes_lines_request_body() -> None:
    menu = MenuSet.model_validate({"menus": [_menu()]}).menus[0]
    body = menu.to_line()
    assert body["size"] == {"width": 2500, "height": 843}
    assert body["chatBarText"] == "メニュー"
    assert body["areas"][0]["action"] == {
        "type": "postback",
        "data": "linecrm=1&tag.add=VIP",
        "label": "会員連携",
    }


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"size": {"width": 2500, "height": 2000}}, "width / height must be at least 1.45"),
        ({"size": {"width": 700, "height": 250}}, "greater than or equal to 800"),
        ({"size": "huge"}, "a size is large or compact"),
        ({"chat_bar_text": "あ" * 15}, "at most 14 characters"),
        ({"id": "Main!"}, "should match pattern"),
        ({"areas": []}, "at least 1 item"),
        ({"areas": [_menu()["areas"][0]] * 21}, "at most 20 items"),
    ],
)
def test_lines_limits_are_enforced(overrides: dict[str, Any], reason: str) -> None:
    assert reason in _problem({"menus": [_menu(**overrides)]})


def test_an_area_outside_the_menu_is_refused() -> None:
    areas = [{**_menu()["areas"][0], "bounds": {"x": 2000, "y": 0, "width": 1250, "height": 843}}]
    assert "go past the menu's 2500x843" in _problem({"menus": [_menu(areas=areas)]})


def test_postback_data_must_follow_the_grammar() -> None:
    areas = [{**_menu()["areas"][0], "action": {"type": "postback", "data": "linecrm=1&tag+=x"}}]
    assert "unknown" in _problem({"menus": [_menu(areas=areas)]}).lower()


def test_tabs_switch_only_to_menus_of_the_file() -> None:
    tab = {
        "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
        "label": "タブ2",
        "action": {"type": "richmenuswitch", "to": "tab2"},
    }
    assert "no menu 'tab2' in menus" in _problem({"menus": [_menu(areas=[tab])]})
    menus = MenuSet.model_validate(
        {
            "menus": [
                _menu(areas=[tab]),
                _menu(
                    id="tab2", areas=[{**tab, "action": {"type": "richmenuswitch", "to": "main"}}]
                ),
            ]
        }
    )
    assert menus.menus[0].to_line()["areas"][0]["action"] == {
        "type": "richmenuswitch",
        "richMenuAliasId": "tab2",
        "data": "richmenu-tab=tab2",
        "label": "タブ2",
    }


def test_default_and_rules_name_menus_of_the_file() -> None:
    assert "default: no menu 'vip'" in _problem({"menus": [_menu()], "default": "vip"})
    rules = [{"menu": "vip", "segment": {"match": {"tag": "VIP"}}}]
    assert "rules[0].menu: no menu 'vip'" in _problem({"menus": [_menu()], "rules": rules})
    assert "used twice" in _problem({"menus": [_menu(), _menu()]})


def test_uri_actions_open_web_or_line_uris_only() -> None:
    areas = [{**_menu()["areas"][1], "action": {"type": "uri", "uri": "javascript:alert(1)"}}]
    assert "URI action opens" in _problem({"menus": [_menu(areas=areas)]})


# ---------------------------------------------------------------------- images
def test_a_generated_image_is_a_png_of_the_menus_size() -> None:
    menu = Menu.model_validate(_menu())
    png = draw_menu(menu)
    with Image.open(BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (2500, 843)
    assert image_problem(png, menu.size) is None
    assert draw_menu(menu) == png  # deterministic: re-applying is "unchanged"


def test_japanese_labels_render_without_tofu() -> None:
    assert missing_glyphs("会員連携・ショップへ（ＶＩＰ）") == ""
    assert missing_glyphs("お寿司🍣") == "🍣"
    menu = Menu.model_validate(_menu())
    blank = Menu.model_validate(
        _menu(areas=[{k: v for k, v in a.items() if k != "label"} for a in _menu()["areas"]])
    )
    # The label is drawn: the labelled tile has white pixels, the blank one none.
    labelled = Image.open(BytesIO(draw_menu(menu))).convert("RGB")
    plain = Image.open(BytesIO(draw_menu(blank))).convert("RGB")
    tile = (200, 200, 1050, 640)
    assert (255, 255, 255) in {c for _, c in labelled.crop(tile).getcolors(1 << 24) or []}
    assert (255, 255, 255) not in {c for _, c in plain.crop(tile).getcolors(1 << 24) or []}


def test_a_label_the_font_cannot_draw_is_refused() -> None:
    areas = [{**_menu()["areas"][0], "label": "寿司🍣"}]
    with pytest.raises(ImageNotDrawable, match="no glyph for '🍣'"):
        draw_menu(Menu.model_validate(_menu(areas=areas)))


def test_image_checks() -> None:
    menu = Menu.model_validate(_menu())
    assert "PNG or a JPEG" in (image_problem(b"GIF89a....", menu.size) or "")
    small = BytesIO()
    Image.new("RGB", (800, 270)).save(small, format="PNG")
    assert "800x270; the menu is 2500x843" in (image_problem(small.getvalue(), menu.size) or "")
    assert "at most 1,048,576" in (
        image_problem(b"\x89PNG\r\n\x1a\n" + b"0" * 2**20, menu.size) or ""
    )


def test_the_fingerprint_changes_with_the_menu_or_its_image() -> None:
    menu = Menu.model_validate(_menu())
    renamed = Menu.model_validate(_menu(name="別名"))
    assert menu_fingerprint(menu, b"x") == menu_fingerprint(Menu.model_validate(_menu()), b"x")
    assert menu_fingerprint(menu, b"x") != menu_fingerprint(menu, b"y")
    assert menu_fingerprint(menu, b"x") != menu_fingerprint(renamed, b"x")


# ---------------------------------------------------------------------- assignment
TAGS = TagCatalog([Tag(tag_id="tag_vip", name="VIP"), Tag(tag_id="tag_sale", name="セール")], [])
FIELDS = FieldCatalog([FieldDefinition(key="rank", label="ランク", type="text")])
GOLD = {"key": "rank", "op": "eq", "value": "gold"}
APPLIED = AppliedAssignment(
    version=1,
    default_rich_menu_id="richmenu-" + "0" * 32,
    rules=[
        AppliedRule(menu="vip", rich_menu_id=VIP_MENU, segment={"match": {"tag": "VIP"}}),
        AppliedRule(
            menu="member",
            rich_menu_id=MEMBER_MENU,
            segment={
                "match": {
                    "any": [
                        {"linked": True},
                        {"field": {"key": "rank", "op": "eq", "value": "gold"}},
                    ]
                }
            },
        ),
    ],
)


def _config(applied: AppliedAssignment | None = APPLIED) -> ChannelConfig:
    settings = {ASSIGNMENT_SETTING: applied.model_dump_json()} if applied else {}
    return ChannelConfig("C1", TAGS, FIELDS, [], settings)


def _friend(**values: Any) -> Friend:
    return Friend.model_validate(
        {"channel_id": "C1", "user_id": "U1", "status": "active", **values}
    )


def test_the_first_matching_rule_picks_the_menu() -> None:
    compiled = compile_assignment(APPLIED, _config())
    assert compiled.target(_friend(tags={"tag_vip": AT}, member_id="m1"), AT) == VIP_MENU
    assert compiled.target(_friend(member_id="m1"), AT) == MEMBER_MENU
    assert compiled.target(_friend(fields={"rank": "gold"}), AT) == MEMBER_MENU
    assert compiled.target(_friend(), AT) is None  # LINE's default shows


def test_only_signals_a_rule_mentions_are_relevant() -> None:
    compiled = compile_assignment(APPLIED, _config())
    assert compiled.relevant(TagAdded("C1", "U1", AT, tag_id="tag_vip", tag_name="VIP"))
    assert not compiled.relevant(TagAdded("C1", "U1", AT, tag_id="tag_sale", tag_name="セール"))
    assert compiled.relevant(FieldSet("C1", "U1", AT, field_key="rank", value="gold"))
    assert not compiled.relevant(FieldSet("C1", "U1", AT, field_key="memo", value="x"))
    assert not compiled.relevant(MessageReceived("C1", "U1", AT, text="hi"))
    assert compiled.relevant(Unlinked("C1", "U1", AT, member_id="m1"))
    assert compiled.relevant(Followed("C1", "U1", AT))


class _Friends:
    def __init__(self, friend: Friend | None) -> None:
        self.friend = friend
        self.reads = 0
        self.writes: list[ConditionalUpdate] = []

    def get(self, channel_id: str, user_id: str) -> Friend | None:
        self.reads += 1
        return self.friend

    def rich_menu_change(
        self, channel_id: str, user_id: str, previous: str | None, new: str | None
    ) -> ConditionalUpdate:
        return ConditionalUpdate({"pk": user_id}, f"{previous}->{new}", "c", {":v": 1})

    def change_rich_menu(self, update: ConditionalUpdate) -> bool:
        self.writes.append(update)
        if self.friend is not None:
            new = update.update.split("->")[1]
            self.friend = self.friend.model_copy(
                update={"rich_menu_id": None if new == "None" else new}
            )
        return True


class _Tasks:
    def __init__(self) -> None:
        self.tasks: list[RichMenuLink] = []

    def enqueue_task(self, task: RichMenuLink) -> None:
        self.tasks.append(task)


def _follower(friends: _Friends, config: ChannelConfig) -> tuple[RichMenuFollower, _Tasks]:
    tasks = _Tasks()
    follower = RichMenuFollower(lambda _c: config, friends, lambda: tasks, lambda: AT)  # type: ignore[arg-type]
    return follower, tasks


def test_a_tag_switches_the_menu_once_and_an_unchanged_outcome_calls_nothing() -> None:
    friends = _Friends(_friend())
    follower, tasks = _follower(friends, _config())
    vip = TagAdded("C1", "U1", AT, tag_id="tag_vip", tag_name="VIP")
    friends.friend = _friend(tags={"tag_vip": AT})
    assert follower.on_signal(vip) == [f"rich menu: {VIP_MENU} queued"]
    assert [t.rich_menu for t in tasks.tasks] == [VIP_MENU]
    assert follower.on_signal(vip) == []  # the same outcome: no write, no call
    assert len(tasks.tasks) == 1 and len(friends.writes) == 1
    friends.friend = friends.friend.model_copy(update={"tags": {}})  # type: ignore[union-attr]
    follower.on_signal(TagRemoved("C1", "U1", AT, tag_id="tag_vip", tag_name="VIP"))
    assert tasks.tasks[-1].unlink  # back to the default


def test_signals_no_rule_mentions_read_nothing() -> None:
    friends = _Friends(_friend())
    follower, tasks = _follower(friends, _config())
    follower.on_signal(TagAdded("C1", "U1", AT, tag_id="tag_sale", tag_name="セール"))
    follower.on_signal(MessageReceived("C1", "U1", AT, text="こんにちは"))
    follower_without_rules, _ = _follower(friends, _config(None))
    follower_without_rules.on_signal(TagAdded("C1", "U1", AT, tag_id="tag_vip", tag_name="VIP"))
    assert friends.reads == 0 and tasks.tasks == []


def test_applied_assignment_round_trips_as_a_setting() -> None:
    assert AppliedAssignment.model_validate(json.loads(APPLIED.model_dump_json())) == APPLIED
