"""Staff sign-in on the local stack (docs/staff.md): each demo staff user logs in at
``POST /local/staff/login``; the gateway checks their token on the admin routes as API
Gateway's JWT authorizer would; the admin function enforces their role."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
import requests
from moto.utilities.utils import load_resource

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID, DEMO_STAFF_PASSWORD
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

CHANNEL = f"/admin/channels/{DEMO_CHANNEL_ID}"


def _login(stack: LocalStack, email: str, password: str = DEMO_STAFF_PASSWORD) -> requests.Response:
    return requests.post(
        f"{stack.gateway_url}/local/staff/login",
        json={"email": email, "password": password},
        timeout=10,
    )


def _token(stack: LocalStack, role: str) -> str:
    answer = _login(stack, f"{role}@demo.linecrm.local")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["role"] == role
    assert body["email"] == f"{role}@demo.linecrm.local"
    assert body["expires_in"] == 3600
    token: str = body["token"]
    return token


def _call(
    stack: LocalStack, token: str, method: str, path: str, body: Any = None
) -> requests.Response:
    return requests.request(
        method,
        f"{stack.gateway_url}{CHANNEL}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_every_demo_staff_user_logs_in_with_their_role(local_stack: LocalStack) -> None:
    assert sorted(role.value for _email, role in local_stack.demo_staff) == [
        "marketer",
        "operator",
        "owner",
        "viewer",
    ]
    for role in ("owner", "marketer", "operator", "viewer"):
        token = _token(local_stack, role)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["token_use"] == "id"
        assert claims["cognito:groups"] == [role]


def test_what_each_role_may_do(local_stack: LocalStack) -> None:
    viewer = _token(local_stack, "viewer")
    assert _call(local_stack, viewer, "GET", "/friends").status_code == 200
    refused = _call(local_stack, viewer, "POST", "/tags", {"name": "staff-test"})
    assert refused.status_code == 403
    assert "role viewer may not change" in refused.json()["message"]

    operator = _token(local_stack, "operator")
    assert _call(local_stack, operator, "GET", "/friends").status_code == 200
    broadcast = _call(local_stack, operator, "POST", "/broadcasts", {"name": "x"})
    assert broadcast.status_code == 403
    assert "role operator may not" in broadcast.json()["message"]

    marketer = _token(local_stack, "marketer")
    assert _call(local_stack, marketer, "POST", "/tags", {"name": "staff-test"}).status_code == 201
    staff = requests.get(
        f"{local_stack.gateway_url}/admin/staff",
        headers={"Authorization": f"Bearer {marketer}"},
        timeout=10,
    )
    assert staff.status_code == 403
    assert "role marketer may not" in staff.json()["message"]

    # The admin token still works: a machine, with the owner's rights.
    machine = _call(local_stack, DEMO_ADMIN_TOKEN, "GET", "/friends")
    assert machine.status_code == 200


def test_a_wrong_password_is_401_and_a_request_not_json_400(local_stack: LocalStack) -> None:
    wrong = _login(local_stack, "owner@demo.linecrm.local", "not-the-password")
    assert wrong.status_code == 401
    assert "wrong email or password" in wrong.json()["message"]
    assert _login(local_stack, "nobody@demo.linecrm.local").status_code == 401
    not_json = requests.post(
        f"{local_stack.gateway_url}/local/staff/login", data=b"email=x", timeout=10
    )
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["message"], not_json.text
    missing = requests.post(f"{local_stack.gateway_url}/local/staff/login", json={}, timeout=10)
    assert missing.status_code == 400
    assert '"email"' in missing.json()["message"], missing.text


def _signed(claims: dict[str, Any]) -> str:
    """A token signed with moto's own Cognito key (what only Cognito could sign)."""
    private = jwt.PyJWK.from_dict(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode(claims, private.key, algorithm="RS256", headers={"kid": private.key_id})


def test_an_expired_or_tampered_token_is_401(local_stack: LocalStack) -> None:
    token = _token(local_stack, "viewer")
    claims = jwt.decode(token, options={"verify_signature": False})

    # A viewer who makes themselves an owner: the signature no longer verifies.
    header, _payload, signature = token.split(".")
    raised = {**claims, "cognito:groups": ["owner"]}
    forged = base64.urlsafe_b64encode(json.dumps(raised).encode()).rstrip(b"=").decode()
    tampered = _call(local_stack, f"{header}.{forged}.{signature}", "GET", "/friends")
    assert tampered.status_code == 401
    assert "signature" in tampered.json()["message"]

    expired = _signed({**claims, "exp": int(time.time()) - 60})
    answer = _call(local_stack, expired, "GET", "/friends")
    assert answer.status_code == 401
    assert "expired" in answer.json()["message"]

    other_client = _signed({**claims, "aud": "another-app-client"})
    assert _call(local_stack, other_client, "GET", "/friends").status_code == 401
    other_pool = _signed({**claims, "iss": "https://cognito-idp.ap-northeast-1.amazonaws.com/x"})
    assert _call(local_stack, other_pool, "GET", "/friends").status_code == 401
    # The same claims, signed properly, pass: the checks above are the ones that refused.
    assert _call(local_stack, _signed(claims), "GET", "/friends").status_code == 200


def test_make_dev_prints_the_demo_staff(local_stack: LocalStack) -> None:
    from linecrm_local.dev import banner

    shown = banner(local_stack)
    assert f"{local_stack.gateway_url}/local/staff/login" in shown
    assert DEMO_STAFF_PASSWORD in shown
    for role in ("owner", "marketer", "operator", "viewer"):
        assert f"{role}@demo.linecrm.local" in shown


def test_the_audit_log_names_the_staff_member(local_stack: LocalStack) -> None:
    from linecrm_local import cli

    marketer = _token(local_stack, "marketer")
    made = _call(local_stack, marketer, "POST", "/tags", {"name": "audited-by-marketer"})
    assert made.status_code == 201, made.text
    args = cli.build_parser().parse_args(
        [
            "audit",
            "--api-url",
            local_stack.gateway_url,
            "--token",
            DEMO_ADMIN_TOKEN,
            "--channel",
            DEMO_CHANNEL_ID,
        ]
    )
    newest = cli.run(args)["entries"][0]
    assert newest["actor"]["display"] == "marketer@demo.linecrm.local"
    assert newest["actor"]["role"] == "marketer"
    assert newest["route"] == "/admin/channels/{channel_id}/tags"


def test_the_staff_routes_take_a_staff_token_only(local_stack: LocalStack) -> None:
    url = f"{local_stack.gateway_url}/staff{CHANNEL}/friends"
    operator = _token(local_stack, "operator")
    ok = requests.get(url, headers={"Authorization": f"Bearer {operator}"}, timeout=10)
    assert ok.status_code == 200, ok.text
    machine = requests.get(url, headers={"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}, timeout=10)
    assert machine.status_code == 401
    assert requests.get(url, timeout=10).status_code == 401


def _staff_cli(stack: LocalStack, *arguments: str) -> Any:
    from linecrm_local import cli

    connection = ["--api-url", stack.gateway_url, "--token", DEMO_ADMIN_TOKEN]
    return cli.run(cli.build_parser().parse_args(["staff", *arguments, *connection]))


def test_the_owner_manages_staff_users(local_stack: LocalStack) -> None:
    listed = {user["email"]: user for user in _staff_cli(local_stack, "list")["users"]}
    assert listed["viewer@demo.linecrm.local"]["role"] == "viewer"
    assert listed["owner@demo.linecrm.local"]["enabled"] is True

    added = _staff_cli(local_stack, "add", "sato@shop.example", "--role", "operator")
    assert added["role"] == "operator"
    assert added["status"] == "FORCE_CHANGE_PASSWORD"
    changed = _staff_cli(local_stack, "role", "sato@shop.example", "marketer")
    assert changed["role"] == "marketer"
    again = {user["email"]: user for user in _staff_cli(local_stack, "list")["users"]}
    assert again["sato@shop.example"]["role"] == "marketer"

    # An owner signed in to the console: the same routes; not for a marketer.
    owner = _token(local_stack, "owner")
    url = f"{local_stack.gateway_url}/admin/staff"
    dup = requests.post(
        url,
        json={"email": "sato@shop.example", "role": "viewer"},
        headers={"Authorization": f"Bearer {owner}"},
        timeout=10,
    )
    assert dup.status_code == 409
    itself = requests.delete(
        f"{url}/owner@demo.linecrm.local", headers={"Authorization": f"Bearer {owner}"}, timeout=10
    )
    assert itself.status_code == 409

    _staff_cli(local_stack, "add", "gone@shop.example", "--role", "viewer")
    _staff_cli(local_stack, "remove", "gone@shop.example")
    gone = {user["email"]: user for user in _staff_cli(local_stack, "list")["users"]}
    assert gone["gone@shop.example"]["enabled"] is False
    missing = requests.delete(
        f"{url}/nobody@shop.example", headers={"Authorization": f"Bearer {owner}"}, timeout=10
    )
    assert missing.status_code == 404


def test_a_disabled_user_or_one_without_a_role_cannot_sign_in(local_stack: LocalStack) -> None:
    from linecrm.admin.staff import Role
    from linecrm_local.staff_auth import add_staff_user

    pool = local_stack.staff_pool
    assert pool is not None
    session = local_stack.aws.session()
    add_staff_user(session, pool, "leaver@shop.example", Role.viewer, DEMO_STAFF_PASSWORD)
    token = _token_for(local_stack, "leaver@shop.example")
    _staff_cli(local_stack, "remove", "leaver@shop.example")
    refused = _login(local_stack, "leaver@shop.example")
    assert refused.status_code == 401
    assert "disabled" in refused.json()["message"]
    # Its token still verifies until it expires (as on AWS): the role still applies.
    assert _call(local_stack, token, "GET", "/friends").status_code == 200

    session.client("cognito-idp").admin_create_user(
        UserPoolId=pool.pool_id, Username="norole@shop.example", MessageAction="SUPPRESS"
    )
    session.client("cognito-idp").admin_set_user_password(
        UserPoolId=pool.pool_id,
        Username="norole@shop.example",
        Password=DEMO_STAFF_PASSWORD,
        Permanent=True,
    )
    no_role = _login(local_stack, "norole@shop.example")
    assert no_role.status_code == 401
    assert "no role" in no_role.json()["message"]


def _token_for(stack: LocalStack, email: str) -> str:
    answer = _login(stack, email)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token
