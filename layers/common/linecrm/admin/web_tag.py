"""The web tag in the admin API (docs/web-tag.md): a channel's public web tag keys, each
with the shop's origins whose pages may send events with it, and its rate limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from linecrm.admin.errors import Conflict, NotFound
from linecrm.admin.inflow_routes import BaseUrl
from linecrm.admin.params import ChannelId, created, new_router, no_content, responses
from linecrm.admin.shop_login import Clock
from linecrm.domain.web_tag import KEY_PATTERN, WebTagKey, WebTagKeySpec, new_web_tag_key
from linecrm.repositories.web_tag_keys import TooManyKeys, WebTagKeyRepository
from linecrm.resources import WEB_TAG_PATH

router = new_router()  # under /admin/channels/{channel_id}


def web_tag_keys() -> WebTagKeyRepository:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the repository."""
    raise NotImplementedError("build_app(..., web_tag_keys=...) wires the web tag keys")


Keys = Annotated[WebTagKeyRepository, Depends(web_tag_keys)]
KeyPath = Annotated[str, Path(pattern=KEY_PATTERN.pattern, description="the key (pk_…)")]


def snippet(base_url: str, key: str) -> str:
    """The lines the shop puts into each page (before ``</head>``)."""
    return (
        "<script>window.linecrm=window.linecrm||{q:[],track:function(){this.q.push("
        "arguments)}};</script>\n"
        f'<script src="{base_url}{WEB_TAG_PATH}" data-key="{key}" async></script>'
    )


class WebTagKeyResponse(BaseModel):
    key: str = Field(description="the public key (pk_…): the tag's data-key")
    origins: list[str] = Field(description="the origins whose pages may send with it")
    label: str
    rate_per_minute: int = Field(description="requests per minute for the key")
    visitor_rate_per_minute: int = Field(description="requests per minute per visitor id")
    created_at: datetime
    snippet: str = Field(description="the HTML to embed in the shop's pages")

    @classmethod
    def of(cls, key: WebTagKey, base_url: str) -> WebTagKeyResponse:
        return cls(
            key=key.key,
            origins=list(key.origins),
            label=key.label,
            rate_per_minute=key.rate_per_minute,
            visitor_rate_per_minute=key.visitor_rate_per_minute,
            created_at=key.created_at,
            snippet=snippet(base_url, key.key),
        )


class WebTagKeyListResponse(BaseModel):
    keys: list[WebTagKeyResponse]


@router.get(
    "/web-tag/keys",
    tags=["web tag"],
    responses=responses(200, "The channel's web tag keys"),
)
def list_web_tag_keys(
    channel_id: ChannelId, keys: Keys, base_url: BaseUrl
) -> WebTagKeyListResponse:
    """The channel's web tag keys, oldest first, with their origins and snippets."""
    return WebTagKeyListResponse(
        keys=[WebTagKeyResponse.of(key, base_url) for key in keys.list(channel_id)]
    )


@router.post(
    "/web-tag/keys",
    tags=["web tag"],
    responses=responses(201, "The new key and the snippet to embed", 409),
)
def create_web_tag_key(
    channel_id: ChannelId, request: WebTagKeySpec, keys: Keys, clock: Clock, base_url: BaseUrl
) -> Response[Any]:
    """Create a public key for the shop's pages: ``origins`` (https://host[:port]; http
    only for localhost) are the pages that may send with it (the browser's Origin);
    409 when the channel has 20 keys already."""
    key = new_web_tag_key(channel_id, request, clock())
    try:
        keys.create(key)
    except TooManyKeys as error:
        raise Conflict(str(error)) from error
    return created(WebTagKeyResponse.of(key, base_url).model_dump(mode="json"))


@router.delete(
    "/web-tag/keys/<key>",
    tags=["web tag"],
    responses=responses(204, "Revoked: requests with it answer 401", 404, body=False),
)
def revoke_web_tag_key(channel_id: ChannelId, key: KeyPath, keys: Keys) -> Response[None]:
    """Revoke a key: the tag's requests with it are refused (401) within a minute (the
    events function keeps a key a minute)."""
    if not keys.revoke(channel_id, key):
        raise NotFound("no such web tag key for this channel")
    return no_content()
