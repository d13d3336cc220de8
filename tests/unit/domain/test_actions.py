"""CRM actions: their shapes, parsing errors, and the net change to a friend."""

from __future__ import annotations

import pytest

from linecrm.domain.actions import (
    ActionError,
    AddTags,
    FriendChange,
    RemoveTags,
    Reply,
    ReplyWithRule,
    SetField,
    StartScenario,
    StopScenario,
    SwitchRichMenu,
    friend_change_of,
    parse_actions,
)

TEXT = {"type": "text", "text": "ありがとうございます"}


def test_every_action_type_parses() -> None:
    actions = parse_actions(
        [
            {"type": "add_tags", "tags": ["VIP", " セール "]},
            {"type": "remove_tags", "tags": ["未購入"]},
            {"type": "set_field", "field": "member_rank", "value": "gold"},
            {"type": "set_field", "field": "points", "value": 120},
            {"type": "set_field", "field": "member_rank", "value": None},
            {"type": "reply", "messages": [TEXT]},
            {"type": "reply_rule", "rule_id": "thanks"},
            {"type": "start_scenario", "scenario": "welcome_series"},
            {"type": "stop_scenario", "scenario": "cart"},
            {"type": "switch_rich_menu", "rich_menu": "richmenu-" + "0" * 32},
        ]
    )

    assert actions == [
        AddTags(tags=["VIP", "セール"]),
        RemoveTags(tags=["未購入"]),
        SetField(field="member_rank", value="gold"),
        SetField(field="points", value=120),
        SetField(field="member_rank", value=None),
        Reply(messages=[TEXT]),
        ReplyWithRule(rule_id="thanks"),
        StartScenario(scenario="welcome_series"),
        StopScenario(scenario="cart"),
        SwitchRichMenu(rich_menu="richmenu-" + "0" * 32),
    ]


def test_rich_menu_reference_is_an_id_or_an_alias() -> None:
    assert not SwitchRichMenu(rich_menu="richmenu-" + "a" * 32).is_alias
    assert SwitchRichMenu(rich_menu="members-tab").is_alias


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"tags": ["VIP"]}, "Unable to extract tag using discriminator 'type'"),
        ({"type": "explode"}, "does not match any of the expected tags"),
        ({"type": "add_tags", "tags": []}, "tags"),
        ({"type": "add_tags", "tags": ["   "]}, "tags.0"),
        ({"type": "add_tags", "tags": [f"t{i}" for i in range(21)]}, "at most 20"),
        ({"type": "set_field", "field": "Member Rank", "value": "gold"}, "field"),
        ({"type": "set_field", "field": "vip", "value": True}, "value"),
        ({"type": "reply", "messages": []}, "messages"),
        ({"type": "reply", "messages": [TEXT] * 6}, "at most 5"),
        ({"type": "reply", "messages": [{"text": "no type"}]}, "messages[0] has no string 'type'"),
        ({"type": "switch_rich_menu", "rich_menu": "bad id!"}, "rich_menu"),
        ({"type": "reply_rule", "rule_id": "Thanks"}, "rule_id"),
        ({"type": "add_tags", "tags": ["VIP"], "extra": 1}, "extra"),
    ],
)
def test_bad_actions_are_reported_with_their_index(document: object, reason: str) -> None:
    with pytest.raises(ActionError) as raised:
        parse_actions([{"type": "add_tags", "tags": ["ok"]}, document])

    assert raised.value.index == 1
    assert str(raised.value).startswith("actions[1]: ")
    assert reason in str(raised.value)


def test_friend_change_folds_in_order_last_word_wins() -> None:
    change = friend_change_of(
        [
            AddTags(tags=["VIP", "セール"]),
            RemoveTags(tags=["VIP", "未購入"]),
            AddTags(tags=["未購入"]),
            SetField(field="member_rank", value="silver"),
            SetField(field="member_rank", value="gold"),
            SetField(field="area", value="tokyo"),
            SetField(field="area", value=None),
            SetField(field="memo", value=None),
            SetField(field="memo", value="call back"),
            Reply(messages=[TEXT]),
            StartScenario(scenario="welcome_series"),
        ]
    )

    assert change == FriendChange(
        add_tags=frozenset({"セール", "未購入"}),
        remove_tags=frozenset({"VIP"}),
        set_fields={"member_rank": "gold", "memo": "call back"},
        clear_fields=frozenset({"area"}),
    )
    assert not change.is_empty


def test_actions_without_tags_or_fields_change_nothing() -> None:
    change = friend_change_of([Reply(messages=[TEXT]), SwitchRichMenu(rich_menu="tab-a")])

    assert change.is_empty
    assert change == FriendChange()
