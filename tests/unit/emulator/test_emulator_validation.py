"""Request bodies are checked against LINE's OpenAPI schemas, subtypes included."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator

from .conftest import CHANNEL_ID, auth, post, push, text


@pytest.fixture
def friend_id(emulator: LineEmulator) -> str:
    return emulator.add_friend(CHANNEL_ID, "Taro").user_id


def details(body: Any) -> list[tuple[str, str]]:
    return [(d["property"], d["message"]) for d in body["details"]]


def test_valid_push_is_accepted(client: Client, friend_id: str) -> None:
    response = push(
        client, friend_id, text("hi"), {"type": "sticker", "packageId": "1", "stickerId": "1"}
    )
    assert response.status_code == 200
    assert len(response.json["sentMessages"]) == 2


def test_text_message_without_text_is_rejected(client: Client, friend_id: str) -> None:
    response = push(client, friend_id, {"type": "text"})
    assert response.status_code == 400
    assert response.json["message"] == "The request body has 1 error(s)"
    assert details(response.json) == [("messages[0].text", "Must be specified")]


def test_unknown_message_type_is_rejected(client: Client, friend_id: str) -> None:
    response = push(client, friend_id, text(), {"type": "hologram", "text": "x"})
    assert response.status_code == 400
    assert [prop for prop, _ in details(response.json)] == ["messages[1].type"]


def test_more_than_five_messages_are_rejected(client: Client, friend_id: str) -> None:
    response = push(client, friend_id, *[text()] * 6)
    assert response.status_code == 400
    assert details(response.json) == [("messages", "Size must be between 1 and 5")]


def test_text_longer_than_5000_characters_is_rejected(client: Client, friend_id: str) -> None:
    assert push(client, friend_id, text("x" * 5000)).status_code == 200
    response = push(client, friend_id, text("x" * 5001))
    assert response.status_code == 400
    assert [prop for prop, _ in details(response.json)] == ["messages[0].text"]


def test_nested_subtypes_are_checked_too(client: Client, friend_id: str) -> None:
    template = {
        "type": "template",
        "altText": "menu",
        "template": {"type": "buttons", "text": "pick", "actions": [{"type": "teleport"}]},
    }
    response = push(client, friend_id, template)
    assert response.status_code == 400
    assert [p for p, _ in details(response.json)] == ["messages[0].template.actions[0].type"]


def test_missing_required_fields_and_wrong_types(client: Client) -> None:
    response = post(client, "/v2/bot/message/push", {"messages": "hello"})
    assert response.status_code == 400
    assert {p for p, _ in details(response.json)} == {"messages", "to"}


def test_multicast_of_more_than_500_ids_is_rejected(client: Client) -> None:
    ids = [f"U{i:032x}" for i in range(501)]
    response = post(client, "/v2/bot/message/multicast", {"to": ids, "messages": [text()]})
    assert response.status_code == 400
    assert details(response.json) == [("to", "Size must be between 1 and 500")]


def test_bad_json_is_a_400(client: Client) -> None:
    response = client.post("/v2/bot/message/push", data=b"{not json", headers=auth())
    assert response.status_code == 400
    assert response.json["message"].startswith("The request body could not be parsed as JSON")


def test_unknown_path_is_404_and_wrong_method_405(client: Client) -> None:
    assert client.get("/v2/bot/nothing", headers=auth()).json == {"message": "Not found"}
    assert client.get("/v2/bot/message/push", headers=auth()).status_code == 405


def test_text_length_is_counted_in_utf16_units_as_line_does(client: Client, friend_id: str) -> None:
    # 2,500 × 😀 is 2,500 code points but 5,000 UTF-16 units: exactly LINE's limit.
    assert push(client, friend_id, text("😀" * 2500)).status_code == 200
    response = push(client, friend_id, text("😀" * 2600))  # 5,200 units
    assert response.status_code == 400
    assert details(response.json) == [("messages[0].text", "Length must be between 0 and 5000")]
    v2 = {"type": "textV2", "text": "😀" * 2501}
    assert [p for p, _ in details(push(client, friend_id, v2).json)] == ["messages[0].text"]


def test_alt_text_over_1500_utf16_units_is_rejected(client: Client, friend_id: str) -> None:
    def flex(alt_text: str) -> dict[str, Any]:
        return {
            "type": "flex",
            "altText": alt_text,
            "contents": {
                "type": "bubble",
                "body": {"type": "box", "layout": "vertical", "contents": []},
            },
        }

    assert push(client, friend_id, flex("😀" * 750)).status_code == 200
    response = push(client, friend_id, flex("😀" * 751))
    assert response.status_code == 400
    assert details(response.json) == [("messages[0].altText", "Length must be between 0 and 1500")]
