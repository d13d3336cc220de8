"""The admin function's dashboard routes (public: the page and its assets hold no data).

- ``GET /admin/dashboard?channel=<id>``: the HTML shell.
- ``GET /admin/dashboard/assets/{file}``: the bundle's JS and CSS (web/dashboard, built
  by ``make dashboard`` into the function's ``dashboard_assets`` folder).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from linecrm.dashboard.page import (
    CONTENT_SECURITY_POLICY,
    DASHBOARD_PATH,
    DashboardConfig,
    render_dashboard,
    render_unavailable,
)
from linecrm.liff.assets import IMMUTABLE, AssetBundle, AssetsMissing

HTML = "text/html; charset=utf-8"
PAGE_HEADERS = {
    # The shell names the current bundle's files: always revalidated.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


def build_router(assets_directory: Path, region: Callable[[], str]) -> APIGatewayHttpRouter:
    """``region``: the API's AWS region (the page signs its SigV4 requests for it)."""
    router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools: untyped init
    bundle = AssetBundle(assets_directory, build_command="make dashboard")

    @router.get(DASHBOARD_PATH, include_in_schema=False)
    def dashboard() -> Response[Any]:
        try:
            script, styles = bundle.entry()
        except AssetsMissing:
            return Response(
                status_code=HTTPStatus.SERVICE_UNAVAILABLE,
                content_type=HTML,
                body=render_unavailable(),
                headers=PAGE_HEADERS,
            )
        page = render_dashboard(DashboardConfig(region=region()), script, styles)
        return Response(
            status_code=HTTPStatus.OK, content_type=HTML, body=page, headers=PAGE_HEADERS
        )

    @router.get(f"{DASHBOARD_PATH}/assets/<file>", include_in_schema=False)
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

    return router
