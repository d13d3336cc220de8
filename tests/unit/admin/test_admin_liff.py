"""PUT/GET/DELETE /admin/channels/{channel_id}/liff: the channel's LIFF setup."""

from __future__ import annotations

import pytest

from tests.unit.admin.conftest import AdminApi

LIFF = {
    "liff_id": "2000000002-AbCdEfGh",
    "member_card_fields": {"rank": "rank", "points": "pt"},
    "shop_target": "/mypage",
}


def test_the_liff_setup_lifecycle(api: AdminApi) -> None:
    assert api.call("GET", "/liff").status == 404

    stored = api.call("PUT", "/liff", LIFF)
    assert stored.status == 200 and stored.body == LIFF
    assert api.call("GET", "/liff").body == LIFF

    defaults = api.call("PUT", "/liff", {"liff_id": LIFF["liff_id"]}).body
    assert defaults["member_card_fields"] == {"rank": "rank", "points": "points"}
    hidden = {
        "liff_id": LIFF["liff_id"],
        "member_card_fields": {"rank": None, "points": None},
        "shop_target": "/",
    }
    assert api.call("PUT", "/liff", hidden).body == hidden

    assert api.call("DELETE", "/liff").status == 204
    assert api.call("GET", "/liff").status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"liff_id": "not a liff id"}, "liff_id"),
        ({"liff_id": "2000000002-AbC/../x"}, "liff_id"),
        ({}, "liff_id"),
        ({"liff_id": "2000000002-AbCdEfGh", "member_card_fields": {"rank": "Rank!"}}, "rank"),
        ({"liff_id": "2000000002-AbCdEfGh", "member_card_fields": {"tier": "x"}}, "tier"),
        ({"liff_id": "2000000002-AbCdEfGh", "extra": 1}, "extra"),
        ({"liff_id": "2000000002-AbCdEfGh", "shop_target": "//evil.example"}, "shop_target"),
        ({"liff_id": "2000000002-AbCdEfGh", "shop_target": "https://evil"}, "shop_target"),
        ({"liff_id": "2000000002-AbCdEfGh", "shop_target": "/\\evil"}, "shop_target"),
    ],
)
def test_a_bad_setup_is_422_naming_the_field(
    api: AdminApi, body: dict[str, object], field: str
) -> None:
    answer = api.call("PUT", "/liff", body)
    assert answer.status == 422, answer.body
    assert field in answer.body["field"]
    assert api.call("GET", "/liff").status == 404
