"""Inflow routes through the admin function: create, change (the code stays), list,
delete; the QR codes leave as binary (base64 with isBase64Encoded, as API Gateway needs);
mistakes are 4xx naming the field."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from linecrm.resources import Env
from tests.unit.admin.conftest import AdminApi, assert_error

pytestmark = pytest.mark.usefixtures("aws")


def test_a_route_is_created_changed_listed_and_deleted(api: AdminApi) -> None:
    api.tag("VIP")
    created = api.call(
        "POST",
        "/routes",
        {"route_id": "qr_a", "name": "Poster", "tags": ["VIP"], "utm": {"source": "poster"}},
        headers={"host": "api.example", "x-forwarded-proto": "https"},
    )
    assert created.status == 201, created.body
    code = created.body["code"]
    assert created.body["url"].endswith(f"/r/{code}")
    assert created.body["report"] == {"friends": 0, "blocked": 0, "linked": 0, "converted": 0}

    changed = api.call("PUT", "/routes/qr_a", {"name": "Poster v2", "tags": []})
    assert (changed.status, changed.body["name"], changed.body["code"]) == (200, "Poster v2", code)
    assert changed.body["tags"] == [] and changed.body["utm"]["source"] is None
    api.call("POST", "/routes", {"route_id": "ad_b", "name": "Ad"})
    listed = api.call("GET", "/routes").body["routes"]
    assert [route["route_id"] for route in listed] == ["ad_b", "qr_a"]

    assert api.call("DELETE", "/routes/qr_a").status == 204
    assert_error(api.call("GET", "/routes/qr_a"), 404)


def test_the_qr_codes_are_binary_responses(api: AdminApi) -> None:
    api.call("POST", "/routes", {"route_id": "qr_a", "name": "Poster"})

    png = api.invoke("GET", "/routes/qr_a/qr.png", query={"scale": 2})
    assert png["isBase64Encoded"] is True
    assert png["headers"]["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(png["body"]))).format == "PNG"
    svg = api.invoke("GET", "/routes/qr_a/qr.svg")
    assert base64.b64decode(svg["body"]).startswith(b"<?xml")
    assert svg["headers"]["Content-Type"] == "image/svg+xml"


def test_the_public_base_url_setting_names_the_routes_url(
    api: AdminApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.PUBLIC_BASE_URL, "https://crm.example.jp")
    from tests.support.lambda_support import load_handler

    configured = AdminApi(load_handler("admin"), api.aws)
    created = configured.call("POST", "/routes", {"route_id": "qr_a", "name": "Poster"})
    assert created.body["url"] == f"https://crm.example.jp/r/{created.body['code']}"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/routes", {"route_id": "Bad Id", "name": "x"}, 422, "route_id"),
        ("POST", "/routes", {"route_id": "ok", "name": ""}, 422, "name"),
        ("POST", "/routes", {"route_id": "ok", "name": "x", "tags": ["nope"]}, 422, "tags.0"),
        ("POST", "/routes", {"route_id": "ok", "name": "x", "scenario": "none"}, 422, "scenario"),
        ("POST", "/routes", {"route_id": "ok", "name": "x", "landing_url": "http://a"}, 422, None),
        ("POST", "/routes", {"route_id": "ok", "name": "x", "utm": {"src": "a"}}, 422, None),
        ("PUT", "/routes/nothing", {"name": "x"}, 404, None),
        ("GET", "/routes/Not_A_Slug!", None, 422, "route_id"),
        ("GET", "/routes/nothing/qr.svg", None, 404, None),
        ("DELETE", "/routes/nothing", None, 404, None),
    ],
)
def test_mistakes_are_4xx_naming_the_field(
    api: AdminApi, method: str, path: str, body: object, status: int, field: str | None
) -> None:
    assert_error(api.call(method, path, body), status, field)


def test_a_taken_route_id_is_409(api: AdminApi) -> None:
    api.call("POST", "/routes", {"route_id": "qr_a", "name": "Poster"})
    assert_error(api.call("POST", "/routes", {"route_id": "qr_a", "name": "Again"}), 409)
    scale = api.call("GET", "/routes/qr_a/qr.png", query={"scale": 41})
    assert_error(scale, 422, "scale")
