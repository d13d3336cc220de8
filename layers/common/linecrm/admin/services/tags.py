"""Tags and tag folders: names unique per channel, folders that exist, and no rename or
delete of a tag that stored rules name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from linecrm.admin.errors import Conflict, InvalidInput, NotFound
from linecrm.admin.models import (
    FolderCreateRequest,
    TagCreateRequest,
    TagMergeResponse,
    TagUpdateRequest,
)
from linecrm.admin.services.validation import validated
from linecrm.domain.actions import AddTags, RemoveTags
from linecrm.domain.channel_config import ChannelConfig, InvalidStoredRules
from linecrm.domain.friends import FriendChangeSet
from linecrm.domain.tags import (
    MAX_TAGS_PER_CHANNEL,
    Tag,
    TagCatalog,
    TagFolder,
    UnknownTag,
    new_folder_id,
    new_tag_id,
)
from linecrm.repositories.activity import TagCounters
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendNotFound, FriendRepository

MERGE_PAGE = 200  # friends moved per merge call (one request stays well inside 29 s)


class TagsService:
    def __init__(
        self,
        config: ChannelConfigRepository,
        friends: FriendRepository | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config
        self._friends = friends
        self._clock = clock or (lambda: datetime.now(UTC))

    def catalog(self, channel_id: str) -> TagCatalog:
        return self._config.load(channel_id).tags

    def usage(self, channel_id: str) -> dict[str, int]:
        """Tag id -> friends holding it, from the counters (one BatchGetItem, no scan)."""
        return TagCounters(*self._config.client_and_table()).counts(channel_id)

    def merge(self, channel_id: str, tag_id: str, into: str) -> TagMergeResponse:
        """Move a page of the tag's friends to ``into``; when none are left, delete it.

        Idempotent and resumable: each call reads the tag's member list afresh (those
        moved are no longer on it), so repeating the request until ``done`` finishes
        the merge, whatever failed in between.
        """
        if self._friends is None:
            raise NotImplementedError("TagsService(config, friends) merges tags")
        config = self._config.load(channel_id)
        source = _existing_tag(config.tags, tag_id)
        try:
            target = config.tags.resolve(into)
        except UnknownTag as error:
            raise InvalidInput(f"unknown tag {into!r} to merge into", field="into") from error
        if target.tag_id == source.tag_id:
            raise InvalidInput("a tag cannot be merged into itself", field="into")
        _refuse_if_rules_name(config, source, "merged")
        page = self._friends.list_page(channel_id, tag_id=source.tag_id, limit=MERGE_PAGE)
        change = FriendChangeSet(
            add_tag_ids=frozenset({target.tag_id}), remove_tag_ids=frozenset({source.tag_id})
        )
        at = self._clock()
        moved = 0
        for friend in page.friends:
            try:
                self._friends.apply_change(
                    channel_id, friend.user_id, change, at, source=f"merge:{source.tag_id}"
                )
            except FriendNotFound:  # deleted meanwhile
                continue
            moved += 1
        done = page.next_cursor is None
        if done:
            self._config.delete_tag(channel_id, source)
        return TagMergeResponse(source=source.tag_id, into=target.tag_id, moved=moved, done=done)

    def create_tag(self, channel_id: str, request: TagCreateRequest) -> Tag:
        tags = self.catalog(channel_id)
        if len(tags.tags) >= MAX_TAGS_PER_CHANNEL:
            raise Conflict(f"a channel has at most {MAX_TAGS_PER_CHANNEL} tags")
        tags.check_name_free(request.name)
        _check_folder(tags, request.folder_id)
        tag = validated(Tag, tag_id=new_tag_id(), name=request.name, folder_id=request.folder_id)
        self._config.create_tag(channel_id, tag)
        return tag

    def update_tag(self, channel_id: str, tag_id: str, request: TagUpdateRequest) -> Tag:
        config = self._config.load(channel_id)
        tags = config.tags
        old = _existing_tag(tags, tag_id)
        changes = request.model_dump(include=request.model_fields_set)
        if changes.get("name") is None:
            changes.pop("name", None)  # null name: keep the name
        new = validated(Tag, **{**old.model_dump(), **changes})
        if new.name != old.name:
            tags.check_name_free(new.name, except_tag_id=tag_id)
            _refuse_if_rules_name(config, old, "renamed")
        if new.folder_id != old.folder_id:
            _check_folder(tags, new.folder_id)
        if new != old:
            self._config.update_tag(channel_id, old, new)
        return new

    def delete_tag(self, channel_id: str, tag_id: str) -> None:
        config = self._config.load(channel_id)
        tag = _existing_tag(config.tags, tag_id)
        _refuse_if_rules_name(config, tag, "deleted")
        self._config.delete_tag(channel_id, tag)

    def create_folder(self, channel_id: str, request: FolderCreateRequest) -> TagFolder:
        tags = self.catalog(channel_id)
        if any(folder.name == request.name for folder in tags.folders):
            raise Conflict(f"a tag folder named {request.name!r} already exists", field="name")
        folder = validated(TagFolder, folder_id=new_folder_id(), name=request.name)
        self._config.put_folder(channel_id, folder)
        return folder

    def delete_folder(self, channel_id: str, folder_id: str) -> None:
        tags = self.catalog(channel_id)
        if not tags.has_folder(folder_id):
            raise NotFound(f"no tag folder {folder_id}")
        inside = [tag.name for tag in tags.tags if tag.folder_id == folder_id]
        if inside:
            raise Conflict(
                f"tag folder {folder_id} still holds {len(inside)} tag(s): "
                f"{', '.join(inside[:10])}; move or delete them first"
            )
        self._config.delete_folder(channel_id, folder_id)


def _refuse_if_rules_name(config: ChannelConfig, tag: Tag, change: str) -> None:
    """Rules name tags by name: renaming or deleting a tag they use would break them."""
    rule_ids = _rules_naming_tag(config, tag)
    if rule_ids:
        raise Conflict(
            f"tag {tag.name!r} is used by rule(s) {', '.join(rule_ids)}; change those rules "
            f"first, then the tag can be {change}"
        )


def _rules_naming_tag(config: ChannelConfig, tag: Tag) -> list[str]:
    """Ids of the stored rules whose tag actions name ``tag`` (by name or id)."""
    try:
        rules = config.rule_set.rules
    except InvalidStoredRules:
        return []
    return [
        rule.rule_id
        for rule in rules
        if any(
            isinstance(action, AddTags | RemoveTags) and ({tag.name, tag.tag_id} & set(action.tags))
            for action in rule.actions
        )
    ]


def _existing_tag(tags: TagCatalog, tag_id: str) -> Tag:
    tag = tags.get(tag_id)
    if tag is None:
        raise NotFound(f"no tag {tag_id}")
    return tag


def _check_folder(tags: TagCatalog, folder_id: str | None) -> None:
    if folder_id is not None and not tags.has_folder(folder_id):
        raise InvalidInput(f"unknown tag folder: {folder_id}", field="folder_id")
