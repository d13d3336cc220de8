"""The admin console on AWS: its built files (web/console/dist, `make console`) in a
private S3 bucket, served by CloudFront through an origin access control (OAC), with
a ``config.json`` written at deploy time that tells the app where the admin API is and
how staff sign in (Cognito's user pool and app client, once the stack has them).

Caching mirrors the local gateway (local/linecrm_local/console_static.py): hashed files
under ``console/assets/`` are immutable for a year, ``index.html`` is revalidated and
``config.json`` never cached. A client route (``/console/friends/U…``) has no object,
so S3 answers 403 through the OAC; CloudFront turns 403 and 404 into the app's
``index.html`` with 200 (the SPA fallback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import (
    Acknowledgment,
    Annotations,
    CfnElement,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parents[3]
CONSOLE_DIST = REPO_ROOT / "web" / "console" / "dist"
PREFIX = "console"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# The staff routes' prefix on the HTTP API (resources.STAFF_PREFIX).
STAFF_PATH = "staff"


@dataclass(frozen=True)
class ConsoleAuth:
    """Cognito for the console's staff sign-in (the roles construct's pool)."""

    region: str
    user_pool_id: str
    client_id: str
    # The managed login's base URL (https://<prefix>.auth.<region>.amazoncognito.com).
    domain: str


class AdminConsole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_url: str,
        channel_ids: Sequence[str],
        auth: ConsoleAuth | None = None,
        staff_api_domain: str | None = None,
        dist: Path = CONSOLE_DIST,
    ) -> None:
        """``staff_api_domain``: the HTTP API's host; given, the distribution also serves
        its staff routes at ``/staff/*`` and the app calls them there (same origin)."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Assets",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Built files only: `make synth` makes them again.
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason=(
                    "the console bucket holds the built web app only (no data); CloudFront "
                    "reads it through the OAC and its requests are what matters"
                ),
            )
        )
        spa_fallback = [
            cloudfront.ErrorResponse(
                http_status=status,
                response_http_status=200,
                response_page_path=f"/{PREFIX}/index.html",
                ttl=Duration.seconds(0),
            )
            for status in (403, 404)
        ]
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="linecrm admin console",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            ),
            additional_behaviors=(
                {
                    f"/{STAFF_PATH}/*": cloudfront.BehaviorOptions(
                        origin=origins.HttpOrigin(staff_api_domain),
                        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                        # The Authorization header reaches the JWT authorizer; the Host
                        # header stays the API's own.
                        origin_request_policy=(
                            cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                        ),
                    )
                }
                if staff_api_domain
                else None
            ),
            default_root_object=f"{PREFIX}/index.html",
            error_responses=spa_fallback,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        Validations.of(self.distribution).acknowledge(
            Acknowledgment(
                id="AwsSolutions-CFR1",
                reason="staff sign in from anywhere; the admin API decides who may do what",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR2",
                reason="a static app with no data of its own; the admin API has its own limits",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR3",
                reason="the admin API's logs record what staff do; the app's files are public",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR4",
                reason="the default CloudFront certificate: TLS 1.2 is the minimum set here",
            ),
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/{PREFIX}/"
        self.config = {
            "apiBaseUrl": (
                f"https://{self.distribution.distribution_domain_name}/{STAFF_PATH}"
                if staff_api_domain
                else api_url.rstrip("/")
            ),
            "channels": list(channel_ids),
            "auth": (
                {
                    "mode": "cognito",
                    "region": auth.region,
                    "userPoolId": auth.user_pool_id,
                    "clientId": auth.client_id,
                    "domain": auth.domain,
                }
                if auth
                else {"mode": "none"}
            ),
        }
        self._deploy(dist)

    def _deploy(self, dist: Path) -> None:
        if not (dist / "index.html").is_file():
            Annotations.of(self).add_warning_v2(
                "linecrm:console-not-built",
                f"{dist} has no index.html: run `make console` before deploying the console",
            )
            files: list[s3deploy.ISource] = []
        else:
            files = [s3deploy.Source.asset(str(dist))]
        # Hashed assets first (immutable), then the shell and config (revalidated):
        # index.html never points at an asset that is not there yet.
        if files:
            self._deployment(
                "DeployAssets", files, IMMUTABLE, include=["assets/*"], exclude=["*"], prune=True
            )
        sources = [*files, s3deploy.Source.json_data("config.json", self.config)]
        deployment = self._deployment(
            "DeployShell", sources, REVALIDATE, include=[], exclude=["assets/*"], prune=False
        )
        if files:
            deployment.node.add_dependency(self.node.find_child("DeployAssets"))
        self._acknowledge_deployment_handler()

    def _acknowledge_deployment_handler(self) -> None:
        """BucketDeployment's handler: CDK's own singleton function in the stack."""
        stack = Stack.of(self)
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, CfnElement)
        bucket_id = stack.resolve(stack.get_logical_id(cfn))
        copying = "copies the built console from the CDK asset bucket into the console bucket"
        for child in stack.node.children:
            if not child.node.id.startswith("Custom::CDKBucketDeployment"):
                continue
            Validations.of(child).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-L1",
                    reason="CDK's BucketDeployment handler: its runtime is CDK's to choose",
                ),
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]",
                    reason="CDK's BucketDeployment handler logs with the basic execution role",
                ),
                *(
                    Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=copying)
                    for finding in (
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Action::s3:Abort*",
                        "Action::s3:DeleteObject*",
                        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
                        "<AWS::AccountId>-<AWS::Region>/*",
                        f"Resource::<{bucket_id}.Arn>/*",
                        "Resource::*",
                    )
                ),
            )

    def _deployment(
        self,
        construct_id: str,
        sources: list[s3deploy.ISource],
        cache: str,
        *,
        include: list[str],
        exclude: list[str],
        prune: bool,
    ) -> s3deploy.BucketDeployment:
        return s3deploy.BucketDeployment(
            self,
            construct_id,
            sources=sources,
            destination_bucket=self.bucket,
            destination_key_prefix=f"{PREFIX}/",
            include=include or None,
            exclude=exclude or None,
            prune=prune,
            cache_control=[s3deploy.CacheControl.from_string(cache)],
            distribution=self.distribution,
            distribution_paths=[f"/{PREFIX}/index.html", f"/{PREFIX}/config.json"],
            memory_limit=256,
        )
