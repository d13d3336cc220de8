"""The LIFF pages in the CDK stack: public GET routes, and never the mock SDK."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from linecrm import resources
from linecrm.config.liff_login import LiffLoginSettings
from linecrm.resources import Env

pytestmark = pytest.mark.infra

LIFF_ROUTES = (
    "GET /liff/{channel_id}",
    "GET /liff/{channel_id}/card",
    "GET /liff/{channel_id}/open",
    "GET /liff/assets/{file}",
    "POST /liff/member-card",
)


def _liff_environment(template: Template) -> dict[str, Any]:
    functions = template.find_resources("AWS::Lambda::Function")
    (found,) = [
        f
        for f in functions.values()
        if f["Properties"].get("Description") == resources.LIFF_LOGIN_FUNCTION.description
    ]
    variables: dict[str, Any] = found["Properties"]["Environment"]["Variables"]
    return variables


def test_the_liff_pages_are_public_routes_of_the_liff_login_function(template: Template) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in template.find_resources("AWS::ApiGatewayV2::Route").values()
    }
    login_target = routes["POST /liff/login"]["Target"]
    for key in LIFF_ROUTES:
        assert routes[key]["AuthorizationType"] == "NONE", key
        assert routes[key]["Target"] == login_target, key


def test_the_mock_sdk_is_off_in_the_stack(template: Template) -> None:
    environment = _liff_environment(template)
    assert Env.LIFF_MOCK_SDK not in environment
    # ...and off is what the function reads when the variable is absent.
    assert LiffLoginSettings.from_env({**environment, Env.TABLE_NAME: "t"}).liff_mock_sdk is False
