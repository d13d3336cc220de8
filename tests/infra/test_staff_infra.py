"""Staff sign-in in the CDK stack (docs/staff.md): the Cognito user pool, a group per
role, the console's app client, and the staff routes behind the JWT authorizer, on the
same API and admin function as the IAM routes."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from linecrm import resources
from linecrm.admin.staff import Role
from tests.infra.conftest import build_stack

pytestmark = pytest.mark.infra


def _of_type(template: Template, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def test_the_staff_pool_has_no_self_sign_up_and_signs_in_by_email(template: Template) -> None:
    (pool,) = _of_type(template, "AWS::Cognito::UserPool").values()
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    assert pool["DeletionPolicy"] == "Retain"
    groups = {
        g["Properties"]["GroupName"]
        for g in _of_type(template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {role.value for role in Role}


def _distribution_url(template: Template, path: str) -> dict[str, Any]:
    """``https://<the console's CloudFront domain><path>`` as the template joins it."""
    (distribution_id,) = _of_type(template, "AWS::CloudFront::Distribution")
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}, path]]}


def test_the_console_client_is_public_with_the_code_flow_and_pkce(template: Template) -> None:
    (client,) = _of_type(template, "AWS::Cognito::UserPoolClient").values()
    properties = client["Properties"]
    # A public client (PKCE, no secret) on the managed login, the code flow only: no
    # implicit flow, no client credentials.
    assert properties["GenerateSecret"] is False
    assert properties["AllowedOAuthFlows"] == ["code"]
    assert properties["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(properties["AllowedOAuthScopes"]) == {"openid", "email"}
    assert properties["SupportedIdentityProviders"] == ["COGNITO"]
    assert properties["AuthSessionValidity"] == 5
    # The callback is the console on CloudFront + callback; signing out returns there.
    assert properties["CallbackURLs"] == [_distribution_url(template, "/console/callback")]
    assert properties["LogoutURLs"] == [_distribution_url(template, "/console/")]
    # No password from the browser to Cognito (the managed login has it); no admin flow.
    flows = set(properties["ExplicitAuthFlows"])
    assert "ALLOW_USER_PASSWORD_AUTH" not in flows
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" not in flows


def test_the_managed_login_domain_and_the_consoles_config(stack: Any, template: Template) -> None:
    (domain,) = _of_type(template, "AWS::Cognito::UserPoolDomain").values()
    (pool_id,) = _of_type(template, "AWS::Cognito::UserPool")
    assert domain["Properties"]["UserPoolId"] == {"Ref": pool_id}
    prefix = stack.resolve(domain["Properties"]["Domain"])
    assert "linecrm-staff-" in str(prefix)
    auth = stack.resolve(stack.console.config["auth"])
    assert auth["mode"] == "cognito"
    (client_id,) = _of_type(template, "AWS::Cognito::UserPoolClient")
    assert auth["clientId"] == {"Ref": client_id}
    # https://<prefix>.auth.<region>.amazoncognito.com: the authorize, token and logout
    # endpoints' base.
    joined = str(auth["domain"])
    assert "https://" in joined and ".auth." in joined and "amazoncognito.com" in joined


def test_more_console_urls_come_from_context() -> None:
    template = Template.from_stack(
        build_stack(
            {"consoleUrls": "https://crm.example.com/console/, http://localhost:5173/console"}
        )
    )
    (client,) = _of_type(template, "AWS::Cognito::UserPoolClient").values()
    properties = client["Properties"]
    assert properties["CallbackURLs"] == [
        "https://crm.example.com/console/callback",
        "http://localhost:5173/console/callback",
        _distribution_url(template, "/console/callback"),
    ]
    assert properties["LogoutURLs"][:2] == [
        "https://crm.example.com/console/",
        "http://localhost:5173/console/",
    ]


def test_staff_routes_reach_the_admin_function_through_the_jwt_authorizer(
    template: Template,
) -> None:
    ((authorizer_id, authorizer),) = _of_type(template, "AWS::ApiGatewayV2::Authorizer").items()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    configuration = authorizer["Properties"]["JwtConfiguration"]
    (client_id,) = _of_type(template, "AWS::Cognito::UserPoolClient")
    assert configuration["Audience"] == [{"Ref": client_id}]
    (pool_id,) = _of_type(template, "AWS::Cognito::UserPool")
    issuer = configuration["Issuer"]["Fn::Join"][1]
    assert {"Ref": pool_id} in issuer
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in _of_type(template, "AWS::ApiGatewayV2::Route").values()
    }
    for method in resources.ADMIN_METHODS:
        staff = routes[f"{method} /staff/admin/{{proxy+}}"]
        assert staff["AuthorizationType"] == "JWT"
        assert staff["AuthorizerId"] == {"Ref": authorizer_id}
        # The same integration (the admin function) as the IAM route.
        assert staff["Target"] == routes[f"{method} /admin/{{proxy+}}"]["Target"]
    # One API: the staff routes have the stage's throttles and access logs.
    assert len(_of_type(template, "AWS::ApiGatewayV2::Api")) == 1


def test_the_outputs_name_what_the_console_needs(template: Template) -> None:
    outputs = template.find_outputs("*")
    for name in ("StaffApiUrl", "StaffUserPoolId", "ConsoleClientId", "StaffSignInDomain"):
        assert name in outputs, sorted(outputs)
    template.has_output("StaffUserPoolId", {"Value": Match.any_value()})
