"""botocore operations as IAM authorizations, and statements that allow them or not."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from linecrm_local import grants
from linecrm_local.grants import GrantCheck, IamRequest, Statement, iam_requests
from linecrm_local.lambda_runtime import current_function
from tests.unit.conftest import AwsWorld

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/main"


def requests_of(service: str, operation: str, **params: object) -> list[IamRequest]:
    return iam_requests(service, operation, params, region=REGION, account=ACCOUNT)


def test_dynamodb_operations_and_their_resources() -> None:
    assert requests_of("dynamodb", "Query", TableName="main", IndexName="gsi1") == [
        IamRequest("dynamodb:Query", f"{TABLE}/index/gsi1")
    ]
    assert requests_of("dynamodb", "GetItem", TableName="main") == [
        IamRequest("dynamodb:GetItem", TABLE)
    ]
    transaction = requests_of(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "main"}},
            {"ConditionCheck": {"TableName": "other"}},
        ],
    )
    assert [(r.action, r.resource.rsplit("/", 1)[-1]) for r in transaction] == [
        ("dynamodb:PutItem", "main"),
        ("dynamodb:ConditionCheckItem", "other"),
    ]


def test_sqs_s3_secrets_and_scheduler() -> None:
    url = f"http://localhost:5000/{ACCOUNT}/linecrm-sendqueue"
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:linecrm-sendqueue"
    assert requests_of("sqs", "SendMessageBatch", QueueUrl=url) == [
        IamRequest("sqs:SendMessage", queue)
    ]
    assert requests_of("s3", "GetObject", Bucket="b", Key="imports/x.csv") == [
        IamRequest("s3:GetObject", "arn:aws:s3:::b/imports/x.csv")
    ]
    assert requests_of("s3", "ListObjectsV2", Bucket="b", Prefix="imports/") == [
        IamRequest("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "imports/"})
    ]
    assert requests_of("secretsmanager", "GetSecretValue", SecretId="linecrm/channel/1") == [
        IamRequest(
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:linecrm/channel/1",
        )
    ]
    role = f"arn:aws:iam::{ACCOUNT}:role/invoke"
    assert requests_of(
        "scheduler", "CreateSchedule", Name="s1", GroupName="linecrm", Target={"RoleArn": role}
    ) == [
        IamRequest(
            "scheduler:CreateSchedule", f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/linecrm/s1"
        ),
        IamRequest("iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}),
    ]


def test_statements_match_actions_resources_and_conditions() -> None:
    read = Statement(("dynamodb:GetItem", "dynamodb:Query"), (TABLE, f"{TABLE}/index/*"))
    assert read.allows(IamRequest("dynamodb:Query", f"{TABLE}/index/gsi1"))
    assert read.allows(IamRequest("DynamoDB:getitem", TABLE))  # actions ignore case
    assert not read.allows(IamRequest("dynamodb:PutItem", TABLE))
    assert not read.allows(IamRequest("dynamodb:GetItem", f"{TABLE}-other"))
    pass_role = Statement(
        ("iam:PassRole",),
        ("arn:aws:iam::1:role/r",),
        {"StringEquals": {"iam:PassedToService": ("scheduler.amazonaws.com",)}},
    )
    to_scheduler = {"iam:PassedToService": "scheduler.amazonaws.com"}
    assert pass_role.allows(IamRequest("iam:PassRole", "arn:aws:iam::1:role/r", to_scheduler))
    assert not pass_role.allows(IamRequest("iam:PassRole", "arn:aws:iam::1:role/r"))
    assert not pass_role.allows(
        IamRequest("iam:PassRole", "arn:aws:iam::1:role/r", {"iam:PassedToService": "x"})
    )


def test_an_ungranted_call_of_a_function_fails_and_is_recorded(aws: AwsWorld) -> None:
    table = aws.resources.table_names["Main"]
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    check = GrantCheck(
        {"reader": [Statement(("dynamodb:GetItem",), (arn,))]}, region=REGION, account=ACCOUNT
    )
    client = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    grants.take_violations()
    with grants.enforcing(check):
        client.put_item(TableName=table, Item=key)  # not a function's call: not checked
        token = current_function.set("reader")
        try:
            client.get_item(TableName=table, Key=key)
            with pytest.raises(ClientError, match="AccessDenied"):
                client.delete_item(TableName=table, Key=key)
        finally:
            current_function.reset(token)
    (violation,) = grants.take_violations()
    assert (violation.function, violation.action, violation.resource) == (
        "reader",
        "dynamodb:DeleteItem",
        arn,
    )
    assert "reader" in str(violation) and "dynamodb:DeleteItem" in str(violation)


def test_a_request_on_something_not_deployed_is_denied_without_a_violation(
    aws: AwsWorld,
) -> None:
    check = GrantCheck(
        {"reader": []},
        region=REGION,
        account=ACCOUNT,
        undeployed=lambda request: request.resource.endswith(":secret:linecrm/channel/404"),
    )
    client = boto3.client("secretsmanager", region_name=REGION)
    grants.take_violations()
    with grants.enforcing(check):
        token = current_function.set("reader")
        try:
            for secret in ("linecrm/channel/404", "linecrm/channel/demo"):
                with pytest.raises(ClientError, match="AccessDenied"):
                    client.get_secret_value(SecretId=secret)
        finally:
            current_function.reset(token)
    (violation,) = grants.take_violations()
    assert violation.resource.endswith(":secret:linecrm/channel/demo")
