"""The admin console on AWS: a private bucket, CloudFront through an OAC with the SPA
fallback, the built files deployed with their cache headers, and config.json naming
the admin API (and Cognito, when the stack passes it)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from linecrm_infra.constructs.console import IMMUTABLE, REVALIDATE, AdminConsole, ConsoleAuth
from linecrm_infra.stack import LinecrmStack

pytestmark = pytest.mark.infra


def test_the_bucket_is_private_and_read_through_an_origin_access_control(
    template: Template,
) -> None:
    template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_cloudfront_answers_client_routes_with_the_app(template: Template) -> None:
    fallback = {
        "ResponseCode": 200,
        "ResponsePagePath": "/console/index.html",
        "ErrorCachingMinTTL": 0,
    }
    template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "console/index.html",
                    "CustomErrorResponses": [
                        {"ErrorCode": 403, **fallback},
                        {"ErrorCode": 404, **fallback},
                    ],
                    "DefaultCacheBehavior": Match.object_like(
                        {"ViewerProtocolPolicy": "redirect-to-https"}
                    ),
                }
            )
        },
    )


def test_the_shell_is_revalidated_and_config_json_names_the_api(stack: LinecrmStack) -> None:
    template = Template.from_stack(stack)
    deployments = template.find_resources("Custom::CDKBucketDeployment")
    caches = sorted(
        props["Properties"].get("SystemMetadata", {}).get("cache-control", "")
        for props in deployments.values()
    )
    assert REVALIDATE in caches
    if (Path(__file__).resolve().parents[2] / "web/console/dist/index.html").exists():
        assert IMMUTABLE in caches
    config = stack.console.config
    assert config["channels"] == ["1234567890", "demo"]
    # Staff sign in with the stack's Cognito pool and its console client.
    assert config["auth"]["mode"] == "cognito"
    assert stack.resolve(config["auth"]["userPoolId"]) == stack.resolve(
        stack.staff.user_pool.user_pool_id
    )
    assert stack.resolve(config["auth"]["clientId"]) == stack.resolve(
        stack.staff.console_client.user_pool_client_id
    )
    # The app calls the staff routes on its own origin: /staff/* goes to the HTTP API.
    assert "/staff" in str(stack.resolve(config["apiBaseUrl"]))  # a Fn::Join at deploy time
    (distribution,) = template.find_resources("AWS::CloudFront::Distribution").values()
    behaviours = distribution["Properties"]["DistributionConfig"]["CacheBehaviors"]
    (staff,) = [b for b in behaviours if b["PathPattern"] == "/staff/*"]
    assert staff["ViewerProtocolPolicy"] == "https-only"
    assert "POST" in staff["AllowedMethods"] and "PUT" in staff["AllowedMethods"]
    outputs = template.find_outputs("ConsoleUrl")
    assert outputs, "the stack prints the console's URL"


def test_cognito_sign_in_and_an_unbuilt_console(tmp_path: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "ConsoleOnly")
    console = AdminConsole(
        stack,
        "Console",
        api_url="https://api.example.com/",
        channel_ids=["1"],
        auth=ConsoleAuth(
            region="ap-northeast-1",
            user_pool_id="pool",
            client_id="client",
            domain="https://staff.auth.ap-northeast-1.amazoncognito.com",
        ),
        dist=tmp_path,
    )
    assert console.config == {
        "apiBaseUrl": "https://api.example.com",
        "channels": ["1"],
        "auth": {
            "mode": "cognito",
            "region": "ap-northeast-1",
            "userPoolId": "pool",
            "clientId": "client",
            "domain": "https://staff.auth.ap-northeast-1.amazoncognito.com",
        },
    }
    Annotations.from_stack(stack).has_warning(
        "/ConsoleOnly/Console", Match.string_like_regexp("make console")
    )
    # Without a build only the shell's deployment (config.json) remains.
    Template.from_stack(stack).resource_count_is("Custom::CDKBucketDeployment", 1)
