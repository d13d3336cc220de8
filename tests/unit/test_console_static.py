"""The local gateway serves the built admin console at /console/ as CloudFront would:
content types by file, immutable hashed assets, index.html revalidated, an SPA
fallback for client routes (never for a missing asset), no way out of the folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from linecrm_local.console_static import IMMUTABLE, REVALIDATE, ConsoleFiles, console_config
from linecrm_local.gateway import LocalGateway
from linecrm_local.lambda_runtime import LocalFunctions

INDEX = b"<!doctype html><div id=root></div>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "assets" / "index-AbC123.js").write_text("console.log(1)")
    (tmp_path / "assets" / "index-AbC123.css").write_text("body{}")
    (tmp_path.parent / "secret.txt").write_text("not yours")
    return tmp_path


@pytest.fixture
def files(dist: Path) -> ConsoleFiles:
    return ConsoleFiles(dist=dist, config=console_config("2000000001", client_id="console-client"))


def header(response: Any, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def test_hashed_assets_are_immutable_with_their_content_type(files: ConsoleFiles) -> None:
    script = files.serve("GET", "/console/assets/index-AbC123.js")
    style = files.serve("GET", "/console/assets/index-AbC123.css")
    assert script.status == 200 and script.body == b"console.log(1)"
    assert header(script, "Content-Type") == "text/javascript; charset=utf-8"
    assert header(style, "Content-Type") == "text/css; charset=utf-8"
    assert header(script, "Cache-Control") == IMMUTABLE


@pytest.mark.parametrize("path", ["/console/", "/console/friends", "/console/friends/U123"])
def test_the_app_and_its_client_routes_are_index_html_revalidated(
    files: ConsoleFiles, path: str
) -> None:
    answer = files.serve("GET", path)
    assert answer.status == 200 and answer.body == INDEX
    assert header(answer, "Content-Type") == "text/html; charset=utf-8"
    assert header(answer, "Cache-Control") == REVALIDATE


@pytest.mark.parametrize(
    "path", ["/console/assets/index-OLD.js", "/console/missing.png", "/console/../secret.txt"]
)
def test_a_missing_file_is_404_not_the_app(files: ConsoleFiles, path: str) -> None:
    answer = files.serve("GET", path)
    assert answer.status == 404
    assert answer.body != INDEX


def test_config_json_names_the_api_and_the_sign_in(files: ConsoleFiles) -> None:
    answer = files.serve("GET", "/console/config.json")
    assert answer.status == 200 and header(answer, "Cache-Control") == "no-store"
    assert json.loads(answer.body) == {
        "apiBaseUrl": "",
        "channels": ["2000000001"],
        "auth": {"mode": "local", "domain": "/local", "clientId": "console-client"},
    }
    # Without a staff pool, only the admin token signs in.
    assert console_config("1")["auth"] == {"mode": "none"}


def test_the_bare_prefix_redirects_and_writes_are_refused(files: ConsoleFiles) -> None:
    redirect = files.serve("GET", "/console")
    assert redirect.status == 308 and header(redirect, "Location") == "/console/"
    assert files.serve("POST", "/console/").status == 405


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    answer = ConsoleFiles(dist=tmp_path / "nothing").serve("GET", "/console/")
    assert answer.status == 404
    assert "make console" in json.loads(answer.body)["message"]


def test_the_gateway_serves_the_console_before_its_routes(files: ConsoleFiles) -> None:
    gateway = LocalGateway(cast(LocalFunctions, None), routes=(), console=files)

    def get(path: str, method: str = "GET") -> Any:
        return gateway.handle(Request(EnvironBuilder(path=path, method=method).get_environ()))

    page = get("/console/scenarios")
    assert page.status == 200 and page.body == INDEX
    head = get("/console/assets/index-AbC123.js", "HEAD")
    assert head.status == 200 and head.body == b""
    assert get("/consoles").status == 404  # not the console's prefix
