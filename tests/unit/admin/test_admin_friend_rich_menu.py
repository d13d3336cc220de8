"""Admin API, the friend's rich menu on ``GET /friends/{id}``: the menu the assignment
rules linked (by our id and name), else the channel's default, else none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from linecrm.repositories.rich_menus import RichMenuRepository, StoredMenuSet
from linecrm.richmenus.model import MenuSet
from linecrm.richmenus.sync import LineMenu
from tests.unit.admin.conftest import AdminApi, user
from tests.unit.admin.test_admin_rich_menus import menus

pytestmark = pytest.mark.usefixtures("aws")

ALICE, BOB = user(1), user(2)


def rich_menu(api: AdminApi, user_id: str) -> dict[str, object]:
    answer = api.call("GET", f"/friends/{user_id}")
    assert answer.status == 200, answer.body
    return answer.body["rich_menu"]


def test_assigned_then_default_then_none(api: AdminApi) -> None:
    api.follow(ALICE, BOB)
    assert rich_menu(api, ALICE) == {
        "source": "none",
        "menu_id": None,
        "name": None,
        "rich_menu_id": None,
    }
    RichMenuRepository(api.aws.client("dynamodb"), api.aws.resources.table_names["Main"]).save(
        StoredMenuSet(
            channel_id=api.channel_id,
            version=1,
            document=MenuSet.model_validate(menus()),
            image_keys={},
            fingerprints={},
            line={
                "main": LineMenu(rich_menu_id="richmenu-main", fingerprint="a"),
                "vip": LineMenu(rich_menu_id="richmenu-vip", fingerprint="b"),
            },
            default_rich_menu_id="richmenu-main",
            status="ready",
            applied_at=datetime.now(UTC),
        ),
        previous_version=None,
    )
    friends = api.friends
    assert friends.change_rich_menu(
        friends.rich_menu_change(api.channel_id, ALICE, None, "richmenu-vip")
    )

    assert rich_menu(api, ALICE) == {
        "source": "assigned",
        "menu_id": "vip",
        "name": "VIP",
        "rich_menu_id": "richmenu-vip",
    }
    assert rich_menu(api, BOB) == {
        "source": "default",
        "menu_id": "main",
        "name": "メイン",
        "rich_menu_id": "richmenu-main",
    }
