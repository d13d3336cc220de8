"""The audit log (docs/staff.md#audit-log): every admin change that succeeded, who made
it, before and after for settings, rules, scenarios and broadcasts; listed newest
first; in a friend's export and gone with their erasure."""

from __future__ import annotations

from typing import Any

from tests.support.lambda_support import staff_authorizer
from tests.unit.admin.conftest import AdminApi, user

ALICE, BOB = user(1), user(2)


def _entries(api: AdminApi, **query: Any) -> list[dict[str, Any]]:
    answer = api.call("GET", "/audit", query=query or None)
    assert answer.status == 200, answer.body
    entries: list[dict[str, Any]] = answer.body["entries"]
    return entries


def test_a_change_is_kept_with_who_what_and_when(api: AdminApi) -> None:
    api.follow(ALICE)
    marketer = staff_authorizer("marketer", "mika@shop.example")
    assert api.call("POST", "/tags", {"name": "VIP"}, authorizer=marketer).status == 201
    patched = api.call("PATCH", f"/friends/{ALICE}", {"add_tags": ["VIP"]}, authorizer=marketer)
    assert patched.status == 200

    newest, created = _entries(api)[:2]
    assert newest["actor"] == {
        "subject": "sub-marketer",
        "display": "mika@shop.example",
        "role": "marketer",
        "kind": "staff",
    }
    assert newest["method"] == "PATCH"
    assert newest["route"] == "/admin/channels/{channel_id}/friends/{user_id}"
    assert newest["path"] == {"user_id": ALICE}
    assert newest["user_id"] == ALICE
    assert newest["summary"]
    assert newest["at"] >= created["at"]
    assert created["method"] == "POST"
    assert created["route"].endswith("/tags")


def test_reads_and_refused_changes_are_not_kept(api: AdminApi) -> None:
    api.call("GET", "/friends")
    api.call("POST", "/tags", {"name": ""})  # 422
    viewer = api.call("POST", "/tags", {"name": "x"}, authorizer=staff_authorizer("viewer"))
    assert viewer.status == 403
    assert _entries(api) == []


def test_settings_and_rules_keep_before_and_after(api: AdminApi) -> None:
    first = {"closed_dates": ["2025-05-01"]}
    assert api.call("PUT", "/business-hours", first).status == 200, "setup"
    second = {"closed_dates": ["2025-05-02"]}
    assert api.call("PUT", "/business-hours", second).status == 200

    changed, set_up = _entries(api)[:2]
    assert set_up["before"] is None
    assert changed["before"]["closed_dates"] == ["2025-05-01"]
    assert changed["after"]["closed_dates"] == ["2025-05-02"]
    # A machine caller (SigV4) is named by its IAM identity.
    assert changed["actor"]["kind"] == "machine"
    assert changed["actor"]["role"] == "owner"


def test_a_friends_export_has_the_changes_about_them_and_erasure_removes_them(
    api: AdminApi,
) -> None:
    api.follow(ALICE, BOB)
    api.tag("VIP")
    api.call("PATCH", f"/friends/{ALICE}", {"add_tags": ["VIP"]})
    api.call("POST", "/friends/bulk", {"user_ids": [ALICE, BOB], "remove_tags": ["VIP"]})

    about_alice = _entries(api, user_id=ALICE)
    assert [entry["method"] for entry in about_alice] == ["POST", "PATCH"]
    export = api.call("GET", f"/friends/{ALICE}/export")
    audit_items = [item for item in export.body["items"] if "#AUDIT" in str(item.get("pk"))]
    assert len(audit_items) == 2

    assert api.call("DELETE", f"/friends/{ALICE}").status == 204
    assert _entries(api, user_id=ALICE) == []
    # The bulk change stays, about Bob only; the erasure itself keeps no id of Alice's.
    (bulk,) = _entries(api, user_id=BOB)
    assert bulk["user_ids"] == [BOB]
    erased = _entries(api)[0]
    assert erased["method"] == "DELETE"
    assert ALICE not in str(erased)


def test_the_list_pages_newest_first(api: AdminApi) -> None:
    for name in ("a", "b", "c"):
        assert api.call("POST", "/tags", {"name": name}).status == 201
    first = api.call("GET", "/audit", query={"limit": 2})
    assert len(first.body["entries"]) == 2
    rest = api.call("GET", "/audit", query={"limit": 2, "cursor": first.body["next_cursor"]})
    assert len(rest.body["entries"]) == 1
    bad = api.call("GET", "/audit", query={"cursor": "nonsense"})
    assert bad.status == 422
    assert bad.body["field"] == "cursor"


def test_rules_keep_before_and_after_and_a_dry_run_is_no_change(api: AdminApi) -> None:
    from tests.unit.admin.test_admin_rules import DEFAULT_RULE, keyword_rule

    assert api.call("PUT", "/rules", {"rules": [DEFAULT_RULE]}).status == 200
    price = {"rules": [keyword_rule("price", "price"), DEFAULT_RULE]}
    assert api.call("PUT", "/rules", price, query={"dry_run": "true"}).status == 200
    assert len(_entries(api)) == 1
    assert api.call("PUT", "/rules", price).status == 200
    changed = _entries(api)[0]
    assert "price" not in str(changed["before"])
    assert "fallback" in str(changed["before"])
    assert "price" in str(changed["after"])
    # The GET route the "before" came from still answers normally.
    rules = api.call("GET", "/rules")
    assert rules.status == 200
    assert "price" in str(rules.body)


def test_changes_outside_a_channel_are_listed_for_the_owner_only(api: AdminApi) -> None:
    assert api.call("POST", "/admin/login-keys/rotate").status == 200
    listed = api.call("GET", "/admin/audit", query={"limit": 10})
    assert listed.status == 200, listed.body
    (rotated,) = listed.body["entries"]
    assert rotated["route"] == "/admin/login-keys/rotate"
    assert rotated["method"] == "POST"
    assert listed.body["next_cursor"] is None
    # Not in the channel's log; and the deployment's names the staff: owner only.
    assert _entries(api) == []
    marketer = api.call("GET", "/admin/audit", authorizer=staff_authorizer("marketer"))
    assert marketer.status == 403
    assert "role marketer may not" in marketer.body["message"]
    assert api.call("GET", "/admin/audit", authorizer=staff_authorizer("owner")).status == 200
