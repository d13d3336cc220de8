"""The postback action grammar (linecrm=1&tag.add=…)."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linecrm.domain.actions import (
    AddTags,
    RemoveTags,
    ReplyWithRule,
    SetField,
    StartScenario,
    StopScenario,
    SwitchRichMenu,
)
from linecrm.domain.postback import (
    MAX_POSTBACK_ACTIONS,
    PostbackGrammarError,
    is_linecrm_postback,
    parse_postback,
)


def test_full_example_in_order() -> None:
    data = urlencode(
        [
            ("linecrm", "1"),
            ("tag.add", "VIP"),
            ("tag.add", "セール"),
            ("tag.remove", "未購入"),
            ("field.member_rank", "gold"),
            ("scenario.start", "welcome_series"),
            ("scenario.stop", "cart"),
            ("richmenu", "richmenu-abc123"),
            ("reply", "rule:thanks"),
        ]
    )

    assert parse_postback(data) == [
        AddTags(tags=["VIP", "セール"]),
        RemoveTags(tags=["未購入"]),
        SetField(field="member_rank", value="gold"),
        StartScenario(scenario="welcome_series"),
        StopScenario(scenario="cart"),
        SwitchRichMenu(rich_menu="richmenu-abc123"),
        ReplyWithRule(rule_id="thanks"),
    ]


def test_percent_encoding_and_plus_as_space() -> None:
    data = "linecrm=1&tag.add=%E3%82%BB%E3%83%BC%E3%83%AB+2024&tag.add=C%2B%2B"

    assert parse_postback(data) == [AddTags(tags=["セール 2024", "C++"])]


def test_marker_may_come_anywhere_and_raw_utf8_is_fine() -> None:
    assert parse_postback("tag.add=VIP&linecrm=1&tag.add=セール") == [
        AddTags(tags=["VIP", "セール"])
    ]


def test_an_empty_field_value_clears_the_field() -> None:
    assert parse_postback("linecrm=1&field.member_rank=") == [
        SetField(field="member_rank", value=None)
    ]


def test_only_consecutive_tag_operations_are_merged() -> None:
    assert parse_postback("linecrm=1&tag.add=A&tag.remove=A&tag.add=A") == [
        AddTags(tags=["A"]),
        RemoveTags(tags=["A"]),
        AddTags(tags=["A"]),
    ]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "action=buy&itemid=111",
        '{"linecrm": 1, "tag.add": "VIP"}',
        "linecrm",
        "menu:tab2",
        "tag.add=VIP",
        "linecrm2=1&tag.add=VIP",
        "%zz&&==",
    ],
)
def test_data_without_the_marker_is_the_shops_own(data: str) -> None:
    assert not is_linecrm_postback(data)
    assert parse_postback(data) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("linecrm=1&colour=red&size=L", "unknown postback keys: 'colour', 'size'"),
        ("linecrm=1&tag+=VIP", "'tag ' (did you mean 'tag.add'?)"),
        ("linecrm=1&tag-=VIP", "'tag-' (did you mean 'tag.remove'?)"),
        ("linecrm=1&field.=x", "unknown postback keys: 'field.'"),
        ("linecrm=2&tag.add=VIP", "unsupported linecrm version '2'"),
        ("linecrm=1&linecrm=2", "unsupported linecrm version '1', '2'"),
        ("linecrm=1&tag.add", "malformed postback data"),
        ("linecrm=1&", "malformed postback data"),
        ("linecrm=1&tag.add=%FF", "malformed postback data"),
        ("linecrm=1&tag.add=", "tag.add=''"),
        ("linecrm=1&field.Member-Rank=gold", "field.Member-Rank='gold'"),
        ("linecrm=1&scenario.start=no spaces", "scenario.start='no spaces'"),
        ("linecrm=1&richmenu=not/a/menu", "richmenu='not/a/menu'"),
        ("linecrm=1&richmenu=a&richmenu=b", "'richmenu' may appear at most once"),
        ("linecrm=1&reply=rule:a&reply=rule:b", "'reply' may appear at most once"),
        ("linecrm=1&reply=thanks", "expected reply=rule:RULE_ID"),
        ("linecrm=1&reply=rule:", "reply='rule:'"),
        ("linecrm=1" + "&tag.add=x" * 21, f"21 actions; at most {MAX_POSTBACK_ACTIONS}"),
        ("linecrm=1&tag.add=" + "x" * 300, "LINE allows 300"),
    ],
)
def test_malformed_linecrm_data_is_an_error(data: str, message: str) -> None:
    with pytest.raises(PostbackGrammarError) as raised:
        parse_postback(data)

    assert message in str(raised.value)


def test_unknown_keys_are_listed_for_the_caller() -> None:
    with pytest.raises(PostbackGrammarError) as raised:
        parse_postback("linecrm=1&colour=red&tag.add=VIP&colour=blue&size=L")

    assert raised.value.unknown_keys == ("colour", "size")


def test_twenty_actions_are_allowed() -> None:
    data = "linecrm=1" + "".join(f"&tag.add=t{i}" for i in range(MAX_POSTBACK_ACTIONS))

    assert parse_postback(data) == [AddTags(tags=[f"t{i}" for i in range(MAX_POSTBACK_ACTIONS)])]


grammar_pieces = st.sampled_from(
    [
        "linecrm=1",
        "linecrm=",
        "tag.add=",
        "tag.remove=",
        "field.",
        "field.rank=",
        "scenario.start=",
        "richmenu=",
        "reply=rule:",
        "=",
        "&",
        "+",
        "%",
        "%E3%82",
        "%FF",
        "VIP",
        "セール",
    ]
)


@given(st.lists(grammar_pieces | st.text(max_size=8), max_size=30).map("".join))
def test_parse_postback_raises_only_grammar_errors(data: str) -> None:
    try:
        actions = parse_postback(data)
    except PostbackGrammarError:
        return
    assert len(actions) <= MAX_POSTBACK_ACTIONS
    assert actions == [] or is_linecrm_postback(data)


@given(st.text())
def test_arbitrary_text_raises_only_grammar_errors(data: str) -> None:
    with contextlib.suppress(PostbackGrammarError):
        parse_postback(data)


def test_every_documented_example_parses() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "postback-actions.md").read_text(encoding="utf-8")
    examples = re.findall(r"^\| `(linecrm=1[^`]*)` \|", doc, flags=re.MULTILINE)
    assert len(examples) >= 10
    for data in examples:
        assert parse_postback(data), data
    button = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    assert parse_postback(button["data"])[-1] == ReplyWithRule(rule_id="vip_thanks")
