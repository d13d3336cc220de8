"""ID linking's rules against moto: a nonce is bound to a link token we issued, used
once, within 10 minutes; links stay one-to-one both ways and every ending is signalled;
the accountLink webhook event completes or refuses (with the reason on the friend)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.domain.actions import LinkAccount, UnlinkAccount
from linecrm.domain.automation import ActionRunner, EventContext
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldCatalog
from linecrm.domain.id_links import (
    NONCE_TTL,
    AccountLinkSettings,
    IssuedLinkToken,
    NonceRefusal,
    login_url_with_token,
)
from linecrm.domain.postback import PostbackGrammarError, parse_postback
from linecrm.domain.signals import FriendSignal, IdLinked, Signals, Unlinked
from linecrm.domain.tags import TagCatalog
from linecrm.domain.webhook_events import ID_LINK_WARNING, WebhookEventProcessor
from linecrm.id_links.service import FAILED_RESULT_REASON, AccountLinks, LinkRequestRefused
from linecrm.models.send import AccountLinkInvite
from linecrm.models.webhook import WebhookEvent
from linecrm.repositories.channel_config import CachedChannelConfig, ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.id_links import IdLinkRepository
from tests.unit.conftest import CHANNEL_ID, AwsWorld

ALICE = "U" + "a" * 32
BOB = "U" + "b" * 32
START = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
EVENT = "01HEVENT"  # the webhook event id of most accountLink events here


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.signals: list[FriendSignal] = []

    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        self.signals.append(signal)
        return []


class World:
    def __init__(self, aws: AwsWorld) -> None:
        client, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
        self.clock = Clock()
        self.friends = FriendRepository(client, table)
        self.repo = IdLinkRepository(client, table)
        self.recorder = Recorder()
        self.links = AccountLinks(
            self.repo, lambda: Signals(listeners=(self.recorder,)), self.clock
        )
        self.config = CachedChannelConfig(ChannelConfigRepository(client, table), self.clock)
        for user in (ALICE, BOB):
            self.friends.record_follow(CHANNEL_ID, user, START - timedelta(days=1))

    def token_for(self, user_id: str, name: str) -> str:
        self.repo.record_link_token(CHANNEL_ID, IssuedLinkToken(name, user_id, self.clock()))
        return name

    def link(self, user_id: str, member_id: str, token: str) -> bool:
        nonce = self.links.issue_nonce(CHANNEL_ID, member_id, self.token_for(user_id, token))
        outcome = self.links.complete(
            CHANNEL_ID, user_id, result="ok", nonce=nonce.nonce, at=self.clock(), event_id=token
        )
        return outcome.linked


@pytest.fixture
def world(aws: AwsWorld) -> World:
    return World(aws)


def test_a_nonce_links_once_and_a_replay_is_refused(world: World) -> None:
    token = world.token_for(ALICE, "tok-alice-1")
    nonce = world.links.issue_nonce(CHANNEL_ID, "M-1", token)
    assert len(nonce.nonce) >= 32 and nonce.expires_at - nonce.issued_at <= NONCE_TTL

    first = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id=EVENT
    )
    assert first.linked and first.member_id == "M-1"
    assert world.repo.user_of_member(CHANNEL_ID, "M-1") == ALICE
    assert world.repo.link_of_user(CHANNEL_ID, ALICE).member_id == "M-1"  # type: ignore[union-attr]
    assert [type(s) for s in world.recorder.signals] == [IdLinked]

    # LINE redelivers the same event (its first attempt failed after the nonce was
    # spent): it completes again; any other event with the nonce is a replay.
    redelivered = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id=EVENT
    )
    assert redelivered.linked
    replay = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id="01HREPLAY"
    )
    assert not replay.linked and replay.reason == NonceRefusal.REPLAYED.value


def test_an_expired_or_unknown_nonce_links_nothing(world: World) -> None:
    nonce = world.links.issue_nonce(CHANNEL_ID, "M-1", world.token_for(ALICE, "tok-2"))
    world.clock.now = START + NONCE_TTL + timedelta(seconds=1)
    late = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id=EVENT
    )
    assert late.reason == NonceRefusal.EXPIRED.value
    unknown = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce="x" * 32, at=START, event_id=EVENT
    )
    assert unknown.reason == NonceRefusal.UNKNOWN.value
    malformed = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce="a b", at=START, event_id=EVENT
    )
    assert malformed.reason == NonceRefusal.UNKNOWN.value
    assert world.repo.link_of_user(CHANNEL_ID, ALICE) is None
    assert world.recorder.signals == []


def test_a_failed_result_spends_the_nonce(world: World) -> None:
    nonce = world.links.issue_nonce(CHANNEL_ID, "M-1", world.token_for(ALICE, "tok-3"))
    failed = world.links.complete(
        CHANNEL_ID, ALICE, result="failed", nonce=nonce.nonce, at=START, event_id=EVENT
    )
    assert failed.reason == FAILED_RESULT_REASON
    after = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id="01HAFTER"
    )
    assert after.reason == NonceRefusal.REPLAYED.value


def test_a_nonce_for_another_users_link_token_is_refused(world: World) -> None:
    nonce = world.links.issue_nonce(CHANNEL_ID, "M-1", world.token_for(BOB, "tok-bob"))
    outcome = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id=EVENT
    )
    assert outcome.reason == NonceRefusal.OTHER_USER.value
    assert world.repo.link_of_user(CHANNEL_ID, ALICE) is None


def test_nonces_need_a_live_link_token_we_issued_and_a_valid_member_id(world: World) -> None:
    with pytest.raises(LinkRequestRefused) as unknown:
        world.links.issue_nonce(CHANNEL_ID, "M-1", "never-issued")
    assert (unknown.value.status, unknown.value.field) == (422, "link_token")
    token = world.token_for(ALICE, "tok-4")
    with pytest.raises(LinkRequestRefused) as bad_member:
        world.links.issue_nonce(CHANNEL_ID, "has space", token)
    assert bad_member.value.field == "member_id"
    world.clock.now = START + timedelta(minutes=10)
    with pytest.raises(LinkRequestRefused) as expired:
        world.links.issue_nonce(CHANNEL_ID, "M-1", token)
    assert "expired" in expired.value.reason


def test_a_new_link_replaces_the_old_ones_on_both_sides(world: World) -> None:
    assert world.link(ALICE, "M-1", "t1")
    # Alice links another member: M-1 is free again, Unlinked says so.
    assert world.link(ALICE, "M-2", "t2")
    assert world.repo.user_of_member(CHANNEL_ID, "M-1") is None
    ended = [s for s in world.recorder.signals if isinstance(s, Unlinked)]
    assert [(s.user_id, s.member_id, s.by) for s in ended] == [(ALICE, "M-1", "replaced")]
    # Bob links M-2: Alice loses it.
    assert world.link(BOB, "M-2", "t3")
    assert world.repo.link_of_user(CHANNEL_ID, ALICE) is None
    assert world.repo.user_of_member(CHANNEL_ID, "M-2") == BOB
    ended = [s for s in world.recorder.signals if isinstance(s, Unlinked)]
    assert (ended[-1].user_id, ended[-1].member_id) == (ALICE, "M-2")
    linked = [s for s in world.recorder.signals if isinstance(s, IdLinked)]
    assert [s.relinked for s in linked] == [False, True, False]


def test_unlinks_by_the_friend_and_the_shop_signal_once(world: World) -> None:
    assert world.link(ALICE, "M-1", "t1")
    assert world.links.unlink_user(CHANNEL_ID, ALICE, by="friend") == "M-1"
    assert world.links.unlink_user(CHANNEL_ID, ALICE, by="friend") is None
    assert world.link(ALICE, "M-1", "t2")
    assert world.links.unlink_member(CHANNEL_ID, "M-1", by="shop") == ALICE
    assert world.links.unlink_member(CHANNEL_ID, "M-1", by="shop") is None
    ended = [(s.by, s.member_id) for s in world.recorder.signals if isinstance(s, Unlinked)]
    assert ended == [("friend", "M-1"), ("shop", "M-1")]


def test_the_shops_unlink_of_a_member_never_ends_a_link_made_since(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.link(ALICE, "M-1", "t1")
    assert world.link(ALICE, "M-2", "t2")  # relinked between the shop's read and its write
    # The shop's DELETE for M-1 read the member item before the relink (a stale read).
    monkeypatch.setattr(world.repo, "user_of_member", lambda _channel, _member: ALICE)

    assert world.links.unlink_member(CHANNEL_ID, "M-1", by="shop") is None
    link = world.repo.link_of_user(CHANNEL_ID, ALICE)
    assert link is not None and link.member_id == "M-2"
    assert not [s for s in world.recorder.signals if isinstance(s, Unlinked) and s.by == "shop"]


def test_erasing_a_friend_frees_the_member_id(world: World) -> None:
    assert world.link(ALICE, "M-1", "t1")
    world.friends.delete(CHANNEL_ID, ALICE)
    assert world.repo.user_of_member(CHANNEL_ID, "M-1") is None
    world.friends.record_follow(CHANNEL_ID, ALICE, START)
    assert world.link(ALICE, "M-1", "t2")


def account_link_event(nonce: str, event_id: str) -> WebhookEvent:
    return WebhookEvent.model_validate(
        {
            "type": "accountLink",
            "mode": "active",
            "timestamp": int(START.timestamp() * 1000),
            "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": ALICE},
            "replyToken": "r" * 32,
            "link": {"result": "ok", "nonce": nonce},
        }
    )


class _NoTasks:
    def enqueue_task(self, task: object) -> None:
        raise AssertionError("no task expected")


def test_the_webhook_event_links_or_keeps_the_reason_on_the_friend(world: World) -> None:
    processor = WebhookEventProcessor(
        world.friends,
        world.config,
        _NoTasks(),
        None,
        links=lambda: world.links,  # type: ignore[arg-type,return-value]
    )
    nonce = world.links.issue_nonce(CHANNEL_ID, "M-9", world.token_for(ALICE, "t9")).nonce
    done = processor.apply(CHANNEL_ID, account_link_event(nonce, "01HFIRST"))
    assert done.action == "linked" and "M-9" in done.detail
    (linked,) = world.recorder.signals
    assert isinstance(linked, IdLinked) and linked.reply_token == "r" * 32

    again = processor.apply(CHANNEL_ID, account_link_event(nonce, "01HSECOND"))
    assert again.action == "link_refused"
    friend = world.friends.get(CHANNEL_ID, ALICE)
    assert friend is not None and friend.member_id == "M-9" and friend.link_consented_at == START
    assert "replayed nonce" in friend.warnings[ID_LINK_WARNING].message


def test_the_postback_grammar_has_link_and_unlink() -> None:
    assert parse_postback("linecrm=1&account.link=1") == [LinkAccount()]
    assert parse_postback("linecrm=1&account.unlink=1&tag.add=x")[0] == UnlinkAccount()
    with pytest.raises(PostbackGrammarError, match=r"expected account\.link=1"):
        parse_postback("linecrm=1&account.link=yes")
    with pytest.raises(PostbackGrammarError, match=r"did you mean 'account\.link'"):
        parse_postback("linecrm=1&link=1")


def test_the_shop_login_url_is_https_and_keeps_its_query() -> None:
    setting = AccountLinkSettings(shop_login_url="https://shop.example/login?from=line")
    assert login_url_with_token(setting.shop_login_url, "T") == (
        "https://shop.example/login?from=line&linkToken=T"
    )
    assert AccountLinkSettings(shop_login_url="http://127.0.0.1:8000/login")
    for bad in ("http://shop.example/login", "javascript:alert(1)", "https://x.example/#f"):
        with pytest.raises(ValueError, match="https URL"):
            AccountLinkSettings(shop_login_url=bad)


class _Outbox:
    def __init__(self) -> None:
        self.tasks: list[object] = []

    def enqueue(self, request: object) -> bool:
        raise AssertionError("no delivery expected")

    def enqueue_task(self, task: object) -> None:
        self.tasks.append(task)


def _context() -> EventContext:
    return EventContext(CHANNEL_ID, ALICE, "evt-1", START, reply_token="r" * 32)


def test_link_account_queues_the_invitation_or_says_what_is_missing(world: World) -> None:
    outbox = _Outbox()
    runner = ActionRunner(world.friends, outbox, None, links=lambda: world.links)  # type: ignore[arg-type]
    bare = ChannelConfig(CHANNEL_ID, TagCatalog([], []), FieldCatalog([]), [])
    report = runner.run(_context(), [LinkAccount()], bare)
    assert outbox.tasks == [] and "no shop login URL" in report.warnings["setting:account_link"]

    setting = json.dumps({"shop_login_url": "https://shop.example/login"})
    configured = ChannelConfig(
        CHANNEL_ID, TagCatalog([], []), FieldCatalog([]), [], {"account_link": setting}
    )
    runner.run(_context(), [LinkAccount()], configured)
    (task,) = outbox.tasks
    assert isinstance(task, AccountLinkInvite)
    assert (task.delivery_id, task.reply_token) == (f"link:{CHANNEL_ID}:{ALICE}:evt-1", "r" * 32)
    paused = runner.run(_context(), [LinkAccount()], configured, messages_allowed=False)
    assert len(outbox.tasks) == 1 and "messages paused" in paused.skipped[0]

    assert world.link(ALICE, "M-5", "t5")
    report = runner.run(_context(), [UnlinkAccount()], configured)
    assert "ID link to member M-5 ended" in report.applied
    assert world.repo.link_of_user(CHANNEL_ID, ALICE) is None


def test_a_nonce_never_outlives_its_link_token(world: World) -> None:
    token = world.token_for(ALICE, "tok-late")
    world.clock.now = START + timedelta(minutes=9)
    nonce = world.links.issue_nonce(CHANNEL_ID, "M-1", token)
    assert nonce.expires_at == START + timedelta(minutes=10)
    world.clock.now = START + timedelta(minutes=10, seconds=1)
    late = world.links.complete(
        CHANNEL_ID, ALICE, result="ok", nonce=nonce.nonce, at=START, event_id=EVENT
    )
    assert late.reason == NonceRefusal.EXPIRED.value
