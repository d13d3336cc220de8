"""Send-queue tasks that are not messages: profile refresh, rich menu switch.

They go through the send queue so that every LINE call is made by the sender, paced
by its concurrency, with the same retry and back-off handling as messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from linecrm.channels import UnknownChannel
from linecrm.delivery.sender import LineClientFactory, SendFailedRetryable
from linecrm.domain.friends import FriendProfile
from linecrm.line.client import LineMessagingClient
from linecrm.line.errors import LineApiError, LineRateLimited, LineRequestRejected
from linecrm.models.send import ProfileRefresh, RichMenuLink
from linecrm.repositories.friends import FriendNotFound, FriendRepository


class LineTaskRunner:
    def __init__(
        self,
        friends: FriendRepository,
        line_client: LineClientFactory,
        clock: Callable[[], datetime],
    ) -> None:
        self._friends = friends
        self._line_client = line_client
        self._clock = clock

    def run(self, task: ProfileRefresh | RichMenuLink) -> str:
        """What happened, for the log; SendFailedRetryable when it should be retried.

        A request LINE rejects (unknown rich menu, …) is not retried: the reason is
        returned and logged as a deliberate skip.
        """
        try:
            client = self._line_client(task.channel_id)
            if isinstance(task, ProfileRefresh):
                return self._refresh_profile(task, client)
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
