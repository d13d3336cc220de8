"""Inflow routes in the template: the two public routes of the inflow function, and what
that function may touch (channel credentials for LINE Login, not the events API's keys;
no job queue, no bucket)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from linecrm import resources
from linecrm.resources import Env

pytestmark = pytest.mark.infra


def _inflow(template: Template) -> tuple[dict[str, Any], str]:
    functions = template.find_resources("AWS::Lambda::Function")
    (function,) = [
        f
        for f in functions.values()
        if f["Properties"].get("Description") == resources.INFLOW_FUNCTION.description
    ]
    policies = template.find_resources("AWS::IAM::Policy")
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in policies.values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return function, json.dumps(statements)


def test_the_routes_url_and_callback_are_public(template: Template) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in template.find_resources("AWS::ApiGatewayV2::Route").values()
    }
    for key in ("GET /r/{code}", "GET /r/callback"):
        assert routes[key]["AuthorizationType"] == "NONE"


def test_the_inflow_function_reads_login_credentials_and_nothing_more(template: Template) -> None:
    function, statements = _inflow(template)
    variables = function["Properties"]["Environment"]["Variables"]
    assert Env.CHANNEL_SECRET_PREFIX in variables
    assert Env.EVENT_SOURCES_SECRET_PREFIX not in variables
    assert Env.JOB_QUEUE_URL not in variables
    assert "secretsmanager:GetSecretValue" in statements
    assert resources.EVENT_SOURCES_SECRET_PREFIX not in statements
    assert "s3:" not in statements
    assert "dynamodb:UpdateItem" in statements  # touches, claims, counters
