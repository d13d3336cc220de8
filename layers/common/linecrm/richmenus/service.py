"""Applying a menu set (the admin API): validate, diff, store, and queue the sync job.

The admin function never calls LINE (it holds no channel credentials): it checks the
set against LINE's rules and the channel's tags and fields, draws the images that are
not given, stores the images (uploads bucket) and the set (a new version), and queues
a ``RichMenuSyncStep``; the jobs function puts the menus on LINE and relinks friends.
An unchanged set (same menus, images, default and rules) stores and queues nothing,
so it costs no LINE call.

For a channel with a LIFF app, the menus' ``uri`` areas are tracked links of
``richmenu:<menu id>`` (``MenuLinks``, docs/tracking.md): the set is stored, fingerprinted
and put on LINE with their tracking URLs, so a tap counts in the menu's report. The
URLs are a hash of the link: applying the same file again changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.problems import Problem
from linecrm.domain.problems import problems_of as parsed_problems
from linecrm.domain.segments import SegmentError, compile_segment
from linecrm.repositories.rich_menus import (
    RichMenuRepository,
    StoredMenuSet,
    SyncPhase,
    SyncProgress,
    SyncStatus,
)
from linecrm.resources import JOBS_FUNCTION, UPLOADS_BUCKET
from linecrm.richmenus.image import ImageNotDrawable, draw_menu
from linecrm.richmenus.model import (
    MenuLink,
    MenuSet,
    UriAction,
    image_problem,
    menu_fingerprint,
)
from linecrm.richmenus.steps import RichMenuSyncStep

# Under the uploads bucket's granted prefix; its objects expire (7 days), which is fine:
# an image is read only by the sync job that follows its apply (an unchanged menu's
# image is never read again).
IMAGE_KEY_PREFIX = f"{UPLOADS_BUCKET.object_prefix}richmenus"
# A publish step that began this long ago is over, one way or the other: it runs in
# the jobs function, which Lambda stops at its timeout.
PUBLISH_LEASE = timedelta(seconds=JOBS_FUNCTION.timeout_seconds + 5)


class RichMenusRejected(ValueError):
    """A menu set that cannot be applied: every problem, with its path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems[:10]))
        self.problems = problems


class RichMenusMissing(LookupError):
    pass


class ImageStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...


class MenuImage(BaseModel):
    """A menu's image as applied (the one LINE got): its bytes and their type."""

    data: bytes
    content_type: Literal["image/png", "image/jpeg"]


class MenuLinks(Protocol):
    """Tracks a set's URI areas (``linecrm.tracking.links.LinkTracker``)."""

    def track_menus(
        self, channel_id: str, menu_set: MenuSet, *, record: bool = True
    ) -> tuple[MenuSet, list[MenuLink]]: ...


class CampaignIndex(Protocol):
    """The reports' campaign list (``CampaignStatsRepository``)."""

    def index(self, channel_id: str, campaign: str, at: datetime) -> None: ...


class StepQueue(Protocol):
    def send_step(self, step: BaseModel, delay_seconds: int = 0) -> None: ...


MenuChange = Literal["created", "changed", "unchanged", "removed"]


class MenuSummary(BaseModel):
    id: str
    change: MenuChange | None = None
    rich_menu_id: str | None = Field(default=None, description="LINE's id, once synced")
    image: Literal["given", "generated"] | None = None


class RichMenuState(BaseModel):
    """What ``apply`` did (or, dry run, would do), and the sync job's progress."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["unchanged", "applied", "would_apply", "shown"]
    version: int | None
    status: SyncStatus | None = Field(
        default=None, description="syncing: the job runs; ready; failed (see reason)"
    )
    phase: SyncPhase | None = None
    menus: list[MenuSummary]
    default: str | None = None
    rules_changed: bool = False
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="friends linked / unlinked / unchanged and bulk LINE calls so far",
    )
    reason: str | None = None
    links: list[MenuLink] = Field(
        default_factory=list,
        description="the URI areas made tracking URLs (richmenu:<menu id>); none without LIFF",
    )
    document: MenuSet | None = Field(
        default=None,
        description="GET only: the applied set as written (each tracked URI area's own "
        "link, not its tracking URL), ready to edit and apply again",
    )


class ApplyRequest(BaseModel):
    """A menu set (docs/rich-menus.md) and its images: base64 PNG or JPEG by menu id;
    a menu without one gets an image drawn from its areas' labels."""

    model_config = ConfigDict(extra="forbid")

    menus: list[dict[str, Any]]
    default: str | None = None
    rules: list[dict[str, Any]] = Field(default_factory=list)
    images: dict[str, str] = Field(default_factory=dict)


class RichMenuService:
    def __init__(
        self,
        repository: RichMenuRepository,
        channel_config: Callable[[str], ChannelConfig],
        images: Callable[[], ImageStore],
        job_queue: Callable[[], StepQueue],
        clock: Callable[[], datetime],
        *,
        links: MenuLinks | None = None,
        campaigns: CampaignIndex | None = None,
        read_image: Callable[[str], bytes | None] | None = None,
    ) -> None:
        self._repository = repository
        self._channel_config = channel_config
        self._images = images
        self._job_queue = job_queue
        self._clock = clock
        self._links = links
        self._campaigns = campaigns
        self._read_image = read_image

    def apply(self, channel_id: str, request: ApplyRequest, *, dry_run: bool) -> RichMenuState:
        menu_set = self._parse(request)
        config = self._channel_config(channel_id)
        self._check_rules(menu_set, config)
        images, generated = self._images_of(menu_set, request.images)
        source = menu_set
        menu_set, links = self._tracked(channel_id, source, record=False)
        fingerprints = {m.id: menu_fingerprint(m, images[m.id]) for m in menu_set.menus}
        stored = self._repository.load(channel_id)
        summaries = _diff(menu_set, fingerprints, stored, generated)
        rules_changed = stored is None or (
            stored.document.rules != menu_set.rules or stored.document.default != menu_set.default
        )
        # The same menus, images and rules as the stored set (synced, or being synced by
        # its job): nothing to store, queue or call.
        unchanged = (
            stored is not None
            and stored.status != "failed"
            and not rules_changed
            and stored.fingerprints == fingerprints
        )
        if unchanged or dry_run:
            return RichMenuState(
                action="unchanged" if unchanged else "would_apply",
                version=stored.version if stored else None,
                status=stored.status if stored else None,
                menus=summaries,
                default=menu_set.default,
                rules_changed=rules_changed,
                links=links,
            )
        # The links are stored before the menus can reach LINE (the job is queued last).
        self._tracked(channel_id, source, record=True)
        if self._campaigns is not None:  # listed in the reports from now on
            for campaign in dict.fromkeys(link.campaign for link in links):
                self._campaigns.index(channel_id, campaign, self._clock())
        keys = {}
        for menu in menu_set.menus:
            key = f"{IMAGE_KEY_PREFIX}/{channel_id}/{fingerprints[menu.id]}"
            if stored is None or stored.image_keys.get(menu.id) != key:
                self._images().put(key, images[menu.id])
            keys[menu.id] = key
        version = (stored.version if stored else 0) + 1
        self._repository.save(
            StoredMenuSet(
                channel_id=channel_id,
                version=version,
                document=menu_set,
                image_keys=keys,
                fingerprints=fingerprints,
                # What LINE holds carries over: the job creates only what changed.
                line=stored.line if stored else {},
                default_rich_menu_id=stored.default_rich_menu_id if stored else None,
                status="syncing",
                progress=_carried_over(stored, self._clock()),
                applied_at=self._clock(),
                links=links,
                drawn=sorted(generated),
            ),
            previous_version=stored.version if stored else None,
        )
        self._job_queue().send_step(RichMenuSyncStep(channel_id=channel_id, version=version))
        return RichMenuState(
            action="applied",
            version=version,
            status="syncing",
            phase="publish",
            menus=summaries,
            default=menu_set.default,
            rules_changed=rules_changed,
            links=links,
        )

    def show(self, channel_id: str) -> RichMenuState:
        stored = self._repository.load(channel_id)
        if stored is None:
            raise RichMenusMissing(f"channel {channel_id} has no rich menus applied")
        return RichMenuState(
            action="shown",
            version=stored.version,
            status=stored.status,
            phase=stored.progress.phase,
            menus=[
                MenuSummary(
                    id=menu.id,
                    rich_menu_id=line.rich_menu_id
                    if (line := stored.line.get(menu.id)) is not None
                    and line.fingerprint == stored.fingerprints.get(menu.id)
                    else None,
                    image=None
                    if stored.drawn is None
                    else "generated"
                    if menu.id in stored.drawn
                    else "given",
                )
                for menu in stored.document.menus
            ],
            default=stored.document.default,
            counts=stored.progress.counts,
            reason=stored.reason,
            links=stored.links,
            document=_as_written(stored),
        )

    def image(self, channel_id: str, menu_id: str) -> MenuImage:
        """The image applied with a menu (what LINE shows): the stored upload, or, once
        the uploads bucket let it expire, the drawing again when the menu's image was
        drawn (deterministic: its fingerprint proves it is the same)."""
        stored = self._repository.load(channel_id)
        if stored is None:
            raise RichMenusMissing(f"channel {channel_id} has no rich menus applied")
        menu = next((m for m in stored.document.menus if m.id == menu_id), None)
        if menu is None:
            raise RichMenusMissing(f"no menu {menu_id} in the applied set")
        key = stored.image_keys.get(menu_id)
        data = self._read_image(key) if key is not None and self._read_image else None
        if data is None:
            try:
                drawn = draw_menu(menu)
            except ImageNotDrawable:
                drawn = b""
            if drawn and menu_fingerprint(menu, drawn) == stored.fingerprints.get(menu_id):
                data = drawn
        if data is None:
            raise RichMenusMissing(
                f"menu {menu_id}'s uploaded image is no longer kept (uploads expire); "
                "apply the set with its image again"
            )
        jpeg = data.startswith(b"\xff\xd8")
        return MenuImage(data=data, content_type="image/jpeg" if jpeg else "image/png")

    def _tracked(
        self, channel_id: str, menu_set: MenuSet, *, record: bool
    ) -> tuple[MenuSet, list[MenuLink]]:
        if self._links is None:
            return menu_set, []
        return self._links.track_menus(channel_id, menu_set, record=record)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _parse(request: ApplyRequest) -> MenuSet:
        try:
            return MenuSet.model_validate(
                {"menus": request.menus, "default": request.default, "rules": request.rules}
            )
        except ValidationError as error:
            raise RichMenusRejected(problems_of(error)) from None

    @staticmethod
    def _check_rules(menu_set: MenuSet, config: ChannelConfig) -> None:
        problems = []
        for index, rule in enumerate(menu_set.rules):
            try:
                compile_segment(
                    rule.segment,
                    config.tags,
                    config.fields,
                    time_zone=config.delivery_policy.time_zone,
                    saved=config.segments,
                )
            except SegmentError as error:
                path = f"rules[{index}].segment" + (f".{error.path}" if error.path else "")
                problems.append(Problem(path, error.reason))
        if problems:
            raise RichMenusRejected(problems)

    @staticmethod
    def _images_of(
        menu_set: MenuSet, given: Mapping[str, str]
    ) -> tuple[dict[str, bytes], set[str]]:
        problems: list[Problem] = []
        ids = {menu.id for menu in menu_set.menus}
        problems += [
            Problem(f"images.{menu_id}", "no menu of this id")
            for menu_id in given
            if menu_id not in ids
        ]
        images: dict[str, bytes] = {}
        generated: set[str] = set()
        for index, menu in enumerate(menu_set.menus):
            raw = given.get(menu.id)
            if raw is None:
                try:
                    images[menu.id] = draw_menu(menu)
                    generated.add(menu.id)
                except ImageNotDrawable as error:
                    problems.append(Problem(f"menus[{index}]", str(error)))
                continue
            try:
                image = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                problems.append(Problem(f"images.{menu.id}", "not base64"))
                continue
            problem = image_problem(image, menu.size)
            if problem is not None:
                problems.append(Problem(f"menus[{index}].image", problem))
            images[menu.id] = image
        if problems:
            raise RichMenusRejected(problems)
        return images, generated


def _as_written(stored: StoredMenuSet) -> MenuSet:
    """The stored set with each tracked URI area's own link back in place."""
    targets = {(link.menu, link.area): link.url for link in stored.links}
    if not targets:
        return stored.document
    menus = []
    for menu in stored.document.menus:
        areas = []
        for index, area in enumerate(menu.areas):
            url = targets.get((menu.id, index))
            if url is not None and isinstance(area.action, UriAction):
                area = area.model_copy(
                    update={"action": area.action.model_copy(update={"uri": url})}
                )
            areas.append(area)
        menus.append(menu.model_copy(update={"areas": areas}))
    return stored.document.model_copy(update={"menus": menus})


def _diff(
    menu_set: MenuSet,
    fingerprints: Mapping[str, str],
    stored: StoredMenuSet | None,
    generated: set[str],
) -> list[MenuSummary]:
    summaries = []
    for menu in menu_set.menus:
        line = stored.line.get(menu.id) if stored else None
        if line is None:
            change: MenuChange = "created"
        elif line.fingerprint == fingerprints[menu.id]:
            change = "unchanged"
        else:
            change = "changed"
        summaries.append(
            MenuSummary(
                id=menu.id,
                change=change,
                rich_menu_id=line.rich_menu_id if change == "unchanged" and line else None,
                image="generated" if menu.id in generated else "given",
            )
        )
    if stored is not None:
        kept = {menu.id for menu in menu_set.menus}
        summaries += [
            MenuSummary(id=menu_id, change="removed")
            for menu_id in stored.line
            if menu_id not in kept
        ]
    return summaries


_LOCATED = re.compile(r"^((?:menus|rules|areas|default)[\w.\[\]]*): (.+)$", re.DOTALL)
_ACTION_TAGS = frozenset({"postback", "uri", "message", "richmenuswitch"})


def problems_of(error: ValidationError) -> list[Problem]:
    """Pydantic's errors with dotted paths (``menus[0].areas[1].bounds``)."""
    return parsed_problems(error, union_tags=_ACTION_TAGS, located=_LOCATED)


def _carried_over(previous: StoredMenuSet | None, now: datetime) -> SyncProgress:
    """A new version's progress: menus an unfinished sync meant to delete stay on the
    list, with those its publish had made; if that publish may still be running, the
    new one waits for it to be over, and then points every alias and the default."""
    if previous is None:
        return SyncProgress()
    unfinished = previous.progress
    made = [p.rich_menu_id for p in unfinished.pending.values() if p.rich_menu_id]
    interrupted = previous.status != "ready" and unfinished.phase == "publish"
    waits = [unfinished.wait_until] if unfinished.wait_until else []
    if interrupted and unfinished.publishing_since is not None:
        waits.append(unfinished.publishing_since + PUBLISH_LEASE)
    wait_until = max(waits) if waits and max(waits) > now else None
    return SyncProgress(
        retired=[*unfinished.retired, *made], wait_until=wait_until, repoint=interrupted
    )
