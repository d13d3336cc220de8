"""Attributing follows to inflow routes, and keeping each route's counters.

Two parties learn half each: LINE Login's callback (``functions/inflow``) learns which
route a LINE user came through (a *touch*), the webhook learns that they followed. LINE
shows its add-friend prompt inside the login, so the follow often arrives first; or
the person adds the friend afterwards, on the page the callback sends them to. Either
order attributes the follow when the two are at most ``window`` apart:

- the callback stores the touch, then looks at the friend's last follow;
- the webhook's follow (a ``Followed`` signal) looks at the friend's touch.

Each write comes before the other's read, so at least one of the two sees the other;
if both do, the claim on the friend (one per follow) lets one of them win. The winner
applies the route's tags, starts its scenario and emits ``Followed`` again with the
route and ``route_attribution=True``: follow triggers that name an inflow route react
to it (those without one reacted to the first ``Followed`` already).

Counters follow the friend's state through signals: blocked (unfollow / follow again),
linked (ID link / unlink) and converted (the first ``purchase`` event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from linecrm.domain.actions import AddTags, CrmAction, StartScenario
from linecrm.domain.automation import ActionRunner, EventContext
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.friends import Friend
from linecrm.domain.inflow import (
    DEFAULT_WINDOW,
    PURCHASE_EVENT,
    ClaimOutcome,
    Counter,
    InflowRoute,
    Touch,
    attributable,
)
from linecrm.domain.signals import (
    BehaviourEvent,
    Blocked,
    Followed,
    FriendSignal,
    IdLinked,
    Signals,
    Unlinked,
)
from linecrm.repositories.dynamo import iso


class RouteStore(Protocol):
    def get(self, channel_id: str, route_id: str) -> InflowRoute | None: ...
    def record_touch(
        self, channel_id: str, user_id: str, route_id: str, at: datetime, keep: timedelta
    ) -> None: ...
    def touch(self, channel_id: str, user_id: str) -> Touch | None: ...
    def claim(
        self,
        channel_id: str,
        user_id: str,
        route_id: str,
        followed_at: datetime,
        by: str,
        at: datetime,
    ) -> ClaimOutcome: ...
    def mark(
        self, channel_id: str, user_id: str, route_id: str, *, linked: bool, converted: bool
    ) -> bool: ...
    def flip(
        self, channel_id: str, user_id: str, route_id: str, flag: Counter, value: bool
    ) -> bool: ...


class FriendReader(Protocol):
    def get(self, channel_id: str, user_id: str) -> Friend | None: ...


BY_FOLLOW = "follow"  # the webhook's follow found the touch
BY_LOGIN = "login"  # LINE Login's callback found the follow


class InflowAttribution:
    """A signal listener (``Followed``, ``Blocked``, ``IdLinked``, ``Unlinked``, and
    ``purchase`` events), and the callback's ``touched``."""

    def __init__(
        self,
        routes: RouteStore,
        friends: FriendReader,
        config: Callable[[str], ChannelConfig],
        actions: Callable[[], ActionRunner],
        signals: Callable[[], Signals],
        clock: Callable[[], datetime],
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self._routes = routes
        self._friends = friends
        self._config = config
        self._actions = actions
        self._signals = signals
        self._clock = clock
        self.window = window

    # ------------------------------------------------------------ the callback's half
    def touched(self, channel_id: str, user_id: str, route_id: str) -> list[str]:
        """LINE Login told us ``user_id`` came through the route now: keep the touch (for
        a follow still to come), and attribute a follow that came already."""
        now = self._clock()
        # Kept a little past the window: the follow's own time may lag its delivery.
        self._routes.record_touch(channel_id, user_id, route_id, now, 2 * self.window)
        friend = self._friends.get(channel_id, user_id)
        if (
            friend is None
            or friend.status != "active"
            or friend.last_followed_at is None
            or not attributable(now, friend.last_followed_at, self.window)
        ):
            return ["touch kept: no follow yet"]
        return self._attribute(channel_id, user_id, route_id, friend.last_followed_at, BY_LOGIN)

    # ------------------------------------------------------------ signals
    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        if isinstance(signal, Followed):
            return self._followed(signal)
        if isinstance(signal, Blocked):
            return self._flip_all(signal, "blocked", True)
        if isinstance(signal, IdLinked):
            return self._flip_all(signal, "linked", True)
        if isinstance(signal, Unlinked):
            return self._flip_all(signal, "linked", False)
        if isinstance(signal, BehaviourEvent) and signal.name == PURCHASE_EVENT:
            return self._flip_all(signal, "converted", True)
        return []

    def _followed(self, signal: Followed) -> list[str]:
        if signal.route_attribution:
            return []  # our own signal
        notes: list[str] = []
        if signal.refollow:
            notes += self._flip_all(signal, "blocked", False)
        touch = self._routes.touch(signal.channel_id, signal.user_id)
        if touch is None or not attributable(touch.touched_at, signal.occurred_at, self.window):
            return notes
        return notes + self._attribute(
            signal.channel_id, signal.user_id, touch.route_id, signal.occurred_at, BY_FOLLOW
        )

    def _flip_all(self, signal: FriendSignal, flag: Counter, value: bool) -> list[str]:
        friend = self._friends.get(signal.channel_id, signal.user_id)
        if friend is None or not friend.inflow_routes:
            return []
        moved = [
            route_id
            for route_id in sorted(friend.inflow_routes)
            if self._routes.flip(signal.channel_id, signal.user_id, route_id, flag, value)
        ]
        return [f"inflow route {r}: {flag} {'+1' if value else '-1'}" for r in moved]

    # ------------------------------------------------------------ attribution
    def _attribute(
        self, channel_id: str, user_id: str, route_id: str, followed_at: datetime, by: str
    ) -> list[str]:
        route = self._routes.get(channel_id, route_id)
        if route is None:
            return [f"inflow route {route_id}: deleted, not attributed"]
        outcome = self._routes.claim(channel_id, user_id, route_id, followed_at, by, self._clock())
        if outcome == "taken":
            return [f"follow at {iso(followed_at)} attributed already"]
        friend = self._friends.get(channel_id, user_id)
        notes = [f"follow attributed to inflow route {route_id}"]
        if outcome == "claimed":
            linked = friend is not None and friend.member_id is not None
            converted = friend is not None and PURCHASE_EVENT in friend.event_stats
            if self._routes.mark(channel_id, user_id, route_id, linked=linked, converted=converted):
                notes.append(f"inflow route {route_id}: friends +1")
            else:
                # The friend came through this route before: they are back, not blocking.
                self._routes.flip(channel_id, user_id, route_id, "blocked", False)
        notes += self._apply(route, user_id, followed_at)
        notes += self._signals().emit(
            Followed(
                channel_id, user_id, followed_at, inflow_route=route_id, route_attribution=True
            )
        )
        return notes

    def _apply(self, route: InflowRoute, user_id: str, followed_at: datetime) -> list[str]:
        """The route's tags and scenario (idempotent: a retry adds nothing more)."""
        actions: list[CrmAction] = []
        if route.settings.tags:
            actions.append(AddTags(tags=list(route.settings.tags)))
        if route.settings.scenario:
            actions.append(StartScenario(scenario=route.settings.scenario))
        if not actions:
            return []
        context = EventContext(
            channel_id=route.channel_id,
            user_id=user_id,
            webhook_event_id=f"inflow:{route.route_id}:{iso(followed_at)}",
            occurred_at=self._clock(),
            reply_token=None,
        )
        report = self._actions().run(context, actions, self._config(route.channel_id))
        return [*report.applied, *(f"skipped {note}" for note in report.skipped)]
