"""The CDK template's IAM statements per function, resolved to the local stack's ARNs.

The stack is synthesized once per test session (``synthesized``). Its logical resources
are mapped to the local ones through the constructs that made them (each table, queue,
bucket, secret and role of ``linecrm.resources``), so ``{"Fn::GetAtt": [<table>, "Arn"]}``
becomes the local table's ARN. ``grant_check`` is what ``grants.require_grants`` takes:
the integration and e2e suites check every AWS call a function makes with it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from linecrm import resources
from linecrm_local import demo, grants
from linecrm_local.aws_local import LocalResources
from linecrm_local.provision import LOCAL_ACCOUNT_ID, local_function_arn

Resource = dict[str, Any]


@dataclass(frozen=True)
class LogicalResource:
    """What a template resource is in ``linecrm.resources`` terms."""

    kind: str  # table, queue, dlq, bucket, secret, login_keys, visitor_key, schedule_role, function
    key: str  # logical id of its definition, channel id or function name


@dataclass(frozen=True)
class Synthesized:
    template: Mapping[str, Any]
    logical: Mapping[str, LogicalResource]  # template logical id -> what it is
    function_ids: Mapping[str, str]  # function name -> template logical id

    def resources_of_type(self, resource_type: str) -> dict[str, Resource]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def environment(self, function: resources.FunctionDefinition) -> dict[str, Any]:
        properties = self.template["Resources"][self.function_ids[function.name]]["Properties"]
        variables: dict[str, Any] = properties["Environment"]["Variables"]
        return variables

    def role_statements(self, function: resources.FunctionDefinition) -> list[dict[str, Any]]:
        properties = self.template["Resources"][self.function_ids[function.name]]["Properties"]
        role_id = properties["Role"]["Fn::GetAtt"][0]
        statements: list[dict[str, Any]] = []
        for policy in self.resources_of_type("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"]["Roles"]:
                statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
        return statements


@functools.cache
def synthesized() -> Synthesized:
    """The stack as ``cdk synth`` makes it (bundling skipped) for the local stack's
    channel, once per session."""
    from aws_cdk.assertions import Template

    from tests.infra.conftest import build_stack

    # The channels of the local stack: each has its secret in the template.
    stack = build_stack({"channelIds": demo.DEMO_CHANNEL_ID})

    def logical_id(construct: Any) -> str:
        return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))

    logical: dict[str, LogicalResource] = {}
    for definition in resources.TABLES:
        logical[logical_id(stack.data.table(definition))] = LogicalResource(
            "table", definition.logical_id
        )
    for definition in resources.QUEUES:
        pair = stack.delivery.pair(definition)
        logical[logical_id(pair.queue)] = LogicalResource("queue", definition.logical_id)
        logical[logical_id(pair.dead_letter_queue)] = LogicalResource("dlq", definition.logical_id)
    for definition in resources.BUCKETS:
        logical[logical_id(stack.uploads.bucket(definition))] = LogicalResource(
            "bucket", definition.logical_id
        )
    for channel_id, secret in stack.channel_secrets.secrets.items():
        logical[logical_id(secret)] = LogicalResource("secret", channel_id)
    for channel_id, secret in stack.event_source_secrets.secrets.items():
        logical[logical_id(secret)] = LogicalResource("event_sources", channel_id)
    logical[logical_id(stack.login_keys.secret)] = LogicalResource("login_keys", "")
    logical[logical_id(stack.visitor_key.secret)] = LogicalResource("visitor_key", "")
    logical[logical_id(stack.scheduling.target_role)] = LogicalResource("schedule_role", "")
    logical[logical_id(stack.staff.user_pool)] = LogicalResource("staff_pool", "")
    function_ids = {}
    for definition in resources.FUNCTIONS:
        function_id = logical_id(stack.functions.function(definition))
        logical[function_id] = LogicalResource("function", definition.name)
        function_ids[definition.name] = function_id
    template = Template.from_stack(stack).to_json()
    return Synthesized(template, logical, function_ids)


class LocalValues:
    """Resolves the template's intrinsic functions to the local stack's values."""

    def __init__(self, local: LocalResources) -> None:
        self.local = local
        self.region = local.region
        self._synthesized = synthesized()

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def attribute(self, logical_id: str, attribute: str) -> str | None:
        found = self._synthesized.logical.get(logical_id)
        if found is None:
            return None  # log groups and the like: no local counterpart
        region, account = self.region, LOCAL_ACCOUNT_ID
        if found.kind == "table":
            name = self.local.table_names[found.key]
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            return {"Ref": name, "Arn": arn}.get(attribute)
        if found.kind in ("queue", "dlq"):
            queue = self.local.queues[found.key]
            if found.kind == "queue":
                return {"Ref": queue.url, "Arn": queue.arn}.get(attribute)
            name = queue.dlq_url.rstrip("/").rsplit("/", 1)[-1]
            arn = f"arn:aws:sqs:{region}:{account}:{name}"
            return {"Ref": queue.dlq_url, "Arn": arn, "QueueName": name}.get(attribute)
        if found.kind == "bucket":
            name = self.local.provisioned.bucket_names[found.key]
            return {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}.get(attribute)
        if found.kind in ("secret", "event_sources"):
            prefix = (
                resources.CHANNEL_SECRET_PREFIX
                if found.kind == "secret"
                else resources.EVENT_SOURCES_SECRET_PREFIX
            )
            secret_name = f"{prefix}{found.key}"
            arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_name}"
            return arn if attribute in ("Ref", "Arn") else None
        if found.kind in ("login_keys", "visitor_key"):
            name = (
                resources.LOGIN_KEYS_SECRET_NAME
                if found.kind == "login_keys"
                else resources.VISITOR_KEY_SECRET_NAME
            )
            arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"
            return arn if attribute in ("Ref", "Arn") else None
        if found.kind == "staff_pool":
            pool = self.local.staff_pool
            if pool is None:
                return None
            arn = f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool.pool_id}"
            return {"Ref": pool.pool_id, "Arn": arn}.get(attribute)
        if found.kind == "schedule_role":
            arn = self.local.scheduler_role_arn
            return {"Ref": arn.rsplit("/", 1)[-1], "Arn": arn}.get(attribute)
        definition = next(d for d in resources.FUNCTIONS if d.name == found.key)
        arn = local_function_arn(region, definition)
        return {"Ref": arn.rsplit(":", 1)[-1], "Arn": arn}.get(attribute)

    def resolve(self, value: Any) -> str | None:
        """A template value as a string, or None where it names nothing local."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.pseudo(argument) or self.attribute(argument, "Ref")
            if function == "Fn::GetAtt":
                return self.attribute(argument[0], argument[1])
            if function == "Fn::Join":
                separator, parts = argument
                resolved = [self.resolve(part) for part in parts]
                if any(part is None for part in resolved):
                    return None
                return str(separator).join(str(part) for part in resolved)
        return None

    def statements(self, function: resources.FunctionDefinition) -> list[grants.Statement]:
        found: list[grants.Statement] = []
        for statement in self._synthesized.role_statements(function):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            targets = [self.resolve(r) for r in _as_list(statement["Resource"])]
            conditions = {
                operator: {
                    key: tuple(str(self.resolve(v)) for v in _as_list(values))
                    for key, values in keys.items()
                }
                for operator, keys in statement.get("Condition", {}).items()
            }
            found.append(
                grants.Statement(
                    tuple(_as_list(actions)),
                    tuple(target for target in targets if target is not None),
                    conditions,
                )
            )
        return found

    def environment(self, function: resources.FunctionDefinition) -> dict[str, str]:
        """The function's environment as the CDK stack gives it, in local values."""
        resolved: dict[str, str] = {}
        for name, value in self._synthesized.environment(function).items():
            local = self.resolve(value)
            if local is None:
                raise AssertionError(f"{function.name}: {name}={value} names nothing local")
            resolved[name] = local
        return resolved


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grant_check(local: LocalResources) -> grants.GrantCheck:
    """Each local function's role statements from the template, in local ARNs."""
    values = LocalValues(local)
    secrets = f"arn:aws:secretsmanager:{local.region}:{LOCAL_ACCOUNT_ID}:secret:"
    deployed = {
        str(values.attribute(logical_id, "Arn"))
        for logical_id, found in synthesized().logical.items()
        if found.kind in ("secret", "event_sources")
    }

    def undeployed(request: grants.IamRequest) -> bool:
        # A channel the stack was not deployed for: no secret, no grant (AccessDenied).
        return (
            request.resource.startswith(
                (
                    f"{secrets}{resources.CHANNEL_SECRET_PREFIX}",
                    f"{secrets}{resources.EVENT_SOURCES_SECRET_PREFIX}",
                )
            )
            and request.resource not in deployed
        )

    return grants.GrantCheck(
        {d.name: values.statements(d) for d in resources.FUNCTIONS},
        region=local.region,
        account=LOCAL_ACCOUNT_ID,
        undeployed=undeployed,
    )


# ---------------------------------------------------------------- fixtures for conftests
@pytest.fixture(scope="session", autouse=True)
def grants_from_the_template() -> Iterator[None]:
    """Every local stack of the session checks its functions' AWS calls."""
    grants.require_grants(grant_check)
    yield
    grants.require_grants(None)


@pytest.fixture(autouse=True)
def no_ungranted_calls() -> Iterator[None]:
    """A test fails if a function made an AWS call its role does not allow (calls made
    while a module's stack starts count for its first test)."""
    yield
    found = grants.take_violations()
    assert not found, "ungranted AWS calls:\n" + "\n".join(
        sorted({str(violation) for violation in found})
    )
