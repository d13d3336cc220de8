"""Inflow routes (流入経路) in the admin API: a route per ad, shop or QR poster (tags to
add, a scenario to start, UTM parameters), its short URL and QR code (PNG, SVG), and its
report (friends, blocked, linked, converted). Guide: docs/inflow-routes.md."""

from __future__ import annotations

import inspect
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from linecrm.admin.params import ChannelId, created, new_router, no_content, responses
from linecrm.domain.inflow import (
    ROUTE_ID_PATTERN,
    InflowRoute,
    RouteCounters,
    RouteSettings,
    Utm,
    route_url,
)
from linecrm.inflow.qr import CONTENT_TYPES, DEFAULT_SCALE, MAX_SCALE, QrFormat
from linecrm.inflow.routes import RouteService

router = new_router()


def route_service() -> RouteService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(..., route_service=...) wires inflow routes")


def public_base_url() -> str:
    """Replaced by ``api.build_app``: the API's public URL (the routes' URLs)."""
    return "https://example.invalid"


Routes = Annotated[RouteService, Depends(route_service)]
BaseUrl = Annotated[str, Depends(public_base_url)]
RouteIdPath = Annotated[
    str, Path(pattern=ROUTE_ID_PATTERN, description="inflow route id (a slug, e.g. qr_shop_a)")
]
Scale = Annotated[
    int, Query(ge=1, le=MAX_SCALE, description="pixels (PNG) or units (SVG) per QR module")
]


class CreateRouteRequest(RouteSettings):
    model_config = ConfigDict(frozen=True, extra="forbid")

    route_id: str = Field(
        pattern=ROUTE_ID_PATTERN,
        description="what friends, segments (inflow_route) and follow triggers name",
    )


class RouteResponse(BaseModel):
    route_id: str
    name: str
    code: str = Field(description="the short code of the route's URL")
    url: str = Field(description="the route's URL: put it (or its QR code) on the poster or ad")
    tags: list[str]
    scenario: str | None
    utm: Utm
    landing_url: str | None
    report: RouteCounters
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, route: InflowRoute, base_url: str) -> RouteResponse:
        return cls(
            route_id=route.route_id,
            name=route.settings.name,
            code=route.code,
            url=route_url(base_url, route.code),
            tags=list(route.settings.tags),
            scenario=route.settings.scenario,
            utm=route.settings.utm,
            landing_url=route.settings.landing_url,
            report=route.counters,
            created_at=route.created_at,
            updated_at=route.updated_at,
        )


class RouteListResponse(BaseModel):
    routes: list[RouteResponse]


@router.get("/routes", tags=["inflow routes"], responses=responses(200, "The inflow routes"))
def list_routes(channel_id: ChannelId, routes: Routes, base_url: BaseUrl) -> RouteListResponse:
    """The channel's inflow routes with their URLs and reports, by route id."""
    return RouteListResponse(
        routes=[RouteResponse.of(route, base_url) for route in routes.list(channel_id)]
    )


@router.post(
    "/routes",
    tags=["inflow routes"],
    responses=responses(201, "The route, with its URL", 409),
)
def create_route(
    channel_id: ChannelId, request: CreateRouteRequest, routes: Routes, base_url: BaseUrl
) -> Response[Any]:
    """Create a route: a new short code and URL. Its tags and scenario must exist (422
    names the one that does not); 409 if the route id is taken."""
    settings = RouteSettings.model_validate(request.model_dump(exclude={"route_id"}))
    route = routes.create(channel_id, request.route_id, settings)
    return created(RouteResponse.of(route, base_url).model_dump(mode="json"))


@router.get(
    "/routes/<route_id>",
    tags=["inflow routes"],
    responses=responses(200, "The route and its report", 404),
)
def get_route(
    channel_id: ChannelId, route_id: RouteIdPath, routes: Routes, base_url: BaseUrl
) -> RouteResponse:
    """One route and its report: friends it brought, and of them how many block the
    account, are ID-linked, and bought (a ``purchase`` event), kept as counters."""
    return RouteResponse.of(routes.get(channel_id, route_id), base_url)


@router.put(
    "/routes/<route_id>",
    tags=["inflow routes"],
    responses=responses(200, "The route, as stored", 404),
)
def put_route(
    channel_id: ChannelId,
    route_id: RouteIdPath,
    request: RouteSettings,
    routes: Routes,
    base_url: BaseUrl,
) -> RouteResponse:
    """Change a route's name, tags, scenario, UTM parameters or landing page; its code,
    URL and report stay (printed QR codes keep working)."""
    return RouteResponse.of(routes.update(channel_id, route_id, request), base_url)


@router.delete(
    "/routes/<route_id>",
    tags=["inflow routes"],
    responses=responses(204, "Deleted: its URL answers 404", 404, body=False),
)
def delete_route(channel_id: ChannelId, route_id: RouteIdPath, routes: Routes) -> Response[None]:
    """Delete a route: its URL stops working; friends keep the route id they came by."""
    routes.delete(channel_id, route_id)
    return no_content()


def _qr_route(fmt: QrFormat) -> None:
    def qr(
        channel_id: ChannelId,
        route_id: RouteIdPath,
        routes: Routes,
        base_url: BaseUrl,
        scale: Scale = DEFAULT_SCALE,
    ) -> Response[bytes]:
        image = routes.qr(channel_id, route_id, fmt, base_url, scale)
        return Response(
            status_code=HTTPStatus.OK,
            content_type=CONTENT_TYPES[fmt],
            body=image,  # bytes: API Gateway gets it base64-encoded (isBase64Encoded)
            headers={"Content-Disposition": f'attachment; filename="{route_id}.{fmt}"'},
        )

    qr.__doc__ = (
        f"The QR code of the route's URL as {fmt.upper()} (error correction M, the "
        "standard quiet zone)."
    )
    qr.__name__ = f"route_qr_{fmt}"
    # No return annotation for Powertools: with one it validates and JSON-encodes the
    # body (bytes are no JSON); without, a non-JSON response passes as is and its
    # bytes go to API Gateway base64-encoded (isBase64Encoded), as binary must.
    qr.__signature__ = inspect.signature(qr).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    documented = responses(200, f"The QR code ({CONTENT_TYPES[fmt]})", 404)
    documented[200] = {
        "description": f"The QR code ({CONTENT_TYPES[fmt]})",
        "content": {CONTENT_TYPES[fmt]: {"schema": {"type": "string", "format": "binary"}}},
    }
    router.get(f"/routes/<route_id>/qr.{fmt}", tags=["inflow routes"], responses=documented)(qr)


_qr_route("png")
_qr_route("svg")
