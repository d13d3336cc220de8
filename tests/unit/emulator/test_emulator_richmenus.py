"""Rich menus and audiences (including the data-API uploads)."""

from __future__ import annotations

import io

from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator

from .conftest import CHANNEL_ID, auth, post

MENU = {
    "size": {"width": 2500, "height": 843},
    "selected": True,
    "name": "main",
    "chatBarText": "Menu",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
            "action": {"type": "postback", "data": "menu=1"},
        }
    ],
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_rich_menu_lifecycle(client: Client, emulator: LineEmulator) -> None:
    user = emulator.add_friend(CHANNEL_ID).user_id
    menu_id = post(client, "/v2/bot/richmenu", MENU).json["richMenuId"]
    assert menu_id.startswith("richmenu-")
    early = client.post(f"/v2/bot/user/{user}/richmenu/{menu_id}", headers=auth())
    assert early.status_code == 400  # no image yet

    upload = client.post(
        f"/v2/bot/richmenu/{menu_id}/content",
        data=PNG,
        headers=auth(**{"Content-Type": "image/png"}),
    )
    assert upload.status_code == 200
    wrong_type = client.post(
        f"/v2/bot/richmenu/{menu_id}/content",
        data=PNG,
        headers=auth(**{"Content-Type": "text/plain"}),
    )
    assert wrong_type.status_code == 415

    assert client.post(f"/v2/bot/user/{user}/richmenu/{menu_id}", headers=auth()).status_code == 200
    assert client.get(f"/v2/bot/user/{user}/richmenu", headers=auth()).json == {
        "richMenuId": menu_id
    }
    assert client.delete(f"/v2/bot/user/{user}/richmenu", headers=auth()).status_code == 200
    assert client.get(f"/v2/bot/user/{user}/richmenu", headers=auth()).status_code == 404

    bulk = post(client, "/v2/bot/richmenu/bulk/link", {"richMenuId": menu_id, "userIds": [user]})
    assert bulk.status_code == 202
    assert emulator.friends(CHANNEL_ID)[0].linked_rich_menu_id == menu_id

    assert client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=auth()).status_code == 200
    assert client.get("/v2/bot/user/all/richmenu", headers=auth()).json == {"richMenuId": menu_id}

    alias = {"richMenuAliasId": "main", "richMenuId": menu_id}
    assert post(client, "/v2/bot/richmenu/alias", alias).status_code == 200
    assert post(client, "/v2/bot/richmenu/alias", alias).status_code == 400
    assert client.get("/v2/bot/richmenu/alias/main", headers=auth()).json == alias

    assert [
        m["richMenuId"]
        for m in client.get("/v2/bot/richmenu/list", headers=auth()).json["richmenus"]
    ] == [menu_id]
    assert client.delete(f"/v2/bot/richmenu/{menu_id}", headers=auth()).status_code == 200
    assert client.get(f"/v2/bot/richmenu/{menu_id}", headers=auth()).status_code == 404


def test_invalid_rich_menu_is_rejected(client: Client) -> None:
    response = post(
        client, "/v2/bot/richmenu", {**MENU, "areas": [{"bounds": {}, "action": {"type": "warp"}}]}
    )
    assert response.status_code == 400
    assert "areas[0].action.type" in [d["property"] for d in response.json["details"]]


def test_audience_upload_by_file_and_add(client: Client, emulator: LineEmulator) -> None:
    users = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(3)]
    response = client.post(
        "/v2/bot/audienceGroup/upload/byFile",
        data={
            "description": "file",
            "file": (io.BytesIO("\n".join(users[:2]).encode()), "ids.txt", "text/plain"),
        },
        headers=auth(),
    )
    assert response.status_code == 202
    group_id = response.json["audienceGroupId"]
    added = client.put(
        "/v2/bot/audienceGroup/upload",
        json={"audienceGroupId": group_id, "audiences": [{"id": users[2]}]},
        headers=auth(),
    )
    assert added.status_code == 202
    group = client.get(f"/v2/bot/audienceGroup/{group_id}", headers=auth()).json["audienceGroup"]
    assert group["audienceCount"] == 3
    no_file = client.post(
        "/v2/bot/audienceGroup/upload/byFile", data={"description": "x"}, headers=auth()
    )
    assert no_file.status_code == 400


def test_the_menu_a_friend_sees_linked_else_default_with_its_areas(
    client: Client, emulator: LineEmulator
) -> None:
    user = emulator.add_friend(CHANNEL_ID).user_id
    seen = f"/_emulator/channels/{CHANNEL_ID}/friends/{user}/richmenu"
    assert client.get(seen).status_code == 404  # no menu anywhere yet
    tracked = {
        **MENU,
        "name": "vip",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                "action": {"type": "uri", "uri": "https://liff.line.me/1-a/click?t=x"},
            }
        ],
    }
    ids = []
    for menu in (MENU, tracked):
        menu_id = post(client, "/v2/bot/richmenu", menu).json["richMenuId"]
        client.post(
            f"/v2/bot/richmenu/{menu_id}/content",
            data=PNG,
            headers=auth(**{"Content-Type": "image/png"}),
        )
        ids.append(menu_id)
    client.post(f"/v2/bot/user/all/richmenu/{ids[0]}", headers=auth())
    default = client.get(seen).json
    assert (default["richMenuId"], default["shown"], default["name"]) == (ids[0], "default", "main")

    client.post(f"/v2/bot/user/{user}/richmenu/{ids[1]}", headers=auth())
    linked = client.get(seen).json
    assert (linked["richMenuId"], linked["shown"]) == (ids[1], "linked")
    assert linked["areas"][0]["action"]["uri"] == "https://liff.line.me/1-a/click?t=x"
    assert (
        client.get(f"/_emulator/channels/{CHANNEL_ID}/friends/Unobody/richmenu").status_code == 404
    )
