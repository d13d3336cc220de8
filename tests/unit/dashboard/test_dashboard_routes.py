"""The admin function's dashboard routes: the public shell (no data), the bundle's
assets (no traversal), and their routes in the API (public, on the admin function)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from linecrm import resources
from linecrm.dashboard.page import DashboardConfig, render_dashboard
from linecrm.dashboard.routes import build_router
from linecrm.http_errors import json_resolver
from linecrm.liff.assets import IMMUTABLE
from tests.support.lambda_support import FakeLambdaContext, http_event

SCRIPT = "main-DN9UyZuQ.js"
STYLE = "main-ClMcB7QI.css"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    assets = tmp_path / "dashboard_assets"
    (assets / ".vite").mkdir(parents=True)
    manifest = {"src/main.ts": {"file": SCRIPT, "isEntry": True, "css": [STYLE]}}
    (assets / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    (assets / SCRIPT).write_text("console.log('ダッシュボード');")
    (assets / STYLE).write_text("main{color:red}")
    (tmp_path / "secret.js").write_text("outside the bundle")
    return assets


def app_for(assets: Path, region: str = "ap-northeast-1") -> Any:
    resolver = json_resolver()
    resolver.include_router(build_router(assets, lambda: region))
    return resolver


def call(app: Any, path: str, route: str, **kwargs: Any) -> dict[str, Any]:
    event = http_event("GET", path, route=route, **kwargs)
    result: dict[str, Any] = app.resolve(event, FakeLambdaContext())
    return result


def test_the_shell_names_the_bundle_and_the_region_and_holds_no_data(bundle: Path) -> None:
    response = call(app_for(bundle, "us-west-2"), "/admin/dashboard", "/admin/dashboard")

    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    page = response["body"]
    assert f'<script type="module" src="/admin/dashboard/assets/{SCRIPT}"></script>' in page
    assert f'<link rel="stylesheet" href="/admin/dashboard/assets/{STYLE}">' in page
    assert '<html lang="ja">' in page
    config = page.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(config) == {"region": "us-west-2", "defaultChannelId": None}


def test_the_config_cannot_close_its_script_element() -> None:
    hostile = "</script><script>alert(1)</script>&"
    page = render_dashboard(DashboardConfig(region=hostile), SCRIPT, ())
    assert "<script>alert(1)" not in page
    embedded = page.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(embedded)["region"] == hostile


def test_a_missing_build_is_a_503_page_that_says_how_to_build(tmp_path: Path) -> None:
    response = call(app_for(tmp_path / "nothing"), "/admin/dashboard", "/admin/dashboard")
    assert response["statusCode"] == 503
    assert "make dashboard" in response["body"]


def asset(app: Any, name: str) -> dict[str, Any]:
    return call(
        app,
        f"/admin/dashboard/assets/{name}",
        "/admin/dashboard/assets/{file}",
        path_parameters={"file": name},
    )


def test_assets_have_their_content_type_and_an_immutable_cache(bundle: Path) -> None:
    app = app_for(bundle)
    script = asset(app, SCRIPT)
    assert script["statusCode"] == 200
    assert script["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert script["headers"]["Cache-Control"] == IMMUTABLE
    assert "ダッシュボード" in script["body"]
    assert asset(app, STYLE)["headers"]["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "name", ["../secret.js", "..%2Fsecret.js", ".vite", "manifest.json", "nope-123.js"]
)
def test_only_built_files_are_served(bundle: Path, name: str) -> None:
    response = asset(app_for(bundle), name)
    assert response["statusCode"] == 404
    assert "outside" not in response["body"]


def test_the_dashboard_routes_are_public_gets_of_the_admin_function() -> None:
    routes = {(r.method, r.path): r for r in resources.ROUTES}
    for path in ("/admin/dashboard", "/admin/dashboard/assets/{file}"):
        route = routes[("GET", path)]
        assert route.function == resources.ADMIN_FUNCTION
        assert route.authorization == "none"
        assert route.why_no_auth
    # ...while every report the page shows stays behind IAM.
    assert routes[("GET", "/admin/{proxy+}")].authorization == "iam"
