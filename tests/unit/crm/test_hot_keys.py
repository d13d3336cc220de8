"""No hot keys: where a follow burst's writes land (counted per key value, not timed),
and what a tag-filtered friend list reads. The 10,000-follow figures are in
``make bench`` (benchmarks/hot_keys.py); these are the same counts on a small burst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.domain.friends import FriendChangeSet
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.dynamo import to_item
from linecrm.repositories.friends import (
    FriendRepository,
    friend_key,
    friends_list_key,
    tag_membership_item,
)
from linecrm.repositories.sharding import SHARDS, shard_of
from linecrm_local.write_keys import item_size, record_dynamodb_keys
from tests.support.lambda_support import load_handler
from tests.support.signing import line_event, webhook_body
from tests.unit.conftest import CHANNEL_ID, WELCOME, AwsWorld, webhook_request

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
FOLLOWS = 96
# An even spread puts 1/16 of the writes on each shard; allow 3x that (the burst is
# small). One unsharded list key would take 100 %. User and event ids are fixed, so
# the counts are the same on every run.
MAX_SHARE = 3 / SHARDS


def uid(index: int) -> str:
    return f"U{index:032x}"


@pytest.fixture
def repo(aws: AwsWorld) -> FriendRepository:
    return FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def recording(aws: AwsWorld) -> Any:
    return record_dynamodb_keys(aws.resources.table_names, aws.session)


def test_a_follow_burst_spreads_over_every_index(aws: AwsWorld, lambda_context: Any) -> None:
    table = aws.resources.table_names["Main"]
    ChannelConfigRepository(aws.client("dynamodb"), table).set_welcome_messages(CHANNEL_ID, WELCOME)
    webhook = load_handler("webhook")
    with recording(aws) as recorder:
        for start in range(0, FOLLOWS, 16):
            events = [
                line_event("follow", uid(n), event_id=f"01HOTKEYS{n:017d}")
                for n in range(start, start + 16)
            ]
            response = webhook.lambda_handler(
                webhook_request(webhook_body(*events)), lambda_context
            )
            assert response["statusCode"] == 200
    shares = {share.target: share for share in recorder.shares()}
    # Every follow wrote its friend row to the friend list; each welcome, a ledger row.
    assert shares["Main.gsi1"].writes >= 2 * FOLLOWS, shares
    assert shares["Main"].writes >= 2 * FOLLOWS, shares
    for share in shares.values():
        assert share.share <= MAX_SHARE, share
    friend_list = recorder.writes("Main.gsi1")
    assert {key for key in friend_list if "#FRIENDS#" in key} == {
        f"CH#{CHANNEL_ID}#FRIENDS#{shard}" for shard in range(SHARDS)
    }


def test_interactions_and_tags_spread_too(aws: AwsWorld, repo: FriendRepository) -> None:
    for n in range(FOLLOWS):
        repo.record_follow(CHANNEL_ID, uid(n), T0)
    with recording(aws) as recorder:
        for n in range(FOLLOWS):
            repo.record_interaction(CHANNEL_ID, uid(n), T0)
            repo.apply_change(
                CHANNEL_ID, uid(n), FriendChangeSet(add_tag_ids=frozenset({"t_campaign"})), T0
            )
    shares = {share.target: share for share in recorder.shares()}
    # One popular tag: its members' list is sharded like the friend list.
    assert shares["Main.gsi2"].writes == FOLLOWS
    assert shares["Main.gsi2"].distinct_keys == SHARDS
    for share in shares.values():
        assert share.share <= MAX_SHARE, share


def test_a_keys_only_index_takes_no_write_when_no_key_changes(
    aws: AwsWorld, repo: FriendRepository
) -> None:
    repo.record_follow(CHANNEL_ID, uid(1), T0)
    change = FriendChangeSet(add_tag_ids=frozenset({"t_a"}))
    repo.apply_change(CHANNEL_ID, uid(1), change, T0)
    with recording(aws) as recorder:
        repo.apply_change(CHANNEL_ID, uid(1), change, T1)  # the same membership again
        repo.record_interaction(CHANNEL_ID, uid(1), T1)
    assert recorder.writes("Main.gsi2") == {}
    assert sum(recorder.writes("Main.gsi1").values()) == 2  # ALL: the profile changed


def add_friends(aws: AwsWorld, count: int) -> None:
    """Friend rows straight into the table (what follows would have written), fast."""
    client = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    items = [
        {
            **friend_key(CHANNEL_ID, uid(n)),
            "channel_id": CHANNEL_ID,
            "user_id": uid(n),
            "gsi1pk": friends_list_key(CHANNEL_ID, uid(n)),
            "gsi1sk": uid(n),
            "status": "active",
            "tags": {},
            "fields": {},
            "rule_fired_at": {},
        }
        for n in range(count)
    ]
    for start in range(0, count, 25):
        client.batch_write_item(
            RequestItems={
                table: [{"PutRequest": {"Item": to_item(i)}} for i in items[start : start + 25]]
            }
        )


def test_a_rare_tag_lists_its_friends_reading_about_twice_what_it_returns(
    aws: AwsWorld, repo: FriendRepository
) -> None:
    add_friends(aws, 2_000)
    tagged = [uid(n) for n in range(7, 2_000, 100)]  # 20 of 2,000
    for user_id in tagged:
        repo.apply_change(
            CHANNEL_ID, user_id, FriendChangeSet(add_tag_ids=frozenset({"t_vip"})), T0
        )
    with recording(aws) as recorder:
        page = repo.list_page(CHANNEL_ID, tag_id="t_vip", limit=20)
    assert [friend.user_id for friend in page.friends] == sorted(tagged)
    assert page.next_cursor is None
    items_read = sum(figure.items for figure in recorder.reads().values())
    assert items_read <= 2 * len(tagged), recorder.reads()
    assert recorder.reads()["Main.gsi2"].items == len(tagged)


def test_a_membership_the_profile_does_not_confirm_is_skipped(
    aws: AwsWorld, repo: FriendRepository
) -> None:
    for n in range(3):
        repo.record_follow(CHANNEL_ID, uid(n), T0)
    repo.apply_change(CHANNEL_ID, uid(0), FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T0)
    # A membership written just before a crash (the profile never got the tag).
    aws.client("dynamodb").put_item(
        TableName=aws.resources.table_names["Main"],
        Item=to_item(tag_membership_item(CHANNEL_ID, uid(1), "t_a", "2026-11-23T03:00:00.000")),
    )
    page = repo.list_page(CHANNEL_ID, tag_id="t_a")
    assert [friend.user_id for friend in page.friends] == [uid(0)]


def test_removing_a_tag_removes_its_membership_item(aws: AwsWorld, repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, uid(0), T0)
    repo.apply_change(CHANNEL_ID, uid(0), FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T0)
    assert any(item["sk"]["S"] == "TAG#t_a" for item in aws.main_items())
    repo.apply_change(CHANNEL_ID, uid(0), FriendChangeSet(remove_tag_ids=frozenset({"t_a"})), T0)
    assert not any(item["sk"]["S"].startswith("TAG#") for item in aws.main_items())


def test_memberships_are_deleted_with_the_friend_but_not_exported(
    aws: AwsWorld, repo: FriendRepository
) -> None:
    repo.record_follow(CHANNEL_ID, uid(0), T0)
    repo.apply_change(
        CHANNEL_ID, uid(0), FriendChangeSet(add_tag_ids=frozenset({"t_a", "t_b"})), T0
    )
    exported = [item["sk"] for item in repo.export(CHANNEL_ID, uid(0))]
    # the profile and the change's activity row (the timeline's), not the memberships
    assert sorted(sk.split("#")[0] for sk in exported) == ["ACT", "PROFILE"]
    assert repo.delete(CHANNEL_ID, uid(0)) == 4
    # only the tag counters stay (both tags back to 0)
    assert {item["sk"]["S"] for item in aws.main_items()} == {"TAGCOUNT"}
    assert repo.list_page(CHANNEL_ID, tag_id="t_a").friends == []


def test_a_tag_change_of_an_unknown_friend_leaves_no_membership(
    aws: AwsWorld, repo: FriendRepository
) -> None:
    from linecrm.repositories.friends import FriendNotFound

    with pytest.raises(FriendNotFound):
        repo.apply_change(CHANNEL_ID, uid(9), FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T0)
    assert aws.main_items() == []


def test_shards_are_stable_and_cover_the_range() -> None:
    assert shard_of(uid(1)) == shard_of(uid(1))
    assert {shard_of(uid(n)) for n in range(500)} == set(range(SHARDS))


def test_item_size_follows_dynamodbs_rules() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"n": {"N": "123"}}) == 1 + 3
