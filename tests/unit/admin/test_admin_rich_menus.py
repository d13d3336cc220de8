"""Applying rich menus through the admin function on moto: a 422 lists every problem
with its path, a dry run stores nothing, an apply stores the set and queues one sync
step, and an unchanged set queues nothing (so LINE is never called)."""

from __future__ import annotations

import base64
from io import BytesIO
from typing import Any

from PIL import Image

from tests.unit.admin.conftest import AdminApi, assert_error
from tests.unit.admin.test_admin_idempotency import queued_jobs

AREA = {
    "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
    "label": "ショップ",
    "action": {"type": "uri", "uri": "https://shop.example/"},
}


def menus(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "menus": [
            {"id": "main", "name": "メイン", "size": "compact", "areas": [AREA]},
            {"id": "vip", "name": "VIP", "size": "compact", "areas": [AREA]},
        ],
        "default": "main",
        "rules": [{"menu": "vip", "segment": {"match": {"linked": True}}}],
    }
    body.update(overrides)
    return body


def test_every_problem_is_a_422_with_its_path(api: AdminApi) -> None:
    bad_area = {**AREA, "bounds": {"x": 2000, "y": 0, "width": 1250, "height": 843}}
    answer = api.call(
        "PUT",
        "/richmenus",
        menus(
            menus=[{"id": "main", "name": "メイン", "size": "compact", "areas": [bad_area]}],
            rules=[{"menu": "main", "segment": {"match": {"tag": "存在しない"}}}],
        ),
    )
    assert_error(answer, 422)
    fields = [error["field"] for error in answer.body["errors"]]
    assert fields == ["menus[0].areas[0]"]
    rules = api.call(
        "PUT",
        "/richmenus",
        menus(rules=[{"menu": "vip", "segment": {"match": {"tag": "存在しない"}}}]),
    )
    assert_error(rules, 422, "rules[0].segment.match.tag")
    assert queued_jobs(api) == []


def test_an_image_of_the_wrong_size_is_refused(api: AdminApi) -> None:
    small = BytesIO()
    Image.new("RGB", (800, 270)).save(small, format="PNG")
    image = base64.b64encode(small.getvalue()).decode()
    answer = api.call("PUT", "/richmenus", menus(images={"main": image, "nope": image}))
    assert_error(answer, 422)
    assert {e["field"] for e in answer.body["errors"]} == {"images.nope", "menus[0].image"}


def test_dry_run_stores_nothing_apply_queues_one_sync_and_a_repeat_nothing(api: AdminApi) -> None:
    dry = api.call("PUT", "/richmenus?dry_run=true", menus())
    assert dry.status == 200, dry.body
    assert dry.body["action"] == "would_apply"
    assert [(m["id"], m["change"], m["image"]) for m in dry.body["menus"]] == [
        ("main", "created", "generated"),
        ("vip", "created", "generated"),
    ]
    assert queued_jobs(api) == []
    assert api.call("GET", "/richmenus").status == 404

    applied = api.call("PUT", "/richmenus", menus())
    assert applied.status == 200, applied.body
    assert (applied.body["action"], applied.body["version"], applied.body["status"]) == (
        "applied",
        1,
        "syncing",
    )
    assert queued_jobs(api) == [
        {"kind": "richmenu_sync", "channel_id": api.channel_id, "version": 1}
    ]
    shown = api.call("GET", "/richmenus")
    assert (shown.body["status"], shown.body["phase"]) == ("syncing", "publish")
    again = api.call("PUT", "/richmenus", menus())
    assert (again.body["action"], again.body["version"]) == ("unchanged", 1)
    assert queued_jobs(api) == []  # the running sync covers it: no second job


def test_show_gives_the_set_as_written_and_each_menus_image(api: AdminApi) -> None:
    assert_error(api.call("GET", "/richmenus/main/image"), 404)
    given = BytesIO()
    Image.new("RGB", (2500, 843), "navy").save(given, format="JPEG")
    body = menus(images={"vip": base64.b64encode(given.getvalue()).decode()})
    assert api.call("PUT", "/richmenus", body).status == 200

    shown = api.call("GET", "/richmenus").body
    document = shown["document"]
    assert [m["id"] for m in document["menus"]] == ["main", "vip"]
    assert document["menus"][0]["areas"][0]["bounds"] == AREA["bounds"]
    assert document["menus"][0]["areas"][0]["action"]["uri"] == "https://shop.example/"
    assert document["rules"] == body["rules"] and document["default"] == "main"
    assert [(m["id"], m["image"]) for m in shown["menus"]] == [
        ("main", "generated"),
        ("vip", "given"),
    ]

    drawn = api.invoke("GET", "/richmenus/main/image")
    assert drawn["isBase64Encoded"] is True
    assert drawn["headers"]["Content-Type"] == "image/png"
    image = Image.open(BytesIO(base64.b64decode(drawn["body"])))
    assert (image.format, image.size) == ("PNG", (2500, 843))
    uploaded = api.invoke("GET", "/richmenus/vip/image")
    assert uploaded["headers"]["Content-Type"] == "image/jpeg"
    assert base64.b64decode(uploaded["body"]) == given.getvalue()
    missing = api.call("GET", "/richmenus/nope/image")
    assert_error(missing, 404)
    assert "no menu nope" in missing.body["message"]
