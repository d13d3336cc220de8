"""The LINE client's rich menu calls against the emulator: the image goes to the
data-API host, aliases are created then re-pointed, bulk link and unlink work, and the
publisher + relinker drive them end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from linecrm.config import LineEndpoints
from linecrm.line.client import LineMessagingClient, RetryPolicy
from linecrm.richmenus.image import draw_menu
from linecrm.richmenus.model import MenuSet, menu_fingerprint
from linecrm.richmenus.sync import MenuPublisher
from linecrm_local.emulator import EmulatorConfig, LineEmulator
from linecrm_local.emulator.config import EmulatedChannel

CHANNEL_ID = "1650000009"
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "rich-menu-test-token"
AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, SECRET, TOKEN, None, "U" + "f" * 32)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


def _client(api: str, data_api: str) -> LineMessagingClient:
    return LineMessagingClient(
        TOKEN,
        LineEndpoints(api_base_url=api, data_api_base_url=data_api),
        retry_policy=RetryPolicy(max_attempts=1),
        sleep=lambda _s: None,
    )


def _set(name: str) -> MenuSet:
    area = {
        "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
        "label": "会員証",
        "action": {"type": "richmenuswitch", "to": "main"},
    }
    return MenuSet.model_validate(
        {
            "menus": [{"id": "main", "name": name, "size": "compact", "areas": [area]}],
            "default": "main",
        }
    )


def test_publish_relink_and_replace_through_the_emulator(emulator: LineEmulator) -> None:
    client = _client(emulator.base_url, emulator.base_url)
    state = emulator.state
    first_set = _set("メイン")
    images = {"main": draw_menu(first_set.menus[0])}
    prints = {"main": menu_fingerprint(first_set.menus[0], images["main"])}
    published = MenuPublisher(client).publish(first_set, prints, images.__getitem__, {}, None)
    main = published.menus["main"].rich_menu_id
    assert state.rich_menus[main].image_content_type == "image/png"
    assert state.rich_menu_aliases[CHANNEL_ID]["main"] == main
    assert state.default_rich_menu[CHANNEL_ID] == main

    friends = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(3)]
    client.bulk_link_rich_menu(main, friends)
    assert {state.friend(CHANNEL_ID, u).linked_rich_menu_id for u in friends} == {main}  # type: ignore[union-attr]
    client.bulk_unlink_rich_menu(friends[:2])
    assert state.friend(CHANNEL_ID, friends[0]).linked_rich_menu_id is None  # type: ignore[union-attr]

    second_set = _set("新メイン")
    second_image = draw_menu(second_set.menus[0])
    replaced = MenuPublisher(client).publish(
        second_set,
        {"main": menu_fingerprint(second_set.menus[0], second_image)},
        lambda _id: second_image,
        published.menus,
        main,
    )
    new_main = replaced.menus["main"].rich_menu_id
    assert state.rich_menu_aliases[CHANNEL_ID]["main"] == new_main  # re-pointed
    MenuPublisher(client).retire(replaced.retired)
    assert main not in state.rich_menus


def test_the_image_goes_to_the_data_api_host(emulator: LineEmulator) -> None:
    """With the data-API host pointing nowhere, the upload (and only it) fails."""
    client = _client(emulator.base_url, "http://127.0.0.1:9")
    menu_set = _set("メイン")
    rich_menu_id = client.create_rich_menu(menu_set.menus[0].to_line())
    with pytest.raises(Exception, match=r"Connection|connect|refused"):
        client.upload_rich_menu_image(rich_menu_id, draw_menu(menu_set.menus[0]), "image/png")


def test_find_rich_menus_names_the_menus_with_that_body(emulator: LineEmulator) -> None:
    client = _client(emulator.base_url, emulator.base_url)
    body = _set("メイン").menus[0].to_line()
    first = client.create_rich_menu(body)
    client.create_rich_menu(_set("ほか").menus[0].to_line())
    second = client.create_rich_menu(body)
    assert sorted(client.find_rich_menus(body)) == sorted([first, second])
    assert client.find_rich_menus(_set("ない").menus[0].to_line()) == []
