"""The admin routers' logic beyond a repository call, one service per router:
``friends``, ``tags``, ``fields``, ``rules``, ``settings`` (business hours),
``segments`` (saved segments).

``AdminServices`` is only the bundle the admin function builds once (``wiring``) and
hands to ``api.build_app``; each router depends on its own service (``params``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from linecrm.admin.erasure import FriendErasure
from linecrm.admin.services.fields import FieldsService
from linecrm.admin.services.friends import FriendsService
from linecrm.admin.services.rules import RulesService
from linecrm.admin.services.segments import SegmentsService
from linecrm.admin.services.settings import SettingsService
from linecrm.admin.services.tags import TagsService
from linecrm.admin.services.timeline import TimelineService
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository


@dataclass(frozen=True)
class AdminServices:
    friends: FriendsService
    tags: TagsService
    fields: FieldsService
    rules: RulesService
    settings: SettingsService
    segments: SegmentsService
    timeline: TimelineService

    @classmethod
    def build(
        cls,
        friends: FriendRepository,
        config: ChannelConfigRepository,
        clock: Callable[[], datetime],
        *,
        erasure: FriendErasure | None = None,
    ) -> AdminServices:
        settings = SettingsService(config)
        return cls(
            friends=FriendsService(friends, config, clock, erasure=erasure),
            tags=TagsService(config, friends, clock),
            fields=FieldsService(config),
            rules=RulesService(friends, config, settings, clock),
            settings=settings,
            segments=SegmentsService(config, friends, clock),
            timeline=TimelineService(friends, config, clock),
        )
