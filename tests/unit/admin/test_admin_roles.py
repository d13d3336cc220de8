"""Roles, enforced by the admin function (docs/staff.md): who the caller is, from what
API Gateway's authorizer passed, and what each role may do on every route."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm.admin.api import build_app
from linecrm.admin.params import admin_services
from linecrm.admin.staff import (
    PERMISSIONS,
    ROLE_GRANTS,
    Need,
    NoIdentity,
    Role,
    StaffIdentity,
    identity_from_authorizer,
    role_from_groups,
)
from tests.support.lambda_support import (
    MACHINE_AUTHORIZER,
    FakeLambdaContext,
    http_event,
    load_handler,
    response_json,
    staff_authorizer,
)
from tests.unit.admin.conftest import AdminApi, user

ALICE = user(1)


def _claims(**claims: Any) -> dict[str, Any]:
    return {"jwt": {"claims": claims, "scopes": None}}


# ---------------------------------------------------------------- identity
def test_an_iam_caller_is_a_machine_with_the_owners_rights() -> None:
    assert identity_from_authorizer(MACHINE_AUTHORIZER) == StaffIdentity(
        subject="AIDAEXAMPLECALLER",
        display="arn:aws:iam::123456789012:user/linecrm-cli",
        role=Role.owner,
        kind="machine",
    )


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        ("[marketer]", Role.marketer),  # how HTTP API renders the array claim
        ("[operator marketer]", Role.marketer),  # several: the strongest
        ("[viewer owner]", Role.owner),
        (["operator"], Role.operator),  # a list, as in the token itself
        ("viewer", Role.viewer),
        ("owner,viewer", Role.owner),
        ("[]", None),
        ("[admins]", None),
        (None, None),
        (7, None),
    ],
)
def test_the_role_is_the_strongest_known_cognito_group(groups: Any, role: Role | None) -> None:
    assert role_from_groups(groups) == role


def test_a_staff_member_is_their_email_and_their_group() -> None:
    identity = identity_from_authorizer(
        _claims(sub="abc", email="sato@shop.example", **{"cognito:groups": "[operator]"})
    )
    assert identity == StaffIdentity("abc", "sato@shop.example", Role.operator, "staff")
    # An access token has no email: its username is shown.
    assert (
        identity_from_authorizer(
            _claims(sub="abc", username="sato", **{"cognito:groups": "[viewer]"})
        ).display
        == "sato"
    )


@pytest.mark.parametrize(
    ("authorizer", "reason"),
    [
        (None, "no identity"),
        ({}, "no identity"),
        ({"lambda": {"x": 1}}, "no identity"),
        (_claims(email="a@b.example", **{"cognito:groups": "[owner]"}), "no identity"),
        (_claims(sub="abc"), "no role"),
        (_claims(sub="abc", **{"cognito:groups": "[admins]"}), "no role"),
    ],
)
def test_no_identity_or_no_role_is_refused(authorizer: Any, reason: str) -> None:
    with pytest.raises(NoIdentity, match=reason):
        identity_from_authorizer(authorizer)


# ---------------------------------------------------------------- the table
def _routes_of_the_admin_function() -> set[tuple[str, str]]:
    app = load_handler("admin").app
    return {(route.method, route.path) for route in (*app._static_routes, *app._dynamic_routes)}


def test_every_route_of_the_admin_function_has_a_permission_entry() -> None:
    missing = sorted(_routes_of_the_admin_function() - set(PERMISSIONS))
    assert not missing, (
        "routes without an entry in linecrm.admin.staff.PERMISSIONS (they answer 403 "
        f"to everyone until they get one): {missing}"
    )


def test_the_grants_follow_the_roles_contract() -> None:
    assert ROLE_GRANTS[Role.owner] == frozenset(Need)
    assert Need.staff not in ROLE_GRANTS[Role.marketer]
    assert Need.change not in ROLE_GRANTS[Role.viewer] | ROLE_GRANTS[Role.operator]
    assert Need.read not in ROLE_GRANTS[Role.operator]
    # A viewer reads every GET a marketer can, nothing else.
    for (method, _path), need in PERMISSIONS.items():
        if method == "GET" and need in ROLE_GRANTS[Role.marketer]:
            assert need in ROLE_GRANTS[Role.viewer] or need is Need.chat_read
        if method != "GET" and need not in (Need.read, Need.public):
            assert need not in ROLE_GRANTS[Role.viewer], (method, _path)


def test_a_route_without_an_entry_is_refused_to_everyone() -> None:
    app = build_app(admin_services)

    @app.get("/admin/unlisted")
    def unlisted() -> dict[str, str]:
        return {"ok": "yes"}

    event = http_event("GET", "/admin/unlisted", route="/admin/{proxy+}")
    answer = app.resolve(event, FakeLambdaContext())
    assert answer["statusCode"] == 403
    assert "no entry in the permission table" in response_json(answer)["message"]


# ---------------------------------------------------------------- roles × routes
def _as(role: str) -> dict[str, Any]:
    return staff_authorizer(role)


def _status(api: AdminApi, role: str, method: str, path: str, body: Any = None) -> int:
    answer = api.call(method, path, body, authorizer=_as(role))
    if answer.status == 403:
        assert f"role {role} may not" in answer.body["message"], answer.body
    return answer.status


# (method, path, body) -> the status per role: owner, marketer, operator, viewer
_CASES: list[tuple[str, str, Any, tuple[int, int, int, int]]] = [
    ("GET", "/friends", None, (200, 200, 200, 200)),
    ("GET", f"/friends/{ALICE}", None, (200, 200, 200, 200)),
    ("GET", "/tags", None, (200, 200, 200, 200)),
    ("GET", "/broadcasts", None, (200, 200, 403, 200)),
    ("GET", "/rules", None, (200, 200, 403, 200)),
    ("GET", "/deliveries", None, (200, 200, 403, 200)),
    ("GET", "/scenarios", None, (200, 200, 403, 200)),
    ("GET", "/delivery-policy", None, (200, 200, 403, 200)),
    ("GET", "/admin/login-keys", None, (200, 200, 403, 200)),
    ("POST", "/rules/test", {"text": "hello"}, (200, 200, 403, 200)),
    ("POST", "/tags", {"name": "VIP"}, (201, 409, 403, 403)),
    ("PATCH", f"/friends/{ALICE}", {"add_tags": ["VIP"]}, (200, 200, 200, 403)),
    ("PUT", "/delivery-policy", {"quiet_hours": None}, (200, 200, 403, 403)),
    ("POST", "/broadcasts", {"messages": []}, (422, 422, 403, 403)),
    ("DELETE", "/business-hours", None, (204, 204, 403, 403)),
    ("PUT", f"/friends/{ALICE}/chat-mode", {}, (200, 200, 200, 403)),
    ("DELETE", f"/friends/{ALICE}/chat-mode", None, (200, 200, 200, 403)),
]


def test_every_role_on_representative_routes(api: AdminApi) -> None:
    api.follow(ALICE)
    wrong: list[str] = []
    for method, path, body, expected in _CASES:
        for role, status in zip(("owner", "marketer", "operator", "viewer"), expected, strict=True):
            got = _status(api, role, method, path, body)
            if got != status:
                wrong.append(f"{role} {method} {path}: {got}, expected {status}")
    assert not wrong, wrong


def test_forbidden_is_403_with_the_reason(api: AdminApi) -> None:
    answer = api.call("POST", "/broadcasts", {"messages": []}, authorizer=_as("operator"))
    assert answer.status == 403
    assert answer.body["message"] == (
        "forbidden: role operator may not change POST /admin/channels/{channel_id}/broadcasts "
        "(operator: chat, reading friends and tagging them only)"
    )
    viewer = api.call("POST", "/tags", {"name": "x"}, authorizer=_as("viewer"))
    assert "role viewer may not change" in viewer.body["message"]
    assert "read only" in viewer.body["message"]


def test_an_operator_tags_a_friend_but_sets_no_field_values(api: AdminApi) -> None:
    api.follow(ALICE)
    api.tag("VIP")
    answer = api.call(
        "PATCH",
        f"/friends/{ALICE}",
        {"add_tags": ["VIP"], "set_fields": {"plan": "gold"}},
        authorizer=_as("operator"),
    )
    assert answer.status == 403
    assert "only add or remove tags" in answer.body["message"]
    assert "set_fields" in answer.body["message"]


def test_no_role_and_no_identity_are_refused(api: AdminApi) -> None:
    no_group = _claims(sub="abc", email="new@shop.example")
    answer = api.call("GET", "/friends", authorizer=no_group)
    assert answer.status == 403
    assert answer.body["message"].startswith("no role")
    nobody = api.call("GET", "/friends", authorizer={})
    assert nobody.status == 403
    assert nobody.body["message"].startswith("no identity")


def test_the_api_description_is_public(api: AdminApi) -> None:
    assert api.call("GET", "/admin/openapi.json", authorizer={}).status == 200


def test_chat_mode_shows_the_signed_in_staff_member(api: AdminApi) -> None:
    api.follow(ALICE)
    taken = api.call(
        "PUT",
        f"/friends/{ALICE}/chat-mode",
        {"staff": "someone else"},
        authorizer=staff_authorizer("operator", "sato@shop.example"),
    )
    assert taken.status == 200, taken.body
    assert taken.body["chat_mode"]["staff"] == "sato@shop.example"
    # A machine caller names the staff member.
    named = api.call("PUT", f"/friends/{ALICE}/chat-mode", {"staff": "Sato"})
    assert named.body["chat_mode"]["staff"] == "Sato"


def test_the_staff_routes_are_the_same_routes_under_staff(api: AdminApi) -> None:
    """On AWS the console calls /staff/admin/… (the JWT authorizer's routes)."""
    event = http_event(
        "GET",
        f"/staff/admin/channels/{api.channel_id}/friends",
        route="/staff/admin/{proxy+}",
        authorizer=staff_authorizer("viewer"),
    )
    answer = api.handler.lambda_handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 200, answer
    refused = http_event(
        "POST",
        f"/staff/admin/channels/{api.channel_id}/tags",
        route="/staff/admin/{proxy+}",
        body='{"name": "x"}',
        headers={"content-type": "application/json"},
        authorizer=staff_authorizer("viewer"),
    )
    assert api.handler.lambda_handler(refused, FakeLambdaContext())["statusCode"] == 403


def test_every_caller_may_ask_who_they_are(api: AdminApi) -> None:
    operator = api.call("GET", "/admin/me", authorizer=staff_authorizer("operator"))
    assert operator.status == 200, operator.body
    assert operator.body["role"] == "operator"
    assert operator.body["kind"] == "staff"
    assert operator.body["display"] == "operator@demo.linecrm.local"
    assert "chat" in operator.body["grants"]
    assert "change" not in operator.body["grants"]
    machine = api.call("GET", "/admin/me")
    assert (machine.body["role"], machine.body["kind"]) == ("owner", "machine")
