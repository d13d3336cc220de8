"""Friends: list and filter, show, change tags and fields (one or many), export,
delete (right to erasure) and chat mode."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from linecrm.admin.erasure import FriendErasure
from linecrm.admin.errors import InvalidInput
from linecrm.admin.models import (
    BulkChangeRequest,
    BulkChangeResponse,
    BulkResult,
    FriendChangeRequest,
    FriendExport,
    FriendListResponse,
    FriendResponse,
    FriendRichMenu,
)
from linecrm.aws_errors import error_code
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldCatalog, FieldValueError, UnknownField
from linecrm.domain.friends import ChatMode, FieldValue, FriendChangeSet
from linecrm.domain.segments import CompiledSegment, SegmentError, compile_segment
from linecrm.domain.tags import TagCatalog, UnknownTag
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendNotFound, FriendRepository, InvalidCursor
from linecrm.repositories.rich_menus import RichMenuRepository, StoredMenuSet

# DynamoDB numbers: 38 significant digits, magnitude 1E-130 .. 9.99E+125.
_MAX_NUMBER_DIGITS = 38
_NUMBER_RANGE = (1e-130, 1e125)


class FriendsService:
    def __init__(
        self,
        friends: FriendRepository,
        config: ChannelConfigRepository,
        clock: Callable[[], datetime],
        *,
        erasure: FriendErasure | None = None,
    ) -> None:
        self._friends = friends
        self._config = config
        self._clock = clock
        self._rich_menus: RichMenuRepository | None = None  # the friend detail's, on first use
        # None: only the friend's own items are exported and deleted (unit tests).
        self._erasure = erasure

    def list_friends(
        self,
        channel_id: str,
        *,
        tag: str | None = None,
        status: Literal["active", "blocked", "login_only"] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        field: str | None = None,
        route: str | None = None,
        linked: bool | None = None,
        segment: str | None = None,
    ) -> FriendListResponse:
        """A page of friends. ``tag`` reads the tag's list and ``status`` filters in the
        Query; ``field`` (key=value), ``route``, ``linked`` and ``segment`` (a saved
        segment) are tested in Lambda over the list read: a scan with a filter."""
        config = self._config.load(channel_id)
        tags = config.tags
        tag_id = _resolve_tags(tags, [tag], field="tag")[0] if tag is not None else None
        where = _list_filter(config, field=field, route=route, linked=linked, segment=segment)
        at = self._clock()
        try:
            page = self._friends.list_page(
                channel_id,
                tag_id=tag_id,
                status=status,
                limit=limit,
                cursor=cursor,
                where=None if where is None else lambda friend: where.matches(friend, at),
            )
        except Exception as error:
            # A cursor we did not hand out can pass our checks and still be refused by
            # DynamoDB (e.g. key sizes): that is the caller's cursor, not our fault.
            if cursor and error_code(error) == "ValidationException":
                raise InvalidCursor("cursor is not one this API returned") from error
            raise
        return FriendListResponse(
            friends=[FriendResponse.of(friend, tags) for friend in page.friends],
            next_cursor=page.next_cursor,
        )

    def get_friend(self, channel_id: str, user_id: str) -> FriendResponse:
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            raise FriendNotFound(channel_id, user_id)
        answer = FriendResponse.of(friend, self._config.load(channel_id).tags)
        if self._rich_menus is None:
            self._rich_menus = RichMenuRepository(*self._config.client_and_table())
        answer.rich_menu = friend_rich_menu(friend.rich_menu_id, self._rich_menus.load(channel_id))
        return answer

    def change_friend(
        self, channel_id: str, user_id: str, request: FriendChangeRequest
    ) -> FriendResponse:
        config = self._config.load(channel_id)
        change = _change_set(config, request)
        friend = self._friends.apply_change(
            channel_id, user_id, change, self._clock(), source="admin"
        )
        return FriendResponse.of(friend, config.tags)

    def change_friends(self, channel_id: str, request: BulkChangeRequest) -> BulkChangeResponse:
        """The same change for many friends; unknown friends are reported, not fatal.

        The request is validated as a whole first, so a bad tag or value changes nobody.
        """
        change = _change_set(self._config.load(channel_id), request)
        at = self._clock()
        results: list[BulkResult] = []
        for user_id in request.user_ids:
            try:
                self._friends.apply_change(channel_id, user_id, change, at, source="admin")
            except FriendNotFound:
                results.append(BulkResult(user_id=user_id, result="not_found"))
            else:
                results.append(BulkResult(user_id=user_id, result="updated"))
        updated = sum(1 for result in results if result.result == "updated")
        return BulkChangeResponse(
            updated=updated, not_found=len(results) - updated, results=results
        )

    def export_friend(self, channel_id: str, user_id: str) -> FriendExport:
        items = self._friends.export(channel_id, user_id)
        if not items:
            raise FriendNotFound(channel_id, user_id)
        if self._erasure is not None:
            items.extend(self._erasure.ledger_rows(channel_id, user_id))
            items.extend(self._erasure.audit_rows(channel_id, user_id))
        friend = self._friends.get(channel_id, user_id)
        tags = self._config.load(channel_id).tags
        return FriendExport(
            channel_id=channel_id,
            user_id=user_id,
            exported_at=self._clock(),
            friend=FriendResponse.of(friend, tags) if friend else None,
            items=[_plain(item) for item in items],
        )

    def delete_friend(self, channel_id: str, user_id: str) -> int:
        """Right to erasure: the friend's items, the ledger rows naming them (see
        ``admin/erasure.py``); the number of items deleted or redacted. The erasure
        record and the ledger go first, so a retry after a failure finishes the job."""
        if not self._friends.export(channel_id, user_id):
            raise FriendNotFound(channel_id, user_id)
        redacted = self._erasure.erase(channel_id, user_id) if self._erasure is not None else 0
        return redacted + self._friends.delete(channel_id, user_id)

    def take_chat(self, channel_id: str, user_id: str, staff: str) -> FriendResponse:
        mode = ChatMode(staff=staff, since=self._clock())
        friend = self._friends.set_chat_mode(channel_id, user_id, mode)
        return FriendResponse.of(friend, self._config.load(channel_id).tags)

    def release_chat(self, channel_id: str, user_id: str) -> FriendResponse:
        friend = self._friends.set_chat_mode(channel_id, user_id, None)
        return FriendResponse.of(friend, self._config.load(channel_id).tags)


def _list_filter(
    config: ChannelConfig,
    *,
    field: str | None,
    route: str | None,
    linked: bool | None,
    segment: str | None,
) -> CompiledSegment | None:
    """The list's filters beyond tag and status, as one segment (the grammar's own
    conditions, so the list shows whom a segment of them would match)."""
    conditions: list[tuple[str, dict[str, Any]]] = []  # (the query parameter, condition)
    if field is not None:
        key, sep, value = field.partition("=")
        if not sep or not key:
            raise InvalidInput("field is key=value, e.g. rank=gold", field="field")
        try:
            config.fields.get(key)
        except UnknownField as error:
            raise InvalidInput(str(error), field="field") from error
        conditions.append(("field", {"field": {"key": key, "op": "eq", "value": value}}))
    if route is not None:
        conditions.append(("route", {"inflow_route": route}))
    if linked is not None:
        conditions.append(("linked", {"linked": linked}))
    if segment is not None:
        if segment not in config.segments:
            raise InvalidInput(f"no saved segment {segment!r}", field="segment")
        conditions.append(("segment", config.segments[segment].definition["match"]))
    if not conditions:
        return None
    try:
        return compile_segment(
            {"match": {"all": [condition for _, condition in conditions]}},
            config.tags,
            config.fields,
            time_zone=config.delivery_policy.time_zone,
        )
    except SegmentError as error:
        index = re.match(r"match\.all\[(\d+)\]", error.path)
        at_fault = conditions[int(index.group(1))][0] if index else conditions[0][0]
        raise InvalidInput(f"{at_fault}: {error.reason}", field=at_fault) from error


def _resolve_tags(tags: TagCatalog, references: list[str], *, field: str) -> list[str]:
    """Tag ids for ids or names; every unknown one is named in the error."""
    resolved: list[str] = []
    unknown: list[str] = []
    for reference in references:
        try:
            resolved.append(tags.resolve(reference).tag_id)
        except UnknownTag:
            unknown.append(reference)
    if unknown:
        raise InvalidInput(f"unknown tag(s): {', '.join(unknown)}", field=field)
    return resolved


def _change_set(config: ChannelConfig, request: FriendChangeRequest) -> FriendChangeSet:
    add = set(_resolve_tags(config.tags, request.add_tags, field="add_tags"))
    remove = set(_resolve_tags(config.tags, request.remove_tags, field="remove_tags"))
    if add & remove:
        names = sorted(config.tags.resolve(tag_id).name for tag_id in add & remove)
        raise InvalidInput(f"tag(s) both added and removed: {', '.join(names)}", field="add_tags")
    values = _field_values(config.fields, request.set_fields)
    for key in request.clear_fields:
        try:
            config.fields.get(key)
        except UnknownField as error:
            raise InvalidInput(str(error), field="clear_fields") from error
    both = sorted(set(values) & set(request.clear_fields))
    if both:
        raise InvalidInput(f"field(s) both set and cleared: {', '.join(both)}", field="set_fields")
    return FriendChangeSet(
        add_tag_ids=frozenset(add),
        remove_tag_ids=frozenset(remove),
        set_fields=values,
        clear_fields=frozenset(request.clear_fields),
    )


def _field_values(fields: FieldCatalog, raw: Mapping[str, object]) -> dict[str, FieldValue]:
    values: dict[str, FieldValue] = {}
    for key, raw_value in raw.items():
        field = f"set_fields.{key}"
        try:
            value = fields.coerce(key, raw_value)
        except (UnknownField, FieldValueError) as error:
            raise InvalidInput(str(error), field=field) from error
        if not _storable(value):
            raise InvalidInput(f"{key}: {raw_value!r} is out of the storable range", field=field)
        values[key] = value
    return values


def _storable(value: FieldValue) -> bool:
    """DynamoDB (and boto3's serializer) refuse numbers of more than 38 digits, as
    written, or beyond its exponent range."""
    if isinstance(value, str) or value == 0:
        return True
    if isinstance(value, int):
        return len(str(abs(value))) <= _MAX_NUMBER_DIGITS
    if not math.isfinite(value):
        return False
    digits = Decimal(repr(value)).as_tuple().digits
    return len(digits) <= _MAX_NUMBER_DIGITS and _NUMBER_RANGE[0] <= abs(value) < _NUMBER_RANGE[1]


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (DynamoDB sets and binaries included)."""
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return base64.b64encode(value.value).decode("ascii")
    return value


def friend_rich_menu(linked: str | None, stored: StoredMenuSet | None) -> FriendRichMenu:
    """What the friend sees: the menu the assignment rules linked (``linked``, LINE's id,
    recorded on the friend), else the default of the applied set. Names come from the
    set's document; a LINE id the set no longer holds is shown by its id alone."""
    names = {menu.id: menu.name for menu in stored.document.menus} if stored else {}
    ours = {line.rich_menu_id: menu_id for menu_id, line in stored.line.items()} if stored else {}
    if linked is not None:
        menu_id = ours.get(linked)
        return FriendRichMenu(
            source="assigned", menu_id=menu_id, name=names.get(menu_id or ""), rich_menu_id=linked
        )
    if stored is not None and stored.default_rich_menu_id is not None:
        menu_id = ours.get(stored.default_rich_menu_id, stored.document.default)
        return FriendRichMenu(
            source="default",
            menu_id=menu_id,
            name=names.get(menu_id or ""),
            rich_menu_id=stored.default_rich_menu_id,
        )
    return FriendRichMenu(source="none")
