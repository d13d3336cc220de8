"""Putting a menu set on LINE, and re-linking friends after a rule change.

``MenuPublisher`` makes LINE hold the set: a menu whose fingerprint (request body and
image) is unchanged costs no call; a new or changed one is created, its image uploaded
(data-API host) and its alias pointed at it; LINE's default menu follows. The LINE
menus a change replaced are deleted only after friends are relinked (``retire``), so
nobody is left on a deleted menu in between.

Each new menu's progress is recorded as it goes (``PendingMenu``: creating → created →
uploaded), so a step that crashed mid-way leaves no orphan on LINE when it runs again:
a menu that was being created is looked for among LINE's menus (same body, an id we do
not know) and deleted; one created but maybe without its image is deleted (LINE takes
one image per menu, so the upload cannot just be tried again); then it is created anew.
One whose image is uploaded only needs its alias.

``Relinker`` walks a page of friends, evaluates the rules and links the friends whose
menu changes with LINE's bulk calls: at most 500 user ids a call (LINE's limit for
``/v2/bot/richmenu/bulk/link`` and ``/bulk/unlink``), each call paced on the channel's
own lane, then records the new menus 100 per transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from linecrm.delivery.pacing import EndpointKind, Pacer
from linecrm.models.send import RichMenuLink
from linecrm.repositories.friends import FriendRepository
from linecrm.richmenus.assignment import CompiledAssignment
from linecrm.richmenus.model import MenuSet, image_content_type

BULK_LIMIT = 500  # user ids per bulk link / unlink call (LINE's maxItems)
# Bulk calls per second for a channel, over every jobs environment: each call moves
# 500 friends, so this relinks 5,000 friends a second while leaving LINE's per-channel
# budget ("other endpoints", 2,000 requests per second) to the sender.
BULK_RATE_PER_SECOND = 10.0


class RichMenuApi(Protocol):
    """The LINE client's rich menu calls (``linecrm.line.client``)."""

    def create_rich_menu(self, menu: dict[str, object]) -> str: ...
    def upload_rich_menu_image(
        self, rich_menu_id: str, image: bytes, content_type: str
    ) -> None: ...
    def point_rich_menu_alias(self, alias_id: str, rich_menu_id: str) -> None: ...
    def set_default_rich_menu(self, rich_menu_id: str | None) -> None: ...
    def delete_rich_menu(self, rich_menu_id: str) -> None: ...
    def find_rich_menus(self, menu: dict[str, object]) -> list[str]: ...
    def bulk_link_rich_menu(self, rich_menu_id: str, user_ids: list[str]) -> None: ...
    def bulk_unlink_rich_menu(self, user_ids: list[str]) -> None: ...


class LineMenu(BaseModel):
    """A menu of the set as LINE holds it."""

    model_config = ConfigDict(frozen=True)

    rich_menu_id: str
    fingerprint: str


class PendingMenu(BaseModel):
    """A new menu on its way to LINE (kept in the sync's progress until published)."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    stage: Literal["creating", "created", "uploaded"]
    rich_menu_id: str | None = None  # LINE's, once created


def _ignore(_menu_id: str, _pending: PendingMenu) -> None:
    return None


@dataclass(frozen=True)
class Published:
    menus: dict[str, LineMenu]  # our menu id -> LINE's
    retired: list[str]  # LINE menus replaced: delete after relinking
    calls: int  # LINE calls made (0: the set was already there)


class MenuPublisher:
    def __init__(self, line: RichMenuApi) -> None:
        self._line = line

    def publish(
        self,
        menu_set: MenuSet,
        fingerprints: Mapping[str, str],
        image_of: Callable[[str], bytes],
        current: Mapping[str, LineMenu],
        current_default: str | None,
        *,
        pending: Mapping[str, PendingMenu] | None = None,
        record: Callable[[str, PendingMenu], None] = _ignore,
        known: Sequence[str] = (),
        repoint: bool = False,
    ) -> Published:
        """``fingerprints``: each menu's (``menu_fingerprint``); ``image_of`` reads a
        menu's image, only for the menus LINE does not hold yet. ``pending``: what an
        earlier run of this step recorded through ``record``; ``known``: other LINE
        menus of ours (those waiting to be retired), never taken for orphans;
        ``repoint``: point every alias and the default again, changed or not."""
        menus: dict[str, LineMenu] = {}
        retired: list[str] = []
        calls = 0
        earlier = pending or {}
        ours = {m.rich_menu_id for m in current.values()} | set(known)
        ours |= {p.rich_menu_id for p in earlier.values() if p.rich_menu_id}
        for menu in menu_set.menus:
            fingerprint = fingerprints[menu.id]
            existing = current.get(menu.id)
            if existing is not None and existing.fingerprint == fingerprint:
                menus[menu.id] = existing
                if repoint:
                    self._line.point_rich_menu_alias(menu.id, existing.rich_menu_id)
                    calls += 1
                continue
            left = earlier.get(menu.id)
            if left is not None and left.fingerprint == fingerprint:
                calls += self._clear_leftover(menu.to_line(), left, ours)
            if left is None or left.fingerprint != fingerprint or left.stage != "uploaded":
                left = self._create(menu.id, menu.to_line(), fingerprint, image_of, record)
                calls += 2
            assert left.rich_menu_id is not None
            self._line.point_rich_menu_alias(menu.id, left.rich_menu_id)
            calls += 1
            menus[menu.id] = LineMenu(rich_menu_id=left.rich_menu_id, fingerprint=fingerprint)
            if existing is not None:
                retired.append(existing.rich_menu_id)
        retired += [m.rich_menu_id for menu_id, m in current.items() if menu_id not in menus]
        default = menus[menu_set.default].rich_menu_id if menu_set.default else None
        if default != current_default or repoint:
            self._line.set_default_rich_menu(default)
            calls += 1
        return Published(menus, retired, calls)

    def _create(
        self,
        menu_id: str,
        body: dict[str, object],
        fingerprint: str,
        image_of: Callable[[str], bytes],
        record: Callable[[str, PendingMenu], None],
    ) -> PendingMenu:
        image = image_of(menu_id)
        record(menu_id, PendingMenu(fingerprint=fingerprint, stage="creating"))
        rich_menu_id = self._line.create_rich_menu(body)
        created = PendingMenu(fingerprint=fingerprint, stage="created", rich_menu_id=rich_menu_id)
        record(menu_id, created)
        self._line.upload_rich_menu_image(rich_menu_id, image, image_content_type(image))
        uploaded = created.model_copy(update={"stage": "uploaded"})
        record(menu_id, uploaded)
        return uploaded

    def _clear_leftover(self, body: dict[str, object], left: PendingMenu, ours: set[str]) -> int:
        """Delete what a crashed run left on LINE for this menu; the LINE calls made."""
        if left.stage == "uploaded":
            return 0  # complete on LINE: only its alias is missing
        if left.stage == "created" and left.rich_menu_id is not None:
            self._line.delete_rich_menu(left.rich_menu_id)  # its image may be missing
            return 1
        # "creating": LINE may have made it without our hearing the answer.
        orphans = [found for found in self._line.find_rich_menus(body) if found not in ours]
        for orphan in orphans:
            self._line.delete_rich_menu(orphan)
        return 1 + len(orphans)

    def retire(self, rich_menu_ids: Sequence[str]) -> None:
        for rich_menu_id in rich_menu_ids:
            self._line.delete_rich_menu(rich_menu_id)


@dataclass(frozen=True)
class RelinkPage:
    last_user_id: str | None  # where the next page starts (None: no friend read)
    more: bool
    counts: Counter[str]  # "linked", "unlinked", "unchanged", "bulk_calls"


class RepairQueue(Protocol):
    def enqueue_task(self, task: RichMenuLink) -> None: ...


class Relinker:
    def __init__(
        self,
        friends: FriendRepository,
        line: Callable[[str], RichMenuApi],
        pacer: Pacer,
        clock: Callable[[], datetime],
        repairs: Callable[[], RepairQueue],
    ) -> None:
        """``repairs``: where a friend whose menu a rule switched during the bulk call
        gets a link task to the menu their record names (the sender checks it again)."""
        self._friends = friends
        self._line = line
        self._pacer = pacer
        self._clock = clock
        self._repairs = repairs

    def relink_page(
        self,
        channel_id: str,
        assignment: CompiledAssignment,
        after_user_id: str | None,
        page_size: int = 1000,
    ) -> RelinkPage:
        friends, more = self._friends.page_after(channel_id, after_user_id, page_size)
        now = self._clock()
        counts: Counter[str] = Counter()
        moves: dict[str | None, list[tuple[str, str | None]]] = defaultdict(list)
        for friend in friends:
            if friend.status != "active":
                continue
            target = assignment.target(friend, now)
            if target == friend.rich_menu_id:
                counts["unchanged"] += 1
                continue
            moves[target].append((friend.user_id, friend.rich_menu_id))
        line = self._line(channel_id)
        for target, members in moves.items():
            for start in range(0, len(members), BULK_LIMIT):
                chunk = members[start : start + BULK_LIMIT]
                user_ids = [user_id for user_id, _ in chunk]
                # The pacer's lanes are per (channel, kind): bulk calls get a lane of
                # their own so they never take the sender's push slots.
                self._pacer.acquire(
                    f"{channel_id}#rich-menu-bulk", EndpointKind.PUSH, BULK_RATE_PER_SECOND
                )
                if target is None:
                    line.bulk_unlink_rich_menu(user_ids)
                else:
                    line.bulk_link_rich_menu(target, user_ids)
                counts["bulk_calls"] += 1
                applied = self._friends.change_rich_menus(
                    [
                        self._friends.rich_menu_change(channel_id, user_id, previous, target)
                        for user_id, previous in chunk
                    ]
                )
                counts["unlinked" if target is None else "linked"] += len(chunk)
                for (user_id, _), recorded in zip(chunk, applied, strict=True):
                    if not recorded:  # a rule switched them meanwhile: LINE must follow it
                        counts["repaired"] += self._repair(channel_id, user_id)
        last = friends[-1].user_id if friends else None
        return RelinkPage(last, more, counts)

    def _repair(self, channel_id: str, user_id: str) -> int:
        """Queue a link to the menu the friend's record names now (after the bulk call
        may have overwritten it on LINE); 1 if queued."""
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            return 0
        self._repairs().enqueue_task(
            RichMenuLink(
                channel_id=channel_id,
                user_id=user_id,
                rich_menu=friend.rich_menu_id or "default",
                unlink=friend.rich_menu_id is None,
                assigned=True,
            )
        )
        return 1
