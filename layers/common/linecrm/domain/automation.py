"""Carrying out CRM actions for one friend after one webhook event (pure: ports injected).

Tag names are resolved to ids and field values checked against the channel's
definitions here; a reference that does not resolve is skipped with a note (it is
logged) rather than failing the event, so one stale rule cannot block a friend's
other changes. Every effect is safe to repeat, because a webhook event whose
processing failed halfway is delivered again by LINE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from linecrm.domain.actions import (
    CrmAction,
    LinkAccount,
    Reply,
    StartScenario,
    StopScenario,
    SwitchRichMenu,
    UnlinkAccount,
    friend_change_of,
)
from linecrm.domain.campaigns import WELCOME_CAMPAIGN, rule_campaign
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldValueError, UnknownField
from linecrm.domain.friends import FieldValue, Friend, FriendChangeSet
from linecrm.domain.signals import FieldSet, Signals, TagAdded
from linecrm.domain.tags import UnknownTag
from linecrm.models.send import (
    MAX_MESSAGES_PER_REQUEST,
    REPLY_TOKEN_MARGIN_SECONDS,
    AccountLinkInvite,
    DeliveryCause,
    LineTask,
    RichMenuLink,
    SendRequest,
)

NO_ACCOUNT_LINK_SETTING = (
    "link_account: this channel has no shop login URL for ID linking (set it with "
    "PUT /admin/channels/{channel_id}/account-link or `linecrm idlink configure`)"
)


class FriendChanges(Protocol):
    def apply_change(
        self,
        channel_id: str,
        user_id: str,
        change: FriendChangeSet,
        at: datetime,
        *,
        source: str | None = None,
    ) -> Friend: ...


class Outbox(Protocol):
    def enqueue(self, request: SendRequest) -> bool: ...
    def enqueue_task(self, task: LineTask) -> None: ...


class LinkEnder(Protocol):
    def unlink_user(self, channel_id: str, user_id: str, *, by: str) -> str | None: ...


class ScenarioEnrollments(Protocol):
    def start(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool: ...
    def stop(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool: ...


@dataclass(frozen=True)
class EventContext:
    """What the actions need to know about the event that triggered them."""

    channel_id: str
    user_id: str
    webhook_event_id: str
    occurred_at: datetime
    reply_token: str | None


@dataclass
class ActionReport:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Subject ("tag:VIP") -> why it was skipped: references that do not resolve, which
    # the caller keeps on the friend (``warnings``) so staff can see and fix them.
    warnings: dict[str, str] = field(default_factory=dict)

    def skip_reference(self, subject: str, note: str) -> None:
        self.skipped.append(note)
        self.warnings[subject] = note


class ActionRunner:
    def __init__(
        self,
        friends: FriendChanges,
        outbox: Outbox,
        enrollments: ScenarioEnrollments,
        *,
        signals: Callable[[], Signals] | None = None,
        links: Callable[[], LinkEnder] | None = None,
        track_links: Callable[[SendRequest], SendRequest] | None = None,
    ) -> None:
        self._friends = friends
        self._links = links
        self._outbox = outbox
        self._enrollments = enrollments
        # Tags added and fields set are signalled after they are stored (scenario
        # triggers, exits and branches listen).
        self._signals = signals
        # Tracked links in replies (linecrm.tracking.links).
        self._track = track_links or (lambda request: request)

    def run(
        self,
        event: EventContext,
        actions: list[CrmAction],
        config: ChannelConfig,
        *,
        fired_rule_id: str | None = None,
        messages_allowed: bool = True,
        cause: DeliveryCause = "auto_response",
        campaign: str | None = None,
    ) -> ActionReport:
        """Apply ``actions`` (replies already resolved to ``Reply``) and report each."""
        report = ActionReport()
        change = self._resolve_change(actions, config, report)
        if fired_rule_id is not None:
            change = FriendChangeSet(
                change.add_tag_ids,
                change.remove_tag_ids,
                change.set_fields,
                change.clear_fields,
                fired_rule_id=fired_rule_id,
            )
        if not change.is_empty:
            self._friends.apply_change(
                event.channel_id,
                event.user_id,
                change,
                event.occurred_at,
                source=_source_of(event, fired_rule_id, cause),
            )
            report.applied.append("friend updated")
            report.applied += self._signal_change(event, change, config)

        messages: list[dict[str, object]] = []
        for action in actions:
            if isinstance(action, Reply):
                messages.extend(action.messages)
            elif isinstance(action, StartScenario):
                started = self._enrollments.start(
                    event.channel_id, event.user_id, action.scenario, event.occurred_at
                )
                report.applied.append(
                    f"scenario {action.scenario} " + ("started" if started else "already active")
                )
            elif isinstance(action, StopScenario):
                stopped = self._enrollments.stop(
                    event.channel_id, event.user_id, action.scenario, event.occurred_at
                )
                report.applied.append(
                    f"scenario {action.scenario} " + ("stopped" if stopped else "was not active")
                )
            elif isinstance(action, SwitchRichMenu):
                self._outbox.enqueue_task(
                    RichMenuLink(
                        channel_id=event.channel_id,
                        user_id=event.user_id,
                        rich_menu=action.rich_menu,
                    )
                )
                report.applied.append(f"rich menu {action.rich_menu} queued")
            elif isinstance(action, LinkAccount):
                if messages_allowed:
                    self._invite_to_link(event, config, report)
                else:
                    # The invitation is a message: it waits like replies do (chat mode),
                    # and a scenario step sends a 会員連携 button in its own messages.
                    report.skipped.append(
                        "link_account: messages paused (chat mode, or a scenario step: put "
                        "a postback button linecrm=1&account.link=1 in its messages)"
                    )
            elif isinstance(action, UnlinkAccount):
                self._unlink(event, report)
        if messages:
            if messages_allowed:
                if campaign is None:
                    campaign = (
                        WELCOME_CAMPAIGN
                        if cause == "welcome"
                        else rule_campaign(fired_rule_id)
                        if fired_rule_id is not None
                        else None
                    )
                self._queue_reply(event, messages, cause, report, campaign)
            else:
                report.skipped.append("reply: automation paused (chat mode or standby)")
        return report

    def _invite_to_link(
        self, event: EventContext, config: ChannelConfig, report: ActionReport
    ) -> None:
        setting = config.account_link
        if setting is None:
            report.skip_reference("setting:account_link", NO_ACCOUNT_LINK_SETTING)
            return
        self._outbox.enqueue_task(
            AccountLinkInvite(
                # Stable per event and friend: a redelivered event pushes (at most) once.
                delivery_id=f"link:{event.channel_id}:{event.user_id}:{event.webhook_event_id}",
                channel_id=event.channel_id,
                user_id=event.user_id,
                shop_login_url=setting.shop_login_url,
                text=setting.text,
                button_label=setting.button_label,
                reply_token=event.reply_token,
                reply_by=event.occurred_at + timedelta(seconds=REPLY_TOKEN_MARGIN_SECONDS),
            )
        )
        report.applied.append("ID link invitation queued")

    def _unlink(self, event: EventContext, report: ActionReport) -> None:
        if self._links is None:
            report.skipped.append("unlink_account: ID linking is not available here")
            return
        member_id = self._links().unlink_user(event.channel_id, event.user_id, by="friend")
        report.applied.append(
            f"ID link to member {member_id} ended" if member_id else "unlink: was not linked"
        )

    def _signal_change(
        self, event: EventContext, change: FriendChangeSet, config: ChannelConfig
    ) -> list[str]:
        if self._signals is None:
            return []
        signals = self._signals()
        notes: list[str] = []
        for tag_id in sorted(change.add_tag_ids):
            tag = config.tags.get(tag_id)
            notes += signals.emit(
                TagAdded(
                    event.channel_id,
                    event.user_id,
                    event.occurred_at,
                    tag_id=tag_id,
                    tag_name=tag.name if tag is not None else tag_id,
                )
            )
        for key, value in sorted((change.set_fields or {}).items()):
            notes += signals.emit(
                FieldSet(
                    event.channel_id, event.user_id, event.occurred_at, field_key=key, value=value
                )
            )
        return notes

    def _queue_reply(
        self,
        event: EventContext,
        messages: list[dict[str, object]],
        cause: DeliveryCause,
        report: ActionReport,
        campaign: str | None = None,
    ) -> None:
        if len(messages) > MAX_MESSAGES_PER_REQUEST:
            report.skipped.append(
                f"reply: {len(messages) - MAX_MESSAGES_PER_REQUEST} messages over LINE's limit "
                f"of {MAX_MESSAGES_PER_REQUEST} dropped"
            )
            messages = messages[:MAX_MESSAGES_PER_REQUEST]
        prefix = "welcome" if cause == "welcome" else "reply"
        self._outbox.enqueue(
            self._track(
                SendRequest(
                    # Stable per event: a redelivered event cannot queue a second reply.
                    delivery_id=f"{prefix}:{event.channel_id}:{event.webhook_event_id}",
                    channel_id=event.channel_id,
                    to=[event.user_id],
                    messages=[dict(message) for message in messages],
                    cause=cause,
                    campaign=campaign,
                    message_class="transactional",
                    reply_token=event.reply_token,
                    reply_by=event.occurred_at + timedelta(seconds=REPLY_TOKEN_MARGIN_SECONDS),
                )
            )
        )
        report.applied.append(f"reply of {len(messages)} message(s) queued")

    @staticmethod
    def _resolve_change(
        actions: list[CrmAction], config: ChannelConfig, report: ActionReport
    ) -> FriendChangeSet:
        by_name = friend_change_of(actions)
        add_ids: set[str] = set()
        remove_ids: set[str] = set()
        for names, ids in ((by_name.add_tags, add_ids), (by_name.remove_tags, remove_ids)):
            for name in sorted(names):
                try:
                    ids.add(config.tags.resolve(name).tag_id)
                except UnknownTag:
                    report.skip_reference(f"tag:{name}", f"tag {name!r}: no such tag")
        set_fields: dict[str, FieldValue] = {}
        for key, raw in by_name.set_fields.items():
            try:
                set_fields[key] = config.fields.coerce(key, raw)
            except (UnknownField, FieldValueError) as error:
                report.skip_reference(f"field:{key}", f"field {key!r}: {error}")
        clear_fields: set[str] = set()
        for key in by_name.clear_fields:
            try:
                config.fields.get(key)
                clear_fields.add(key)
            except UnknownField as error:
                report.skip_reference(f"field:{key}", f"field {key!r}: {error}")
        return FriendChangeSet(
            frozenset(add_ids), frozenset(remove_ids), set_fields, frozenset(clear_fields)
        )


def _source_of(event: EventContext, fired_rule_id: str | None, cause: str) -> str:
    """Who changed the friend, for the friend's timeline: a rule, an inflow route, a
    scenario step, or other automation."""
    if fired_rule_id:
        return f"rule:{fired_rule_id}"
    if event.webhook_event_id.startswith("inflow:"):
        return "route:" + event.webhook_event_id.split(":")[1]
    return "scenario" if cause == "step" else "automation"
