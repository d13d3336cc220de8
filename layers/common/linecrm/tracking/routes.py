"""The redirector (in the liff_login function, beside the LIFF click page).

- ``GET /t/{token}``: the link's original URL, 302. A click nobody identified: counted
  in ``clicks`` unless the User-Agent is a link-preview fetcher or a bot (they get the
  redirect, uncounted). The LIFF click page falls back here outside LINE.
- ``POST /t/{token}`` ``{"idToken": …}``: the LIFF click page inside LINE: the ID token
  is verified as for ``POST /liff/login`` (for the link's channel), the friend's click
  is recorded (``unique_clicks`` on their first on the campaign), and the answer is
  ``{"url": …}``, where the page goes next: the link's URL, with the friend's visitor
  id (``?lcv=``) when it is a page of the shop's sites (docs/web-tag.md).

Only a link's own URL is ever a target: an unknown or altered token, or any query
(``/t/<token>?url=…``), is 404, so there is no open redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from linecrm.config.liff_login import LiffLoginSettings
from linecrm.domain.tracked_links import TrackedLink, is_bot
from linecrm.liff.routes import verify_id_token
from linecrm.line.login import IdTokenVerifier
from linecrm.observability import metrics
from linecrm.wiring import Container

NO_STORE = {
    "Cache-Control": "no-store",
    # The destination is not told the tracking URL (nor its token).
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class ClickRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id_token: str = Field(alias="idToken", min_length=1, max_length=4096)


class ClickResponse(BaseModel):
    url: str
    first: bool = Field(description="the friend's first click on this campaign")


def build_router(
    container: Callable[[], Container[LiffLoginSettings]],
    verifier: Callable[[], IdTokenVerifier],
) -> APIGatewayHttpRouter:
    router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools: untyped init

    def tracked(token: str) -> TrackedLink | None:
        if router.current_event.query_string_parameters:
            return None  # never a target from the request: /t/<token>?url=… is no link
        return container().click_recorder.link(token)

    @router.get("/t/<token>", include_in_schema=False)
    def redirect(token: str) -> Response[Any]:
        link = tracked(token)
        if link is None:
            return _not_found()
        agent = _header(router.current_event.headers, "user-agent")
        if is_bot(agent):
            metrics.add_metric(name="BotClicksIgnored", unit="Count", value=1)
        else:
            container().click_recorder.record(link)
            metrics.add_metric(name="AnonymousClicks", unit="Count", value=1)
        return Response(
            status_code=HTTPStatus.FOUND,
            content_type=content_types.TEXT_PLAIN,
            body="",
            headers={**NO_STORE, "Location": link.url},
        )

    @router.post("/t/<token>", include_in_schema=False)
    def identified_click(token: str, request: ClickRequest) -> Response[Any]:
        link = tracked(token)
        if link is None:
            return _not_found()
        deps = container()
        friend = verify_id_token(deps, verifier(), link.channel_id, request.id_token)
        click = deps.click_recorder.record(link, friend.user_id)
        metrics.add_metric(name="IdentifiedClicks", unit="Count", value=1)
        # Into the shop's sites: with the friend's visitor id for its web tag.
        url = deps.shop_landing.url_for(link.channel_id, link.url, friend.user_id)
        return Response(
            status_code=HTTPStatus.OK,
            content_type=content_types.APPLICATION_JSON,
            body=ClickResponse(url=url, first=click.first).model_dump(),
            headers=NO_STORE,
        )

    return router


def _header(headers: dict[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _not_found() -> Response[Any]:
    return Response(
        status_code=HTTPStatus.NOT_FOUND,
        content_type=content_types.APPLICATION_JSON,
        body={"message": "unknown link"},
        headers=NO_STORE,
    )
