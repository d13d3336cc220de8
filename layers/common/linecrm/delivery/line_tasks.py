"""Send-queue tasks that are not plain deliveries: profile refresh, rich menu switch,
and the ID-link invitation (a link token from LINE, then a message with it).

They go through the send queue so that every LINE call is made by the sender, paced
by its concurrency, with the same retry and back-off handling as messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from linecrm.channels import UnknownChannel
from linecrm.delivery.sender import LineClientFactory, SendFailedRetryable
from linecrm.domain.deliveries import retry_key_for
from linecrm.domain.friends import FriendProfile
from linecrm.domain.id_links import (
    InviteAttempt,
    IssuedLinkToken,
    invite_message,
    login_url_with_token,
)
from linecrm.line.client import LineMessagingClient
from linecrm.line.errors import LineApiError, LineRateLimited, LineRequestRejected
from linecrm.models.send import AccountLinkInvite, LineTask, ProfileRefresh, RichMenuLink
from linecrm.repositories.friends import FriendNotFound, FriendRepository


class LinkTokenRecorder(Protocol):
    def record_link_token(self, channel_id: str, issued: IssuedLinkToken) -> None: ...

    def invite_attempt(
        self, channel_id: str, user_id: str, delivery_id: str
    ) -> InviteAttempt | None: ...

    def record_invite_attempt(
        self, channel_id: str, user_id: str, delivery_id: str, attempt: InviteAttempt
    ) -> None: ...


class LineTaskRunner:
    def __init__(
        self,
        friends: FriendRepository,
        line_client: LineClientFactory,
        clock: Callable[[], datetime],
        link_tokens: LinkTokenRecorder | None = None,
    ) -> None:
        self._link_tokens = link_tokens
        self._friends = friends
        self._line_client = line_client
        self._clock = clock

    def _superseded(self, task: RichMenuLink) -> bool:
        """An assigned menu the friend's record no longer names (changed since)."""
        friend = self._friends.get(task.channel_id, task.user_id)
        recorded = friend.rich_menu_id if friend is not None else None
        return recorded != (None if task.unlink else task.rich_menu)

    def run(self, task: LineTask) -> str:
        """What happened, for the log; SendFailedRetryable when it should be retried.

        A request LINE rejects (unknown rich menu, …) is not retried: the reason is
        returned and logged as a deliberate skip.
        """
        try:
            client = self._line_client(task.channel_id)
            if isinstance(task, ProfileRefresh):
                return self._refresh_profile(task, client)
            if isinstance(task, AccountLinkInvite):
                return self._invite_to_link(task, client)
            if task.assigned and self._superseded(task):
                return f"skipped: rich menu {task.rich_menu} superseded by a later assignment"
            if task.unlink:
                client.unlink_rich_menu(task.user_id)
                return f"rich menu {task.rich_menu} unlinked (the default shows)"
            client.link_rich_menu(task.user_id, task.rich_menu)
            return f"rich menu {task.rich_menu} linked"
        except UnknownChannel:
            return f"skipped: no credentials for channel {task.channel_id}"
        except LineRequestRejected as error:
            if isinstance(task, RichMenuLink):
                # Most likely a rich menu name that does not exist: show it on the friend.
                self._friends.record_warnings(
                    task.channel_id,
                    task.user_id,
                    {f"richmenu:{task.rich_menu}": f"rich menu {task.rich_menu!r}: {error}"},
                    self._clock(),
                )
            if isinstance(task, AccountLinkInvite):
                self._friends.record_warnings(
                    task.channel_id,
                    task.user_id,
                    {"idlink": f"ID link invitation rejected by LINE: {error}"},
                    self._clock(),
                )
            return f"skipped: rejected by LINE: {error}"
        except LineApiError as error:
            raise SendFailedRetryable(
                f"{type(error).__name__}: {error}", rate_limited=isinstance(error, LineRateLimited)
            ) from error

    def _refresh_profile(self, task: ProfileRefresh, client: LineMessagingClient) -> str:
        raw = client.get_profile(task.user_id)
        if raw is None:
            return "skipped: LINE does not know this user (blocked or left)"
        try:
            self._friends.set_profile(
                task.channel_id, task.user_id, FriendProfile.model_validate(raw), self._clock()
            )
        except FriendNotFound:
            return "skipped: the friend's data was deleted meanwhile"
        return "profile stored"

    def _invite_to_link(self, task: AccountLinkInvite, client: LineMessagingClient) -> str:
        """Issue the link token, remember whom it is for (the shop's nonce request is
        checked against it), then reply while the reply token is fresh, else push with
        the delivery's retry key.

        A redelivered task reads how far the earlier attempt got: sent → nothing; a push
        → the same push again (same token, same retry key: LINE keeps one); a reply
        whose outcome nobody heard → skipped with the reason on the friend, as LINE may
        have delivered it and a reply token cannot be retried."""
        tokens = self._link_tokens
        earlier = (
            tokens.invite_attempt(task.channel_id, task.user_id, task.delivery_id)
            if tokens
            else None
        )
        if earlier is not None and earlier.stage == "sent":
            return "ID link invitation already sent (a redelivered task)"
        if earlier is not None and earlier.stage == "replying":
            reason = "an earlier attempt's reply may have been delivered; not sent twice"
            self._friends.record_warnings(
                task.channel_id,
                task.user_id,
                {"idlink": f"ID link invitation: {reason}"},
                self._clock(),
            )
            return f"skipped: {reason}"
        if earlier is not None:
            link_token = earlier.link_token
        else:
            link_token = client.issue_link_token(task.user_id)
            if tokens is not None:
                tokens.record_link_token(
                    task.channel_id, IssuedLinkToken(link_token, task.user_id, self._clock())
                )

        def progress(stage: str) -> None:
            if tokens is not None:
                attempt = InviteAttempt.model_validate({"link_token": link_token, "stage": stage})
                tokens.record_invite_attempt(
                    task.channel_id, task.user_id, task.delivery_id, attempt
                )

        message = invite_message(
            task.text, task.button_label, login_url_with_token(task.shop_login_url, link_token)
        )
        if earlier is None and task.reply_token and task.reply_by and self._clock() < task.reply_by:
            progress("replying")
            try:
                client.reply(task.reply_token, [message])
                progress("sent")
                return "ID link invitation replied"
            except LineRequestRejected:
                pass  # LINE refused the token (used or expired), so nothing went: push
        progress("pushing")
        receipt = client.push(task.user_id, [message], retry_key_for(task.delivery_id))
        progress("sent")
        again = " (an earlier attempt was accepted)" if receipt.already_accepted else ""
        return f"ID link invitation pushed{again}"
