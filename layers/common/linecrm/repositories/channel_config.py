"""A channel's configuration: tags, tag folders, custom fields, auto-response rules.

Everything lives under the channel's partition (``pk = CH#<channel>``), so the webhook
reads all of it with one Query and caches it briefly (see ``CachedChannelConfig``).
Tag names are unique per channel, guarded by a ``TAGNAME#<name>`` item written in the
same transaction as the tag.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.aws_errors import error_code
from linecrm.domain.channel_config import ChannelConfig, InvalidStoredRules
from linecrm.domain.fields import FieldCatalog, FieldDefinition
from linecrm.domain.segments.saved import SavedSegment
from linecrm.domain.tags import Tag, TagCatalog, TagConflict, TagFolder
from linecrm.models.send import MAX_MESSAGES_PER_REQUEST
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SETTINGS_SK = "SETTINGS"
TAG_PREFIX = "TAG#"
TAG_NAME_PREFIX = "TAGNAME#"
FOLDER_PREFIX = "FOLDER#"
FIELD_PREFIX = "FIELD#"
RULE_PREFIX = "RULE#"
SEGMENT_PREFIX = "SEGMENT#"


def channel_pk(channel_id: str) -> str:
    return f"CH#{channel_id}"


class ChannelConfigRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def client_and_table(self) -> tuple[DynamoDBClient, str]:
        """For repositories of other items in the config partition (tag counters)."""
        return self._client, self._table_name

    # ------------------------------------------------------------------ read
    def load(self, channel_id: str) -> ChannelConfig:
        tags: list[Tag] = []
        folders: list[TagFolder] = []
        fields: list[FieldDefinition] = []
        rules: list[dict[str, Any]] = []
        settings: dict[str, Any] = {}
        segments: dict[str, SavedSegment] = {}
        for item in self._query_partition(channel_id):
            sk = str(item["sk"])
            if sk == SETTINGS_SK:
                settings = item
            elif sk.startswith(TAG_PREFIX):
                tags.append(Tag.model_validate(item))
            elif sk.startswith(FOLDER_PREFIX):
                folders.append(TagFolder.model_validate(item))
            elif sk.startswith(FIELD_PREFIX):
                fields.append(FieldDefinition.model_validate(item))
            elif sk.startswith(RULE_PREFIX):
                rules.append(json.loads(item["rule"]))
            elif sk.startswith(SEGMENT_PREFIX):
                try:
                    saved = _saved_segment(item)
                except (ValueError, KeyError) as error:
                    # Hand-edited data: the webhook must not fail on it; a reference to
                    # it then answers "does not exist", and the log says why.
                    from linecrm.observability import logger

                    logger.warning(
                        "ignoring an unreadable saved segment",
                        extra={"channel_id": channel_id, "sk": sk, "error": str(error)},
                    )
                    continue
                segments[saved.segment_id] = saved
        return ChannelConfig(
            channel_id,
            TagCatalog(tags, folders),
            FieldCatalog(fields),
            rules,
            settings,
            segments=segments,
        )

    def _query_partition(self, channel_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": channel_pk(channel_id)}),
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**request)
            items.extend(from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ------------------------------------------------------------------ settings
    def set_setting(self, channel_id: str, name: str, value: Any) -> None:
        """A JSON-encoded setting on the channel's SETTINGS item (None removes it)."""
        key = to_item({"pk": channel_pk(channel_id), "sk": SETTINGS_SK})
        if value is None:
            self._client.update_item(
                TableName=self._table_name,
                Key=key,
                UpdateExpression="REMOVE #name",
                ExpressionAttributeNames={"#name": name},
            )
            return
        self._client.update_item(
            TableName=self._table_name,
            Key=key,
            UpdateExpression="SET #name = :value",
            ExpressionAttributeNames={"#name": name},
            ExpressionAttributeValues=to_item({":value": json.dumps(value, ensure_ascii=False)}),
        )

    def load_settings(self, channel_id: str) -> dict[str, Any]:
        """The SETTINGS item alone (one GetItem; values as stored, JSON text)."""
        response = self._client.get_item(
            TableName=self._table_name, Key=to_item(self._key(channel_id, SETTINGS_SK))
        )
        return from_item(response.get("Item") or {})

    def advance_setting(self, channel_id: str, name: str, value: str) -> bool:
        """Set the string setting ``name`` unless it holds ``value`` or a later one.

        Stored values compare as their JSON text, which orders ISO-8601 UTC times
        correctly. True when this call wrote it; concurrent writers of one value: one wins.
        """
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(self._key(channel_id, SETTINGS_SK)),
                UpdateExpression="SET #name = :value",
                ConditionExpression="attribute_not_exists(#name) OR #name < :value",
                ExpressionAttributeNames={"#name": name},
                ExpressionAttributeValues=to_item({":value": json.dumps(value)}),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def set_welcome_messages(self, channel_id: str, messages: list[dict[str, Any]]) -> None:
        """The plain welcome (used when no ``follow`` rule exists)."""
        if len(messages) > MAX_MESSAGES_PER_REQUEST:
            raise ValueError(f"at most {MAX_MESSAGES_PER_REQUEST} welcome messages")
        self.set_setting(channel_id, "welcome_messages", messages or None)

    # ------------------------------------------------------------------ tags
    def create_tag(self, channel_id: str, tag: Tag) -> None:
        """Create the tag; TagConflict when the name (or id) is taken."""
        self._transact(
            [
                self._put(channel_id, TAG_PREFIX + tag.tag_id, tag.model_dump(), new=True),
                self._put(channel_id, TAG_NAME_PREFIX + tag.name, {"tag_id": tag.tag_id}, new=True),
            ],
            conflict=f"a tag named {tag.name!r} or with id {tag.tag_id!r} already exists",
        )

    def update_tag(self, channel_id: str, old: Tag, new: Tag) -> None:
        """Rename and/or move a tag; friends keep its id, so nothing else changes."""
        actions = [self._put(channel_id, TAG_PREFIX + new.tag_id, new.model_dump(), new=False)]
        if new.name != old.name:
            actions += [
                self._delete(channel_id, TAG_NAME_PREFIX + old.name),
                self._put(channel_id, TAG_NAME_PREFIX + new.name, {"tag_id": new.tag_id}, new=True),
            ]
        self._transact(actions, conflict=f"a tag named {new.name!r} already exists")

    def delete_tag(self, channel_id: str, tag: Tag) -> None:
        """Remove the tag definition; friends' references to it are ignored from now on."""
        self._transact(
            [
                self._delete(channel_id, TAG_PREFIX + tag.tag_id),
                self._delete(channel_id, TAG_NAME_PREFIX + tag.name),
            ],
            conflict="the tag changed meanwhile; try again",
        )

    def put_folder(self, channel_id: str, folder: TagFolder) -> None:
        self._put_item(channel_id, FOLDER_PREFIX + folder.folder_id, folder.model_dump())

    def delete_folder(self, channel_id: str, folder_id: str) -> None:
        self._delete_item(channel_id, FOLDER_PREFIX + folder_id)

    # ------------------------------------------------------------------ fields
    def put_field(self, channel_id: str, definition: FieldDefinition) -> None:
        values = definition.model_dump()
        values["choices"] = list(definition.choices)
        self._put_item(channel_id, FIELD_PREFIX + definition.key, values)

    def delete_field(self, channel_id: str, key: str) -> None:
        self._delete_item(channel_id, FIELD_PREFIX + key)

    # ------------------------------------------------------------------ rules
    def replace_rules(self, channel_id: str, rules: list[dict[str, Any]]) -> None:
        """Make the channel's rule set exactly ``rules`` (each has a ``rule_id``)."""
        current = {
            str(item["sk"])
            for item in self._query_partition(channel_id)
            if str(item["sk"]).startswith(RULE_PREFIX)
        }
        wanted = {RULE_PREFIX + str(rule["rule_id"]): rule for rule in rules}
        actions: list[TransactWriteItemTypeDef] = [
            self._put(channel_id, sk, {"rule": json.dumps(rule, ensure_ascii=False)}, new=False)
            for sk, rule in wanted.items()
        ]
        actions += [self._delete(channel_id, sk) for sk in current - wanted.keys()]
        # A rule set changes as a whole (≤ 100 items per transaction: 200 rules go in two).
        for start in range(0, len(actions), 100):
            self._transact(actions[start : start + 100], conflict="rules changed meanwhile")

    # ------------------------------------------------------------------ saved segments
    def put_segment(self, channel_id: str, segment: SavedSegment, *, new: bool) -> None:
        """Store a saved segment (its definition as JSON text, as rules are). ``new``:
        only if the id is free; else only if it exists (``SegmentMissing`` otherwise)."""
        values = segment.model_dump(mode="json", exclude={"definition"})
        values["definition"] = json.dumps(segment.definition, ensure_ascii=False)
        key = self._key(channel_id, SEGMENT_PREFIX + segment.segment_id)
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_item({**values, **key}),
                ConditionExpression="attribute_not_exists(pk)" if new else "attribute_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                raise SegmentMissing(segment.segment_id, exists=new) from error
            raise

    def get_segment(self, channel_id: str, segment_id: str) -> SavedSegment | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(self._key(channel_id, SEGMENT_PREFIX + segment_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _saved_segment(from_item(item)) if item else None

    def delete_segment(self, channel_id: str, segment_id: str) -> None:
        """Delete it; ``SegmentMissing`` when there is none."""
        try:
            self._client.delete_item(
                TableName=self._table_name,
                Key=to_item(self._key(channel_id, SEGMENT_PREFIX + segment_id)),
                ConditionExpression="attribute_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                raise SegmentMissing(segment_id) from error
            raise

    # ------------------------------------------------------------------ internals
    def _key(self, channel_id: str, sk: str) -> dict[str, str]:
        return {"pk": channel_pk(channel_id), "sk": sk}

    def _put(
        self, channel_id: str, sk: str, values: dict[str, Any], *, new: bool
    ) -> TransactWriteItemTypeDef:
        put: dict[str, Any] = {
            "TableName": self._table_name,
            "Item": to_item({**values, **self._key(channel_id, sk)}),
        }
        if new:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": put}  # type: ignore[typeddict-item]

    def _delete(self, channel_id: str, sk: str) -> TransactWriteItemTypeDef:
        return {
            "Delete": {"TableName": self._table_name, "Key": to_item(self._key(channel_id, sk))}
        }

    def _transact(self, actions: list[TransactWriteItemTypeDef], *, conflict: str) -> None:
        try:
            self._client.transact_write_items(TransactItems=actions)
        except Exception as error:
            if error_code(error) == "TransactionCanceledException":
                raise TagConflict(conflict) from error
            raise

    def _put_item(self, channel_id: str, sk: str, values: dict[str, Any]) -> None:
        self._client.put_item(
            TableName=self._table_name, Item=to_item({**values, **self._key(channel_id, sk)})
        )

    def _delete_item(self, channel_id: str, sk: str) -> None:
        self._client.delete_item(TableName=self._table_name, Key=to_item(self._key(channel_id, sk)))


class SegmentMissing(LookupError):
    """No saved segment with this id (or, creating one, the id is taken)."""

    def __init__(self, segment_id: str, *, exists: bool = False) -> None:
        super().__init__(
            f"saved segment {segment_id!r} already exists"
            if exists
            else f"no saved segment {segment_id!r}"
        )
        self.segment_id = segment_id
        self.exists = exists


def _saved_segment(item: dict[str, Any]) -> SavedSegment:
    return SavedSegment.model_validate({**item, "definition": json.loads(item["definition"])})


class CachedChannelConfig:
    """The webhook's view of channel config, reloaded at most every ``ttl``.

    A warm webhook then spends no DynamoDB call on config; admin changes reach it
    within the ttl (30 s by default; documented in the README).
    """

    def __init__(
        self,
        repository: ChannelConfigRepository,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(seconds=30),
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, ChannelConfig]] = {}

    def get(self, channel_id: str) -> ChannelConfig:
        now = self._clock()
        cached = self._cache.get(channel_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        config = self._repository.load(channel_id)
        try:
            config.rule_set  # noqa: B018 - validate once per load, not per event
        except InvalidStoredRules:
            from linecrm.observability import logger

            # Hand-edited data: log it and answer no rules rather than fail every event.
            logger.exception("ignoring invalid stored rules", extra={"channel_id": channel_id})
            config = dataclasses.replace(
                config,
                rules=[],
                settings={
                    key: value for key, value in config.settings.items() if key != "business_hours"
                },
            )
        self._cache[channel_id] = (now, config)
        return config
