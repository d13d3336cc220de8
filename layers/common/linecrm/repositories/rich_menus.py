"""The channel's rich menu set: one item in the channel's partition (``RICHMENUS``).

It holds the applied document, where each menu's image is (uploads bucket), what LINE
holds (menu id -> LINE rich menu id and fingerprint), and the sync job's progress.
Each apply is a new ``version``; a sync step works only on the version it was queued
for (a newer apply supersedes it), and every write is conditional on that version.
The webhook never reads it: what it needs (the assignment) is a channel setting.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from linecrm.repositories.channel_config import channel_pk
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.richmenus.model import MenuLink, MenuSet
from linecrm.richmenus.sync import LineMenu, PendingMenu

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

RICH_MENUS_SK = "RICHMENUS"

SyncStatus = Literal["syncing", "ready", "failed"]
SyncPhase = Literal["publish", "relink", "retire", "done"]


class SyncProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    phase: SyncPhase = "publish"
    after_user_id: str | None = None  # the relink walk's checkpoint
    retired: list[str] = Field(default_factory=list)  # LINE menus to delete at the end
    counts: dict[str, int] = Field(default_factory=dict)  # linked, unlinked, bulk_calls…
    # New menus on their way to LINE during publish (menu id -> progress); emptied
    # once the set is published, so a crashed publish leaves no orphan menu on LINE.
    pending: dict[str, PendingMenu] = Field(default_factory=dict)
    # When a publish step began (saved before its first LINE call; None once published).
    publishing_since: datetime | None = None
    # Set when this version superseded one that had not finished: its publish waits
    # until the older step cannot be running any more, then points every alias and the
    # default again (the older step may have moved them).
    wait_until: datetime | None = None
    repoint: bool = False


class StoredMenuSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel_id: str
    version: int
    document: MenuSet  # as LINE gets it: URI areas tracked (``links``) when the channel has LIFF
    image_keys: dict[str, str]  # menu id -> uploads bucket key
    fingerprints: dict[str, str]  # menu id -> fingerprint of what was applied
    line: dict[str, LineMenu] = Field(default_factory=dict)  # what LINE holds
    default_rich_menu_id: str | None = None  # LINE's default as last set
    status: SyncStatus
    progress: SyncProgress = SyncProgress()
    reason: str | None = None
    applied_at: datetime
    links: list[MenuLink] = Field(default_factory=list)  # the tracked URI areas
    # The menus whose image was drawn from their labels (None: stored before it was kept).
    drawn: list[str] | None = None


class StaleVersion(Exception):
    """Another apply stored a newer version meanwhile."""


class RichMenuRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def load(self, channel_id: str) -> StoredMenuSet | None:
        response = self._client.get_item(
            TableName=self._table_name, Key=self._key(channel_id), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        return StoredMenuSet.model_validate_json(values["state"])

    def save(self, stored: StoredMenuSet, *, previous_version: int | None) -> None:
        """Store ``stored`` if the item is still at ``previous_version`` (None: absent)."""
        condition = (
            "attribute_not_exists(pk)" if previous_version is None else "version = :previous"
        )
        values: dict[str, Any] = {}
        if previous_version is not None:
            values[":previous"] = previous_version
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Item": to_item(
                {
                    "pk": channel_pk(stored.channel_id),
                    "sk": RICH_MENUS_SK,
                    "version": stored.version,
                    "status": stored.status,
                    "updated_at": iso(stored.applied_at),
                    "state": stored.model_dump_json(),
                }
            ),
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = to_item(values)
        try:
            self._client.put_item(**request)
        except Exception as error:
            if is_conditional_check_failure(error):
                raise StaleVersion(stored.channel_id) from error
            raise

    def update(self, stored: StoredMenuSet) -> None:
        """Save the sync's progress on the same version (StaleVersion if superseded)."""
        self.save(stored, previous_version=stored.version)

    def _key(self, channel_id: str) -> dict[str, Any]:
        return to_item({"pk": channel_pk(channel_id), "sk": RICH_MENUS_SK})


def add_counts(progress: SyncProgress, counts: Counter[str]) -> dict[str, int]:
    merged = Counter(progress.counts)
    merged.update(counts)
    return dict(merged)
