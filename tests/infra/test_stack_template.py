"""What the synthesized template must guarantee: routes and their auth, function
settings, queues with DLQs, event source limits, tables, schedules, least privilege,
alarms. Limits are read from ``linecrm.resources``, never restated here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from linecrm import resources
from linecrm.resources import Env
from tests.infra.conftest import build_stack

pytestmark = pytest.mark.infra

Resource = dict[str, Any]


def _of_type(template: Template, resource_type: str) -> dict[str, Resource]:
    return dict(template.find_resources(resource_type))


def _function_id(template: Template, definition: resources.FunctionDefinition) -> str:
    matches = [
        logical_id
        for logical_id, resource in _of_type(template, "AWS::Lambda::Function").items()
        if resource["Properties"].get("Description") == definition.description
    ]
    assert len(matches) == 1, definition.name
    return matches[0]


def _function(template: Template, definition: resources.FunctionDefinition) -> Resource:
    resource: Resource = _of_type(template, "AWS::Lambda::Function")[
        _function_id(template, definition)
    ]
    return resource


def _environment(template: Template, definition: resources.FunctionDefinition) -> dict[str, Any]:
    variables: dict[str, Any] = _function(template, definition)["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def _role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _function_statements(
    template: Template, definition: resources.FunctionDefinition
) -> list[dict[str, Any]]:
    role_id = _function(template, definition)["Properties"]["Role"]["Fn::GetAtt"][0]
    return _role_statements(template, role_id)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _queue_ids(
    template: Template, definition: resources.QueueDefinition = resources.SEND_QUEUE
) -> tuple[str, str]:
    """(queue, dead-letter queue) logical ids of the queue of ``definition``."""
    queues = _of_type(template, "AWS::SQS::Queue")
    (queue_id,) = [
        i
        for i, q in queues.items()
        if "RedrivePolicy" in q["Properties"]
        and re.fullmatch(f"Delivery{definition.logical_id}[0-9A-F]{{8}}", i)
    ]
    dlq_id = queues[queue_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return queue_id, dlq_id


# ---------------------------------------------------------------- API
@pytest.mark.parametrize("route", resources.ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_exists_with_its_authorization(template: Template, route: Any) -> None:
    expected_auth = {"iam": "AWS_IAM", "jwt": "JWT"}.get(route.authorization, "NONE")
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route",
        {"RouteKey": f"{route.method} {route.path}", "AuthorizationType": expected_auth},
    )


def test_routes_integrate_their_function_with_payload_v2(template: Template) -> None:
    integrations = _of_type(template, "AWS::ApiGatewayV2::Integration")
    assert len(integrations) == len({route.function.name for route in resources.ROUTES})
    for route in resources.ROUTES:
        function_id = _function_id(template, route.function)
        assert any(
            i["Properties"]["IntegrationUri"] == {"Fn::GetAtt": [function_id, "Arn"]}
            and i["Properties"]["PayloadFormatVersion"] == "2.0"
            for i in integrations.values()
        ), route.path


def test_an_iam_route_gets_the_iam_authorizer(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = resources.Route("GET", "/admin/ping", resources.LIFF_LOGIN_FUNCTION, "iam")
    monkeypatch.setattr(resources, "ROUTES", (*resources.ROUTES, admin))
    Template.from_stack(build_stack()).has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "GET /admin/ping", "AuthorizationType": "AWS_IAM"}
    )


def test_admin_routes_are_iam_authorized_except_the_api_description_and_dashboard(
    template: Template,
) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in _of_type(template, "AWS::ApiGatewayV2::Route").values()
    }
    admin = {key: route for key, route in routes.items() if " /admin" in key}
    methods = {key.split(" ", 1)[0] for key in admin if key.endswith("/admin/{proxy+}")}
    assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    for key, route in admin.items():
        # The API's description and the dashboard's page and assets hold no data.
        public = key.split(" ", 1)[1] in (*resources.ADMIN_DOC_PATHS, *resources.DASHBOARD_PATHS)
        assert route["AuthorizationType"] == ("NONE" if public else "AWS_IAM"), key
        assert route["Target"] == admin["GET /admin/{proxy+}"]["Target"], key


def test_admin_function_never_reads_channel_secrets(template: Template) -> None:
    statements = _function_statements(template, resources.ADMIN_FUNCTION)
    text = json.dumps(statements)
    main_table_id = _table_id(template, resources.MAIN_TABLE)
    assert main_table_id in text
    assert _table_id(template, resources.IDEMPOTENCY_TABLE) not in text
    # It schedules and cancels broadcasts, but never calls LINE itself: the only secret
    # it touches is the auto-login signing keys' (it rotates them).
    assert "scheduler:CreateSchedule" in text
    secret_statements = [s for s in statements if "secretsmanager:" in json.dumps(s["Action"])]
    login_keys = _login_keys_id(template)
    assert secret_statements
    for statement in secret_statements:
        assert [r["Ref"] for r in _as_list(statement["Resource"])] == [login_keys], statement


def _login_keys_id(template: Template) -> str:
    (secret_id,) = [
        logical_id
        for logical_id, secret in _of_type(template, "AWS::SecretsManager::Secret").items()
        if secret["Properties"]["Name"] == resources.LOGIN_KEYS_SECRET_NAME
    ]
    return secret_id


def _visitor_key_id(template: Template) -> str:
    (secret_id,) = [
        logical_id
        for logical_id, secret in _of_type(template, "AWS::SecretsManager::Secret").items()
        if secret["Properties"]["Name"] == resources.VISITOR_KEY_SECRET_NAME
    ]
    return secret_id


def test_the_visitor_id_key_is_generated_and_read_by_the_events_function_only(
    template: Template,
) -> None:
    secret_id = _visitor_key_id(template)
    secret = _of_type(template, "AWS::SecretsManager::Secret")[secret_id]
    generator = secret["Properties"]["GenerateSecretString"]
    assert generator["GenerateStringKey"] == "current"
    assert generator["PasswordLength"] >= 32  # visitor_ids.MIN_KEY_BYTES
    for definition in resources.FUNCTIONS:
        actions = {
            action
            for statement in _function_statements(template, definition)
            if secret_id in json.dumps(statement["Resource"])
            for action in _as_list(statement["Action"])
        }
        environment = _environment(template, definition)
        if not resources.function_access(definition).visitor_key:
            assert not actions, definition.name
            assert Env.VISITOR_KEY_SECRET_NAME not in environment
            continue
        assert environment[Env.VISITOR_KEY_SECRET_NAME] == resources.VISITOR_KEY_SECRET_NAME
        assert "secretsmanager:GetSecretValue" in actions
        assert not {a for a in actions if "Put" in a or "Delete" in a or "Update" in a}
    assert resources.function_access(resources.EVENTS_FUNCTION).visitor_key


def test_the_web_tag_routes_go_to_the_events_function_without_api_wide_cors(
    template: Template,
) -> None:
    routes = {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in _of_type(template, "AWS::ApiGatewayV2::Route").values()
    }
    for key in ("POST /events/web", "OPTIONS /events/web", "GET /web/tag.js"):
        assert key in routes, sorted(routes)
        assert routes[key].get("AuthorizationType", "NONE") == "NONE"
    # The function answers the preflight with the key's own origins: the API has no CORS
    # configuration (it would answer every preflight itself, for any origin).
    (api,) = _of_type(template, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]


def test_the_login_keys_are_read_by_the_signers_and_rotated_by_the_admin_api_only(
    template: Template,
) -> None:
    secret_id = _login_keys_id(template)
    secret = _of_type(template, "AWS::SecretsManager::Secret")[secret_id]
    generator = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generator["SecretStringTemplate"]) == {"active_kid": None, "keys": []}
    for definition in resources.FUNCTIONS:
        access = resources.function_access(definition).login_keys
        actions = {
            action
            for statement in _function_statements(template, definition)
            if secret_id in json.dumps(statement["Resource"])
            for action in _as_list(statement["Action"])
        }
        environment = _environment(template, definition)
        if access is None:
            assert not actions, definition.name
            assert Env.LOGIN_KEYS_SECRET_NAME not in environment
            continue
        assert environment[Env.LOGIN_KEYS_SECRET_NAME] == resources.LOGIN_KEYS_SECRET_NAME
        assert "secretsmanager:GetSecretValue" in actions, definition.name
        assert ("secretsmanager:PutSecretValue" in actions) == (access == "rotate")
        assert not {a for a in actions if "Delete" in a or "Update" in a}, actions
    assert resources.function_access(resources.ADMIN_FUNCTION).login_keys == "rotate"
    assert resources.function_access(resources.LIFF_LOGIN_FUNCTION).login_keys == "read"
    assert resources.function_access(resources.EVENTS_FUNCTION).login_keys == "read"


def _table_id(template: Template, definition: resources.TableDefinition) -> str:
    (table_id,) = [
        logical_id
        for logical_id, table in _of_type(template, "AWS::DynamoDB::Table").items()
        if table["Properties"]["KeySchema"][0]["AttributeName"] == definition.partition_key.name
    ]
    return table_id


def test_default_stage_has_access_logs_and_throttling(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": Match.any_value(),
                "ThrottlingRateLimit": Match.any_value(),
            },
        },
    )


def test_the_webhook_and_admin_routes_have_throttles_of_their_own(template: Template) -> None:
    (stage,) = _of_type(template, "AWS::ApiGatewayV2::Stage").values()
    route_settings = stage["Properties"]["RouteSettings"]
    webhook = route_settings["POST /webhook/{channel_id}"]
    default = stage["Properties"]["DefaultRouteSettings"]
    assert webhook["ThrottlingRateLimit"] >= default["ThrottlingRateLimit"]
    for method in resources.ADMIN_METHODS:
        admin = route_settings[f"{method} /admin/{{proxy+}}"]
        # An admin burst is held well below the webhook's limits.
        assert admin["ThrottlingRateLimit"] < webhook["ThrottlingRateLimit"]
        assert admin["ThrottlingBurstLimit"] < webhook["ThrottlingBurstLimit"]
    # The stage names those routes, so it is created after them.
    (stage_id,) = _of_type(template, "AWS::ApiGatewayV2::Stage")
    routes = _of_type(template, "AWS::ApiGatewayV2::Route")
    depends = set(template.to_json()["Resources"][stage_id].get("DependsOn", []))
    webhook_route = [
        i for i, r in routes.items() if r["Properties"]["RouteKey"] == "POST /webhook/{channel_id}"
    ]
    assert set(webhook_route) <= depends
    # The shop's events have a limit of their own, below the webhook's.
    events = route_settings["POST /events/{channel_id}"]
    assert events["ThrottlingRateLimit"] < webhook["ThrottlingRateLimit"]
    assert events["ThrottlingBurstLimit"] < webhook["ThrottlingBurstLimit"]


# ---------------------------------------------------------------- functions
@pytest.mark.parametrize("definition", resources.FUNCTIONS, ids=lambda d: d.name)
def test_function_settings(template: Template, definition: resources.FunctionDefinition) -> None:
    properties = _function(template, definition)["Properties"]
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "handler.lambda_handler"
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Timeout"] == definition.timeout_seconds
    assert properties["MemorySize"] == definition.memory_mb
    assert len(properties["Layers"]) == 1
    assert "LogGroup" in properties["LoggingConfig"]
    environment = properties["Environment"]["Variables"]
    assert environment["POWERTOOLS_SERVICE_NAME"] == "linecrm"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "linecrm"
    assert environment["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # no entry-point scan
    assert Env.TABLE_NAME in environment
    access = resources.function_access(definition)
    if access.reads_channel_secrets:
        assert environment[Env.CHANNEL_SECRET_PREFIX] == resources.CHANNEL_SECRET_PREFIX
        assert environment[Env.LINE_API_BASE_URL] == "https://api.line.me"
        assert environment[Env.LINE_DATA_API_BASE_URL] == "https://api-data.line.me"
    else:  # it never calls LINE: no credentials, no endpoints
        assert Env.CHANNEL_SECRET_PREFIX not in environment
        assert Env.LINE_API_BASE_URL not in environment


def test_function_log_groups_have_a_retention(template: Template) -> None:
    log_groups = _of_type(template, "AWS::Logs::LogGroup")
    for definition in resources.FUNCTIONS:
        log_group_ref = _function(template, definition)["Properties"]["LoggingConfig"]["LogGroup"]
        assert log_groups[log_group_ref["Ref"]]["Properties"]["RetentionInDays"] > 0


def test_function_specific_environment(template: Template) -> None:
    webhook = _environment(template, resources.WEBHOOK_FUNCTION)
    scheduler = _environment(template, resources.SCHEDULER_FUNCTION)
    liff_login = _environment(template, resources.LIFF_LOGIN_FUNCTION)
    assert Env.IDEMPOTENCY_TABLE_NAME in webhook
    assert Env.SEND_QUEUE_URL in webhook
    # A follow or a tap that enrols or branches a step scenario schedules its bucket.
    assert {Env.SCHEDULE_GROUP_NAME, Env.SCHEDULER_ROLE_ARN, Env.SCHEDULER_TARGET_ARN} <= set(
        webhook
    )
    # The scheduler defers a due delivery again: a schedule that targets itself, by the
    # ARN built from its fixed name (its Arn attribute would be a circular reference).
    assert scheduler[Env.SCHEDULE_GROUP_NAME] == resources.SCHEDULE_GROUP_NAME
    assert Env.SCHEDULER_ROLE_ARN in scheduler
    scheduler_id = _function_id(template, resources.SCHEDULER_FUNCTION)
    assert scheduler_id not in json.dumps(scheduler[Env.SCHEDULER_TARGET_ARN])
    assert Env.SEND_QUEUE_URL not in liff_login
    assert Env.SCHEDULER_ROLE_ARN not in liff_login


def test_line_base_urls_come_from_context() -> None:
    template = Template.from_stack(
        build_stack({"lineApiBaseUrl": "http://emulator:8080", "lineLoginBaseUrl": "http://x"})
    )
    environment = _environment(template, resources.SENDER_FUNCTION)
    assert environment[Env.LINE_API_BASE_URL] == "http://emulator:8080"
    assert environment[Env.LINE_LOGIN_BASE_URL] == "http://x"
    assert environment[Env.LINE_DATA_API_BASE_URL] == "https://api-data.line.me"


# ---------------------------------------------------------------- queues
@pytest.mark.parametrize("definition", resources.QUEUES, ids=lambda d: d.logical_id)
def test_queue_limits_match_resources(
    template: Template, definition: resources.QueueDefinition
) -> None:
    queue_id, dlq_id = _queue_ids(template, definition)
    queues = _of_type(template, "AWS::SQS::Queue")
    queue = queues[queue_id]["Properties"]
    assert queue["VisibilityTimeout"] == 6 * definition.consumer.timeout_seconds
    assert queue["VisibilityTimeout"] == definition.visibility_timeout_seconds
    assert queue["RedrivePolicy"]["maxReceiveCount"] == definition.max_receive_count
    assert queue["SqsManagedSseEnabled"] is True
    dlq = queues[dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == definition.dlq_retention_days * 86400
    for queue_policy in _of_type(template, "AWS::SQS::QueuePolicy").values():
        (statement,) = queue_policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(_of_type(template, "AWS::SQS::QueuePolicy")) == 2 * len(resources.QUEUES)


@pytest.mark.parametrize("definition", resources.QUEUES, ids=lambda d: d.logical_id)
def test_consumer_event_source_limits_match_resources(
    template: Template, definition: resources.QueueDefinition
) -> None:
    queue_id, _ = _queue_ids(template, definition)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": _function_id(template, definition.consumer)},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": definition.max_concurrency},
            "BatchSize": definition.batch_size,
            "MaximumBatchingWindowInSeconds": definition.max_batching_window_seconds,
        },
    )
    assert len(_of_type(template, "AWS::Lambda::EventSourceMapping")) == len(resources.QUEUES)


# ---------------------------------------------------------------- tables
@pytest.mark.parametrize("definition", resources.TABLES, ids=lambda d: d.logical_id)
def test_table_settings(template: Template, definition: resources.TableDefinition) -> None:
    key_schema = [{"AttributeName": definition.partition_key.name, "KeyType": "HASH"}]
    if definition.sort_key:
        key_schema.append({"AttributeName": definition.sort_key.name, "KeyType": "RANGE"})
    expected: dict[str, Any] = {
        "KeySchema": key_schema,
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": definition.ttl_attribute, "Enabled": True},
    }
    if definition.global_indexes:
        expected["GlobalSecondaryIndexes"] = [
            Match.object_like(
                {"IndexName": index.name, "Projection": {"ProjectionType": index.projection}}
            )
            for index in definition.global_indexes
        ]
    template.has_resource(
        "AWS::DynamoDB::Table",
        {"Properties": Match.object_like(expected), "DeletionPolicy": "Retain"},
    )


def test_resources_carry_the_default_tags(template: Template) -> None:
    for key, value in resources.DEFAULTS.tags.items():
        template.has_resource_properties(
            "AWS::DynamoDB::Table", {"Tags": Match.array_with([{"Key": key, "Value": value}])}
        )


# ---------------------------------------------------------------- scheduling
def test_schedule_group(template: Template) -> None:
    template.resource_count_is("AWS::Scheduler::ScheduleGroup", 1)
    template.has_resource_properties(
        "AWS::Scheduler::ScheduleGroup", {"Name": resources.SCHEDULE_GROUP_NAME}
    )


def test_scheduler_role_may_only_invoke_the_scheduler_function(template: Template) -> None:
    roles = {
        logical_id: role
        for logical_id, role in _of_type(template, "AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "scheduler.amazonaws.com"}
    }
    (role_id, role) = roles.popitem()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]
    target_id = _function_id(template, resources.SCHEDULE_TARGET)
    statements = _role_statements(template, role_id)
    failure_queue_id, _ = _queue_ids(template, resources.SCHEDULE_DEAD_LETTER_QUEUE)
    assert statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [target_id, "Arn"]},
        },
        # The schedules' dead-letter queue, which Scheduler writes as this role.
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [failure_queue_id, "Arn"]},
        },
    ]


@pytest.mark.parametrize(
    "definition",
    [a.function for a in resources.FUNCTION_ACCESS if a.manages_schedules],
    ids=lambda d: d.name,
)
def test_schedule_managers_are_limited_to_the_group_and_the_role(
    template: Template, definition: resources.FunctionDefinition
) -> None:
    statements = _function_statements(template, definition)
    scheduler_actions = [s for s in statements if "scheduler:" in json.dumps(s["Action"])]
    (schedules,) = scheduler_actions
    assert sorted(_as_list(schedules["Action"])) == [
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
    ]
    assert f":schedule/{resources.SCHEDULE_GROUP_NAME}/*" in json.dumps(schedules["Resource"])
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    assert pass_role["Resource"]["Fn::GetAtt"][1] == "Arn"


def test_functions_without_schedules_cannot_touch_them(template: Template) -> None:
    for definition in (
        resources.SENDER_FUNCTION,
        resources.LIFF_LOGIN_FUNCTION,
    ):
        text = json.dumps(_function_statements(template, definition))
        assert "scheduler:" not in text
        assert "iam:PassRole" not in text


# ---------------------------------------------------------------- least privilege
_DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}


@pytest.mark.parametrize("access", resources.FUNCTION_ACCESS, ids=lambda a: a.function.name)
def test_table_grants_are_read_only_where_the_table_says_so(
    template: Template, access: resources.FunctionAccess
) -> None:
    statements = _function_statements(template, access.function)
    for definition, level in access.tables:
        table_id = _table_id(template, definition)
        actions = {
            action
            for statement in statements
            if table_id in json.dumps(statement["Resource"])
            for action in _as_list(statement["Action"])
        }
        assert "dynamodb:GetItem" in actions and "dynamodb:Query" in actions
        if level == "read":
            assert not actions & _DYNAMODB_WRITES, (access.function.name, definition.logical_id)
        elif level == "read_update":
            assert actions & _DYNAMODB_WRITES == {"dynamodb:PutItem", "dynamodb:UpdateItem"}, (
                access.function.name,
                definition.logical_id,
            )
        else:
            assert actions >= _DYNAMODB_WRITES, (access.function.name, definition.logical_id)
    granted = {d.logical_id for d, _ in access.tables}
    for definition in resources.TABLES:
        if definition.logical_id not in granted:
            assert _table_id(template, definition) not in json.dumps(statements)


@pytest.mark.parametrize("definition", resources.FUNCTIONS, ids=lambda d: d.name)
def test_no_wildcard_actions_and_no_star_resource_beyond_xray(
    template: Template, definition: resources.FunctionDefinition
) -> None:
    statements = _function_statements(template, definition)
    assert statements
    for statement in statements:
        actions = _as_list(statement["Action"])
        assert not [action for action in actions if "*" in action], statement
        if "*" in _as_list(statement["Resource"]):
            assert all(action.startswith("xray:") for action in actions), statement


def test_sender_has_no_dynamodb_wildcard_and_no_send_or_idempotency_access(
    template: Template,
) -> None:
    statements = _function_statements(template, resources.SENDER_FUNCTION)
    actions = [action for s in statements for action in _as_list(s["Action"])]
    assert "dynamodb:*" not in actions
    assert "dynamodb:PutItem" in actions
    assert "sqs:SendMessage" not in actions
    assert "sqs:DeleteMessage" in actions  # granted by the event source, for its own queue
    idempotency_ids = [
        logical_id
        for logical_id, table in _of_type(template, "AWS::DynamoDB::Table").items()
        if table["Properties"]["KeySchema"][0]["AttributeName"]
        == resources.IDEMPOTENCY_TABLE.partition_key.name
    ]
    assert idempotency_ids
    assert idempotency_ids[0] not in json.dumps(statements)


def test_channel_secrets_are_read_only_by_the_functions_that_call_line(
    template: Template,
) -> None:
    secrets = {
        logical_id: secret
        for logical_id, secret in _of_type(template, "AWS::SecretsManager::Secret").items()
        if secret["Properties"]["Name"].startswith(resources.CHANNEL_SECRET_PREFIX)
    }
    assert sorted(s["Properties"]["Name"] for s in secrets.values()) == [
        f"{resources.CHANNEL_SECRET_PREFIX}1234567890",
        f"{resources.CHANNEL_SECRET_PREFIX}demo",
    ]
    for secret in secrets.values():
        generator = secret["Properties"]["GenerateSecretString"]
        assert generator["GenerateStringKey"] == "channel_secret"
        assert "channel_access_token" in json.loads(generator["SecretStringTemplate"])
    for definition in resources.FUNCTIONS:
        statements = _function_statements(template, definition)
        reads = [s for s in statements if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
        resources_read = [r["Ref"] for s in reads for r in _as_list(s["Resource"])]
        channel_reads = [r for r in resources_read if r in secrets]
        if not resources.function_access(definition).reads_channel_secrets:
            assert not channel_reads, definition.name  # they never call LINE
            continue
        assert sorted(channel_reads) == sorted(secrets), definition.name


def test_event_source_secrets_are_read_by_the_events_function_only(template: Template) -> None:
    secrets = {
        logical_id: secret
        for logical_id, secret in _of_type(template, "AWS::SecretsManager::Secret").items()
        if secret["Properties"]["Name"].startswith(resources.EVENT_SOURCES_SECRET_PREFIX)
    }
    assert sorted(s["Properties"]["Name"] for s in secrets.values()) == [
        f"{resources.EVENT_SOURCES_SECRET_PREFIX}1234567890",
        f"{resources.EVENT_SOURCES_SECRET_PREFIX}demo",
    ]
    for secret in secrets.values():
        template_value = secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
        assert json.loads(template_value) == {"sources": {}}  # no sender until one is added
    for definition in resources.FUNCTIONS:
        statements = _function_statements(template, definition)
        reads = [
            r["Ref"]
            for s in statements
            if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
            for r in _as_list(s["Resource"])
        ]
        if definition == resources.EVENTS_FUNCTION:
            # ...and no LINE channel credentials (the login keys and the web tag's
            # visitor id key are the only others).
            assert sorted(reads) == sorted(
                [*secrets, _login_keys_id(template), _visitor_key_id(template)]
            )
        else:
            assert not set(reads) & set(secrets), definition.name


# ---------------------------------------------------------------- alarms and outputs
def _alarms(template: Template) -> list[dict[str, Any]]:
    return [a["Properties"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()]


def test_every_dead_letter_queue_has_an_alarm(template: Template) -> None:
    _, dlq_id = _queue_ids(template)
    assert any(
        alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and alarm["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
        and alarm["Threshold"] == 0
        and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        for alarm in _alarms(template)
    )


@pytest.mark.parametrize("definition", resources.FUNCTIONS, ids=lambda d: d.name)
def test_every_function_has_an_errors_alarm(
    template: Template, definition: resources.FunctionDefinition
) -> None:
    function_ref = {"Ref": _function_id(template, definition)}
    assert any(
        alarm["MetricName"] == "Errors"
        and alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function_ref}]
        for alarm in _alarms(template)
    )


def test_sender_throttles_alarm_and_email_action(template: Template) -> None:
    sender_ref = {"Ref": _function_id(template, resources.SENDER_FUNCTION)}
    assert any(
        alarm["MetricName"] == "Throttles"
        and alarm["Dimensions"] == [{"Name": "FunctionName", "Value": sender_ref}]
        for alarm in _alarms(template)
    )
    (topic_id,) = _of_type(template, "AWS::SNS::Topic")
    assert all(alarm["AlarmActions"] == [{"Ref": topic_id}] for alarm in _alarms(template))
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_without_alarm_email_there_is_no_topic() -> None:
    template = Template.from_stack(build_stack())
    template.resource_count_is("AWS::SNS::Topic", 0)
    # An errors alarm per function, a dead letters alarm per queue, sender throttles,
    # monthly quota exhausted, scheduled fires dead.
    expected = len(resources.FUNCTIONS) + len(resources.QUEUES) + 3
    assert len(template.find_resources("AWS::CloudWatch::Alarm")) == expected


def test_outputs(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {"ApiUrl", "WebhookUrlTemplate", "SendQueueUrl", "SendQueueDlqUrl"} <= set(outputs)
    assert {f"{t.logical_id}TableName" for t in resources.TABLES} <= set(outputs)
    assert {"ChannelSecretName1234567890", "ChannelSecretNamedemo"} <= set(outputs)
    assert "webhook/<channelId>" in json.dumps(outputs["WebhookUrlTemplate"]["Value"])
    assert outputs["ChannelSecretNamedemo"]["Value"] == f"{resources.CHANNEL_SECRET_PREFIX}demo"
