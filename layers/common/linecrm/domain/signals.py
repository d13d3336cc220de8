"""What just happened to a friend, for the parts that react to it.

The code that applies a change (the webhook, the events API, the admin API, imports,
scenario actions) emits a signal *after* the change is stored, and only the first time
(a redelivered webhook event or a repeated event idempotency key emits nothing). The
scenario engine listens: triggers enrol, exit conditions end enrolments, branches move
them. Listeners must be idempotent anyway: an emitter that crashed after storing and
before emitting is retried, and then emits again.

Signals are plain values (no AWS, no HTTP), so listeners are testable alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class _Signal:
    channel_id: str
    user_id: str
    occurred_at: datetime  # aware UTC
    # Present when the signal came with a LINE reply token still valid (a follow, a
    # message, a postback): a zero-delay step may reply instead of pushing.
    reply_token: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Followed(_Signal):
    """A follow (also a re-follow after a block), with the inflow route if known.

    The webhook signals every follow (no route: LINE does not say where the friend
    came from). When an inflow route is attributed to it (linecrm.inflow), the follow
    is signalled once more with the route and ``route_attribution``: only follow
    triggers that name an inflow route react to that one."""

    inflow_route: str | None = None
    refollow: bool = False
    route_attribution: bool = False
    # The friend was following already (a follow event for an active friend): no new
    # friend for the report counters.
    already_following: bool = False


@dataclass(frozen=True)
class Blocked(_Signal):
    """The friend blocked the account (an unfollow event)."""


@dataclass(frozen=True)
class TagAdded(_Signal):
    tag_id: str
    tag_name: str


@dataclass(frozen=True)
class TagRemoved(_Signal):
    tag_id: str
    tag_name: str


@dataclass(frozen=True)
class FieldSet(_Signal):
    field_key: str
    value: Any  # the stored value; None when cleared


@dataclass(frozen=True)
class PostbackReceived(_Signal):
    data: str  # the postback's data string as LINE sent it
    params: Mapping[str, str] = field(default_factory=dict)  # date/time picker values


@dataclass(frozen=True)
class MessageReceived(_Signal):
    text: str | None  # None for stickers, images, ...


@dataclass(frozen=True)
class BehaviourEvent(_Signal):
    """An event from the shop's systems through the events API (``POST /events``)."""

    name: str  # e.g. "cart_updated", "purchase", "page_view"
    properties: Mapping[str, Any]
    idempotency_key: str
    source: str  # the events API source (its key) that sent it


@dataclass(frozen=True)
class IdLinked(_Signal):
    """The friend linked their LINE account to the shop member ``member_id`` (the
    ``accountLink`` webhook event, result ok; docs/id-linking.md)."""

    member_id: str
    relinked: bool = False  # the friend was linked to another member id before


@dataclass(frozen=True)
class Unlinked(_Signal):
    """The friend's ID link to a shop member ended: unlinked by the friend (postback),
    by the shop (its API), by staff (admin API), or replaced by a newer link."""

    member_id: str
    by: str = "friend"  # friend | shop | admin | replaced


FriendSignal = (
    Followed
    | Blocked
    | TagAdded
    | TagRemoved
    | FieldSet
    | PostbackReceived
    | MessageReceived
    | BehaviourEvent
    | IdLinked
    | Unlinked
)


class SignalListener(Protocol):
    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        """React to one signal; returns notes for the caller's log or timeline."""
        ...


@dataclass(frozen=True)
class Signals:
    """Fans a signal out to every listener (none: the signal is dropped)."""

    listeners: Sequence[SignalListener] = ()

    def emit(self, signal: FriendSignal) -> list[str]:
        notes: list[str] = []
        for listener in self.listeners:
            notes.extend(listener.on_signal(signal))
        return notes
