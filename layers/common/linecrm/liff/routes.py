"""The liff_login function's LIFF routes: the pages, their assets and the card's data.

- ``GET /liff/{channel_id}`` (the LIFF app's endpoint URL), ``…/card``: the member card;
  ``…/open?target=/path``: open the shop logged in (rich-menu and message URI actions);
  ``…/click?t=<token>``: a tracked link (linecrm.tracking.routes, docs/tracking.md).
- ``GET /liff/assets/{file}``: the bundle's JS and CSS (web/liff).
- ``POST /liff/member-card`` ``{channelId, idToken}``: what the card shows.

``build_router`` takes the function's container and ID-token verifier factories, so the
handler includes the routes with one line. ID tokens are verified in ``verify_id_token``
only, by the verifier ``POST /liff/login`` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from linecrm.channels import CHANNEL_ID_PATTERN
from linecrm.config.liff_login import LiffLoginSettings
from linecrm.liff.assets import IMMUTABLE, AssetBundle, AssetsMissing
from linecrm.liff.member_card import member_card
from linecrm.liff.pages import PageConfig, View, render_page, render_problem
from linecrm.liff.settings import LiffSettings, MemberCardFields, liff_settings
from linecrm.liff_login import login_channel
from linecrm.line.login import IdTokenVerifier, VerifiedIdToken
from linecrm.wiring import Container

HTML = "text/html; charset=utf-8"
PAGE_HEADERS = {
    # The shell carries the channel's config: always revalidated.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
}
NO_STORE = {"Cache-Control": "no-store"}

LiffContainer = Container[LiffLoginSettings]


class MemberCardRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    channel_id: str = Field(alias="channelId", pattern=CHANNEL_ID_PATTERN.pattern)
    id_token: str = Field(alias="idToken", min_length=1, max_length=4096)
    nonce: str | None = Field(default=None, min_length=1, max_length=256)


def verify_id_token(
    deps: LiffContainer,
    verifier: IdTokenVerifier,
    channel_id: str,
    id_token: str,
    nonce: str | None = None,
) -> VerifiedIdToken:
    """The LINE user of ``id_token`` for ``channel_id`` (IdTokenRejected, UnknownChannel,
    LoginServiceUnavailable): the same check as ``POST /liff/login``."""
    credentials = deps.channels.credentials(channel_id)
    return verifier.verify(id_token, login_channel(channel_id, credentials), nonce)


def build_router(
    container: Callable[[], LiffContainer],
    verifier: Callable[[], IdTokenVerifier],
    assets_directory: Path,
) -> APIGatewayHttpRouter:
    router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools: untyped init
    bundle = AssetBundle(assets_directory)

    def setup(channel_id: str) -> LiffSettings | None:
        if not CHANNEL_ID_PATTERN.fullmatch(channel_id):
            return None
        return liff_settings(container().channel_config.load_settings(channel_id))

    def page(channel_id: str, view: View) -> Response[Any]:
        settings = setup(channel_id)
        if settings is None:
            return _html(
                HTTPStatus.NOT_FOUND,
                render_problem("ページが見つかりません", "この LIFF は設定されていません。"),
            )
        try:
            script, styles = bundle.entry()
        except AssetsMissing:
            return _html(
                HTTPStatus.SERVICE_UNAVAILABLE,
                render_problem("準備中です", "しばらくしてからもう一度開いてください。"),
            )
        config = PageConfig(
            channel_id=channel_id,
            liff_id=settings.liff_id,
            view=view,
            mock=container().settings.liff_mock_sdk,
            shop_target=settings.shop_target,
        )
        return _html(HTTPStatus.OK, render_page(config, script, styles))

    @router.get("/liff/<channel_id>", include_in_schema=False)
    def endpoint(channel_id: str) -> Response[Any]:
        return page(channel_id, "card")

    @router.get("/liff/<channel_id>/card", include_in_schema=False)
    def card_page(channel_id: str) -> Response[Any]:
        return page(channel_id, "card")

    @router.get("/liff/<channel_id>/open", include_in_schema=False)
    def open_page(channel_id: str) -> Response[Any]:
        return page(channel_id, "open")

    @router.get("/liff/<channel_id>/click", include_in_schema=False)
    def click_page(channel_id: str) -> Response[Any]:
        # ?t=<token>: a tracked link; the page posts the ID token to /t/<token>.
        return page(channel_id, "click")

    @router.get("/liff/assets/<file>", include_in_schema=False)
    def asset(file: str) -> Response[Any]:
        try:
            found = bundle.get(file)
        except AssetsMissing:
            found = None
        if found is None:
            return Response(
                status_code=HTTPStatus.NOT_FOUND,
                content_type=content_types.TEXT_PLAIN,
                body="Not Found",
                headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
            )
        return Response(
            status_code=HTTPStatus.OK,
            content_type=found.content_type,
            body=found.text,
            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
            compress=True,  # when the browser accepts gzip
        )

    @router.post("/liff/member-card")
    def card_data(request: MemberCardRequest) -> Response[Any]:
        deps = container()
        token = verify_id_token(
            deps, verifier(), request.channel_id, request.id_token, request.nonce
        )
        settings = liff_settings(deps.channel_config.load_settings(request.channel_id))
        fields = settings.member_card_fields if settings else MemberCardFields()
        friend = deps.friends.get(request.channel_id, token.user_id)
        card = member_card(friend, token.name, fields)
        return Response(
            status_code=HTTPStatus.OK,
            content_type=content_types.APPLICATION_JSON,
            body=card.model_dump(by_alias=True),
            headers=NO_STORE,
        )

    return router


def _html(status: HTTPStatus, body: str) -> Response[Any]:
    return Response(status_code=status, content_type=HTML, body=body, headers=PAGE_HEADERS)
