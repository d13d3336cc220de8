"""What linecrm does with each LINE webhook event (pure: ports are injected).

follow: create or revive the friend, queue a profile refresh, run the follow rule
(or the plain welcome message). unfollow: mark blocked, keep the data. message and
postback: record the interaction, apply the postback grammar, run auto-response.
Standby mode (another module is active) records but never speaks or acts. Messages
and postbacks also go into the friend's 1:1 chat log, with whether they wait for staff
(docs/chat.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from linecrm.domain.actions import CrmAction, Reply
from linecrm.domain.automation import ActionReport, ActionRunner, EventContext
from linecrm.domain.campaigns import rule_campaign
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.conversations import (
    ChatEntry,
    ChatSettings,
    IncomingVerdict,
    incoming_entry,
    verdict_for,
)
from linecrm.domain.friends import FollowOutcome, Friend
from linecrm.domain.personalization import render
from linecrm.domain.postback import PostbackGrammarError, is_linecrm_postback, parse_postback
from linecrm.domain.rules import (
    FollowTrigger,
    FriendRuleState,
    PostbackTrigger,
    Rule,
    TextTrigger,
    Trigger,
)
from linecrm.domain.signals import (
    Blocked,
    Followed,
    FriendSignal,
    MessageReceived,
    PostbackReceived,
    Signals,
)
from linecrm.models.send import DeliveryCause, ProfileRefresh
from linecrm.models.webhook import WebhookEvent

if TYPE_CHECKING:
    # ID linking is for accountLink events only: imported by the first one.
    from linecrm.domain.id_links import LinkOutcome


class FriendStore(Protocol):
    def record_follow(self, channel_id: str, user_id: str, at: datetime) -> FollowOutcome: ...
    def record_unfollow(self, channel_id: str, user_id: str, at: datetime) -> bool: ...
    def record_interaction(self, channel_id: str, user_id: str, at: datetime) -> Friend: ...
    def get(self, channel_id: str, user_id: str) -> Friend | None: ...
    def record_warnings(
        self, channel_id: str, user_id: str, warnings: Mapping[str, str], at: datetime
    ) -> None: ...


class ChannelConfigSource(Protocol):
    def get(self, channel_id: str) -> ChannelConfig: ...


class TaskQueue(Protocol):
    def enqueue_task(self, task: ProfileRefresh) -> None: ...


class ConversationLog(Protocol):
    def record_incoming(
        self,
        channel_id: str,
        user_id: str,
        entry: ChatEntry,
        verdict: IncomingVerdict,
        settings: ChatSettings,
    ) -> bool: ...


class AccountLinkPort(Protocol):
    def complete(
        self,
        channel_id: str,
        user_id: str,
        *,
        result: str,
        nonce: str,
        at: datetime,
        event_id: str,
        reply_token: str | None = None,
    ) -> LinkOutcome: ...


# The friend's warning subject for ID-link attempts that did not link (the latest kept).
ID_LINK_WARNING = "idlink"


INTERACTION_EVENTS = frozenset({"message", "postback", "beacon", "videoPlayComplete"})


@dataclass(frozen=True)
class EventResult:
    event_type: str
    action: str
    detail: str = ""
    # The auto-response rule that answered (not stored with the idempotency record):
    # the 1:1 chat's "needs reply" depends on it.
    rule: Rule | None = field(default=None, compare=False)


class WebhookEventProcessor:
    def __init__(
        self,
        friends: FriendStore,
        config: ChannelConfigSource,
        tasks: TaskQueue,
        actions: ActionRunner,
        *,
        signals: Signals | None = None,
        links: Callable[[], AccountLinkPort] | None = None,
        conversations: ConversationLog | None = None,
    ) -> None:
        self._friends = friends
        # The 1:1 chat log (docs/chat.md): a friend's messages and postbacks, one write.
        self._conversations = conversations
        # Built on the first accountLink event (most containers never see one).
        self._links = links
        self._config = config
        self._tasks = tasks
        self._actions = actions
        # What happened is signalled after it is stored (the scenario engine listens).
        self._signals = signals or Signals()

    def _emit(self, result: EventResult, signal: FriendSignal) -> EventResult:
        notes = self._signals.emit(signal)
        if not notes:
            return result
        detail = "; ".join([result.detail, *notes] if result.detail else notes)
        return dataclasses.replace(result, detail=detail)

    def _log_incoming(
        self, channel_id: str, user_id: str, event: WebhookEvent, rule: Rule | None
    ) -> None:
        """The friend's message or postback in their conversation, and whether it waits
        for staff (docs/chat.md)."""
        if self._conversations is None or event.type not in ("message", "postback"):
            return
        verdict = verdict_for(
            event.type,
            rule_matched=rule is not None,
            default_rule=rule is not None and rule.kind == "default",
            for_staff=rule is not None and rule.notify_staff,
            standby=event.mode == "standby",
        )
        entry = incoming_entry(
            event.type, event.model_extra or {}, event.webhook_event_id, event.occurred_at
        )
        settings = self._config.get(channel_id).chat_settings
        self._conversations.record_incoming(channel_id, user_id, entry, verdict, settings)

    def apply(self, channel_id: str, event: WebhookEvent) -> EventResult:
        user_id = event.user_id
        if user_id is None:
            return EventResult(event.type, "ignored", "no user in the event source")
        if event.type == "follow":
            return self._follow(channel_id, user_id, event)
        if event.type == "unfollow":
            if self._friends.record_unfollow(channel_id, user_id, event.occurred_at):
                return self._emit(
                    EventResult(event.type, "friend_blocked"),
                    Blocked(channel_id, user_id, event.occurred_at),
                )
            return EventResult(event.type, "stale", "a later follow was applied already")
        if event.type == "accountLink":
            return self._account_link(channel_id, user_id, event)
        if event.type not in INTERACTION_EVENTS:
            return EventResult(event.type, "ignored", "no handling for this event type")
        if not event.from_user_chat:
            # Group and room members need not be friends of the account: no friend row.
            return EventResult(event.type, "ignored", "group or room conversation")
        friend = self._friends.record_interaction(channel_id, user_id, event.occurred_at)
        if event.mode == "standby":
            self._log_incoming(channel_id, user_id, event, None)
            return EventResult(event.type, "interaction_recorded", "standby: no automation")
        context = _context(channel_id, user_id, event)
        if event.type == "postback":
            result = self._postback(context, friend, event)
            self._log_incoming(channel_id, user_id, event, result.rule)
            return self._emit(
                result,
                PostbackReceived(
                    channel_id,
                    user_id,
                    event.occurred_at,
                    data=event.postback_data or "",
                    reply_token=None,  # the postback's own reply (if any) has it
                ),
            )
        text = event.message_text
        result = (
            self._respond(context, friend, TextTrigger(text=text), event.type)
            if text is not None
            else EventResult(event.type, "interaction_recorded")
        )
        if event.type != "message":
            return result
        self._log_incoming(channel_id, user_id, event, result.rule)
        replied = result.action == "auto_response"
        return self._emit(
            result,
            MessageReceived(
                channel_id,
                user_id,
                event.occurred_at,
                text=text,
                reply_token=None if replied else event.reply_token,
            ),
        )

    def _account_link(self, channel_id: str, user_id: str, event: WebhookEvent) -> EventResult:
        """Complete an ID link (result ok, a nonce usable once), or record why not."""
        link = event.account_link
        if self._links is None:
            return EventResult(event.type, "ignored", "ID linking is not wired here")
        if link is None:
            from linecrm.domain.id_links import LinkOutcome

            outcome = LinkOutcome(False, reason="malformed accountLink event: no link.result/nonce")
        else:
            result, nonce = link
            outcome = self._links().complete(
                channel_id,
                user_id,
                result=result,
                nonce=nonce,
                at=event.occurred_at,
                event_id=event.webhook_event_id,
                reply_token=event.reply_token,
            )
        if not outcome.linked:
            self._friends.record_warnings(
                channel_id,
                user_id,
                {ID_LINK_WARNING: f"ID link not made: {outcome.reason}"},
                event.occurred_at,
            )
            return EventResult(event.type, "link_refused", outcome.reason)
        detail = "; ".join([f"linked to member {outcome.member_id}", *outcome.notes])
        return EventResult(event.type, "linked", detail)

    def _follow(self, channel_id: str, user_id: str, event: WebhookEvent) -> EventResult:
        outcome = self._friends.record_follow(channel_id, user_id, event.occurred_at)
        if outcome is FollowOutcome.STALE:
            return EventResult(event.type, outcome.value, "a later follow/unfollow was applied")
        self._tasks.enqueue_task(ProfileRefresh(channel_id=channel_id, user_id=user_id))
        if event.mode == "standby":
            return EventResult(event.type, outcome.value, "standby: no welcome")
        result = self._welcome(channel_id, user_id, event, outcome)
        # The reply token is single use: a scenario's first step gets it only when no
        # welcome was queued with it.
        welcomed = "reply of" in result.detail
        return self._emit(
            result,
            Followed(
                channel_id,
                user_id,
                event.occurred_at,
                refollow=outcome is FollowOutcome.REFOLLOW,
                already_following=outcome is FollowOutcome.ALREADY_FOLLOWING,
                reply_token=None if welcomed else event.reply_token,
            ),
        )

    def _welcome(
        self, channel_id: str, user_id: str, event: WebhookEvent, outcome: FollowOutcome
    ) -> EventResult:
        config = self._config.get(channel_id)
        context = _context(channel_id, user_id, event)
        history = self._follow_history(channel_id, user_id, outcome, config)
        evaluation = config.rule_set.evaluate(FollowTrigger(), history, event.occurred_at)
        match = evaluation.match
        if match is not None:
            report = self._run(
                context,
                list(match.actions),
                config,
                cause="welcome",
                fired_rule_id=_cooldown_rule_id(match.rule),
            )
            return _result(event.type, outcome.value, f"rule {match.rule.rule_id}", report)
        if evaluation.cooling_down:
            # A re-follow within the welcome rule's cooldown_seconds: no second welcome.
            return EventResult(event.type, outcome.value, evaluation.reason)
        if config.welcome_messages:
            report = self._run(
                context, [Reply(messages=config.welcome_messages)], config, cause="welcome"
            )
            return _result(event.type, outcome.value, "welcome message", report)
        return EventResult(event.type, outcome.value, "no welcome configured")

    def _follow_history(
        self, channel_id: str, user_id: str, outcome: FollowOutcome, config: ChannelConfig
    ) -> FriendRuleState:
        """What the follow rules' cooldowns need: when this friend last got each welcome.

        A follow is answered like a first contact (no chat mode), but a re-follow within
        a follow rule's ``cooldown_seconds`` gets no second welcome. Read only when it
        can matter: a returning friend and a follow rule with a cooldown.
        """
        if outcome is FollowOutcome.FIRST_FOLLOW or not any(
            rule.kind == "follow" and rule.cooldown_seconds for rule in config.rule_set.rules
        ):
            return _NEW_FRIEND
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            return _NEW_FRIEND
        return FriendRuleState(rule_fired_at=dict(friend.rule_fired_at))

    def _postback(self, context: EventContext, friend: Friend, event: WebhookEvent) -> EventResult:
        """The grammar's actions (linecrm=1 data) and a matching postback rule, both."""
        data = event.postback_data or ""
        if not is_linecrm_postback(data):
            return self._respond(context, friend, PostbackTrigger(data=data), event.type)
        try:
            actions = parse_postback(data)
        except PostbackGrammarError as error:
            return EventResult(event.type, "postback_rejected", str(error))
        config = self._config.get(context.channel_id)
        match = config.rule_set.select(PostbackTrigger(data=data), friend, context.occurred_at)
        if match is not None:
            actions = [*actions, *match.actions]
        # The friend pressed the button: state changes apply even in chat mode; only
        # automatic messages pause while staff is talking to them.
        report = self._run(
            context,
            actions,
            config,
            fired_rule_id=_cooldown_rule_id(match.rule) if match else None,
            rule_id=match.rule.rule_id if match else None,
            messages_allowed=not friend.automation_paused,
            friend=friend,
            source=f"postback {data[:100]}",
        )
        detail = f"rule {match.rule.rule_id}" if match else ""
        return _result(
            event.type, "postback_actions", detail, report, match.rule if match else None
        )

    def _respond(
        self, context: EventContext, friend: Friend, trigger: Trigger, event_type: str
    ) -> EventResult:
        config = self._config.get(context.channel_id)
        match = config.rule_set.select(trigger, friend, context.occurred_at)
        if match is None:
            return EventResult(event_type, "interaction_recorded")
        rule = match.rule
        report = self._run(
            context,
            list(match.actions),
            config,
            fired_rule_id=_cooldown_rule_id(rule),
            rule_id=rule.rule_id,
            friend=friend,
            source=f"rule {rule.rule_id}",
        )
        return _result(event_type, "auto_response", f"rule {rule.rule_id}", report, rule)

    def _run(
        self,
        context: EventContext,
        actions: list[CrmAction],
        config: ChannelConfig,
        *,
        cause: DeliveryCause = "auto_response",
        fired_rule_id: str | None = None,
        rule_id: str | None = None,
        messages_allowed: bool = True,
        friend: Friend | None = None,
        source: str | None = None,
    ) -> ActionReport:
        resolution = config.rule_set.resolve_replies(actions)
        personalised = [
            Reply(messages=render(action.messages, friend)) if isinstance(action, Reply) else action
            for action in resolution.actions
        ]
        report = self._actions.run(
            context,
            personalised,
            config,
            fired_rule_id=fired_rule_id,
            messages_allowed=messages_allowed,
            cause=cause,
            # The reply's campaign: the rule's (a follow's reply: ``welcome``).
            campaign=rule_campaign(rule_id) if rule_id is not None else None,
        )
        for rule_id in resolution.missing_rule_ids:
            report.skip_reference(f"rule:{rule_id}", f"reply_rule {rule_id}: no such rule")
        if report.warnings:
            self._friends.record_warnings(
                context.channel_id,
                context.user_id,
                {
                    subject: f"{source or cause}: {note}"
                    for subject, note in report.warnings.items()
                },
                context.occurred_at,
            )
        return report


def _cooldown_rule_id(rule: Rule) -> str | None:
    """The rule to remember as fired for this friend (only rules with a cooldown)."""
    return rule.rule_id if rule.cooldown_seconds else None


# A follow is answered like a new friend's first contact: no cooldowns, no chat mode.
_NEW_FRIEND = FriendRuleState()


def _context(channel_id: str, user_id: str, event: WebhookEvent) -> EventContext:
    return EventContext(
        channel_id=channel_id,
        user_id=user_id,
        webhook_event_id=event.webhook_event_id,
        occurred_at=event.occurred_at,
        reply_token=event.reply_token,
    )


def _result(
    event_type: str, action: str, detail: str, report: ActionReport, rule: Rule | None = None
) -> EventResult:
    parts = [detail] if detail else []
    parts += report.applied
    parts += [f"skipped {note}" for note in report.skipped]
    return EventResult(event_type, action, "; ".join(parts), rule)
