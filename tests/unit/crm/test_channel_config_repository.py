"""ChannelConfigRepository on moto: tags (unique names), folders, fields, rules,
settings, the one-Query load and the webhook's short-lived cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.domain.fields import FieldDefinition
from linecrm.domain.tags import Tag, TagConflict, TagFolder
from linecrm.repositories.channel_config import CachedChannelConfig, ChannelConfigRepository
from linecrm_local.aws_calls import count_aws_calls
from tests.unit.conftest import CHANNEL_ID, AwsWorld

OTHER_CHANNEL = "1650000099"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture
def repo(aws: AwsWorld) -> ChannelConfigRepository:
    return ChannelConfigRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def tag_names(repo: ChannelConfigRepository, channel_id: str = CHANNEL_ID) -> dict[str, str]:
    return {tag.tag_id: tag.name for tag in repo.load(channel_id).tags.tags}


def rule(rule_id: str, **extra: Any) -> dict[str, Any]:
    return {"rule_id": rule_id, "keywords": ["予約"], "priority": 1, **extra}


# ---------------------------------------------------------------- tags


def test_created_tags_are_loaded(repo: ChannelConfigRepository) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_vip", name="VIP", folder_id="folder_a"))
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_buyer", name="購入者"))
    tags = repo.load(CHANNEL_ID).tags
    assert tags.resolve("VIP") == Tag(tag_id="tag_vip", name="VIP", folder_id="folder_a")
    assert tags.resolve("tag_buyer") == Tag(tag_id="tag_buyer", name="購入者")
    assert [tag.name for tag in tags.tags] == sorted(["VIP", "購入者"])
    assert repo.load(OTHER_CHANNEL).tags.tags == []


def test_a_second_tag_with_the_same_name_conflicts(repo: ChannelConfigRepository) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="VIP"))
    with pytest.raises(TagConflict):
        repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_2", name="VIP"))
    with pytest.raises(TagConflict):  # the name is stripped before it is compared
        repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_3", name="  VIP "))
    assert tag_names(repo) == {"tag_1": "VIP"}


def test_a_second_tag_with_the_same_id_conflicts(repo: ChannelConfigRepository) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="VIP"))
    with pytest.raises(TagConflict):
        repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="Other"))
    assert tag_names(repo) == {"tag_1": "VIP"}
    # The failed transaction left no name guard behind: "Other" is still free.
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_2", name="Other"))


def test_the_same_name_is_fine_in_another_channel(repo: ChannelConfigRepository) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="VIP"))
    repo.create_tag(OTHER_CHANNEL, Tag(tag_id="tag_1", name="VIP"))
    assert tag_names(repo, OTHER_CHANNEL) == {"tag_1": "VIP"}


def test_rename_frees_the_old_name_and_guards_the_new(repo: ChannelConfigRepository) -> None:
    old = Tag(tag_id="tag_1", name="VIP")
    repo.create_tag(CHANNEL_ID, old)
    renamed = Tag(tag_id="tag_1", name="上得意")
    repo.update_tag(CHANNEL_ID, old, renamed)
    assert tag_names(repo) == {"tag_1": "上得意"}

    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_2", name="VIP"))  # the old name is free
    with pytest.raises(TagConflict):
        repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_3", name="上得意"))
    assert tag_names(repo) == {"tag_1": "上得意", "tag_2": "VIP"}


def test_rename_onto_a_taken_name_conflicts_and_changes_nothing(
    repo: ChannelConfigRepository,
) -> None:
    first = Tag(tag_id="tag_1", name="VIP")
    repo.create_tag(CHANNEL_ID, first)
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_2", name="購入者"))
    with pytest.raises(TagConflict):
        repo.update_tag(CHANNEL_ID, first, Tag(tag_id="tag_1", name="購入者"))
    assert tag_names(repo) == {"tag_1": "VIP", "tag_2": "購入者"}
    with pytest.raises(TagConflict):  # tag_1 still holds its name
        repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_3", name="VIP"))


def test_moving_a_tag_to_a_folder_keeps_its_name(repo: ChannelConfigRepository) -> None:
    old = Tag(tag_id="tag_1", name="VIP")
    repo.create_tag(CHANNEL_ID, old)
    moved = Tag(tag_id="tag_1", name="VIP", folder_id="folder_a")
    repo.update_tag(CHANNEL_ID, old, moved)
    assert repo.load(CHANNEL_ID).tags.get("tag_1") == moved
    with pytest.raises(TagConflict):
        repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_2", name="VIP"))


def test_delete_tag_frees_its_name(repo: ChannelConfigRepository) -> None:
    tag = Tag(tag_id="tag_1", name="VIP")
    repo.create_tag(CHANNEL_ID, tag)
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_keep", name="Keep"))
    repo.delete_tag(CHANNEL_ID, tag)
    assert tag_names(repo) == {"tag_keep": "Keep"}
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_2", name="VIP"))
    assert tag_names(repo) == {"tag_keep": "Keep", "tag_2": "VIP"}


def test_no_guard_items_leak_into_the_catalog(repo: ChannelConfigRepository, aws: AwsWorld) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="VIP"))
    sks = sorted(item["sk"]["S"] for item in aws.main_items())
    assert sks == ["TAG#tag_1", "TAGNAME#VIP"]
    assert len(repo.load(CHANNEL_ID).tags.tags) == 1


# ---------------------------------------------------------------- folders


def test_folders_put_replace_and_delete(repo: ChannelConfigRepository) -> None:
    repo.put_folder(CHANNEL_ID, TagFolder(folder_id="folder_a", name="属性"))
    repo.put_folder(CHANNEL_ID, TagFolder(folder_id="folder_b", name="イベント"))
    repo.put_folder(CHANNEL_ID, TagFolder(folder_id="folder_a", name="顧客属性"))
    tags = repo.load(CHANNEL_ID).tags
    assert {(f.folder_id, f.name) for f in tags.folders} == {
        ("folder_a", "顧客属性"),
        ("folder_b", "イベント"),
    }
    assert tags.has_folder("folder_b")
    repo.delete_folder(CHANNEL_ID, "folder_b")
    repo.delete_folder(CHANNEL_ID, "folder_missing")  # harmless
    tags = repo.load(CHANNEL_ID).tags
    assert [f.folder_id for f in tags.folders] == ["folder_a"]
    assert not tags.has_folder("folder_b")


# ---------------------------------------------------------------- fields


def test_fields_round_trip(repo: ChannelConfigRepository) -> None:
    rank = FieldDefinition(
        key="rank", label="会員ランク", type="choice", choices=("gold", "silver")
    )
    points = FieldDefinition(key="points", label="ポイント", type="number")
    birthday = FieldDefinition(key="birthday", label="誕生日", type="date")
    for definition in (rank, points, birthday):
        repo.put_field(CHANNEL_ID, definition)
    fields = repo.load(CHANNEL_ID).fields
    assert fields.get("rank") == rank
    assert fields.get("rank").choices == ("gold", "silver")
    assert fields.get("points") == points and fields.get("points").choices == ()
    assert fields.get("birthday") == birthday
    assert fields.coerce("points", "1,500") == 1500
    assert [d.key for d in fields.definitions] == ["birthday", "points", "rank"]


def test_put_field_replaces_and_delete_field_removes(repo: ChannelConfigRepository) -> None:
    repo.put_field(
        CHANNEL_ID, FieldDefinition(key="rank", label="ランク", type="choice", choices=("a",))
    )
    changed = FieldDefinition(key="rank", label="ランク", type="choice", choices=("a", "b", "c"))
    repo.put_field(CHANNEL_ID, changed)
    repo.put_field(CHANNEL_ID, FieldDefinition(key="memo", label="メモ", type="text"))
    assert repo.load(CHANNEL_ID).fields.get("rank").choices == ("a", "b", "c")
    repo.delete_field(CHANNEL_ID, "rank")
    assert [d.key for d in repo.load(CHANNEL_ID).fields.definitions] == ["memo"]


# ---------------------------------------------------------------- rules


def test_replace_rules_adds_replaces_and_deletes(repo: ChannelConfigRepository) -> None:
    repo.replace_rules(CHANNEL_ID, [rule("r1"), rule("r2"), rule("r3", ratio=0.5)])
    assert sorted(r["rule_id"] for r in repo.load(CHANNEL_ID).rules) == ["r1", "r2", "r3"]

    new_set = [rule("r2", keywords=["変更"]), rule("r4", nested={"a": [1.5, "テキスト"]})]
    repo.replace_rules(CHANNEL_ID, new_set)
    loaded = sorted(repo.load(CHANNEL_ID).rules, key=lambda r: r["rule_id"])
    assert loaded == sorted(new_set, key=lambda r: r["rule_id"])


def test_replace_rules_with_nothing_deletes_all(repo: ChannelConfigRepository) -> None:
    repo.replace_rules(CHANNEL_ID, [rule("r1"), rule("r2")])
    repo.replace_rules(CHANNEL_ID, [])
    assert repo.load(CHANNEL_ID).rules == []
    repo.replace_rules(CHANNEL_ID, [])  # nothing to do, nothing fails


def test_replace_rules_leaves_other_config_and_channels_alone(
    repo: ChannelConfigRepository,
) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="VIP"))
    repo.put_field(CHANNEL_ID, FieldDefinition(key="memo", label="メモ", type="text"))
    repo.replace_rules(OTHER_CHANNEL, [rule("other")])
    repo.replace_rules(CHANNEL_ID, [rule("r1")])
    repo.replace_rules(CHANNEL_ID, [rule("r2")])
    config = repo.load(CHANNEL_ID)
    assert [r["rule_id"] for r in config.rules] == ["r2"]
    assert tag_names(repo) == {"tag_1": "VIP"}
    assert [d.key for d in config.fields.definitions] == ["memo"]
    assert [r["rule_id"] for r in repo.load(OTHER_CHANNEL).rules] == ["other"]


def test_more_than_100_rules(repo: ChannelConfigRepository) -> None:
    first = [rule(f"r{index:03d}") for index in range(150)]
    repo.replace_rules(CHANNEL_ID, first)
    assert sorted(r["rule_id"] for r in repo.load(CHANNEL_ID).rules) == [
        f"r{index:03d}" for index in range(150)
    ]
    # 130 kept (rewritten), 20 deleted, 90 added: 240 writes in three transactions.
    second = [rule(f"r{index:03d}", version=2) for index in range(20, 240)]
    repo.replace_rules(CHANNEL_ID, second)
    loaded = repo.load(CHANNEL_ID).rules
    assert sorted(r["rule_id"] for r in loaded) == [f"r{index:03d}" for index in range(20, 240)]
    assert all(r["version"] == 2 for r in loaded)


# ---------------------------------------------------------------- settings


def test_settings_are_json_round_tripped(repo: ChannelConfigRepository) -> None:
    welcome = [{"type": "text", "text": "友だち追加ありがとう！"}]
    hours = {"mon": ["09:00", "18:00"], "holidays": [], "ratio": 0.5}
    repo.set_setting(CHANNEL_ID, "welcome_messages", welcome)
    repo.set_setting(CHANNEL_ID, "business_hours", hours)
    repo.set_setting(CHANNEL_ID, "auto_reply_enabled", False)
    config = repo.load(CHANNEL_ID)
    assert config.welcome_messages == welcome
    assert config.business_hours == hours
    assert json.loads(config.settings["auto_reply_enabled"]) is False
    assert "友だち" in config.settings["welcome_messages"]  # stored readable (no \\u escapes)


def test_none_removes_a_setting(repo: ChannelConfigRepository) -> None:
    repo.set_setting(CHANNEL_ID, "welcome_messages", [{"type": "text", "text": "hi"}])
    repo.set_setting(CHANNEL_ID, "business_hours", {"mon": []})
    repo.set_setting(CHANNEL_ID, "business_hours", None)
    config = repo.load(CHANNEL_ID)
    assert "business_hours" not in config.settings
    assert config.business_hours is None
    assert config.welcome_messages == [{"type": "text", "text": "hi"}]
    repo.set_setting(CHANNEL_ID, "never_set", None)  # removing a missing one is harmless


def test_an_unconfigured_channel_loads_empty(repo: ChannelConfigRepository) -> None:
    config = repo.load(CHANNEL_ID)
    assert config.channel_id == CHANNEL_ID
    assert config.tags.tags == [] and config.tags.folders == []
    assert config.fields.definitions == []
    assert config.rules == []
    assert config.welcome_messages == [] and config.business_hours is None


def test_setting_names_that_are_reserved_words_work(repo: ChannelConfigRepository) -> None:
    repo.set_setting(CHANNEL_ID, "status", "open")
    repo.set_setting(CHANNEL_ID, "name", "shop")
    config = repo.load(CHANNEL_ID)
    assert json.loads(config.settings["status"]) == "open"
    assert json.loads(config.settings["name"]) == "shop"


# ---------------------------------------------------------------- one query


def fill(repo: ChannelConfigRepository) -> None:
    for index in range(5):
        repo.create_tag(CHANNEL_ID, Tag(tag_id=f"tag_{index}", name=f"タグ{index}"))
    repo.put_folder(CHANNEL_ID, TagFolder(folder_id="folder_a", name="A"))
    repo.put_field(CHANNEL_ID, FieldDefinition(key="memo", label="メモ", type="text"))
    repo.replace_rules(CHANNEL_ID, [rule("r1"), rule("r2")])
    repo.set_setting(CHANNEL_ID, "welcome_messages", [{"type": "text", "text": "hi"}])


def test_load_is_one_query(repo: ChannelConfigRepository) -> None:
    fill(repo)
    with count_aws_calls() as calls:
        config = repo.load(CHANNEL_ID)
    assert calls.by_operation() == {"dynamodb.Query": 1}
    assert len(config.tags.tags) == 5 and len(config.tags.folders) == 1
    assert len(config.fields.definitions) == 1 and len(config.rules) == 2
    assert config.welcome_messages == [{"type": "text", "text": "hi"}]


# ---------------------------------------------------------------- cache


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_cached_config_is_reused_within_the_ttl(repo: ChannelConfigRepository) -> None:
    fill(repo)
    clock = FakeClock(NOW)
    cache = CachedChannelConfig(repo, clock, ttl=timedelta(seconds=30))
    with count_aws_calls() as calls:
        first = cache.get(CHANNEL_ID)
    assert calls.count() == 1

    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_new", name="新タグ"))
    clock.advance(29.9)
    with count_aws_calls() as calls:
        second = cache.get(CHANNEL_ID)
    assert calls.count() == 0
    assert second is first
    assert second.tags.get("tag_new") is None  # the admin change is not seen yet


def test_cached_config_reloads_after_the_ttl(repo: ChannelConfigRepository) -> None:
    fill(repo)
    clock = FakeClock(NOW)
    cache = CachedChannelConfig(repo, clock, ttl=timedelta(seconds=30))
    cache.get(CHANNEL_ID)
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_new", name="新タグ"))
    clock.advance(30)
    with count_aws_calls() as calls:
        fresh = cache.get(CHANNEL_ID)
    assert calls.by_operation() == {"dynamodb.Query": 1}
    assert fresh.tags.get("tag_new") is not None
    # …and the new copy is cached for another ttl from now.
    clock.advance(10)
    with count_aws_calls() as calls:
        assert cache.get(CHANNEL_ID) is fresh
    assert calls.count() == 0


def test_cache_is_per_channel(repo: ChannelConfigRepository) -> None:
    repo.create_tag(CHANNEL_ID, Tag(tag_id="tag_1", name="VIP"))
    repo.create_tag(OTHER_CHANNEL, Tag(tag_id="tag_2", name="Other"))
    cache = CachedChannelConfig(repo, FakeClock(NOW))
    with count_aws_calls() as calls:
        mine = cache.get(CHANNEL_ID)
        other = cache.get(OTHER_CHANNEL)
        cache.get(CHANNEL_ID)
        cache.get(OTHER_CHANNEL)
    assert calls.count() == 2
    assert [t.tag_id for t in mine.tags.tags] == ["tag_1"]
    assert [t.tag_id for t in other.tags.tags] == ["tag_2"]
