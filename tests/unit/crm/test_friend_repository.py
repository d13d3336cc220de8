"""FriendRepository on moto: follow lifecycle, CRM changes, paging, export and delete."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.domain.friends import ChatMode, FollowOutcome, FriendProfile
from linecrm.repositories.enrollments import EnrollmentRepository
from linecrm.repositories.friends import (
    FriendChangeSet,
    FriendNotFound,
    FriendRepository,
    InvalidCursor,
    friend_pk,
)
from tests.unit.conftest import CHANNEL_ID, AwsWorld

OTHER_CHANNEL = "1650000099"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
T3 = T0 + timedelta(hours=3)
ALICE = "U" + "a" * 32
BOB = "U" + "b" * 32


def uid(index: int) -> str:
    return f"U{index:032x}"


@pytest.fixture
def repo(aws: AwsWorld) -> FriendRepository:
    return FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


@pytest.fixture
def enrollments(aws: AwsWorld) -> EnrollmentRepository:
    return EnrollmentRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def raw_profile(aws: AwsWorld, user_id: str, channel_id: str = CHANNEL_ID) -> dict | None:
    response = aws.client("dynamodb").get_item(
        TableName=aws.resources.table_names["Main"],
        Key={"pk": {"S": friend_pk(channel_id, user_id)}, "sk": {"S": "PROFILE"}},
    )
    return response.get("Item")


# ---------------------------------------------------------------- follow / unfollow


def test_first_follow_creates_an_active_friend(repo: FriendRepository) -> None:
    assert repo.record_follow(CHANNEL_ID, ALICE, T0) is FollowOutcome.FIRST_FOLLOW
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert (friend.channel_id, friend.user_id, friend.status) == (CHANNEL_ID, ALICE, "active")
    assert friend.first_followed_at == T0
    assert friend.last_followed_at == T0
    assert friend.last_interaction_at == T0
    assert friend.refollowed_at is None and friend.blocked_at is None
    assert friend.tags == {} and friend.fields == {} and friend.rule_fired_at == {}


def test_follow_while_following_is_already_following(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    assert repo.record_follow(CHANNEL_ID, ALICE, T1) is FollowOutcome.ALREADY_FOLLOWING
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.first_followed_at == T0
    assert friend.last_followed_at == T1
    assert friend.refollowed_at is None


def test_follow_after_block_is_a_refollow(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.record_unfollow(CHANNEL_ID, ALICE, T1)
    assert repo.record_follow(CHANNEL_ID, ALICE, T2) is FollowOutcome.REFOLLOW
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.status == "active"
    assert friend.refollowed_at == T2
    assert friend.blocked_at is None
    assert friend.first_followed_at == T0
    assert friend.last_followed_at == T2
    # A further follow is no refollow, and keeps the time of the unblock.
    assert repo.record_follow(CHANNEL_ID, ALICE, T3) is FollowOutcome.ALREADY_FOLLOWING
    again = repo.get(CHANNEL_ID, ALICE)
    assert again is not None and again.refollowed_at == T2


def test_unfollow_marks_blocked_and_keeps_everything_else(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.set_profile(CHANNEL_ID, ALICE, FriendProfile(display_name="Alice", language="ja"), T0)
    repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(add_tag_ids=frozenset({"tag_vip"}), set_fields={"points": 10}),
        T0,
    )
    repo.record_unfollow(CHANNEL_ID, ALICE, T1)
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.status == "blocked"
    assert friend.blocked_at == T1
    assert friend.display_name == "Alice" and friend.language == "ja"
    assert friend.tag_ids == {"tag_vip"}
    assert friend.fields == {"points": 10}
    assert friend.first_followed_at == T0


def test_unfollow_of_an_unknown_friend_records_a_blocked_friend(repo: FriendRepository) -> None:
    repo.record_unfollow(CHANNEL_ID, ALICE, T1)
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.status == "blocked" and friend.blocked_at == T1


# ---------------------------------------------------------------- interaction / ensure


def test_record_interaction_returns_the_friend_as_stored(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(add_tag_ids=frozenset({"tag_vip"}), set_fields={"rank": "gold", "pt": 2.5}),
        T0,
    )
    repo.set_chat_mode(CHANNEL_ID, ALICE, ChatMode(staff="佐藤", since=T1))
    friend = repo.record_interaction(CHANNEL_ID, ALICE, T2)
    assert friend.last_interaction_at == T2
    assert friend.tags == {"tag_vip": T0}
    assert friend.fields == {"rank": "gold", "pt": 2.5}
    assert friend.chat_mode == ChatMode(staff="佐藤", since=T1)
    assert friend.automation_paused
    assert friend.status == "active"
    assert repo.get(CHANNEL_ID, ALICE) == friend


def test_record_interaction_keeps_a_blocked_status(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.record_unfollow(CHANNEL_ID, ALICE, T1)
    assert repo.record_interaction(CHANNEL_ID, ALICE, T2).status == "blocked"


def test_record_interaction_creates_a_row_for_an_unknown_friend(repo: FriendRepository) -> None:
    friend = repo.record_interaction(CHANNEL_ID, ALICE, T0)
    assert friend.status == "active"
    assert friend.user_id == ALICE and friend.channel_id == CHANNEL_ID
    assert friend.last_interaction_at == T0
    assert friend.tags == {} and not friend.automation_paused
    assert repo.get(CHANNEL_ID, ALICE) == friend
    assert [f.user_id for f in repo.list_page(CHANNEL_ID).friends] == [ALICE]


def test_ensure_creates_once(repo: FriendRepository) -> None:
    assert repo.ensure(CHANNEL_ID, ALICE, T0) is True
    assert repo.ensure(CHANNEL_ID, ALICE, T1) is False
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.status == "active" and friend.first_followed_at == T0


def test_ensure_leaves_an_existing_friend_alone(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.record_unfollow(CHANNEL_ID, ALICE, T1)
    assert repo.ensure(CHANNEL_ID, ALICE, T2) is False
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.status == "blocked" and friend.first_followed_at == T0


def test_friends_are_per_channel(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    assert repo.get(OTHER_CHANNEL, ALICE) is None
    assert repo.record_follow(OTHER_CHANNEL, ALICE, T1) is FollowOutcome.FIRST_FOLLOW


# ---------------------------------------------------------------- profile


def test_set_profile_stores_the_profile_and_when(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    profile = FriendProfile.model_validate(
        {
            "displayName": "Alice",
            "pictureUrl": "https://profile.example/a.png",
            "statusMessage": "hi",
            "language": "en",
        }
    )
    repo.set_profile(CHANNEL_ID, ALICE, profile, T1)
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.display_name == "Alice"
    assert friend.picture_url == "https://profile.example/a.png"
    assert friend.status_message == "hi"
    assert friend.language == "en"
    assert friend.profile_fetched_at == T1
    assert friend.status == "active" and friend.first_followed_at == T0


def test_set_profile_keeps_what_the_new_profile_leaves_out(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.set_profile(CHANNEL_ID, ALICE, FriendProfile(display_name="Alice", language="ja"), T1)
    repo.set_profile(CHANNEL_ID, ALICE, FriendProfile(display_name="Alice 2"), T2)
    friend = repo.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert friend.display_name == "Alice 2"
    assert friend.language == "ja"
    assert friend.profile_fetched_at == T2


def test_set_profile_for_an_unknown_friend_leaves_the_channel_readable(
    repo: FriendRepository,
) -> None:
    repo.record_follow(CHANNEL_ID, BOB, T0)
    with pytest.raises(FriendNotFound):
        repo.set_profile(CHANNEL_ID, ALICE, FriendProfile(display_name="Ghost"), T1)
    assert repo.get(CHANNEL_ID, ALICE) is None
    assert BOB in [friend.user_id for friend in repo.list_page(CHANNEL_ID).friends]


# ---------------------------------------------------------------- apply_change


def test_apply_change_adds_and_removes_tags_in_one_call(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(
        CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=frozenset({"t_a", "t_b", "t_c"})), T0
    )
    friend = repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(
            add_tag_ids=frozenset({"t_d", "t_e"}), remove_tag_ids=frozenset({"t_a", "t_c", "t_x"})
        ),
        T1,
    )
    assert friend.tags == {"t_b": T0, "t_d": T1, "t_e": T1}
    assert repo.get(CHANNEL_ID, ALICE) == friend


def test_a_tag_both_added_and_removed_is_kept(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T0)
    friend = repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(
            add_tag_ids=frozenset({"t_a", "t_b"}), remove_tag_ids=frozenset({"t_a", "t_b"})
        ),
        T1,
    )
    assert friend.tags == {"t_a": T1, "t_b": T1}


def test_re_adding_a_tag_moves_its_time(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T0)
    friend = repo.apply_change(
        CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T2
    )
    assert friend.tags == {"t_a": T2}


def test_tag_ids_with_expression_like_characters_are_names(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    odd = frozenset({"tag-with-dash", "tag_1", "A-Z_09"})
    friend = repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=odd), T0)
    assert friend.tag_ids == odd


def test_apply_change_sets_and_clears_fields(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(set_fields={"rank": "silver", "memo": "x", "points": 100}),
        T0,
    )
    friend = repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(
            set_fields={"rank": "gold", "rate": 3.75, "birthday": "1990-04-01", "visits": 3.0},
            clear_fields=frozenset({"memo", "absent"}),
        ),
        T1,
    )
    assert friend.fields == {
        "rank": "gold",
        "points": 100,
        "rate": 3.75,
        "birthday": "1990-04-01",
        "visits": 3,
    }
    assert isinstance(friend.fields["rate"], float)
    assert isinstance(friend.fields["points"], int)
    assert repo.get(CHANNEL_ID, ALICE) == friend


def test_a_field_both_set_and_cleared_is_set(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    friend = repo.apply_change(
        CHANNEL_ID,
        ALICE,
        FriendChangeSet(set_fields={"rank": "gold"}, clear_fields=frozenset({"rank"})),
        T1,
    )
    assert friend.fields == {"rank": "gold"}


def test_fired_rule_id_records_the_rule_time(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(fired_rule_id="rule_1"), T1)
    friend = repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(fired_rule_id="rule_2"), T2)
    assert friend.rule_fired_at == {"rule_1": T1, "rule_2": T2}
    friend = repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(fired_rule_id="rule_1"), T3)
    assert friend.rule_fired_at == {"rule_1": T3, "rule_2": T2}


def test_apply_change_keeps_status_and_profile(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.record_unfollow(CHANNEL_ID, ALICE, T1)
    repo.set_profile(CHANNEL_ID, ALICE, FriendProfile(display_name="Alice"), T1)
    friend = repo.apply_change(
        CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T2
    )
    assert friend.status == "blocked" and friend.blocked_at == T1
    assert friend.display_name == "Alice"


def test_apply_change_to_an_unknown_friend_is_friend_not_found(
    repo: FriendRepository, aws: AwsWorld
) -> None:
    with pytest.raises(FriendNotFound) as raised:
        repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T0)
    assert raised.value.user_id == ALICE
    assert raw_profile(aws, ALICE) is None  # no half-made row


def test_apply_change_to_a_friend_of_another_channel_is_friend_not_found(
    repo: FriendRepository,
) -> None:
    repo.record_follow(OTHER_CHANNEL, ALICE, T0)
    with pytest.raises(FriendNotFound):
        repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(set_fields={"a": 1}), T0)


def test_an_empty_change_returns_the_friend(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    assert FriendChangeSet().is_empty
    friend = repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(), T1)
    assert friend.user_id == ALICE


def test_change_set_is_empty_only_without_any_change() -> None:
    assert FriendChangeSet().is_empty
    assert FriendChangeSet(set_fields={}).is_empty
    assert not FriendChangeSet(add_tag_ids=frozenset({"a"})).is_empty
    assert not FriendChangeSet(remove_tag_ids=frozenset({"a"})).is_empty
    assert not FriendChangeSet(set_fields={"a": 1}).is_empty
    assert not FriendChangeSet(clear_fields=frozenset({"a"})).is_empty
    assert not FriendChangeSet(fired_rule_id="r").is_empty


# ---------------------------------------------------------------- chat mode


def test_chat_mode_on_and_off(repo: FriendRepository) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    mode = ChatMode(staff="staff@example.com", since=T1)
    on = repo.set_chat_mode(CHANNEL_ID, ALICE, mode)
    assert on.chat_mode == mode and on.automation_paused
    stored = repo.get(CHANNEL_ID, ALICE)
    assert stored is not None and stored.chat_mode == mode
    off = repo.set_chat_mode(CHANNEL_ID, ALICE, None)
    assert off.chat_mode is None and not off.automation_paused
    stored = repo.get(CHANNEL_ID, ALICE)
    assert stored is not None and stored.chat_mode is None
    # Releasing twice is harmless.
    assert repo.set_chat_mode(CHANNEL_ID, ALICE, None).chat_mode is None


def test_chat_mode_for_an_unknown_friend_is_friend_not_found(
    repo: FriendRepository, aws: AwsWorld
) -> None:
    with pytest.raises(FriendNotFound):
        repo.set_chat_mode(CHANNEL_ID, ALICE, ChatMode(staff="s", since=T0))
    with pytest.raises(FriendNotFound):
        repo.set_chat_mode(CHANNEL_ID, ALICE, None)
    assert raw_profile(aws, ALICE) is None


# ---------------------------------------------------------------- list_page


def follow_many(repo: FriendRepository, count: int, channel_id: str = CHANNEL_ID) -> list[str]:
    users = [uid(index) for index in range(count)]
    for user in users:
        repo.record_follow(channel_id, user, T0)
    return users


def all_pages(repo: FriendRepository, **options: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = repo.list_page(CHANNEL_ID, cursor=cursor, **options)  # type: ignore[arg-type]
        pages.append([friend.user_id for friend in page.friends])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 50, "paging does not end"


def test_pages_of_50_over_120_friends(repo: FriendRepository) -> None:
    users = follow_many(repo, 120)
    follow_many(repo, 5, OTHER_CHANNEL)
    first = repo.list_page(CHANNEL_ID, limit=50)
    assert len(first.friends) == 50 and first.next_cursor
    second = repo.list_page(CHANNEL_ID, limit=50, cursor=first.next_cursor)
    assert len(second.friends) == 50 and second.next_cursor
    third = repo.list_page(CHANNEL_ID, limit=50, cursor=second.next_cursor)
    assert len(third.friends) == 20 and third.next_cursor is None
    seen = [f.user_id for page in (first, second, third) for f in page.friends]
    assert seen == sorted(users)  # user-id order, no duplicates, no gaps
    assert all(f.channel_id == CHANNEL_ID for f in first.friends)


def test_default_page_and_limits(repo: FriendRepository) -> None:
    follow_many(repo, 60)
    assert len(repo.list_page(CHANNEL_ID).friends) == 50
    assert len(repo.list_page(CHANNEL_ID, limit=0).friends) == 1
    assert len(repo.list_page(CHANNEL_ID, limit=1000).friends) == 60
    assert repo.list_page(CHANNEL_ID, limit=1000).next_cursor is None


def test_an_empty_channel_has_one_empty_page(repo: FriendRepository) -> None:
    page = repo.list_page(CHANNEL_ID)
    assert page.friends == [] and page.next_cursor is None


def test_friend_items_only_not_other_partition_items(
    repo: FriendRepository, enrollments: EnrollmentRepository
) -> None:
    follow_many(repo, 3)
    enrollments.start(CHANNEL_ID, uid(0), "welcome", T0)
    assert [f.user_id for f in repo.list_page(CHANNEL_ID).friends] == [uid(0), uid(1), uid(2)]


def test_tag_filter_across_pages(repo: FriendRepository) -> None:
    users = follow_many(repo, 120)
    tagged = users[::3]
    for user in tagged:
        repo.apply_change(CHANNEL_ID, user, FriendChangeSet(add_tag_ids=frozenset({"t_vip"})), T1)
    repo.apply_change(CHANNEL_ID, users[1], FriendChangeSet(add_tag_ids=frozenset({"t_x"})), T1)
    pages = all_pages(repo, tag_id="t_vip", limit=15)
    flat = [user for page in pages for user in page]
    assert flat == sorted(tagged) and len(flat) == 40
    assert all(len(page) == 15 for page in pages[:2])
    assert sum(len(page) for page in pages) == 40


def test_status_filter_across_pages(repo: FriendRepository) -> None:
    users = follow_many(repo, 120)
    blocked = [user for index, user in enumerate(users) if index % 4 == 1]
    for user in blocked:
        repo.record_unfollow(CHANNEL_ID, user, T1)
    blocked_pages = all_pages(repo, status="blocked", limit=7)
    assert [user for page in blocked_pages for user in page] == blocked
    assert all(len(page) == 7 for page in blocked_pages[:-1])
    active = [user for page in all_pages(repo, status="active", limit=25) for user in page]
    assert active == [user for user in users if user not in blocked]


def test_tag_and_status_filters_combine(repo: FriendRepository) -> None:
    users = follow_many(repo, 30)
    for user in users[:10]:
        repo.apply_change(CHANNEL_ID, user, FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T1)
    for user in users[5:15]:
        repo.record_unfollow(CHANNEL_ID, user, T1)
    pages = all_pages(repo, tag_id="t_a", status="active", limit=2)
    assert [user for page in pages for user in page] == users[:5]


def test_a_removed_tag_no_longer_matches(repo: FriendRepository) -> None:
    follow_many(repo, 2)
    repo.apply_change(CHANNEL_ID, uid(0), FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T1)
    repo.apply_change(CHANNEL_ID, uid(1), FriendChangeSet(add_tag_ids=frozenset({"t_a"})), T1)
    repo.apply_change(CHANNEL_ID, uid(0), FriendChangeSet(remove_tag_ids=frozenset({"t_a"})), T2)
    assert [f.user_id for f in repo.list_page(CHANNEL_ID, tag_id="t_a").friends] == [uid(1)]


def test_filter_with_no_match_ends_without_cursor(repo: FriendRepository) -> None:
    follow_many(repo, 250)
    page = repo.list_page(CHANNEL_ID, tag_id="nobody", limit=10)
    assert page.friends == [] and page.next_cursor is None


def encode(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "%%%",
        "bm90IGpzb24",  # "not json"
        encode(["a", "list"]),
        encode({"pk": "x", "sk": "y"}),
        encode({"pk": "x", "sk": "y", "gsi1pk": f"CH#{CHANNEL_ID}#FRIENDS", "gsi1sk": 5}),
        encode({"pk": "x", "sk": "y", "gsi1pk": "CH#1#FRIENDS", "gsi1sk": "U1", "extra": "z"}),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    ],
)
def test_forged_cursors_are_invalid(repo: FriendRepository, cursor: str) -> None:
    follow_many(repo, 3)
    with pytest.raises(InvalidCursor):
        repo.list_page(CHANNEL_ID, cursor=cursor)


def test_a_cursor_of_another_channel_is_invalid(repo: FriendRepository) -> None:
    follow_many(repo, 5, OTHER_CHANNEL)
    follow_many(repo, 5)
    other = repo.list_page(OTHER_CHANNEL, limit=2)
    assert other.next_cursor
    with pytest.raises(InvalidCursor):
        repo.list_page(CHANNEL_ID, cursor=other.next_cursor)
    assert len(repo.list_page(OTHER_CHANNEL, limit=2, cursor=other.next_cursor).friends) == 2


def test_invalid_cursor_is_a_value_error() -> None:
    assert issubclass(InvalidCursor, ValueError)


# ---------------------------------------------------------------- export / delete


def test_export_returns_every_item_of_the_friends_partition(
    repo: FriendRepository, enrollments: EnrollmentRepository
) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    repo.apply_change(CHANNEL_ID, ALICE, FriendChangeSet(set_fields={"rate": 1.5, "points": 2}), T0)
    enrollments.start(CHANNEL_ID, ALICE, "welcome", T1)
    enrollments.start(CHANNEL_ID, ALICE, "seminar", T1)
    repo.record_follow(CHANNEL_ID, BOB, T0)
    enrollments.start(CHANNEL_ID, BOB, "welcome", T1)

    items = repo.export(CHANNEL_ID, ALICE)
    activity = [item for item in items if item["sk"].startswith("ACT#")]  # the field change
    assert [item["set_fields"] for item in activity] == [{"rate": 1.5, "points": 2}]
    items = [item for item in items if item not in activity]
    assert sorted(item["sk"] for item in items) == [
        "PROFILE",
        "SCENARIO#seminar",
        "SCENARIO#welcome",
    ]
    assert {item["pk"] for item in items} == {friend_pk(CHANNEL_ID, ALICE)}
    profile = next(item for item in items if item["sk"] == "PROFILE")
    assert profile["fields"] == {"rate": 1.5, "points": 2}
    assert profile["user_id"] == ALICE
    enrolment = next(item for item in items if item["sk"] == "SCENARIO#welcome")
    assert enrolment["status"] == "active" and enrolment["scenario_id"] == "welcome"
    json.dumps(items)  # plain values only (no Decimal)


def test_export_of_an_unknown_friend_is_empty(repo: FriendRepository) -> None:
    assert repo.export(CHANNEL_ID, ALICE) == []


def test_delete_removes_the_friends_items_only(
    repo: FriendRepository, enrollments: EnrollmentRepository, aws: AwsWorld
) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    enrollments.start(CHANNEL_ID, ALICE, "welcome", T1)
    enrollments.start(CHANNEL_ID, ALICE, "seminar", T1)
    repo.record_follow(CHANNEL_ID, BOB, T0)
    enrollments.start(CHANNEL_ID, BOB, "welcome", T1)
    repo.record_follow(OTHER_CHANNEL, ALICE, T0)
    before = len(aws.main_items())

    assert repo.delete(CHANNEL_ID, ALICE) == 3
    assert repo.export(CHANNEL_ID, ALICE) == []
    assert repo.get(CHANNEL_ID, ALICE) is None
    assert len(repo.export(CHANNEL_ID, BOB)) == 2
    assert repo.get(OTHER_CHANNEL, ALICE) is not None
    assert len(aws.main_items()) == before - 3
    assert [f.user_id for f in repo.list_page(CHANNEL_ID).friends] == [BOB]
    assert repo.delete(CHANNEL_ID, ALICE) == 0


def test_delete_of_a_big_partition_goes_in_batches(
    repo: FriendRepository, enrollments: EnrollmentRepository
) -> None:
    repo.record_follow(CHANNEL_ID, ALICE, T0)
    for index in range(60):
        enrollments.start(CHANNEL_ID, ALICE, f"scenario_{index}", T1)
    assert repo.delete(CHANNEL_ID, ALICE) == 61
    assert repo.export(CHANNEL_ID, ALICE) == []


# ---------------------------------------------------------------- LIFF logins
def test_a_login_of_an_unknown_user_records_a_login_only_friend(
    repo: FriendRepository, aws: AwsWorld
) -> None:
    friend, created = repo.record_login(CHANNEL_ID, ALICE, "Alice", T0)
    assert created
    assert (friend.status, friend.display_name, friend.last_login_at) == ("login_only", "Alice", T0)
    assert friend.first_followed_at is None
    # Listed with the channel's friends (gsi1), filtered by status.
    assert [f.user_id for f in repo.list_page(CHANNEL_ID, status="login_only").friends] == [ALICE]
    assert repo.list_page(CHANNEL_ID, status="active").friends == []
    again, created_again = repo.record_login(CHANNEL_ID, ALICE, "Renamed", T1)
    assert not created_again
    assert (again.display_name, again.last_login_at) == ("Alice", T1)


def test_a_login_changes_an_existing_friend_only_by_its_last_login(
    repo: FriendRepository, aws: AwsWorld
) -> None:
    repo.record_follow(CHANNEL_ID, BOB, T0)
    repo.record_unfollow(CHANNEL_ID, BOB, T1)
    before = raw_profile(aws, BOB)
    assert before is not None
    friend, created = repo.record_login(CHANNEL_ID, BOB, "Bob", T2)
    assert not created
    assert friend.status == "blocked"  # a login is no follow
    after = raw_profile(aws, BOB)
    assert after is not None
    assert after.pop("last_login_at")["S"].startswith("2026-11-23T05:00")
    assert after == before


def test_a_login_only_friend_who_follows_or_is_imported_is_active(repo: FriendRepository) -> None:
    repo.record_login(CHANNEL_ID, ALICE, "Alice", T0)
    assert repo.record_follow(CHANNEL_ID, ALICE, T1) is FollowOutcome.FIRST_FOLLOW
    followed = repo.get(CHANNEL_ID, ALICE)
    assert followed is not None
    assert (followed.status, followed.first_followed_at, followed.display_name) == (
        "active",
        T1,
        "Alice",
    )
    repo.record_login(CHANNEL_ID, BOB, None, T0)
    assert repo.ensure(CHANNEL_ID, BOB, T1) is False  # the row existed
    imported = repo.get(CHANNEL_ID, BOB)
    assert imported is not None and imported.status == "active"
