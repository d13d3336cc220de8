from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest
import requests

from linecrm import resources
from linecrm.resources import Env
from linecrm_local.aws_local import LocalAws, LocalResources, create_resources
from linecrm_local.provision import ChannelSecret
from linecrm_local.serving import PortInUseError

pytestmark = pytest.mark.integration

CHANNELS = [
    ChannelSecret("2000000001", "a" * 32, "token-1"),
    ChannelSecret("2000000002", "b" * 32, "token-2"),
]


@pytest.fixture
def created(clean_aws: LocalAws) -> LocalResources:
    return create_resources(clean_aws, CHANNELS, visibility_timeout_seconds=2)


def key_schema(
    partition: resources.KeyAttribute, sort: resources.KeyAttribute | None
) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def test_creates_exactly_the_tables_resources_defines(created: LocalResources) -> None:
    dynamodb = boto3.client("dynamodb")

    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(
        t.local_name for t in resources.TABLES
    )
    for table in resources.TABLES:
        description: dict[str, Any] = dynamodb.describe_table(TableName=table.local_name)["Table"]
        assert description["KeySchema"] == key_schema(table.partition_key, table.sort_key)
        assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {
            index["IndexName"]: index["KeySchema"]
            for index in description.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == {
            index.name: key_schema(index.partition_key, index.sort_key)
            for index in table.global_indexes
        }
        ttl = dynamodb.describe_time_to_live(TableName=table.local_name)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl.get("AttributeName")) == (
            "ENABLED",
            table.ttl_attribute,
        )
        assert created.table_names[table.logical_id] == table.local_name


def test_creates_every_queue_with_its_dlq_redrive_and_visibility(created: LocalResources) -> None:
    sqs = boto3.client("sqs")
    expected_names = {q.local_name for q in resources.QUEUES} | {
        q.local_dlq_name for q in resources.QUEUES
    }

    assert {url.rsplit("/", 1)[-1] for url in sqs.list_queues()["QueueUrls"]} == expected_names
    for definition in resources.QUEUES:
        local = created.queues[definition.logical_id]
        attributes = sqs.get_queue_attributes(QueueUrl=local.url, AttributeNames=["All"])[
            "Attributes"
        ]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=local.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]
        assert attributes["VisibilityTimeout"] == "2"  # the override
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq_arn["QueueArn"],
            "maxReceiveCount": definition.max_receive_count,
        }
        assert attributes["QueueArn"] == local.arn
    assert [q.definition for q in created.polled_queues()] == list(resources.QUEUES)


def test_without_override_queues_keep_the_defined_visibility(clean_aws: LocalAws) -> None:
    created = create_resources(clean_aws, [])
    sqs = boto3.client("sqs")
    for definition in resources.QUEUES:
        attributes = sqs.get_queue_attributes(
            QueueUrl=created.queues[definition.logical_id].url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        assert attributes["VisibilityTimeout"] == str(definition.visibility_timeout_seconds)


def test_creates_the_schedule_group_role_and_channel_secrets(created: LocalResources) -> None:
    assert boto3.client("scheduler").get_schedule_group(Name=resources.SCHEDULE_GROUP_NAME)[
        "Name"
    ] == (created.schedule_group_name)
    role_name = created.scheduler_role_arn.rsplit("/", 1)[-1]
    assert (
        boto3.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]
        == created.scheduler_role_arn
    )
    assert created.scheduler_target_arn.endswith(
        f":function:linecrm-{resources.SCHEDULE_TARGET.name}"
    )
    secrets = boto3.client("secretsmanager")
    for channel in CHANNELS:
        value = secrets.get_secret_value(
            SecretId=resources.CHANNEL_SECRET_PREFIX + channel.channel_id
        )
        assert json.loads(value["SecretString"]) == {
            "channel_secret": channel.channel_secret,
            "channel_access_token": channel.channel_access_token,
        }


def test_the_process_environment_has_aws_and_powertools_settings_only(
    created: LocalResources,
) -> None:
    env = created.environment(log_level="DEBUG")

    assert env["AWS_ENDPOINT_URL"] == created.endpoint_url
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert env["POWERTOOLS_SERVICE_NAME"] == "linecrm"
    assert not [name for name in env if name.startswith("LINECRM_")]


def test_each_function_gets_exactly_the_settings_of_its_access(created: LocalResources) -> None:
    environments = created.function_environments("http://127.0.0.1:9999/")

    every_name = {value for name, value in vars(Env).items() if name.isupper()}
    # Local-only settings (the liff-mock ID tokens) are off unless a test turns them on.
    local_only = set(resources.LOCAL_ONLY_SETTINGS)
    assert every_name - local_only == {name for env in environments.values() for name in env}
    for access in resources.FUNCTION_ACCESS:
        expected = set(access.environment_names) - local_only
        assert set(environments[access.function.name]) == expected
    webhook = environments[resources.WEBHOOK_FUNCTION.name]
    assert webhook[Env.LINE_API_BASE_URL] == webhook[Env.LINE_DATA_API_BASE_URL]
    assert webhook[Env.LINE_LOGIN_BASE_URL] == "http://127.0.0.1:9999"
    assert webhook[Env.SEND_QUEUE_URL] == created.queues[resources.SEND_QUEUE.logical_id].url
    assert webhook[Env.SEND_RETRY_BASE_SECONDS] == "0.05"
    assert Env.SCHEDULER_ROLE_ARN not in environments[resources.SENDER_FUNCTION.name]
    assert Env.IDEMPOTENCY_TABLE_NAME not in environments[resources.SENDER_FUNCTION.name]
    assert Env.UPLOADS_BUCKET_NAME not in environments[resources.SCHEDULER_FUNCTION.name]


def test_overrides_reach_the_functions_that_have_the_setting(created: LocalResources) -> None:
    environments = created.function_environments(overrides={Env.IMPORT_PAGE_SIZE: "5"})

    assert environments[resources.JOBS_FUNCTION.name][Env.IMPORT_PAGE_SIZE] == "5"
    assert Env.IMPORT_PAGE_SIZE not in environments[resources.ADMIN_FUNCTION.name]
    mock = json.dumps({"id_token": {"userId": "U" + "0" * 32}})
    enabled = created.function_environments(overrides={Env.LIFF_MOCK_ID_TOKENS: mock})
    assert enabled[resources.LIFF_LOGIN_FUNCTION.name][Env.LIFF_MOCK_ID_TOKENS] == mock
    assert Env.LIFF_MOCK_ID_TOKENS not in enabled[resources.WEBHOOK_FUNCTION.name]
    with pytest.raises(ValueError, match="LINECRM_NOPE"):
        created.function_environments(overrides={"LINECRM_NOPE": "1"})


def test_start_points_boto3_at_moto_and_stop_restores_the_environment() -> None:
    before = os.environ.get("AWS_ENDPOINT_URL")
    aws = LocalAws()
    aws.start()
    try:
        assert os.environ["AWS_ENDPOINT_URL"] == aws.url
        assert os.environ["AWS_DEFAULT_REGION"] == resources.DEFAULT_REGION
        assert requests.get(f"{aws.url}/moto-api/data.json", timeout=5).status_code == 200
        with pytest.raises(PortInUseError, match="moto"):
            LocalAws(port=int(aws.url.rsplit(":", 1)[-1])).start()
    finally:
        aws.stop()
    assert os.environ.get("AWS_ENDPOINT_URL") == before


def test_queries_see_every_write_at_once_through_the_narrowed_moto_query(
    clean_aws: LocalAws,
) -> None:
    """moto_queries narrows Query to one partition or one index value: each write
    (put, update of an index key, transaction, delete) shows in the next query."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="q",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "g", "gs")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "gs", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )

    def put(pk: str, sk: str, g: str | None) -> None:
        item = {"pk": {"S": pk}, "sk": {"S": sk}}
        if g is not None:
            item |= {"g": {"S": g}, "gs": {"S": sk}}
        client.put_item(TableName="q", Item=item)

    def table_query(pk: str) -> list[str]:
        page = client.query(
            TableName="q",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
        return [item["sk"]["S"] for item in page["Items"]]

    def index_query(g: str, between: tuple[str, str] | None = None) -> list[str]:
        condition, values = "g = :g", {":g": {"S": g}}
        if between:
            condition += " AND gs BETWEEN :a AND :b"
            values |= {":a": {"S": between[0]}, ":b": {"S": between[1]}}
        page = client.query(
            TableName="q",
            IndexName="gsi",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        return [item["sk"]["S"] for item in page["Items"]]

    for number in range(5):
        put("A", f"{number}", "even" if number % 2 == 0 else "odd")
    put("B", "0", None)
    assert table_query("A") == ["0", "1", "2", "3", "4"]
    assert table_query("B") == ["0"] and table_query("C") == []
    assert index_query("even") == ["0", "2", "4"]
    assert index_query("even", ("1", "3")) == ["2"]

    client.update_item(  # an index key changes: the next query sees it
        TableName="q",
        Key={"pk": {"S": "A"}, "sk": {"S": "2"}},
        UpdateExpression="SET g = :odd",
        ExpressionAttributeValues={":odd": {"S": "odd"}},
    )
    assert index_query("even") == ["0", "4"]
    assert index_query("odd") == ["1", "2", "3"]
    client.transact_write_items(
        TransactItems=[
            {"Delete": {"TableName": "q", "Key": {"pk": {"S": "A"}, "sk": {"S": "0"}}}},
            {
                "Update": {
                    "TableName": "q",
                    "Key": {"pk": {"S": "A"}, "sk": {"S": "3"}},
                    "UpdateExpression": "REMOVE g",
                }
            },
        ]
    )
    assert index_query("even") == ["4"]
    assert index_query("odd") == ["1", "2"]
    assert table_query("A") == ["1", "2", "3", "4"]
