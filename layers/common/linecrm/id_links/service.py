"""Issuing nonces, completing and ending ID links (no AWS or HTTP: the store and the
signals are ports).

Every change is signalled after it is stored: ``IdLinked`` for a new link, ``Unlinked``
for each link that ended (also one a newer link replaced), so scenario triggers
(``id_linked``) and exits (``unlinked``) follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Protocol

from linecrm.domain.id_links import (
    LINK_TOKEN_PATTERN,
    NONCE_PATTERN,
    IdLink,
    IssuedLinkToken,
    LinkNonce,
    LinkOutcome,
    LinkReplacement,
    LinkTokenRefusal,
    NonceRefusal,
    NotAFriend,
    is_member_id,
)
from linecrm.domain.signals import IdLinked, Signals, Unlinked
from linecrm.observability import logger

FAILED_RESULT_REASON = "LINE reported the account link as failed (result: failed)"
NOT_A_FRIEND_REASON = "the LINE user is not a friend of this channel"


class IdLinkStore(Protocol):
    def link_token(self, channel_id: str, link_token: str) -> IssuedLinkToken | None: ...
    def put_nonce(self, channel_id: str, nonce: LinkNonce) -> None: ...
    def consume_nonce(
        self, channel_id: str, nonce: str, now: datetime, *, by: str
    ) -> LinkNonce | NonceRefusal: ...
    def mark_nonce_refused(
        self, channel_id: str, nonce: str, now: datetime, *, by: str
    ) -> None: ...
    def link(self, channel_id: str, link: IdLink) -> LinkReplacement: ...
    def link_of_user(self, channel_id: str, user_id: str) -> IdLink | None: ...
    def user_of_member(self, channel_id: str, member_id: str) -> str | None: ...
    def unlink_user(
        self, channel_id: str, user_id: str, *, member_id: str | None = None
    ) -> str | None: ...


class LinkRequestRefused(Exception):
    """The shop's request cannot be served: this status, reason and field."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


class AccountLinks:
    def __init__(
        self,
        store: IdLinkStore,
        signals: Callable[[], Signals],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._signals = signals
        self._clock = clock

    # ------------------------------------------------------------ the shop's nonce
    def issue_nonce(self, channel_id: str, member_id: object, link_token: object) -> LinkNonce:
        """A nonce for ``member_id``, bound to a link token linecrm issued and that is
        still valid; ``LinkRequestRefused`` (422) says which field is wrong."""
        if not isinstance(member_id, str) or not is_member_id(member_id):
            raise LinkRequestRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "member_id: 1-128 printable ASCII characters, no spaces",
                "member_id",
            )
        if not isinstance(link_token, str) or not LINK_TOKEN_PATTERN.fullmatch(link_token):
            raise LinkRequestRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "link_token: the linkToken query parameter your login page received",
                "link_token",
            )
        now = self._clock()
        issued = self._store.link_token(channel_id, link_token)
        refusal = LinkTokenRefusal.UNKNOWN if issued is None else issued.refusal(now)
        if issued is None or refusal is not None:
            raise LinkRequestRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                (refusal or LinkTokenRefusal.UNKNOWN).value,
                "link_token",
            )
        nonce = LinkNonce.issue(member_id, issued, now)
        self._store.put_nonce(channel_id, nonce)
        return nonce

    # ------------------------------------------------------------ the accountLink event
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
    ) -> LinkOutcome:
        """Apply an ``accountLink`` event (``event_id``: its webhook event id): link on
        ``ok`` with a nonce usable once. A refusal is logged (the caller keeps it on the
        friend too)."""
        outcome = self._complete(
            channel_id,
            user_id,
            result=result,
            nonce=nonce,
            at=at,
            event_id=event_id,
            reply_token=reply_token,
        )
        if outcome.linked:
            logger.info("ID linked", extra={"channel_id": channel_id, "user_id": user_id})
        else:
            logger.warning(
                "ID link refused",
                extra={"channel_id": channel_id, "user_id": user_id, "reason": outcome.reason},
            )
        return outcome

    def _complete(
        self,
        channel_id: str,
        user_id: str,
        *,
        result: str,
        nonce: str,
        at: datetime,
        event_id: str,
        reply_token: str | None,
    ) -> LinkOutcome:
        now = self._clock()
        if result != "ok":
            # The nonce is spent either way: a failed attempt cannot be replayed as ok.
            if NONCE_PATTERN.fullmatch(nonce):
                self._store.mark_nonce_refused(channel_id, nonce, now, by=f"failed:{event_id}")
            return LinkOutcome(False, reason=FAILED_RESULT_REASON)
        if not NONCE_PATTERN.fullmatch(nonce):
            return LinkOutcome(False, reason=NonceRefusal.UNKNOWN.value)
        consumed = self._store.consume_nonce(channel_id, nonce, now, by=event_id)
        if isinstance(consumed, NonceRefusal):
            return LinkOutcome(False, reason=consumed.value)
        issued = self._store.link_token(channel_id, consumed.link_token)
        if issued is None or issued.user_id != user_id:
            return LinkOutcome(
                False, member_id=consumed.member_id, reason=NonceRefusal.OTHER_USER.value
            )
        link = IdLink(consumed.member_id, user_id, linked_at=now, consented_at=at)
        try:
            replaced = self._store.link(channel_id, link)
        except NotAFriend:
            return LinkOutcome(False, member_id=consumed.member_id, reason=NOT_A_FRIEND_REASON)
        signals = self._signals()
        notes: list[str] = []
        if replaced.previous_member_id:
            notes += signals.emit(
                Unlinked(
                    channel_id, user_id, at, member_id=replaced.previous_member_id, by="replaced"
                )
            )
        if replaced.previous_user_id:
            notes += signals.emit(
                Unlinked(
                    channel_id,
                    replaced.previous_user_id,
                    at,
                    member_id=link.member_id,
                    by="replaced",
                )
            )
        notes += signals.emit(
            IdLinked(
                channel_id,
                user_id,
                at,
                member_id=link.member_id,
                relinked=replaced.previous_member_id is not None,
                # The event's reply token: an id_linked scenario's zero-delay first step
                # answers with it (free of quota) instead of waiting for its minute.
                reply_token=reply_token,
            )
        )
        return LinkOutcome(True, member_id=link.member_id, notes=notes)

    # ------------------------------------------------------------ unlinking
    def unlink_user(
        self, channel_id: str, user_id: str, *, by: str, only_member: str | None = None
    ) -> str | None:
        """End the friend's link (the member id it had; None: none); ``Unlinked``.
        ``only_member``: only if the friend is linked to that member id (the shop's
        unlink of one member must not end a link the friend made to another since)."""
        member_id = self._store.unlink_user(channel_id, user_id, member_id=only_member)
        if member_id is not None:
            self._signals().emit(
                Unlinked(channel_id, user_id, self._clock(), member_id=member_id, by=by)
            )
        return member_id

    def unlink_member(self, channel_id: str, member_id: str, *, by: str) -> str | None:
        """End the member's link (the LINE user it had; None: none); ``Unlinked``."""
        user_id = self._store.user_of_member(channel_id, member_id)
        if user_id is None:
            return None
        unlinked = self.unlink_user(channel_id, user_id, by=by, only_member=member_id)
        return user_id if unlinked is not None else None

    def link_of_user(self, channel_id: str, user_id: str) -> IdLink | None:
        return self._store.link_of_user(channel_id, user_id)
