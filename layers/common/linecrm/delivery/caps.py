"""Admitting one marketing delivery to one friend: quiet hours and frequency caps.

The policy decides (pure); a send that is allowed also takes the friend's slot in
the current day and week with one conditional write, so two broadcasts planned at
the same moment cannot both use a friend's last slot. Transactional messages pass.
"""

from __future__ import annotations

from datetime import datetime

from linecrm.domain.delivery_policy import Decision, DeliveryPolicy, SendNow, SentCounts, Skip
from linecrm.domain.friends import Friend
from linecrm.models.send import MessageClass
from linecrm.repositories.friends import FriendRepository


class MarketingCapGate:
    def __init__(self, friends: FriendRepository) -> None:
        self._friends = friends

    def admit(
        self,
        policy: DeliveryPolicy,
        friend: Friend,
        delivery_key: str,
        message_class: MessageClass,
        at: datetime,
    ) -> Decision:
        decision = policy.decide(message_class, at, sent_counts(policy, friend, delivery_key, at))
        caps = policy.marketing_caps
        if not isinstance(decision, SendNow) or message_class != "marketing" or caps is None:
            return decision
        periods = current_periods(policy, at)
        if self._friends.reserve_marketing_send(
            friend.channel_id,
            friend.user_id,
            delivery_key,
            periods,
            stale_periods=frozenset(friend.marketing_sent) - set(periods),
        ):
            return decision
        # Another delivery took the last slot since the friend was read: decide again.
        fresh = self._friends.get(friend.channel_id, friend.user_id)
        if fresh is None:
            return Skip("the friend's data was deleted")
        retry = policy.decide(message_class, at, sent_counts(policy, fresh, delivery_key, at))
        if isinstance(retry, SendNow) and self._friends.reserve_marketing_send(
            fresh.channel_id, fresh.user_id, delivery_key, periods
        ):
            return retry
        return retry if not isinstance(retry, SendNow) else Skip("cap reached concurrently")


def current_periods(policy: DeliveryPolicy, at: datetime) -> dict[str, int]:
    """Period key -> cap, for the caps that are configured."""
    caps = policy.marketing_caps
    periods: dict[str, int] = {}
    if caps is not None and caps.per_day is not None:
        periods["d" + policy.day_key(at)] = caps.per_day
    if caps is not None and caps.per_week is not None:
        periods["w" + policy.week_key(at)] = caps.per_week
    return periods


def sent_counts(
    policy: DeliveryPolicy, friend: Friend, delivery_key: str, at: datetime
) -> SentCounts:
    """Marketing deliveries counted for the friend today / this week, other than this one."""
    day = friend.marketing_sent.get("d" + policy.day_key(at), frozenset())
    week = friend.marketing_sent.get("w" + policy.week_key(at), frozenset())
    return SentCounts(day=len(day - {delivery_key}), week=len(week - {delivery_key}))
