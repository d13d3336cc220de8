"""The HTTP API: one route per ``resources.ROUTES`` entry, access logs, throttling."""

from __future__ import annotations

import json
from collections.abc import Mapping

import jsii
from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from linecrm import resources
from linecrm_infra import constants

# HTTP API $context variables; requestId lets a log line be matched with a trace.
_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT))


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        jwt_authorizer: apigwv2.IHttpRouteAuthorizer | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._jwt_authorizer = jwt_authorizer
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=constants.LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The default stage is added by hand: HttpApi's own has no access log settings.
        self.api = apigwv2.HttpApi(self, "Api", create_default_stage=False)
        self.stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(self.access_logs),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=constants.API_THROTTLE_RATE_LIMIT,
                burst_limit=constants.API_THROTTLE_BURST_LIMIT,
            ),
        )
        integration_by_function = {
            name: integrations.HttpLambdaIntegration(
                f"{name}-integration",
                handler,
                payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
            )
            for name, handler in functions.items()
        }
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        for route in resources.ROUTES:
            self.routes[f"{route.method} {route.path}"] = self._route(
                route, integration_by_function[route.function.name]
            )
        self._throttle_routes()

    def _throttle_routes(self) -> None:
        """Route-level throttling (``constants.ROUTE_THROTTLES``): the stage's default
        applies to the other routes. HttpStage has no property for it, hence the
        override; the stage waits for the routes it names."""
        settings: dict[str, dict[str, int]] = {}
        for route in resources.ROUTES:
            limits = constants.ROUTE_THROTTLES.get(route.function.name)
            if limits is None:
                continue
            key = f"{route.method} {route.path}"
            rate, burst = limits
            settings[key] = {"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
            self.stage.node.add_dependency(self.routes[key])
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.add_property_override("RouteSettings", settings)

    @property
    def url(self) -> str:
        return self.stage.url

    def _route(
        self, route: resources.Route, integration: integrations.HttpLambdaIntegration
    ) -> apigwv2.HttpRoute:
        authorizer: apigwv2.IHttpRouteAuthorizer | None = None
        if route.authorization == "iam":
            authorizer = authorizers.HttpIamAuthorizer()
        elif route.authorization == "jwt":
            if self._jwt_authorizer is None:
                raise ValueError(f"route {route.method} {route.path} needs the staff authorizer")
            authorizer = self._jwt_authorizer
        (http_route,) = self.api.add_routes(
            path=route.path,
            methods=[apigwv2.HttpMethod(route.method)],
            integration=integration,
            authorizer=authorizer,
        )
        if route.authorization == "none":
            if not route.why_no_auth:
                raise ValueError(f"route {route.method} {route.path} is open without a reason")
            Validations.of(http_route).acknowledge(
                Acknowledgment(id="AwsSolutions-APIG4", reason=route.why_no_auth)
            )
        return http_route
