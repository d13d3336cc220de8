"""The control API under /_emulator/ and the HTML page."""

from __future__ import annotations

from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator

from .conftest import CHANNEL_ID, EmulatorFactory, WebhookReceiver, push


def test_friends_simulate_inbox_and_calls(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url)
    client = Client(emulator.wsgi_app)
    created = client.post(f"/_emulator/channels/{CHANNEL_ID}/friends", json={"displayName": "Ken"})
    assert created.status_code == 201
    user = created.json["userId"]
    assert [
        f["displayName"] for f in client.get(f"/_emulator/channels/{CHANNEL_ID}/friends").json
    ] == ["Ken"]

    result = client.post(
        f"/_emulator/channels/{CHANNEL_ID}/simulate",
        json={"type": "text", "userId": user, "text": "hi"},
    ).json
    assert (result["status"], result["userId"], result["attempts"]) == (200, user, 1)
    assert len(result["webhookEventId"]) == 26

    follow = client.post(f"/_emulator/channels/{CHANNEL_ID}/simulate", json={"type": "follow"}).json
    assert follow["status"] == 200
    assert follow["userId"] != user
    assert len(client.get(f"/_emulator/channels/{CHANNEL_ID}/friends").json) == 2

    assert push(client, user).status_code == 200
    inbox = client.get(f"/_emulator/inbox/{user}").json
    assert [(m["endpoint"], m["message"]["text"]) for m in inbox] == [("push", "hello")]
    calls = client.get("/_emulator/calls?endpoint=push").json
    assert [(c["endpoint"], c["status"]) for c in calls] == [("push", 200)]
    assert client.get("/_emulator/calls?endpoint=reply").json == []

    assert client.post("/_emulator/reset").status_code == 200
    assert client.get(f"/_emulator/inbox/{user}").json == []
    assert client.get("/_emulator/calls").json == []


def test_faults_over_http(client: Client, emulator: LineEmulator) -> None:
    user = emulator.add_friend(CHANNEL_ID).user_id
    answer = client.put("/_emulator/faults", json={"endpoint": "push", "error_500": 1, "seed": 1})
    assert answer.status_code == 200
    assert answer.json["push"]["error_500"] == 1.0
    assert push(client, user).status_code == 500
    assert client.delete("/_emulator/faults").status_code == 200
    assert push(client, user).status_code == 200


def test_bad_control_requests_get_reasons(client: Client, emulator: LineEmulator) -> None:
    cases = [
        client.put("/_emulator/faults", json={"endpoint": "push", "error_500": "lots"}),
        client.put("/_emulator/faults", json={"endpoint": "push", "error_500": 2}),
        client.put("/_emulator/faults", json={"endpoint": "nowhere", "error_500": 0.1}),
        client.put("/_emulator/faults", json={"endpoint": "push", "explode": 1}),
        client.put("/_emulator/faults", data=b"[1,2"),
        client.post(f"/_emulator/channels/{CHANNEL_ID}/simulate", json={"type": "dance"}),
        client.post(
            f"/_emulator/channels/{CHANNEL_ID}/simulate", json={"type": "text", "text": "x"}
        ),
        client.post(f"/_emulator/channels/{CHANNEL_ID}/friends", json={"userId": 42}),
        client.post(f"/_emulator/channels/{CHANNEL_ID}/id-token", json={}),
        client.post(f"/_emulator/channels/{CHANNEL_ID}/id-token", json={"userId": "hanako"}),
    ]
    assert [r.status_code for r in cases] == [400] * len(cases)
    assert all(r.json["message"] for r in cases)
    missing = [
        client.post("/_emulator/channels/999/friends", json={}),
        client.post(
            f"/_emulator/channels/{CHANNEL_ID}/simulate",
            json={"type": "text", "userId": "U" + "0" * 32, "text": "x"},
        ),
        client.get("/_emulator/nothing"),
    ]
    assert [r.status_code for r in missing] == [404, 404, 404]
    blocked = emulator.add_friend(CHANNEL_ID).user_id
    emulator.simulate_unfollow(CHANNEL_ID, blocked)
    answer = client.post(
        f"/_emulator/channels/{CHANNEL_ID}/simulate",
        json={"type": "text", "userId": blocked, "text": "x"},
    )
    assert answer.status_code == 400


def test_id_token_channels_and_page(client: Client, emulator: LineEmulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "<Mika>").user_id
    token = client.post(f"/_emulator/channels/{CHANNEL_ID}/id-token", json={"userId": user}).json[
        "idToken"
    ]
    verified = client.post("/oauth2/v2.1/verify", data={"id_token": token, "client_id": CHANNEL_ID})
    assert verified.json["sub"] == user
    assert [c["channelId"] for c in client.get("/_emulator/channels").json] == [
        CHANNEL_ID,
        "2000000002",
    ]
    push(client, user)
    page = client.get("/_emulator/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "&lt;Mika&gt;" in html
    assert "http-equiv='refresh'" in html
    assert "hello" in html
