"""Making a campaign's content tracked: the one function every producer calls.

The broadcast planner, the scenario engine (bucket sends and zero-delay replies) and
the auto-response / welcome replies build a ``SendRequest`` and hand it to
``LinkTracker.track`` before they record or queue it. Each http(s) URL a friend can
tap becomes ``https://liff.line.me/<liff id>/click?t=<token>`` (the channel's LIFF
app; docs/tracking.md), the link is stored under its token, and the content stays the
same for every recipient of the campaign and variant, so multicasts stay multicasts.

Nothing is rewritten for a request without a campaign, or for a channel without a
LIFF setup (docs/liff.md): those messages go out as written.

Rich menus (``track_menus``, called when a menu set is applied): each ``uri`` area's
http(s) URL becomes a tracking URL of the campaign ``richmenu:<menu id>``, the same for
every friend (one LINE menu). Postbacks, tabs (``richmenuswitch``), ``tel:`` /
``line://`` URIs, tracking URLs and our own LIFF pages (``liff.line.me/<our LIFF id>…``:
the member card, the shop login) stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from linecrm.domain.campaigns import richmenu_campaign
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.tracked_links import (
    LIFF_HOST,
    MAX_URI_LENGTH,
    TrackedLink,
    click_url,
    is_trackable,
    link_token,
    rewrite_messages,
)
from linecrm.liff.settings import liff_settings
from linecrm.models.send import SendRequest
from linecrm.richmenus.model import MenuLink, MenuSet, UriAction

# Where LINE opens a LIFF app by its id (a LINE MINI App's URL is the same app).
_LIFF_HOSTS = (LIFF_HOST, "miniapp.line.me")
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
            return self._tracked(
                TrackedLink(
                    link_token(channel_id, campaign, variant, url),
                    channel_id,
                    campaign,
                    variant,
                    url,
                ),
                liff,
            )

        messages = rewrite_messages(request.messages, rewrite)
        if messages == request.messages:
            return request
        return request.model_copy(update={"messages": messages})

    def track_menus(
        self, channel_id: str, menu_set: MenuSet, *, record: bool = True
    ) -> tuple[MenuSet, list[MenuLink]]:
        """``menu_set`` with its menus' URI areas tracked, and those links (the same set
        and none for a channel without LIFF). ``record=False`` (a dry run) stores no
        link; the URLs are the same either way (the token is a hash)."""
        liff = self.liff_id(channel_id)
        if liff is None:
            return menu_set, []
        links: list[MenuLink] = []
        menus = []
        for menu in menu_set.menus:
            campaign = richmenu_campaign(menu.id)
            areas = []
            for index, area in enumerate(menu.areas):
                action = area.action
                if isinstance(action, UriAction) and _menu_trackable(action.uri, liff):
                    url = action.uri
                    link = TrackedLink(
                        link_token(channel_id, campaign, None, url), channel_id, campaign, None, url
                    )
                    uri = click_url(liff, link.token)
                    if len(uri) <= MAX_URI_LENGTH:  # LINE's limit on a URI action's uri
                        if record:
                            self._tracked(link, liff)
                        links.append(
                            MenuLink(menu=menu.id, area=index, campaign=campaign, uri=uri, url=url)
                        )
                        area = area.model_copy(
                            update={"action": action.model_copy(update={"uri": uri})}
                        )
                areas.append(area)
            menus.append(menu.model_copy(update={"areas": areas}))
        if not links:
            return menu_set, []
        return menu_set.model_copy(update={"menus": menus}), links

    def _tracked(self, link: TrackedLink, liff: str) -> str:
        """The link stored (once per warm environment) and its tracking URL."""
        if link.token not in self._known:
            self._links.put(link, self._clock())
            if len(self._known) >= _KNOWN_LIMIT:
                self._known.clear()
            self._known.add(link.token)
        return click_url(liff, link.token)

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


def _menu_trackable(url: str, liff_id: str) -> bool:
    """A rich menu area's URL to track: http(s), not yet a tracking URL, and not one of
    our own LIFF pages (they identify the friend themselves; a click page in front of
    them would only add a hop)."""
    if not is_trackable(url):
        return False
    parts = urlsplit(url)
    own_liff = parts.netloc.lower() in _LIFF_HOSTS and parts.path.split("/")[1:2] == [liff_id]
    return not own_liff
