"""Auto-response rules: matching, priority, windows, business hours, cooldowns, chat mode."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from linecrm.domain.actions import Reply, ReplyWithRule, StartScenario
from linecrm.domain.rules import (
    MAX_PATTERNS_PER_RULE,
    FollowTrigger,
    FriendRuleState,
    KeywordMatch,
    PostbackTrigger,
    RuleSet,
    TextTrigger,
)
from linecrm.domain.safe_regex import (
    MAX_PROGRAM_SIZE,
    MAX_REGEX_INPUT,
    MAX_TOTAL_PROGRAM_SIZE,
    compile_safe_regex,
)

JST = timezone(timedelta(hours=9))
MONDAY_NOON = datetime(2025, 6, 2, 12, 0, tzinfo=JST)
MONDAY_NIGHT = datetime(2025, 6, 2, 22, 0, tzinfo=JST)
NOBODY = FriendRuleState()
OFFICE_HOURS = {"weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}


def reply(text: str) -> list[dict[str, Any]]:
    return [{"type": "reply", "messages": [{"type": "text", "text": text}]}]


def keyword(rule_id: str, mode: str, *patterns: str, **extra: Any) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "name": rule_id,
        "match": {"kind": "keyword", "mode": mode, "patterns": list(patterns)},
        "actions": reply(rule_id),
        **extra,
    }


def default(rule_id: str = "fallback", **extra: Any) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "name": "default reply",
        "match": {"kind": "default"},
        "actions": reply("default"),
        **extra,
    }


def rule_set(*rules: dict[str, Any], **extra: Any) -> RuleSet:
    return RuleSet.model_validate({"rules": list(rules), **extra})


def answer(
    rules: RuleSet,
    text: str,
    at: datetime = MONDAY_NOON,
    friend: FriendRuleState = NOBODY,
) -> str | None:
    match = rules.select(TextTrigger(text=text), friend, at)
    return None if match is None else match.rule.rule_id


# --- keyword matching ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["VIP", "vip", "ＶＩＰ", "ｖｉｐ", "  VIP\n", "Vip　"])
def test_exact_matches_after_nfkc_strip_and_case_folding(text: str) -> None:
    assert answer(rule_set(keyword("vip", "exact", "VIP")), text) == "vip"


def test_exact_does_not_match_a_longer_message() -> None:
    assert answer(rule_set(keyword("vip", "exact", "VIP")), "VIP会員") is None


def test_half_width_katakana_matches_full_width() -> None:
    rules = rule_set(keyword("coupon", "contains", "クーポン"))

    assert answer(rules, "ｸｰﾎﾟﾝください") == "coupon"


def test_case_sensitive_keywords() -> None:
    rules = rule_set(
        {
            **keyword("vip", "exact", "VIP"),
            "match": {**keyword("vip", "exact", "VIP")["match"], "case_sensitive": True},
        }
    )

    assert answer(rules, "ＶＩＰ") == "vip"  # width still normalised
    assert answer(rules, "vip") is None


def test_contains_and_regex() -> None:
    rules = rule_set(
        keyword("coupon", "contains", "クーポン", "coupon"),
        keyword("order", "regex", r"注文番号\s{0,3}:?\d+"),
    )

    assert answer(rules, "COUPONはありますか") == "coupon"
    assert answer(rules, "注文番号：12345 の件") == "order"  # "：" is NFKC-normalised to ":"
    assert answer(rules, "注文について") is None


def test_regex_ignores_case_unless_case_sensitive() -> None:
    assert answer(rule_set(keyword("vip", "regex", r"^vip\d*$")), "ＶＩＰ２") == "vip"


def test_regex_only_sees_the_first_2000_characters() -> None:
    rules = rule_set(keyword("tail", "regex", "END"))

    assert answer(rules, "x" * (MAX_REGEX_INPUT - 3) + "END") == "tail"
    assert answer(rules, "x" * MAX_REGEX_INPUT + "END") is None


# --- priority, ties, kinds -------------------------------------------------------------------


def test_lower_priority_number_wins_and_ties_go_by_rule_id() -> None:
    rules = rule_set(
        keyword("b-general", "contains", "予約", priority=50),
        keyword("a-general", "contains", "予約", priority=50),
        keyword("specific", "contains", "予約変更", priority=10),
    )

    assert answer(rules, "予約変更したい") == "specific"
    assert answer(rules, "予約したい") == "a-general"
    assert [rule.rule_id for rule in rules.ordered_rules] == ["specific", "a-general", "b-general"]


def test_postback_rules_answer_postbacks_only() -> None:
    rules = rule_set(
        {
            "rule_id": "menu",
            "name": "menu",
            "match": {"kind": "postback", "data_prefix": "menu:"},
            "actions": reply("menu"),
        },
        {
            "rule_id": "exact",
            "name": "exact",
            "priority": 1,
            "match": {"kind": "postback", "data_equals": "menu:coupon"},
            "actions": reply("coupon"),
        },
        keyword("menu-text", "contains", "menu"),
        default(),
    )

    def on_postback(data: str) -> str | None:
        match = rules.select(PostbackTrigger(data=data), NOBODY, MONDAY_NOON)
        return None if match is None else match.rule.rule_id

    assert on_postback("menu:coupon") == "exact"
    assert on_postback("menu:shop") == "menu"
    assert on_postback("other") is None  # the default answers text only
    assert answer(rules, "menu:coupon") == "menu-text"


def test_follow_rules_welcome_new_friends() -> None:
    campaign_welcome = {
        "rule_id": "welcome-campaign",
        "name": "campaign welcome",
        "priority": 1,
        "match": {"kind": "follow"},
        "active_until": "2025-06-30T00:00:00+09:00",
        "actions": reply("campaign welcome"),
    }
    welcome = {
        "rule_id": "welcome",
        "name": "welcome",
        "match": {"kind": "follow"},
        "actions": reply("welcome"),
    }
    rules = rule_set(campaign_welcome, welcome, default())

    def on_follow(at: datetime) -> str | None:
        match = rules.select(FollowTrigger(), NOBODY, at)
        return None if match is None else match.rule.rule_id

    assert on_follow(MONDAY_NOON) == "welcome-campaign"
    assert on_follow(datetime(2025, 7, 1, tzinfo=JST)) == "welcome"


# --- time windows ----------------------------------------------------------------------------


def test_active_window_is_from_inclusive_until_exclusive() -> None:
    rules = rule_set(
        keyword(
            "summer",
            "exact",
            "SUMMER2025",
            active_from="2025-07-01T00:00:00+09:00",
            active_until="2025-08-01T00:00:00+09:00",
        ),
        default(),
    )

    assert answer(rules, "summer2025", datetime(2025, 6, 30, 23, 59, tzinfo=JST)) == "fallback"
    assert answer(rules, "summer2025", datetime(2025, 7, 1, 0, 0, tzinfo=JST)) == "summer"
    assert answer(rules, "summer2025", datetime(2025, 7, 31, 14, 59, tzinfo=UTC)) == "summer"
    assert answer(rules, "summer2025", datetime(2025, 7, 31, 15, 0, tzinfo=UTC)) == "fallback"


def test_window_must_be_ordered_and_aware() -> None:
    with pytest.raises(ValidationError, match="active_from must be before active_until"):
        rule_set(
            keyword(
                "x",
                "exact",
                "x",
                active_from="2025-08-01T00:00:00Z",
                active_until="2025-07-01T00:00:00Z",
            )
        )
    with pytest.raises(ValidationError, match="timezone"):
        rule_set(keyword("x", "exact", "x", active_from="2025-08-01T00:00:00"))


# --- business hours --------------------------------------------------------------------------


def test_out_of_hours_reply_is_a_closed_rule() -> None:
    rules = rule_set(
        keyword("hours", "contains", "営業時間", priority=10),
        keyword("closed", "regex", ".", business_hours="closed", priority=900),
        keyword("staff", "contains", "スタッフ", business_hours="open", priority=20),
        default(),
        business_hours=OFFICE_HOURS,
    )

    assert answer(rules, "営業時間は？", MONDAY_NIGHT) == "hours"
    assert answer(rules, "こんばんは", MONDAY_NIGHT) == "closed"
    assert answer(rules, "スタッフと話したい", MONDAY_NIGHT) == "closed"
    assert answer(rules, "こんにちは", MONDAY_NOON) == "fallback"
    assert answer(rules, "スタッフと話したい", MONDAY_NOON) == "staff"
    # 03:00 UTC is 12:00 in Tokyo: open.
    assert answer(rules, "スタッフ", datetime(2025, 6, 2, 3, 0, tzinfo=UTC)) == "staff"


def test_without_business_hours_the_shop_counts_as_always_open() -> None:
    rules = rule_set(
        keyword("closed", "regex", ".", business_hours="closed", priority=1),
        keyword("open", "regex", ".", business_hours="open", priority=2),
    )

    assert answer(rules, "hello", MONDAY_NIGHT) == "open"


def test_business_hours_close_on_closed_dates() -> None:
    rules = rule_set(
        keyword("closed", "regex", ".", business_hours="closed"),
        business_hours={**OFFICE_HOURS, "closed_dates": ["2025-06-02"]},
    )

    assert answer(rules, "hello", MONDAY_NOON) == "closed"


# --- cooldowns, default, chat mode -----------------------------------------------------------


def test_cooldown_per_rule_per_friend() -> None:
    rules = rule_set(keyword("coupon", "contains", "クーポン", cooldown_seconds=3600))
    fired = FriendRuleState(rule_fired_at={"coupon": MONDAY_NOON})

    assert answer(rules, "クーポン", MONDAY_NOON + timedelta(minutes=59), fired) is None
    assert answer(rules, "クーポン", MONDAY_NOON + timedelta(hours=1), fired) == "coupon"
    assert answer(rules, "クーポン", MONDAY_NOON, NOBODY) == "coupon"


def test_a_cooling_rule_lets_later_keyword_rules_answer() -> None:
    rules = rule_set(
        keyword("coupon", "contains", "クーポン", priority=1, cooldown_seconds=3600),
        keyword("general", "contains", "クーポン", "ポイント", priority=2),
    )
    fired = FriendRuleState(rule_fired_at={"coupon": MONDAY_NOON})

    assert answer(rules, "クーポン", MONDAY_NOON + timedelta(minutes=1), fired) == "general"


def test_a_cooling_keyword_does_not_fall_through_to_the_default() -> None:
    rules = rule_set(keyword("coupon", "contains", "クーポン", cooldown_seconds=3600), default())
    fired = FriendRuleState(rule_fired_at={"coupon": MONDAY_NOON})
    later = MONDAY_NOON + timedelta(minutes=1)

    evaluation = rules.evaluate(TextTrigger(text="クーポン"), fired, later)

    assert evaluation.match is None
    assert "cooling down" in evaluation.reason
    assert answer(rules, "こんにちは", later, fired) == "fallback"


def test_the_default_has_its_own_cooldown() -> None:
    rules = rule_set(default(cooldown_seconds=600))
    fired = FriendRuleState(rule_fired_at={"fallback": MONDAY_NOON})

    assert answer(rules, "hello", MONDAY_NOON + timedelta(minutes=5), fired) is None
    assert answer(rules, "hello", MONDAY_NOON + timedelta(minutes=10), fired) == "fallback"


def test_default_only_when_no_keyword_matched_and_regardless_of_priority() -> None:
    rules = rule_set(default(priority=-100), keyword("vip", "exact", "VIP", priority=500))

    assert answer(rules, "VIP") == "vip"
    assert answer(rules, "hello") == "fallback"


def test_disabled_and_out_of_window_keywords_do_not_block_the_default() -> None:
    rules = rule_set(
        keyword("off", "contains", "hello", enabled=False),
        keyword("ended", "contains", "hello", active_until="2025-01-01T00:00:00+09:00"),
        default(),
    )

    assert answer(rules, "hello") == "fallback"


def test_chat_mode_pauses_every_rule() -> None:
    rules = rule_set(keyword("vip", "exact", "VIP"), default())
    paused = FriendRuleState(automation_paused=True)

    evaluation = rules.evaluate(TextTrigger(text="VIP"), paused, MONDAY_NOON)

    assert evaluation.match is None
    assert "chat mode" in evaluation.reason
    assert rules.select(FollowTrigger(), paused, MONDAY_NOON) is None


def test_naive_event_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        rule_set(default()).select(TextTrigger(text="x"), NOBODY, datetime(2025, 6, 2, 12, 0))


def test_explain_for_a_dry_run() -> None:
    rules = rule_set(
        keyword("vip", "exact", "VIP", priority=1),
        keyword("off", "contains", "hello", enabled=False, priority=2),
        keyword("greeting", "contains", "hello", priority=3),
        default(),
    )

    assert rules.explain(TextTrigger(text="Hello!"), NOBODY, MONDAY_NOON) == [
        "vip (priority 1, keyword): no match",
        "off (priority 2, keyword): skipped, disabled",
        "greeting (priority 3, keyword): text matched contains 'hello'",
        "=> greeting: text matched contains 'hello'",
    ]
    assert rules.explain(TextTrigger(text="?"), NOBODY, MONDAY_NOON)[-1] == (
        "=> fallback: no keyword rule matched"
    )


# --- rule set validation ---------------------------------------------------------------------


def test_at_most_one_default() -> None:
    with pytest.raises(ValidationError, match="at most one default rule, found d1, d2"):
        rule_set(default("d1"), default("d2"))


def test_rule_ids_are_unique_slugs() -> None:
    with pytest.raises(ValidationError, match="duplicate rule ids: vip"):
        rule_set(keyword("vip", "exact", "VIP"), keyword("vip", "exact", "V"))
    with pytest.raises(ValidationError, match="rule_id"):
        rule_set(keyword("VIP rule", "exact", "VIP"))


def test_at_most_200_rules() -> None:
    rule_set(*(keyword(f"r{i}", "exact", str(i)) for i in range(200)))
    with pytest.raises(ValidationError, match="at most 200"):
        rule_set(*(keyword(f"r{i}", "exact", str(i)) for i in range(201)))


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ({"kind": "keyword", "mode": "exact", "patterns": []}, "at least 1"),
        ({"kind": "keyword", "mode": "exact", "patterns": ["x"] * 51}, "at most 50"),
        ({"kind": "keyword", "mode": "contains", "patterns": ["　"]}, f"keyword {'　'!r} is blank"),
        ({"kind": "keyword", "mode": "fuzzy", "patterns": ["x"]}, "mode"),
        ({"kind": "postback"}, "exactly one of data_equals, data_prefix"),
        ({"kind": "postback", "data_equals": "a", "data_prefix": "a"}, "exactly one"),
        (
            {"kind": "keyword", "mode": "regex", "patterns": ["ok", "(unclosed"]},
            "regex '(unclosed' is invalid",
        ),
        ({"kind": "keyword", "mode": "regex", "patterns": ["ＶＩＰ"]}, "write it as 'VIP'"),
        ({"kind": "keyword", "mode": "regex", "patterns": ["a" * 201]}, "at most 200"),
        ({"kind": "everything"}, "does not match any of the expected tags"),
    ],
)
def test_invalid_matches(match: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        rule_set({"rule_id": "r", "name": "r", "match": match, "actions": reply("x")})

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "invalid"),  # backreference
        (r"(?=.*a)(?=.*b)", "no backreferences or look-around"),
        (r"(?<!x)y", "invalid"),
        (r"a{0,999}!", "too large to match quickly"),
        (r"(?:[a-z]{0,50}){0,20}", "too large to match quickly"),
    ],
)
def test_regex_re2_cannot_match_in_linear_time_is_rejected_naming_it(
    pattern: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        rule_set(keyword("bad", "regex", "fine", pattern))

    assert f"regex {pattern!r}" in str(raised.value)
    assert reason in str(raised.value)


def test_unknown_rule_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="priorty"):
        rule_set({**keyword("vip", "exact", "VIP"), "priorty": 1})


def test_a_rule_replies_with_at_most_five_messages() -> None:
    six = [{"type": "reply", "messages": [{"type": "text", "text": str(i)}] * 3} for i in range(2)]
    with pytest.raises(ValidationError, match="at most 5 messages"):
        rule_set({**keyword("vip", "exact", "VIP"), "actions": six})


# --- reply_rule resolution -------------------------------------------------------------------


def test_reply_rule_resolves_to_the_messages_of_that_rule() -> None:
    thanks = {**keyword("thanks", "exact", "ありがとう"), "enabled": False}
    rules = rule_set(thanks)

    resolution = rules.resolve_replies(
        [
            ReplyWithRule(rule_id="thanks"),
            StartScenario(scenario="s"),
            ReplyWithRule(rule_id="gone"),
        ]
    )

    assert resolution.actions == (
        Reply(messages=[{"type": "text", "text": "thanks"}]),
        StartScenario(scenario="s"),
    )
    assert resolution.missing_rule_ids == ("gone",)


def test_reply_rule_inside_a_rule_set_must_resolve() -> None:
    pointer = {
        **keyword("alias", "exact", "thx"),
        "actions": [{"type": "reply_rule", "rule_id": "thanks"}],
    }
    rule_set(keyword("thanks", "exact", "ありがとう"), pointer)

    with pytest.raises(ValidationError, match="reply_rule refers to thanks"):
        rule_set(pointer)
    no_messages = {
        **keyword("thanks", "exact", "x"),
        "actions": [{"type": "add_tags", "tags": ["t"]}],
    }
    with pytest.raises(ValidationError, match="not a rule with reply messages"):
        rule_set(no_messages, pointer)


def test_rule_sets_round_trip_through_json() -> None:
    rules = rule_set(
        keyword("vip", "regex", "^vip$", cooldown_seconds=60),
        default(business_hours="closed"),
        business_hours=OFFICE_HOURS,
    )

    again = RuleSet.model_validate_json(rules.model_dump_json())

    assert again == rules
    assert answer(again, "ＶＩＰ") == "vip"


# --- regex cost bounds -----------------------------------------------------------------------

# Patterns that made Python's backtracking ``re`` take seconds to minutes on crafted
# messages (exponential or polynomial backtracking), and that RE2 matches in linear time.
BACKTRACKING_PATTERNS = [
    r"(?:ia|ıa)+$",  # case folding merges the branches: 54 s on 55 characters with re
    r"(a+)+$",
    r"^(a|a)*$",
    r"(.*)*x",
    r"(\w+\s?)+$",
    r"^(\d+)*$",
    r"\d+\d+x",
    r".*予約.*変更",
]
# Accepted patterns near the per-pattern program size limit, crafted so RE2's automata do
# the most work per character (large NFA thread sets, DFA state blow-up).
NEAR_LIMIT_PATTERNS = [
    r"(?:a?){330}a{330}#",
    r"(?:[ab]?){330}[ab]{330}#",
    r"(?:a|b)*a(?:a|b){990}c",
    r"a{0,490}#",
    r"(?:ab|a){0,240}#",
    r"(?:ia|ıa){0,160}#",
]
# Messages no pattern matches (so every pattern runs in full), just under the 2,000
# characters a pattern sees, ending in the character that makes backtracking give up.
ADVERSARIAL_MESSAGES = [
    "ia" * 999 + "!",
    "ia" * 27 + "!",
    "a" * 1999 + "!",
    "ab" * 999 + "!",
    "ａ" * 1999 + "!",
    "1" * 1999 + "!",
    " " * 1999 + "!",
    "".join("ab"[i * 7919 % 3 % 2] for i in range(1999)) + "!",
]


def costliest_rule_set() -> RuleSet:
    """Rules filling the whole regex budget with the costliest patterns we could find."""
    patterns = [*BACKTRACKING_PATTERNS]
    size = sum(compile_safe_regex(p, case_sensitive=False).program_size for p in patterns)
    costly = iter(NEAR_LIMIT_PATTERNS * 10)
    while True:
        pattern = next(costly)
        extra = compile_safe_regex(pattern, case_sensitive=False).program_size
        if size + extra > MAX_TOTAL_PROGRAM_SIZE:
            break
        patterns.append(pattern)
        size += extra
    rules = [
        keyword(f"r{i}", "regex", *patterns[start : start + MAX_PATTERNS_PER_RULE])
        for i, start in enumerate(range(0, len(patterns), MAX_PATTERNS_PER_RULE))
    ]
    return rule_set(*rules)


def test_backtracking_patterns_are_accepted_and_answer_correctly() -> None:
    rules = rule_set(
        keyword("ia", "regex", r"(?:ia|ıa)+$"), keyword("yoyaku", "regex", ".*予約.*変更")
    )

    assert answer(rules, "ia" * 27 + "IA") == "ia"
    assert answer(rules, "ia" * 27 + "!") is None
    assert answer(rules, "予約を変更したい") == "yoyaku"


def test_no_saveable_rule_set_makes_one_message_take_a_second_of_matching() -> None:
    rules = costliest_rule_set()
    total = sum(
        rule.match.regex_program_size
        for rule in rules.rules
        if isinstance(rule.match, KeywordMatch)
    )
    assert total > MAX_TOTAL_PROGRAM_SIZE - MAX_PROGRAM_SIZE  # the budget is really full

    for text in ADVERSARIAL_MESSAGES:
        started = time.process_time()
        assert answer(rules, text) is None
        # Python's re took 12 s to 54 s on such messages; RE2 takes milliseconds. CPU time,
        # so a busy machine does not make this fail; the bound is ~10x the measured worst.
        assert time.process_time() - started < 1.0, text[:20]


def test_the_regex_cost_of_a_whole_rule_set_is_bounded() -> None:
    rules = costliest_rule_set()

    with pytest.raises(
        ValidationError, match="regex patterns of all rules together are too costly"
    ):
        rule_set(*rules.model_dump()["rules"], keyword("one-more", "regex", NEAR_LIMIT_PATTERNS[0]))


@pytest.mark.parametrize(
    "pattern", [r"(\d{1,2}:){2}", r"(?:ab|cd)+", r"(a|b)*c", r"^(?:a|ab)c", r"\p{Han}+"]
)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    rule_set(keyword("ok", "regex", pattern))


def test_regex_classes_are_ascii_and_unicode_properties_match_japanese() -> None:
    rules = rule_set(keyword("kanji", "regex", r"^\p{Han}+$"), keyword("word", "regex", r"^\w+$"))

    assert answer(rules, "予約") == "kanji"
    assert answer(rules, "abc_1") == "word"
    assert answer(rules, "よやく") is None  # \w is ASCII in RE2


# --- the documented example ------------------------------------------------------------------


def documented_rule_set() -> RuleSet:
    doc = (Path(__file__).parents[3] / "docs" / "auto-response.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    return RuleSet.model_validate(yaml.safe_load(example))


def test_the_documented_example_is_a_valid_rule_set_that_answers_as_described() -> None:
    rules = documented_rule_set()
    wednesday = datetime(2025, 7, 2, 12, 0, tzinfo=JST)
    wednesday_night = datetime(2025, 7, 2, 21, 0, tzinfo=JST)
    new_years_day = datetime(2026, 1, 1, 12, 0, tzinfo=JST)

    assert answer(rules, "ＳＵＭＭＥＲ２０２５", wednesday) == "summer-campaign"
    assert answer(rules, "SUMMER2025", datetime(2025, 9, 1, 12, 0, tzinfo=JST)) == "default"
    assert answer(rules, "ご注文番号：1234567 について", wednesday) == "order-number"
    assert answer(rules, "クーポンください", wednesday_night) == "coupon"
    assert answer(rules, "こんばんは", wednesday_night) == "out-of-hours"
    assert answer(rules, "こんにちは", new_years_day) == "out-of-hours"
    assert answer(rules, "こんにちは", wednesday) == "default"
    follow = rules.select(FollowTrigger(), NOBODY, wednesday)
    assert follow is not None
    assert follow.rule.rule_id == "welcome"
    menu = rules.select(PostbackTrigger(data="menu=coupon"), NOBODY, wednesday)
    assert menu is not None
    coupon = rules.rule("coupon")
    assert coupon is not None
    assert rules.resolve_replies(menu.actions).actions == tuple(coupon.actions)
