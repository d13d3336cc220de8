"""Web tag keys through the admin function: create (with the snippet), list, revoke;
bad origins and limits are 422 naming the field; a channel's 21st key is a 409."""

from __future__ import annotations

import pytest

from linecrm.domain.web_tag import KEY_PATTERN, MAX_KEYS_PER_CHANNEL
from tests.unit.admin.conftest import AdminApi, assert_error

pytestmark = pytest.mark.usefixtures("aws")
HOST = {"host": "api.example", "x-forwarded-proto": "https"}


def test_a_key_is_created_listed_and_revoked(api: AdminApi) -> None:
    created = api.call(
        "POST",
        "/web-tag/keys",
        {"origins": ["https://Shop.Example", "https://www.shop.example"], "label": "本店"},
        headers=HOST,
    )
    assert created.status == 201, created.body
    key = created.body["key"]
    assert KEY_PATTERN.fullmatch(key)
    assert created.body["origins"] == ["https://shop.example", "https://www.shop.example"]
    assert (created.body["rate_per_minute"], created.body["visitor_rate_per_minute"]) == (600, 60)
    snippet = created.body["snippet"]
    assert f'src="https://api.example/web/tag.js" data-key="{key}" async' in snippet
    assert "q:[]" in snippet  # calls queue up until the tag has loaded

    other = api.call("POST", "/web-tag/keys", {"origins": ["http://localhost:8123"]}).body["key"]
    listed = api.call("GET", "/web-tag/keys").body["keys"]
    assert [entry["key"] for entry in listed] == [key, other]

    assert api.call("DELETE", f"/web-tag/keys/{key}").status == 204
    assert_error(api.call("DELETE", f"/web-tag/keys/{key}"), 404)
    assert [entry["key"] for entry in api.call("GET", "/web-tag/keys").body["keys"]] == [other]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"origins": []}, "origins"),
        ({"origins": ["http://shop.example"]}, "origins"),
        ({"origins": ["https://shop.example/path"]}, "origins"),
        ({"origins": ["https://shop.example"], "rate_per_minute": 0}, "rate_per_minute"),
        (
            {"origins": ["https://shop.example"], "visitor_rate_per_minute": -1},
            "visitor_rate_per_minute",
        ),
        ({"origins": ["https://shop.example"], "secret": "x"}, "secret"),
    ],
)
def test_bad_keys_are_422_naming_the_field(
    api: AdminApi, body: dict[str, object], field: str
) -> None:
    answer = api.call("POST", "/web-tag/keys", body)
    assert answer.status == 422, answer.body
    assert str(answer.body["field"]).startswith(field), answer.body


def test_a_malformed_key_in_the_path_is_422(api: AdminApi) -> None:
    assert_error(api.call("DELETE", "/web-tag/keys/not-a-key"), 422)


def test_a_channel_has_at_most_so_many_keys(api: AdminApi) -> None:
    for _ in range(MAX_KEYS_PER_CHANNEL):
        assert (
            api.call("POST", "/web-tag/keys", {"origins": ["https://shop.example"]}).status == 201
        )
    answer = api.call("POST", "/web-tag/keys", {"origins": ["https://shop.example"]})
    assert_error(answer, 409)
    assert "revoke one" in answer.body["message"]
