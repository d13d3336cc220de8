"""Rich menus that follow the friend's state: a signal listener (``Container.signals``).

On a tag, field, follow or unlink signal that an assignment rule can care about, the
friend is read, the rules evaluated, and when the outcome differs from the menu stored
on the friend, the new one is recorded (conditionally: one winner) and one LINE call
queued for the sender (link, or unlink back to the default). An unchanged outcome
writes and calls nothing; a signal no rule mentions reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.segments import SegmentError
from linecrm.domain.signals import FriendSignal
from linecrm.models.send import RichMenuLink
from linecrm.repositories.friends import FriendRepository
from linecrm.richmenus.assignment import (
    CompiledAssignment,
    applied_assignment,
    compile_assignment,
)


class TaskQueue(Protocol):
    def enqueue_task(self, task: RichMenuLink) -> None: ...


class RichMenuFollower:
    def __init__(
        self,
        config: Callable[[str], ChannelConfig],
        friends: FriendRepository,
        tasks: Callable[[], TaskQueue],
        clock: Callable[[], datetime],
    ) -> None:
        """``config``: the cached channel config (the webhook's): it carries the applied
        assignment, so a warm function spends no read on it."""
        self._config = config
        self._friends = friends
        self._tasks = tasks
        self._clock = clock
        # Compiled once per config object (the cache hands out the same one for 30 s).
        self._compiled: dict[str, tuple[ChannelConfig, CompiledAssignment | None]] = {}

    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        assignment = self._assignment(signal.channel_id)
        if assignment is None or not assignment.relevant(signal):
            return []
        friend = self._friends.get(signal.channel_id, signal.user_id)
        if friend is None or friend.status != "active":
            return []
        target = assignment.target(friend, self._clock())
        if target == friend.rich_menu_id:
            return []
        change = self._friends.rich_menu_change(
            signal.channel_id, signal.user_id, friend.rich_menu_id, target
        )
        if not self._friends.change_rich_menu(change):
            return []  # another signal switched it meanwhile: its call is queued
        self._tasks().enqueue_task(
            RichMenuLink(
                channel_id=signal.channel_id,
                user_id=signal.user_id,
                rich_menu=target or friend.rich_menu_id or "default",
                unlink=target is None,
                assigned=True,
            )
        )
        if target is None:
            return ["rich menu: back to the default"]
        return [f"rich menu: {target} queued"]

    def _assignment(self, channel_id: str) -> CompiledAssignment | None:
        config = self._config(channel_id)
        cached = self._compiled.get(channel_id)
        if cached is not None and cached[0] is config:
            return cached[1]
        applied = applied_assignment(config)
        compiled = None
        if applied is not None:
            try:
                compiled = compile_assignment(applied, config)
            except SegmentError:
                from linecrm.observability import logger

                # A tag of a rule was deleted since: the next apply says so; until then
                # the rules stand still rather than fail every event.
                logger.exception("rich menu rules do not compile", extra={"channel_id": channel_id})
        self._compiled[channel_id] = (config, compiled)
        return compiled
