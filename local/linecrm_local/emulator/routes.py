"""The LINE operations the emulator serves, with LINE's paths (as in ``specs/``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Response

from . import config as keys
from .http import ApiRequest
from .insight import InsightRoutes
from .messaging import MessagingRoutes
from .richmenus import AudienceRoutes, RichMenuRoutes
from .state import EmulatorState

Handler = Callable[[ApiRequest], Response]


@dataclass(frozen=True)
class Operation:
    key: str  # endpoint key: rate limits, faults and the call log use it
    method: str
    spec_path: str  # exactly as in LINE's OpenAPI document
    handler: Handler

    @property
    def rule_path(self) -> str:
        return re.sub(r"{(\w+)}", r"<\1>", self.spec_path)

    @property
    def rule_endpoint(self) -> str:
        return f"{self.method} {self.spec_path}"


def messaging_operations(state: EmulatorState) -> list[Operation]:
    msg, menu, audience = MessagingRoutes(state), RichMenuRoutes(state), AudienceRoutes(state)
    insight = InsightRoutes(state)
    return [
        Operation(keys.REPLY, "POST", "/v2/bot/message/reply", msg.reply),
        Operation(keys.PUSH, "POST", "/v2/bot/message/push", msg.push),
        Operation(keys.MULTICAST, "POST", "/v2/bot/message/multicast", msg.multicast),
        Operation(keys.BROADCAST, "POST", "/v2/bot/message/broadcast", msg.broadcast),
        Operation(keys.NARROWCAST, "POST", "/v2/bot/message/narrowcast", msg.narrowcast),
        Operation(
            keys.NARROWCAST_PROGRESS,
            "GET",
            "/v2/bot/message/progress/narrowcast",
            msg.narrowcast_progress,
        ),
        Operation(keys.QUOTA, "GET", "/v2/bot/message/quota", msg.quota),
        Operation(
            keys.QUOTA_CONSUMPTION,
            "GET",
            "/v2/bot/message/quota/consumption",
            msg.quota_consumption,
        ),
        Operation(keys.PROFILE, "GET", "/v2/bot/profile/{userId}", msg.profile),
        Operation(keys.FOLLOWERS_IDS, "GET", "/v2/bot/followers/ids", msg.followers_ids),
        Operation(keys.LINK_TOKEN, "POST", "/v2/bot/user/{userId}/linkToken", msg.link_token),
        # insight: opens and clicks per aggregation unit or request; the month's units
        Operation(
            keys.INSIGHT_UNIT,
            "GET",
            "/v2/bot/insight/message/event/aggregation",
            insight.per_unit,
        ),
        Operation(
            keys.INSIGHT_MESSAGE_EVENT, "GET", "/v2/bot/insight/message/event", insight.per_request
        ),
        Operation(
            keys.AGGREGATION_UNIT_USAGE,
            "GET",
            "/v2/bot/message/aggregation/info",
            insight.unit_usage,
        ),
        Operation(
            keys.AGGREGATION_UNIT_LIST,
            "GET",
            "/v2/bot/message/aggregation/list",
            insight.unit_names,
        ),
        # rich menus
        Operation(keys.RICHMENU_CREATE, "POST", "/v2/bot/richmenu", menu.create),
        Operation(keys.RICHMENU_GET, "GET", "/v2/bot/richmenu/list", menu.list_menus),
        Operation(keys.RICHMENU_GET, "GET", "/v2/bot/richmenu/{richMenuId}", menu.get),
        Operation(keys.RICHMENU_DELETE, "DELETE", "/v2/bot/richmenu/{richMenuId}", menu.delete),
        Operation(
            keys.RICHMENU_UPLOAD_IMAGE,
            "POST",
            "/v2/bot/richmenu/{richMenuId}/content",
            menu.upload_image,
        ),
        Operation(
            keys.RICHMENU_LINK, "POST", "/v2/bot/user/{userId}/richmenu/{richMenuId}", menu.link
        ),
        Operation(keys.RICHMENU_LINK, "GET", "/v2/bot/user/{userId}/richmenu", menu.linked),
        Operation(keys.RICHMENU_UNLINK, "DELETE", "/v2/bot/user/{userId}/richmenu", menu.unlink),
        Operation(keys.RICHMENU_BULK_LINK, "POST", "/v2/bot/richmenu/bulk/link", menu.bulk_link),
        Operation(
            keys.RICHMENU_BULK_UNLINK, "POST", "/v2/bot/richmenu/bulk/unlink", menu.bulk_unlink
        ),
        Operation(
            keys.RICHMENU_DEFAULT,
            "POST",
            "/v2/bot/user/all/richmenu/{richMenuId}",
            menu.set_default,
        ),
        Operation(keys.RICHMENU_DEFAULT, "GET", "/v2/bot/user/all/richmenu", menu.get_default),
        Operation(keys.RICHMENU_DEFAULT, "DELETE", "/v2/bot/user/all/richmenu", menu.clear_default),
        Operation(keys.RICHMENU_ALIAS, "POST", "/v2/bot/richmenu/alias", menu.create_alias),
        # Before the {richMenuAliasId} route: "list" is no alias id.
        Operation(keys.RICHMENU_ALIAS, "GET", "/v2/bot/richmenu/alias/list", menu.list_aliases),
        Operation(
            keys.RICHMENU_ALIAS,
            "POST",
            "/v2/bot/richmenu/alias/{richMenuAliasId}",
            menu.update_alias,
        ),
        Operation(
            keys.RICHMENU_ALIAS, "GET", "/v2/bot/richmenu/alias/{richMenuAliasId}", menu.get_alias
        ),
        Operation(
            keys.RICHMENU_ALIAS,
            "DELETE",
            "/v2/bot/richmenu/alias/{richMenuAliasId}",
            menu.delete_alias,
        ),
        # audiences
        Operation(keys.AUDIENCE_UPLOAD, "POST", "/v2/bot/audienceGroup/upload", audience.upload),
        Operation(keys.AUDIENCE_UPLOAD, "PUT", "/v2/bot/audienceGroup/upload", audience.add),
        Operation(
            keys.AUDIENCE_UPLOAD,
            "POST",
            "/v2/bot/audienceGroup/upload/byFile",
            audience.upload_file,
        ),
        Operation(
            keys.AUDIENCE_UPLOAD, "GET", "/v2/bot/audienceGroup/{audienceGroupId}", audience.get
        ),
    ]


def url_map(operations: list[Operation]) -> Map:
    # Static segments win over converters in werkzeug, so "/v2/bot/richmenu/list" is
    # not taken for a rich menu id.
    return Map(
        [Rule(op.rule_path, endpoint=op.rule_endpoint, methods=[op.method]) for op in operations],
        strict_slashes=False,
        merge_slashes=False,
    )
