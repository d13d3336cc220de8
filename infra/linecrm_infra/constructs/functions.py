"""The shared layer and the Lambda functions of ``resources.FUNCTIONS``.

Each function has its own role (no AWS managed policies: logging is granted on its own
log group only) and an explicit log group with a retention; the stack adds the
grants and the environment of ``resources.FUNCTION_ACCESS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, ArnFormat, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from linecrm import resources
from linecrm_infra import constants
from linecrm_infra.bundling import layer_code


class Functions(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, common_environment: Mapping[str, str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "CommonLayer",
            code=layer_code(),
            compatible_runtimes=[constants.LAMBDA_RUNTIME],
            compatible_architectures=[constants.LAMBDA_ARCHITECTURE],
            description="linecrm package with Powertools, line-bot-sdk and pydantic",
        )
        environment = {
            **constants.POWERTOOLS_ENVIRONMENT,
            **resources.PYTHON_ENVIRONMENT,
            **common_environment,
        }
        self.functions: dict[str, lambda_.Function] = {
            definition.name: self._function(definition, environment)
            for definition in resources.FUNCTIONS
        }

    def function(self, definition: resources.FunctionDefinition) -> lambda_.Function:
        return self.functions[definition.name]

    @property
    def schedule_target_arn(self) -> str:
        """The ARN of ``resources.SCHEDULE_TARGET``, built from its fixed name: any
        function may carry it in its environment, the target itself too (its ``Arn``
        attribute there would be a circular reference)."""
        return Stack.of(self).format_arn(
            service="lambda",
            resource="function",
            resource_name=_fixed_name(self, resources.SCHEDULE_TARGET),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def acknowledge_policy_finding(
        self, definition: resources.FunctionDefinition, finding_id: str, reason: str
    ) -> None:
        """Acknowledge a cdk-nag finding on the function role's policy, with its reason."""
        _acknowledge_on_role_policy(self.function(definition), finding_id, reason)

    def _function(
        self, definition: resources.FunctionDefinition, environment: Mapping[str, str]
    ) -> lambda_.Function:
        construct_id = "".join(part.title() for part in definition.name.split("_"))
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=constants.LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"linecrm {definition.name} function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            construct_id,
            description=definition.description,
            # Named only where its ARN must be known without referring to the function.
            function_name=(
                _fixed_name(self, definition) if definition == resources.SCHEDULE_TARGET else None
            ),
            code=lambda_.Code.from_asset(
                str(constants.FUNCTIONS_DIR / definition.name), exclude=["__pycache__", "*.pyc"]
            ),
            handler=constants.LAMBDA_HANDLER,
            runtime=constants.LAMBDA_RUNTIME,
            architecture=constants.LAMBDA_ARCHITECTURE,
            layers=[self.layer],
            memory_size=definition.memory_mb,
            timeout=Duration.seconds(definition.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment=dict(environment),
        )
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=(
                    f"Python {constants.LAYER_PYTHON_VERSION} is what the layer's wheels and the "
                    "tests target; a newer runtime is a deliberate, tested upgrade"
                ),
            )
        )
        _acknowledge_on_role_policy(
            function,
            "AwsSolutions-IAM5[Resource::*]",
            f"{definition.name} traces to X-Ray, whose PutTraceSegments and "
            "PutTelemetryRecords take no resource ARN",
        )
        return function


def _fixed_name(scope: Construct, definition: resources.FunctionDefinition) -> str:
    return f"{Stack.of(scope).stack_name}-{definition.name}"


def _acknowledge_on_role_policy(function: lambda_.Function, finding_id: str, reason: str) -> None:
    role = function.role
    assert isinstance(role, iam.Role)
    policy = role.node.find_child("DefaultPolicy")
    Validations.of(policy).acknowledge(Acknowledgment(id=finding_id, reason=reason))
