"""Making a campaign's content tracked: the one function every producer calls.

The broadcast planner, the scenario engine (bucket sends and zero-delay replies) and
the auto-response / welcome replies build a ``SendRequest`` and hand it to
``LinkTracker.track`` before they record or queue it. Each http(s) URL a friend can
tap becomes ``https://liff.line.me/<liff id>/click?t=<token>`` (the channel's LIFF
app; docs/tracking.md), the link is stored under its token, and the content stays the
same for every recipient of the campaign and variant, so multicasts stay multicasts.

Nothing is rewritten for a request without a campaign, or for a channel without a
LIFF setup (docs/liff.md): those messages go out as written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.tracked_links import (
    TrackedLink,
    click_url,
    link_token,
    rewrite_messages,
)
from linecrm.liff.settings import liff_settings
from linecrm.models.send import SendRequest

# Tokens this environment has stored already (a warm planner does not write a link
# again for every chunk); bounded, so a long-lived environment does not grow.
_KNOWN_LIMIT = 10_000


class LinkStore(Protocol):
    def put(self, link: TrackedLink, at: datetime) -> None: ...


class LinkTracker:
    def __init__(
        self,
        links: LinkStore,
        config: Callable[[str], ChannelConfig],
        clock: Callable[[], datetime],
    ) -> None:
        self._links = links
        self._config = config
        self._clock = clock
        self._known: set[str] = set()

    def track(self, request: SendRequest) -> SendRequest:
        """``request`` with its links tracked (the same request when there is nothing
        to track)."""
        campaign = request.campaign
        if campaign is None:
            return request
        liff = self.liff_id(request.channel_id)
        if liff is None:
            return request
        channel_id, variant = request.channel_id, request.variant

        def rewrite(url: str) -> str:
            token = link_token(channel_id, campaign, variant, url)
            if token not in self._known:
                self._links.put(
                    TrackedLink(token, channel_id, campaign, variant, url), self._clock()
                )
                if len(self._known) >= _KNOWN_LIMIT:
                    self._known.clear()
                self._known.add(token)
            return click_url(liff, token)

        messages = rewrite_messages(request.messages, rewrite)
        if messages == request.messages:
            return request
        return request.model_copy(update={"messages": messages})

    def liff_id(self, channel_id: str) -> str | None:
        try:
            settings = liff_settings(self._config(channel_id).settings)
        except ValueError:  # hand-edited, unreadable setting: send the links untracked
            from linecrm.observability import logger

            logger.exception(
                "invalid LIFF setting: links not tracked", extra={"channel_id": channel_id}
            )
            return None
        return settings.liff_id if settings is not None else None
