"""Friends of a LINE channel: one partition per (channel, user).

The profile item (``sk = PROFILE``) carries status, profile, tags (a map tag id -> added
at), custom fields (a map) and chat mode; a friend's other items (scenario enrolments,
tag memberships, …) share its partition, so exporting or deleting a friend is one
Query away.

Lists: the profile is in the channel's friend list on ``gsi1`` (key
``CH#<channel>#FRIENDS#<shard>``, sorted by user id), and each tag the friend holds is
one membership item (``sk = TAG#<tag id>``) in the tag's list on ``gsi2`` (keys only,
``CH#<channel>#TAG#<tag id>#<shard>``). Both are write-sharded (see
``linecrm.repositories.sharding``); docs/data-model.md has the whole key design.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from linecrm.domain.friends import (
    MARKETING_PERIOD_PREFIX,
    MAX_FRIEND_WARNINGS,
    ChatMode,
    FollowOutcome,
    Friend,
    FriendChangeSet,
    FriendProfile,
    FriendStatus,
)
from linecrm.repositories.activity import Activity, TagCounters, activity_item
from linecrm.repositories.cursors import page_cursor, position_in
from linecrm.repositories.dynamo import (
    ConditionalUpdate,
    batch_write,
    conditional_update,
    conditional_updates,
    from_item,
    is_conditional_check_failure,
    iso,
    to_item,
)
from linecrm.repositories.sharding import merged_query, per_shard_limit, sharded_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PROFILE_SK = "PROFILE"
LOGIN_ONLY = "login_only"  # FriendStatus of a LIFF login that never followed
TAG_SK_PREFIX = "TAG#"
# A follow/unfollow applies unless a later follow/unfollow was applied already.
_NOT_NEWER_STATUS = "attribute_not_exists(status_at) OR status_at <= :at"
MAX_PAGE_SIZE = 200


def friend_pk(channel_id: str, user_id: str) -> str:
    return f"CH#{channel_id}#FRIEND#{user_id}"


def friend_key(channel_id: str, user_id: str) -> dict[str, str]:
    return {"pk": friend_pk(channel_id, user_id), "sk": PROFILE_SK}


def member_pk(channel_id: str, member_id: str) -> str:
    """The index item of an ID link, member id → LINE user (``sk = MEMBER_SK``)."""
    return f"CH#{channel_id}#MEMBER#{member_id}"


MEMBER_SK = "IDLINK"
# A link token issued for the friend, pointed at from their partition (TTL as the
# token's own item, ``CH#<channel>#LINKTOKEN#<token>``, which names the friend): erasing
# the friend deletes both.
LINK_TOKEN_POINTER_PREFIX = "LINKTOKEN#"  # noqa: S105 - a sort key prefix, not a secret
LINK_TOKEN_SK = "LINKTOKEN"  # noqa: S105 - a sort key, not a secret


def link_token_pk(channel_id: str, link_token: str) -> str:
    return f"CH#{channel_id}#LINKTOKEN#{link_token}"


def friends_list(channel_id: str) -> str:
    """The channel's friend list, before sharding."""
    return f"CH#{channel_id}#FRIENDS"


def friends_list_key(channel_id: str, user_id: str) -> str:
    """The friend's ``gsi1pk``: the shard of the channel's friend list it is in."""
    return sharded_key(friends_list(channel_id), user_id)


def tag_list(channel_id: str, tag_id: str) -> str:
    """The friends holding a tag, before sharding."""
    return f"CH#{channel_id}#TAG#{tag_id}"


def tag_membership_item(channel_id: str, user_id: str, tag_id: str, at: str) -> dict[str, str]:
    """The item that puts the friend in the tag's list (``gsi2``); ``at`` as stored."""
    return {
        "pk": friend_pk(channel_id, user_id),
        "sk": TAG_SK_PREFIX + tag_id,
        "channel_id": channel_id,
        "user_id": user_id,
        "tag_id": tag_id,
        "tagged_at": at,
        "gsi2pk": sharded_key(tag_list(channel_id, tag_id), user_id),
        "gsi2sk": user_id,
    }


class FriendNotFound(LookupError):
    def __init__(self, channel_id: str, user_id: str) -> None:
        super().__init__(f"no friend {user_id} in channel {channel_id}")
        self.user_id = user_id


class InvalidCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


@dataclass(frozen=True)
class FriendPage:
    friends: list[Friend]
    next_cursor: str | None


class FriendRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name
        self._counters = TagCounters(client, table_name)

    # ------------------------------------------------------------------ webhook events
    def record_follow(self, channel_id: str, user_id: str, at: datetime) -> FollowOutcome:
        """Create or revive the friend in one write; the old image tells which it was.

        Follow and unfollow apply only if no later one was applied (``status_at``):
        LINE can deliver events out of order when it redelivers.
        """
        try:
            old = self._update(
                channel_id,
                user_id,
                "#status = :active, status_at = :at, "
                "first_followed_at = if_not_exists(first_followed_at, :at), "
                "last_followed_at = :at, "
                "last_interaction_at = if_not_exists(last_interaction_at, :at)",
                {":active": "active", ":at": iso(at)},
                remove="blocked_at",
                return_values="ALL_OLD",
                condition=_NOT_NEWER_STATUS,
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            self._keep_earliest_follow(channel_id, user_id, at)
            return FollowOutcome.STALE
        if not old or old.get("status") == LOGIN_ONLY:
            # A LIFF login made the row, but this is the user's first follow.
            return FollowOutcome.FIRST_FOLLOW
        if str(old.get("first_followed_at", "")) > iso(at):
            self._keep_earliest_follow(channel_id, user_id, at)
        if old.get("status") == "blocked":
            # Rare (an unblock), so a second small write is fine here.
            self._update(channel_id, user_id, "refollowed_at = :at", {":at": iso(at)})
            return FollowOutcome.REFOLLOW
        return FollowOutcome.ALREADY_FOLLOWING

    def record_unfollow(self, channel_id: str, user_id: str, at: datetime) -> bool:
        """Mark the friend blocked with the time, keeping every other attribute.

        False when a later follow was already applied (an out-of-order unfollow).
        """
        try:
            self._update(
                channel_id,
                user_id,
                "#status = :blocked, blocked_at = :at, status_at = :at",
                {":blocked": "blocked", ":at": iso(at)},
                condition=_NOT_NEWER_STATUS,
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def _keep_earliest_follow(self, channel_id: str, user_id: str, at: datetime) -> None:
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(friend_key(channel_id, user_id)),
                UpdateExpression="SET first_followed_at = :at",
                ConditionExpression="first_followed_at > :at",
                ExpressionAttributeValues=to_item({":at": iso(at)}),
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise

    def record_interaction(self, channel_id: str, user_id: str, at: datetime) -> Friend:
        """Last interaction time; returns the friend (tags, chat mode, cooldowns) as stored.

        A friend from before linecrm gets a row on first contact.
        """
        try:
            item = self._update(
                channel_id,
                user_id,
                "last_interaction_at = :at, #status = if_not_exists(#status, :active)",
                {":active": "active", ":at": iso(at)},
                return_values="ALL_NEW",
                condition="attribute_not_exists(last_interaction_at) OR last_interaction_at <= :at",
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            # An older event arriving late: the newer time stays; read the friend instead.
            friend = self.get(channel_id, user_id)
            assert friend is not None  # the condition failed on an existing item
            return friend
        return Friend.model_validate(item)

    def ensure(self, channel_id: str, user_id: str, at: datetime) -> bool:
        """Make sure the friend has a row (imports); True when it was created now.

        An imported friend follows: a login-only row becomes active."""
        old = self._update(
            channel_id,
            user_id,
            "#status = if_not_exists(#status, :active), "
            "first_followed_at = if_not_exists(first_followed_at, :at)",
            {":active": "active", ":at": iso(at)},
            return_values="ALL_OLD",
        )
        if old.get("status") == LOGIN_ONLY:
            try:
                self._client.update_item(
                    TableName=self._table_name,
                    Key=to_item(friend_key(channel_id, user_id)),
                    UpdateExpression="SET #status = :active",
                    ConditionExpression="#status = :login_only",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=to_item(
                        {":active": "active", ":login_only": LOGIN_ONLY}
                    ),
                )
            except Exception as error:
                if not is_conditional_check_failure(error):
                    raise
        return not old

    def record_login(
        self, channel_id: str, user_id: str, display_name: str | None, at: datetime
    ) -> tuple[Friend, bool]:
        """A LIFF / LINE Login by this user: the friend, and whether it was created now.

        An existing friend gets its last login time and nothing else. A user we have no
        row for (never followed, or erased and now back by their own act) gets a
        login-only row with the display name from the ID token: not a follower, so no
        message, scenario or broadcast reaches them until they follow.
        """
        for _ in range(3):  # a follow may create the row between the two writes
            try:
                return self._update_existing(
                    channel_id,
                    user_id,
                    "SET last_login_at = :at",
                    to_item({":at": iso(at)}),
                ), False
            except FriendNotFound:
                pass
            assignments = "#status = :login_only, last_login_at = :at"
            values: dict[str, Any] = {":login_only": LOGIN_ONLY, ":at": iso(at)}
            if display_name is not None:
                assignments += ", display_name = :name"
                values[":name"] = display_name
            try:
                item = self._update(
                    channel_id,
                    user_id,
                    assignments,
                    values,
                    return_values="ALL_NEW",
                    condition="attribute_not_exists(pk)",
                )
            except Exception as error:
                if not is_conditional_check_failure(error):
                    raise
                continue
            return Friend.model_validate(item), True
        raise RuntimeError(f"friend {user_id}: login did not settle after 3 attempts")

    def set_profile(
        self, channel_id: str, user_id: str, profile: FriendProfile, at: datetime
    ) -> None:
        """Store the LINE profile; FriendNotFound when the friend has no row (deleted)."""
        values = profile.attributes()
        # Placeholders for every name: "language" is a DynamoDB reserved word.
        assignments = [f"#{name} = :{name}" for name in values]
        assignments.append("profile_fetched_at = :fetched")
        try:
            self._update(
                channel_id,
                user_id,
                ", ".join(assignments),
                {**{f":{name}": value for name, value in values.items()}, ":fetched": iso(at)},
                names={f"#{name}": name for name in values},
                condition="attribute_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                raise FriendNotFound(channel_id, user_id) from error
            raise

    # ------------------------------------------------------------------ CRM changes
    def apply_change(
        self,
        channel_id: str,
        user_id: str,
        change: FriendChangeSet,
        at: datetime,
        *,
        source: str | None = None,
    ) -> Friend:
        """Tags, fields and rule cooldown in one UpdateItem; FriendNotFound if no friend.

        What really changed (from the item as it was) is then recorded: one activity
        row for the friend's timeline, and the tag counters when tags came or went.
        ``source`` says who changed it ("admin", "import", "rule:<id>"; default:
        "rule:<fired rule>" or "automation")."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":at": iso(at)}
        sets: list[str] = []
        removes: list[str] = []
        for index, tag_id in enumerate(sorted(change.add_tag_ids)):
            names[f"#ta{index}"] = tag_id
            sets.append(f"tags.#ta{index} = :at")
        for index, tag_id in enumerate(sorted(change.remove_tag_ids - change.add_tag_ids)):
            names[f"#tr{index}"] = tag_id
            removes.append(f"tags.#tr{index}")
        for index, (key, value) in enumerate(sorted((change.set_fields or {}).items())):
            names[f"#fs{index}"] = key
            values[f":fs{index}"] = value
            sets.append(f"#fields.#fs{index} = :fs{index}")
        for index, key in enumerate(sorted(change.clear_fields - set(change.set_fields or {}))):
            names[f"#fc{index}"] = key
            removes.append(f"#fields.#fc{index}")
        if change.set_fields or change.clear_fields:
            names["#fields"] = "fields"
        if change.fired_rule_id:
            names["#rule"] = change.fired_rule_id
            sets.append("rule_fired_at.#rule = :at")
        sets.append("updated_at = :at")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        # Memberships follow the profile's tag map: added ones are written before it and
        # removed ones after, so a crash in between leaves only a membership the profile
        # does not confirm, which tag lists skip (they check the profile).
        added = sorted(change.add_tag_ids)
        removed = sorted(change.remove_tag_ids - change.add_tag_ids)
        self._write_memberships(
            [
                {
                    "PutRequest": {
                        "Item": to_item(tag_membership_item(channel_id, user_id, t, iso(at)))
                    }
                }
                for t in added
            ]
        )
        try:
            old = self._update_existing(
                channel_id, user_id, expression, to_item(values), names, returning="ALL_OLD"
            )
        except FriendNotFound:
            self._write_memberships(self._membership_deletes(channel_id, user_id, added))
            raise
        self._write_memberships(self._membership_deletes(channel_id, user_id, removed))
        friend = _changed(old, change, at)
        self._record_changes(old, friend, change, at, source)
        return friend

    def _record_changes(
        self,
        old: Friend,
        new: Friend,
        change: FriendChangeSet,
        at: datetime,
        source: str | None,
    ) -> None:
        """The activity row and tag counters of a change, when anything changed."""
        added = tuple(sorted(new.tags.keys() - old.tags.keys()))
        removed = tuple(sorted(old.tags.keys() - new.tags.keys()))
        set_fields = {
            key: value
            for key, value in sorted((change.set_fields or {}).items())
            if old.fields.get(key) != value or key not in old.fields
        }
        cleared = tuple(sorted(key for key in change.clear_fields if key in old.fields))
        if not (added or removed or set_fields or cleared):
            return
        if added or removed:
            self._counters.adjust(
                old.channel_id,
                old.user_id,
                {**dict.fromkeys(added, 1), **dict.fromkeys(removed, -1)},
            )
        activity = Activity(
            at=at,
            kind="tags" if added or removed else "fields",
            source=source
            or (f"rule:{change.fired_rule_id}" if change.fired_rule_id else "automation"),
            added_tags=added,
            removed_tags=removed,
            set_fields=set_fields,
            cleared_fields=cleared,
        )
        item = activity_item(
            friend_pk(old.channel_id, old.user_id), old.channel_id, old.user_id, activity
        )
        self._client.put_item(TableName=self._table_name, Item=to_item(item))

    def _membership_deletes(
        self, channel_id: str, user_id: str, tag_ids: Iterable[str]
    ) -> list[Any]:
        return [
            {
                "DeleteRequest": {
                    "Key": to_item({"pk": friend_pk(channel_id, user_id), "sk": TAG_SK_PREFIX + t})
                }
            }
            for t in tag_ids
        ]

    def _write_memberships(self, requests: list[Any]) -> None:
        batch_write(self._client, self._table_name, requests)

    def record_warnings(
        self, channel_id: str, user_id: str, warnings: Mapping[str, str], at: datetime
    ) -> None:
        """Keep ``warnings`` (subject -> message) on the friend, the latest per subject,
        at most MAX_FRIEND_WARNINGS subjects; nothing when the friend is gone."""
        entries = {
            subject: {"message": message[:500], "at": iso(at)}
            for subject, message in sorted(warnings.items())[:MAX_FRIEND_WARNINGS]
        }
        if not entries:
            return
        names = {f"#w{index}": subject for index, subject in enumerate(entries)}
        values = {f":w{index}": entry for index, entry in enumerate(entries.values())}
        # A nested SET needs the map to exist; the first warning creates it whole.
        attempts: list[tuple[str, str, dict[str, Any]]] = [
            (
                "SET " + ", ".join(f"warnings.{name} = :w{i}" for i, name in enumerate(names)),
                "attribute_exists(pk) AND attribute_exists(warnings) "
                "AND (size(warnings) < :cap OR "
                + " OR ".join(f"attribute_exists(warnings.{name})" for name in names)
                + ")",
                {**values, ":cap": MAX_FRIEND_WARNINGS},
            ),
            (
                "SET warnings = :all",
                "attribute_exists(pk) AND attribute_not_exists(warnings)",
                {":all": entries},
            ),
        ]
        for expression, condition, attempt_values in attempts:
            request: dict[str, Any] = {
                "TableName": self._table_name,
                "Key": to_item(friend_key(channel_id, user_id)),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": to_item(attempt_values),
            }
            if "#w" in expression or "#w" in condition:
                request["ExpressionAttributeNames"] = names
            try:
                self._client.update_item(**request)
                return
            except Exception as error:
                if not is_conditional_check_failure(error):
                    raise
        # No friend, or the map is full of other subjects: the log line is all we keep.

    def rich_menu_change(
        self, channel_id: str, user_id: str, previous: str | None, new: str | None
    ) -> ConditionalUpdate:
        """The write that records the friend's rule-linked rich menu (None: the
        default), on the condition that it still is ``previous``: of two concurrent
        switches one wins, so LINE gets one call per actual change."""
        condition = (
            "attribute_exists(pk) AND attribute_not_exists(rich_menu_id)"
            if previous is None
            else "rich_menu_id = :previous"
        )
        values: dict[str, Any] = {} if previous is None else {":previous": previous}
        if new is None:
            update = "REMOVE rich_menu_id"
        else:
            update = "SET rich_menu_id = :new"
            values[":new"] = new
        if previous == new:
            raise ValueError("no change of rich menu to write")
        return ConditionalUpdate(friend_key(channel_id, user_id), update, condition, values)

    def change_rich_menu(self, update: ConditionalUpdate) -> bool:
        """Run one ``rich_menu_change``; False when the friend's menu had changed."""
        return conditional_update(self._client, self._table_name, update)

    def change_rich_menus(self, updates: list[ConditionalUpdate]) -> list[bool]:
        """Many ``rich_menu_change`` writes, 100 per transaction; which applied."""
        return conditional_updates(self._client, self._table_name, updates)

    def set_chat_mode(self, channel_id: str, user_id: str, chat_mode: ChatMode | None) -> Friend:
        """Staff takes over (automation pauses) or releases the friend (None)."""
        if chat_mode is None:
            return self._update_existing(channel_id, user_id, "REMOVE chat_mode")
        values = to_item({":mode": chat_mode.model_dump(mode="json")})
        return self._update_existing(channel_id, user_id, "SET chat_mode = :mode", values)

    def _update_existing(
        self,
        channel_id: str,
        user_id: str,
        expression: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        *,
        returning: Literal["ALL_NEW", "ALL_OLD"] = "ALL_NEW",
    ) -> Friend:
        """An UpdateItem on a friend that must exist (FriendNotFound); the friend after
        (or, ``returning="ALL_OLD"``, as it was before)."""
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": to_item(friend_key(channel_id, user_id)),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ReturnValues": returning,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            response = self._client.update_item(**request)
        except Exception as error:
            if is_conditional_check_failure(error):
                raise FriendNotFound(channel_id, user_id) from error
            raise
        return Friend.model_validate(from_item(response["Attributes"]))

    # ------------------------------------------------------------------ reads
    def get(self, channel_id: str, user_id: str) -> Friend | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Friend.model_validate(from_item(item)) if item else None

    def list_page(
        self,
        channel_id: str,
        *,
        tag_id: str | None = None,
        status: FriendStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        where: Callable[[Friend], bool] | None = None,
    ) -> FriendPage:
        """Friends in user-id order, filtered; ``next_cursor`` continues after the last one.

        With a tag, the tag's members are read (``gsi2``), not the channel: a page
        reads about as many items as it returns, twice (the membership, the profile).
        ``where`` (any other test, in Lambda) is a scan with a filter: the friend list
        (or the tag's) is read until a page is full, however few match — fine for the
        admin's list, not for a hot path.
        """
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        after = _decode_cursor(cursor, channel_id) if cursor else None
        if tag_id is not None:
            friends, more = self._tagged_page(channel_id, tag_id, status, after, limit, where)
        else:
            stream: Iterator[Friend] = (
                Friend.model_validate(item)
                for item in self._friend_stream(
                    channel_id, after, limit * (4 if where else 1), status
                )
            )
            if where is not None:
                stream = (friend for friend in stream if where(friend))
            friends = list(islice(stream, limit))
            more = len(friends) == limit and next(stream, None) is not None
        next_cursor = _encode_cursor(channel_id, friends[-1].user_id) if more else None
        return FriendPage(friends, next_cursor)

    def page_after(
        self, channel_id: str, after_user_id: str | None, limit: int
    ) -> tuple[list[Friend], bool]:
        """Up to ``limit`` friends after ``after_user_id`` in user-id order; and whether
        more may follow. For jobs that walk every friend and checkpoint by user id."""
        stream = self._friend_stream(channel_id, after_user_id, limit)
        friends = [Friend.model_validate(item) for item in islice(stream, limit)]
        return friends, len(friends) == limit and next(stream, None) is not None

    def walk(self, channel_id: str, page_size: int = 1000) -> Iterator[Friend]:
        """Every friend of the channel in user-id order, a page at a time."""
        for item in self._friend_stream(channel_id, None, page_size):
            yield Friend.model_validate(item)

    def _friend_stream(
        self,
        channel_id: str,
        after_user_id: str | None,
        page_size: int,
        status: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The channel's friend list (all shards merged), as plain item values."""
        filters: dict[str, Any] = {}
        if status is not None:
            # The filter applies after Limit: read more per query so pages stay full.
            filters = {
                "filter_expression": "#status = :status",
                "names": {"#status": "status"},
                "values": {":status": status},
            }
        return merged_query(
            self._client,
            table_name=self._table_name,
            index_name="gsi1",
            partition_attribute="gsi1pk",
            sort_attribute="gsi1sk",
            list_key=friends_list(channel_id),
            page_limit=per_shard_limit(page_size) * (4 if status is not None else 1),
            after=after_user_id,
            **filters,
        )

    def _tagged_page(
        self,
        channel_id: str,
        tag_id: str,
        status: str | None,
        after_user_id: str | None,
        limit: int,
        where: Callable[[Friend], bool] | None = None,
    ) -> tuple[list[Friend], bool]:
        members = merged_query(
            self._client,
            table_name=self._table_name,
            index_name="gsi2",
            partition_attribute="gsi2pk",
            sort_attribute="gsi2sk",
            list_key=tag_list(channel_id, tag_id),
            page_limit=per_shard_limit(limit),
            after=after_user_id,
        )
        friends: list[Friend] = []
        while len(friends) < limit:
            user_ids = [str(item["gsi2sk"]) for item in islice(members, limit - len(friends))]
            if not user_ids:
                return friends, False
            profiles = self._get_many(channel_id, user_ids)
            for user_id in user_ids:
                friend = profiles.get(user_id)
                # The profile has the last word: a membership it does not confirm is
                # one whose write was interrupted (see apply_change).
                if friend is None or tag_id not in friend.tags:
                    continue
                if (status is None or friend.status == status) and (where is None or where(friend)):
                    friends.append(friend)
        return friends, next(members, None) is not None

    def get_many(self, channel_id: str, user_ids: list[str]) -> dict[str, Friend]:
        """The profiles that exist among ``user_ids`` (the scenario fire's read)."""
        return self._get_many(channel_id, user_ids)

    def _get_many(self, channel_id: str, user_ids: list[str]) -> dict[str, Friend]:
        """The profiles that exist among ``user_ids`` (BatchGetItem, 100 at a time)."""
        found: dict[str, Friend] = {}
        for start in range(0, len(user_ids), 100):
            keys: list[Any] = [
                to_item(friend_key(channel_id, u)) for u in user_ids[start : start + 100]
            ]
            pending: dict[str, Any] = {self._table_name: {"Keys": keys}}
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table_name, []):
                    friend = Friend.model_validate(from_item(item))
                    found[friend.user_id] = friend
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def reserve_marketing_send(
        self,
        channel_id: str,
        user_id: str,
        delivery_key: str,
        periods: dict[str, int],
        stale_periods: frozenset[str] = frozenset(),
    ) -> bool:
        """Count ``delivery_key`` in each period (key -> cap) unless one is full.

        One conditional write: concurrent broadcasts cannot both take a friend's last
        slot, and counting the same delivery again (a replayed step) changes nothing.
        ``stale_periods`` (older than any cap looks at) are removed in the same write.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {":key": {delivery_key}}
        adds: list[str] = []
        conditions: list[str] = []
        for index, (period, cap) in enumerate(sorted(periods.items())):
            names[f"#p{index}"] = MARKETING_PERIOD_PREFIX + period
            values[f":cap{index}"] = cap
            adds.append(f"#p{index} :key")
            conditions.append(
                f"(attribute_not_exists(#p{index}) OR size(#p{index}) < :cap{index} "
                f"OR contains(#p{index}, :one))"
            )
        values[":one"] = delivery_key
        expression = "ADD " + ", ".join(adds)
        stale = sorted(stale_periods - set(periods))
        if stale:
            for index, period in enumerate(stale):
                names[f"#s{index}"] = MARKETING_PERIOD_PREFIX + period
            expression += " REMOVE " + ", ".join(f"#s{index}" for index in range(len(stale)))
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(friend_key(channel_id, user_id)),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND " + " AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def export(self, channel_id: str, user_id: str) -> list[dict[str, Any]]:
        """Every item of the friend's partition, as plain values (data export); but tag
        memberships, which only index the profile's ``tags`` (exported there)."""
        items = (from_item(item) for item in self._partition_items(channel_id, user_id))
        return [item for item in items if not str(item["sk"]).startswith(TAG_SK_PREFIX)]

    def delete(self, channel_id: str, user_id: str) -> int:
        """Delete every item of the friend's partition, and what lives outside it but
        names them: the member id's index item of their ID link, and the items of the
        link tokens issued for them; the number deleted."""
        friend = self.get(channel_id, user_id)
        if friend is not None and friend.member_id:
            try:
                self._client.delete_item(
                    TableName=self._table_name,
                    Key=to_item({"pk": member_pk(channel_id, friend.member_id), "sk": MEMBER_SK}),
                    ConditionExpression="attribute_not_exists(pk) OR user_id = :user",
                    ExpressionAttributeValues=to_item({":user": user_id}),
                )
            except Exception as error:
                if not is_conditional_check_failure(error):  # linked to someone else now
                    raise
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._partition_items(channel_id, user_id, keys_only=True)
        ]
        tokens = [
            sk.removeprefix(LINK_TOKEN_POINTER_PREFIX)
            for key in keys
            if (sk := str(key["sk"]["S"])).startswith(LINK_TOKEN_POINTER_PREFIX)
        ]
        keys += [
            to_item({"pk": link_token_pk(channel_id, token), "sk": LINK_TOKEN_SK})
            for token in tokens
        ]
        batch_write(self._client, self._table_name, [{"DeleteRequest": {"Key": k}} for k in keys])
        if friend is not None and friend.tags:
            # After the delete: a retry (the profile gone) does not count them out twice.
            self._counters.adjust(channel_id, user_id, dict.fromkeys(friend.tags, -1))
        return len(keys)

    # ------------------------------------------------------------------ internals
    def _partition_items(
        self, channel_id: str, user_id: str, *, keys_only: bool = False
    ) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": friend_pk(channel_id, user_id)}),
            "ConsistentRead": True,
        }
        if keys_only:
            request["ProjectionExpression"] = "pk, sk"
        items: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _update(
        self,
        channel_id: str,
        user_id: str,
        assignments: str,
        values: dict[str, Any],
        *,
        remove: str | None = None,
        return_values: Literal["NONE", "ALL_OLD", "ALL_NEW"] = "NONE",
        names: dict[str, str] | None = None,
        condition: str | None = None,
    ) -> dict[str, Any]:
        """One UpdateItem that also (re)writes the identity, listing and map attributes."""
        expression = (
            "SET channel_id = :channel, user_id = :user, gsi1pk = :list, gsi1sk = :user, "
            "tags = if_not_exists(tags, :empty), #fields = if_not_exists(#fields, :empty), "
            "rule_fired_at = if_not_exists(rule_fired_at, :empty), " + assignments
        )
        if remove:
            expression += f" REMOVE {remove}"
        names = {**(names or {}), "#fields": "fields"}  # a DynamoDB reserved word
        if re.search(r"#status\b", expression):
            names["#status"] = "status"
        request: dict[str, Any] = {}
        if condition:
            request["ConditionExpression"] = condition
        response = self._client.update_item(
            **request,
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(
                {
                    ":channel": channel_id,
                    ":user": user_id,
                    ":list": friends_list_key(channel_id, user_id),
                    ":empty": {},
                    **values,
                }
            ),
            ReturnValues=return_values,
        )
        return from_item(response.get("Attributes", {}))


def _changed(old: Friend, change: FriendChangeSet, at: datetime) -> Friend:
    """The friend after ``change`` applied at ``at`` to ``old`` (as the UpdateItem did)."""
    removed = change.remove_tag_ids - change.add_tag_ids
    tags = {t: added for t, added in old.tags.items() if t not in removed}
    tags.update(dict.fromkeys(change.add_tag_ids, at))
    cleared = change.clear_fields - set(change.set_fields or {})
    fields = {key: value for key, value in old.fields.items() if key not in cleared}
    fields.update(change.set_fields or {})
    fired = dict(old.rule_fired_at)
    if change.fired_rule_id:
        fired[change.fired_rule_id] = at
    return old.model_copy(update={"tags": tags, "fields": fields, "rule_fired_at": fired})


def _encode_cursor(channel_id: str, after_user_id: str) -> str:
    # One position in every shard: user ids are unique in a channel's lists.
    return page_cursor({"list": friends_list(channel_id)}, "after", after_user_id)


def _decode_cursor(cursor: str, channel_id: str) -> str:
    """The user id the page continues after."""
    after = position_in(cursor, {"list": friends_list(channel_id)}, "after")
    if after is None:
        raise InvalidCursor("cursor is not one this API returned")
    return after
