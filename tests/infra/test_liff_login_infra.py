"""The LIFF login function as deployed: ID tokens verified against LINE (JWKS by default,
the verify endpoint on request), never the liff-mock test tokens, and a table grant
that creates or updates friends but never deletes."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from linecrm import resources
from linecrm.resources import Env
from tests.infra.conftest import build_stack

pytestmark = pytest.mark.infra


def _functions(template: Template) -> dict[str, dict]:  # type: ignore[type-arg]
    return dict(template.find_resources("AWS::Lambda::Function"))


def _liff_environment(template: Template) -> dict[str, object]:
    (function,) = [
        resource
        for resource in _functions(template).values()
        if resource["Properties"].get("Description") == resources.LIFF_LOGIN_FUNCTION.description
    ]
    variables: dict[str, object] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_no_deployed_function_accepts_liff_mock_id_tokens(template: Template) -> None:
    functions = _functions(template)
    assert len(functions) >= len(resources.FUNCTIONS)
    for logical_id, function in functions.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for name in resources.LOCAL_ONLY_SETTINGS:
            assert name not in variables, (logical_id, name)
    # Nor anywhere else in the template (a parameter, an output, a custom resource).
    assert Env.LIFF_MOCK_ID_TOKENS not in json.dumps(template.to_json())


def test_id_tokens_are_verified_against_lines_jwks_by_default(template: Template) -> None:
    environment = _liff_environment(template)
    assert environment[Env.ID_TOKEN_VERIFICATION] == "jwks"
    # The JWKS and the verify endpoint are under this base URL.
    assert environment[Env.LINE_LOGIN_BASE_URL] == "https://api.line.me"


def test_the_verify_endpoint_is_a_deploy_time_choice() -> None:
    stack = build_stack({"idTokenVerification": "verify_endpoint"})
    environment = _liff_environment(Template.from_stack(stack))
    assert environment[Env.ID_TOKEN_VERIFICATION] == "verify_endpoint"
    with pytest.raises(ValueError, match="idTokenVerification"):
        build_stack({"idTokenVerification": "trust_me"})
