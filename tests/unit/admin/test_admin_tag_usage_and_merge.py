"""Admin API, tags: usage counts kept as counters (every path that changes tags), and
merging one tag into another (paged, idempotent; the merged tag deleted at the end)."""

from __future__ import annotations

import pytest

from linecrm.admin.services import tags as tags_module
from linecrm_local.aws_calls import count_aws_calls
from tests.unit.admin.conftest import AdminApi, assert_error, user

pytestmark = pytest.mark.usefixtures("aws")


def counts(api: AdminApi) -> dict[str, int]:
    answer = api.call("GET", "/tags")
    assert answer.status == 200, answer.body
    return {tag["name"]: tag["friend_count"] for tag in answer.body["tags"]}


def test_counts_follow_adds_removes_and_deletes(api: AdminApi) -> None:
    api.tag("VIP")
    api.tag("New")
    everyone = [user(n) for n in range(1, 11)]
    api.follow(*everyone)
    api.call("POST", "/friends/bulk", {"user_ids": everyone, "add_tags": ["VIP"]})
    api.call("POST", "/friends/bulk", {"user_ids": everyone[:3], "add_tags": ["VIP", "New"]})
    assert counts(api) == {"VIP": 10, "New": 3}  # adding a tag held already counts nothing
    api.call("PATCH", f"/friends/{everyone[0]}", {"remove_tags": ["VIP"]})
    api.call("PATCH", f"/friends/{everyone[0]}", {"remove_tags": ["VIP"]})
    assert counts(api) == {"VIP": 9, "New": 3}
    assert api.call("DELETE", f"/friends/{everyone[1]}").status == 204
    assert counts(api) == {"VIP": 8, "New": 2}
    with count_aws_calls() as calls:
        counts(api)
    # the config (a Query) and the 16 counter shards (one BatchGetItem), no scan
    assert calls.by_operation("dynamodb") == {
        "dynamodb.Query": 1,
        "dynamodb.BatchGetItem": 1,
    }, calls.by_operation()


def test_merge_moves_every_friend_in_pages_then_deletes_the_tag(
    api: AdminApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tags_module, "MERGE_PAGE", 4)
    old = api.tag("Old")
    new = api.tag("New")
    everyone = [user(n) for n in range(1, 11)]
    api.follow(*everyone)
    api.call("POST", "/friends/bulk", {"user_ids": everyone, "add_tags": ["Old"]})
    api.call("POST", "/friends/bulk", {"user_ids": everyone[:2], "add_tags": ["New"]})

    answers = []
    while True:
        answer = api.call("POST", f"/tags/{old}/merge", {"into": "New"})
        assert answer.status == 200, answer.body
        answers.append(answer.body)
        if answer.body["done"]:
            break
    assert [a["moved"] for a in answers] == [4, 4, 2]
    assert answers[-1] == {"source": old, "into": new, "moved": 2, "done": True}
    assert counts(api) == {"New": 10}
    members = api.call("GET", "/friends", query={"tag": "New", "limit": 50}).body["friends"]
    assert [f["user_id"] for f in members] == everyone
    assert_error(api.call("POST", f"/tags/{old}/merge", {"into": "New"}), 404)


def test_merge_refusals(api: AdminApi) -> None:
    vip = api.tag("VIP")
    assert_error(api.call("POST", f"/tags/{vip}/merge", {"into": "VIP"}), 422, "into")
    assert_error(api.call("POST", f"/tags/{vip}/merge", {"into": "nope"}), 422, "into")
    assert_error(api.call("POST", "/tags/tag_nope/merge", {"into": "VIP"}), 404)
