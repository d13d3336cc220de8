"""The LIFF pages of the liff_login function: shell, assets (no traversal), card data."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from linecrm.config.liff_login import LiffLoginSettings
from linecrm.domain.friends import Friend
from linecrm.http_errors import json_resolver
from linecrm.liff.assets import IMMUTABLE, AssetBundle
from linecrm.liff.member_card import member_card
from linecrm.liff.pages import PageConfig, render_page
from linecrm.liff.routes import build_router
from linecrm.liff.settings import LIFF_SETTING, MemberCardFields
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.wiring import Container
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler
from tests.unit.conftest import CHANNEL_ID, AwsWorld

LIFF_ID = "2000000002-AbCdEfGh"
SCRIPT = "main-B0OMftjs.js"
STYLE = "main-CiiPQMbt.css"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A built bundle as Vite writes it (manifest + hashed files), and a secret beside it."""
    assets = tmp_path / "liff_assets"
    (assets / ".vite").mkdir(parents=True)
    manifest = {"src/main.ts": {"file": SCRIPT, "isEntry": True, "css": [STYLE]}}
    (assets / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    (assets / SCRIPT).write_text("console.log('会員証');" * 200)
    (assets / STYLE).write_text("main{color:red}")
    (assets / "logo-abc.svg").write_text("<svg/>")
    (assets / "logo-abc.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (assets / "notes.txt").write_text("not an asset type")
    (tmp_path / "secret.js").write_text("outside the bundle")
    return assets


def unused_verifier() -> Any:
    raise AssertionError("these routes verify no ID token")


def call(app: Any, method: str, path: str, route: str, **kwargs: Any) -> dict[str, Any]:
    params = kwargs.pop("path_parameters", None)
    event = http_event(method, path, route=route, path_parameters=params, **kwargs)
    result: dict[str, Any] = app.resolve(event, FakeLambdaContext())
    return result


@pytest.fixture
def app(aws: AwsWorld, bundle: Path) -> Any:
    container = Container(LiffLoginSettings)
    resolver = json_resolver()
    resolver.include_router(build_router(lambda: container, unused_verifier, bundle))
    return resolver


def set_liff(aws: AwsWorld, value: dict[str, Any] | None) -> None:
    repository = ChannelConfigRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    repository.set_setting(CHANNEL_ID, LIFF_SETTING, value)


# ---------------------------------------------------------------- pages
@pytest.mark.parametrize(("path", "view"), [("", "card"), ("/card", "card"), ("/open", "open")])
def test_a_set_up_channel_gets_the_shell_with_its_config(
    aws: AwsWorld, app: Any, path: str, view: str
) -> None:
    set_liff(aws, {"liff_id": LIFF_ID})
    route = "/liff/{channel_id}" + path
    response = call(
        app, "GET", f"/liff/{CHANNEL_ID}{path}", route, path_parameters={"channel_id": CHANNEL_ID}
    )

    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    page = response["body"]
    assert f'<script type="module" src="/liff/assets/{SCRIPT}"></script>' in page
    assert f'<link rel="stylesheet" href="/liff/assets/{STYLE}">' in page
    config = page.split('type="application/json">')[1].split("</script>")[0]
    # The unit tests' environment has no LINECRM_LIFF_MOCK_SDK: the real SDK, as on AWS.
    assert json.loads(config) == {
        "channelId": CHANNEL_ID,
        "liffId": LIFF_ID,
        "view": view,
        "mock": False,
        "shopTarget": "/",
    }
    assert '<html lang="ja">' in page


@pytest.mark.parametrize("channel_id", [CHANNEL_ID, "404404404", "bad..id"])
def test_a_channel_without_liff_is_a_404_page(aws: AwsWorld, app: Any, channel_id: str) -> None:
    response = call(
        app,
        "GET",
        f"/liff/{channel_id}",
        "/liff/{channel_id}",
        path_parameters={"channel_id": channel_id},
    )
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "設定されていません" in response["body"]


def test_the_mock_sdk_is_only_on_when_the_setting_says_so(
    aws: AwsWorld, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINECRM_LIFF_MOCK_SDK", "true")
    set_liff(aws, {"liff_id": LIFF_ID})
    container = Container(LiffLoginSettings)
    resolver = json_resolver()
    resolver.include_router(build_router(lambda: container, unused_verifier, bundle))
    response = call(
        resolver,
        "GET",
        f"/liff/{CHANNEL_ID}",
        "/liff/{channel_id}",
        path_parameters={"channel_id": CHANNEL_ID},
    )
    assert '"mock": true' in response["body"]


def test_the_config_cannot_close_its_script_element() -> None:
    hostile = "</script><script>alert(1)</script>&"
    config = PageConfig(channel_id="c", liff_id=hostile, view="card", mock=False)
    page = render_page(config, SCRIPT, ())
    assert "<script>alert(1)" not in page
    embedded = page.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(embedded)["liffId"] == hostile


def test_a_missing_build_is_a_503_page_not_a_crash(aws: AwsWorld, tmp_path: Path) -> None:
    set_liff(aws, {"liff_id": LIFF_ID})
    container = Container(LiffLoginSettings)
    resolver = json_resolver()
    resolver.include_router(build_router(lambda: container, unused_verifier, tmp_path / "nothing"))
    response = call(
        resolver,
        "GET",
        f"/liff/{CHANNEL_ID}",
        "/liff/{channel_id}",
        path_parameters={"channel_id": CHANNEL_ID},
    )
    assert response["statusCode"] == 503


# ---------------------------------------------------------------- assets
def asset(app: Any, name: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return call(
        app,
        "GET",
        f"/liff/assets/{name}",
        "/liff/assets/{file}",
        path_parameters={"file": name},
        headers=headers or {},
    )


def test_assets_have_their_content_type_and_a_long_immutable_cache(app: Any) -> None:
    script = asset(app, SCRIPT)
    assert script["statusCode"] == 200
    assert script["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert script["headers"]["Cache-Control"] == IMMUTABLE
    assert script["headers"]["X-Content-Type-Options"] == "nosniff"
    assert "会員証" in script["body"]
    style = asset(app, STYLE)
    assert style["headers"]["Content-Type"] == "text/css; charset=utf-8"
    image = asset(app, "logo-abc.svg")
    assert image["headers"]["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert image["body"] == "<svg/>"


def test_text_assets_are_gzipped_for_browsers_that_accept_it(app: Any) -> None:
    response = asset(app, SCRIPT, {"accept-encoding": "gzip, deflate, br"})
    assert response["headers"]["Content-Encoding"] == "gzip"
    body = gzip.decompress(base64.b64decode(response["body"])).decode()
    assert body.startswith("console.log('会員証');")


@pytest.mark.parametrize(
    "name",
    [
        "../secret.js",
        "..%2Fsecret.js",
        "..",
        ".vite",
        "manifest.json",
        ".vite/manifest.json",
        "notes.txt",
        "logo-abc.png",
        "missing-123.js",
        "main.js\x00.png",
        "",
    ],
)
def test_only_built_files_are_served(app: Any, name: str) -> None:
    response = asset(app, name)
    assert response["statusCode"] == 404
    assert "outside the bundle" not in (response.get("body") or "")


def test_the_bundle_lists_only_flat_files_of_known_types(bundle: Path) -> None:
    files = AssetBundle(bundle)
    assert files.entry() == (SCRIPT, (STYLE,))
    assert files.get("notes.txt") is None
    assert files.get("../secret.js") is None
    found = files.get(SCRIPT)
    assert found is not None and found.text.startswith("console.log")


# ---------------------------------------------------------------- the card's data
def friend(**values: Any) -> Friend:
    return Friend.model_validate(
        {"channel_id": CHANNEL_ID, "user_id": "U" + "a" * 32, "status": "active", **values}
    )


def test_a_linked_friend_shows_member_id_rank_and_points() -> None:
    card = member_card(
        friend(display_name="花子", member_id="M-1001", fields={"rank": "ゴールド", "pt": 1200}),
        "LINE name",
        MemberCardFields(rank="rank", points="pt"),
    )
    assert card.model_dump(by_alias=True) == {
        "displayName": "花子",
        "isFriend": True,
        "linked": True,
        "memberId": "M-1001",
        "rank": "ゴールド",
        "points": 1200,
    }


def test_an_unlinked_friend_and_a_stranger_show_no_member_id() -> None:
    unlinked = member_card(friend(fields={"rank": "一般"}), None, MemberCardFields())
    assert (unlinked.linked, unlinked.member_id, unlinked.rank, unlinked.points) == (
        False,
        None,
        "一般",
        None,
    )
    stranger = member_card(None, "Taro", MemberCardFields())
    assert stranger.display_name == "Taro"
    assert not stranger.is_friend and not stranger.linked


def test_fields_turned_off_are_not_shown() -> None:
    card = member_card(
        friend(member_id="M-1", fields={"rank": "VIP", "points": 5}),
        None,
        MemberCardFields(rank=None, points=None),
    )
    assert card.rank is None and card.points is None


@pytest.mark.usefixtures("aws")
def test_the_card_route_refuses_bad_bodies_with_422() -> None:
    handler = load_handler("liff_login")
    for body, field in [
        ('{"channelId": "a/b", "idToken": "x"}', "channelId"),
        ('{"channelId": "1"}', "idToken"),
        ('{"channelId": "1", "idToken": "x", "extra": 1}', "extra"),
        ('{"channelId": "1", "idToken": "x", "nonce": ""}', "nonce"),
    ]:
        event = http_event(
            "POST",
            "/liff/member-card",
            route="/liff/member-card",
            body=body,
            headers={"content-type": "application/json"},
        )
        response = handler.lambda_handler(event, FakeLambdaContext())
        assert response["statusCode"] == 422, response
        assert json.loads(response["body"])["field"] == field
