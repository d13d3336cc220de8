"""The rich menu sync job (the jobs function): publish, relink, retire.

1. publish: the changed menus are created on LINE with their images and aliases, and
   LINE's default menu set (``MenuPublisher``); then the assignment (LINE ids and
   segments) becomes the channel setting the webhook's listener reads.
2. relink: friends are walked a page at a time from the stored checkpoint; those whose
   menu changes are linked with bulk calls (``Relinker``). A step stops when its time
   budget is spent, saves the checkpoint and queues the next step.
3. retire: the LINE menus the new version replaced are deleted, now nobody is on them.

Every step is safe to run twice (a redelivered message): a page relinked again finds
its friends' menus recorded and calls nothing; a superseded version stops at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from linecrm.domain.channel_config import ChannelConfig
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.repositories.rich_menus import (
    RichMenuRepository,
    StaleVersion,
    StoredMenuSet,
    add_counts,
)
from linecrm.richmenus.assignment import (
    ASSIGNMENT_SETTING,
    AppliedAssignment,
    AppliedRule,
    compile_assignment,
)
from linecrm.richmenus.service import StepQueue
from linecrm.richmenus.steps import RichMenuSyncStep
from linecrm.richmenus.sync import MenuPublisher, PendingMenu, Relinker, RichMenuApi

RELINK_PAGE_SIZE = 1000


class SettingWriter(Protocol):
    """What the job writes the assignment with (``ChannelConfigRepository``)."""

    def set_setting(self, channel_id: str, name: str, value: object) -> None: ...


class RichMenuSyncRunner:
    def __init__(
        self,
        repository: RichMenuRepository,
        channel_config: Callable[[str], ChannelConfig],
        settings: SettingWriter,
        read_image: Callable[[str], bytes],
        line: Callable[[str], RichMenuApi],
        relinker: Relinker,
        job_queue: Callable[[], StepQueue],
        clock: Callable[[], datetime],
        *,
        page_size: int = RELINK_PAGE_SIZE,
    ) -> None:
        self._repository = repository
        self._channel_config = channel_config
        self._settings = settings
        self._read_image = read_image
        self._line = line
        self._relinker = relinker
        self._job_queue = job_queue
        self._page_size = page_size
        self._clock = clock

    def run_step(self, channel_id: str, version: int, budget: StepBudget) -> StepOutcome:
        stored = self._repository.load(channel_id)
        if stored is None:
            return StepOutcome.MISSING
        if stored.version != version:
            return StepOutcome.LOST_RACE  # a newer apply has its own job
        if stored.status != "syncing":
            return StepOutcome.FINISHED
        try:
            if stored.progress.phase == "publish":
                wait = self._wait_seconds(stored)
                if wait > 0:  # the version this one superseded may still be publishing
                    self._job_queue().send_step(
                        RichMenuSyncStep(channel_id=channel_id, version=version),
                        delay_seconds=wait,
                    )
                    return StepOutcome.CONTINUE
                stored = self._publish(stored)
            if stored.progress.phase == "relink":
                stored = self._relink(stored, budget)
                if stored.progress.phase == "relink":
                    self._job_queue().send_step(
                        RichMenuSyncStep(channel_id=channel_id, version=version)
                    )
                    return StepOutcome.CONTINUE
            MenuPublisher(self._line(channel_id)).retire(stored.progress.retired)
            self._save(stored, phase="done", status="ready", retired=[])
        except StaleVersion:
            return StepOutcome.LOST_RACE
        return StepOutcome.DONE

    def fail(self, channel_id: str, version: int, reason: str) -> None:
        stored = self._repository.load(channel_id)
        if stored is None or stored.version != version:
            return
        try:
            self._repository.update(
                stored.model_copy(update={"status": "failed", "reason": reason})
            )
        except StaleVersion:
            return

    # ------------------------------------------------------------------ phases
    def _wait_seconds(self, stored: StoredMenuSet) -> int:
        wait_until = stored.progress.wait_until
        if wait_until is None:
            return 0
        return max(0, math.ceil((wait_until - self._clock()).total_seconds()))

    def _publish(self, stored: StoredMenuSet) -> StoredMenuSet:
        channel_id = stored.channel_id
        line = self._line(channel_id)
        recorded = self._save(stored, publishing_since=self._clock())

        def record(menu_id: str, pending: PendingMenu) -> None:
            # Each step of a new menu is saved before the next LINE call. A superseded
            # set stops here (StaleVersion), first deleting the menu it just made: the
            # newer version's list of menus to retire was taken before it existed.
            nonlocal recorded
            progress = {**recorded.progress.pending, menu_id: pending}
            try:
                recorded = self._save(recorded, pending=progress)
            except StaleVersion:
                if pending.rich_menu_id is not None:
                    line.delete_rich_menu(pending.rich_menu_id)
                raise

        published = MenuPublisher(line).publish(
            stored.document,
            stored.fingerprints,
            lambda menu_id: self._read_image(stored.image_keys[menu_id]),
            stored.line,
            stored.default_rich_menu_id,
            pending=stored.progress.pending,
            record=record,
            known=stored.progress.retired,
            repoint=stored.progress.repoint,
        )
        stored = recorded
        default = stored.document.default
        stored = stored.model_copy(
            update={
                "line": published.menus,
                "default_rich_menu_id": published.menus[default].rich_menu_id if default else None,
            }
        )
        assignment = _applied(stored)
        # Saved before the setting: a crash between the two re-publishes nothing.
        stored = self._save(
            stored,
            phase="relink",
            retired=[*stored.progress.retired, *published.retired],
            pending={},
            publishing_since=None,
        )
        self._settings.set_setting(
            channel_id, ASSIGNMENT_SETTING, assignment.model_dump(mode="json")
        )
        return stored

    def _relink(self, stored: StoredMenuSet, budget: StepBudget) -> StoredMenuSet:
        channel_id = stored.channel_id
        config = self._channel_config(channel_id)
        assignment = compile_assignment(_applied(stored), config)
        after = stored.progress.after_user_id
        while budget.allows_more():
            page = self._relinker.relink_page(channel_id, assignment, after, self._page_size)
            budget.chunks += 1
            after = page.last_user_id or after
            counts = add_counts(stored.progress, page.counts)
            phase = "relink" if page.more else "retire"
            stored = self._save(stored, phase=phase, after_user_id=after, counts=counts)
            if not page.more:
                break
        return stored

    def _save(self, stored: StoredMenuSet, **progress: object) -> StoredMenuSet:
        status = progress.pop("status", stored.status)
        updated = stored.model_copy(
            update={"status": status, "progress": stored.progress.model_copy(update=progress)}
        )
        self._repository.update(updated)
        return updated


def _applied(stored: StoredMenuSet) -> AppliedAssignment:
    default = stored.document.default
    return AppliedAssignment(
        version=stored.version,
        default_rich_menu_id=stored.line[default].rich_menu_id if default else None,
        rules=[
            AppliedRule(
                menu=rule.menu,
                rich_menu_id=stored.line[rule.menu].rich_menu_id,
                segment=rule.segment,
            )
            for rule in stored.document.rules
        ],
    )
