"""Each function's environment and grants in the template follow resources.FUNCTION_ACCESS,
and each function starts with the environment the template gives it."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from linecrm import resources
from linecrm.config import FUNCTION_ENVIRONMENT
from linecrm.config.registry import FUNCTION_SETTINGS
from linecrm.models.jobs import ScheduledSend
from linecrm.models.send import SendRequest
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.resources import Env
from linecrm_local.aws_local import LocalQueue, LocalResources
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.provision import ChannelSecret, provision
from tests.support.grants import LocalValues, Synthesized, synthesized
from tests.support.lambda_support import FakeLambdaContext, load_handler

pytestmark = pytest.mark.infra

NIGHT = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 22:00 in Tokyo: quiet hours
MORNING = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
USER = "U" + "a" * 32


@pytest.fixture(scope="module")
def template() -> Synthesized:
    return synthesized()


def _variables(template: Synthesized, definition: resources.FunctionDefinition) -> set[str]:
    return {name for name in template.environment(definition) if name.startswith("LINECRM_")}


@pytest.mark.parametrize("access", resources.FUNCTION_ACCESS, ids=lambda a: a.function.name)
def test_a_function_gets_its_access_variables_and_no_others(
    template: Synthesized, access: resources.FunctionAccess
) -> None:
    variables = _variables(template, access.function)
    assert variables <= set(access.environment_names)
    model = FUNCTION_SETTINGS[access.function.name]
    required = {str(f.alias) for f in model.model_fields.values() if f.is_required()}
    assert required <= variables, f"{access.function.name} lacks {required - variables}"


@pytest.mark.parametrize("definition", resources.FUNCTIONS, ids=lambda d: d.name)
def test_every_function_validates_the_environment_the_template_gives_it(
    template: Synthesized, definition: resources.FunctionDefinition
) -> None:
    tokens = {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in template.environment(definition).items()
    }
    FUNCTION_SETTINGS[definition.name].from_env(tokens)


def test_the_scheduler_function_can_schedule_itself_without_a_cycle(
    template: Synthesized,
) -> None:
    function_id = template.function_ids[resources.SCHEDULER_FUNCTION.name]
    properties = template.template["Resources"][function_id]["Properties"]
    target = template.environment(resources.SCHEDULER_FUNCTION)[Env.SCHEDULER_TARGET_ARN]
    # Built from its fixed name and pseudo parameters: no reference to itself.
    assert function_id not in json.dumps(target)
    assert properties["FunctionName"] == f"Linecrm-{resources.SCHEDULER_FUNCTION.name}"
    assert json.dumps(target).endswith(f':function:{properties["FunctionName"]}"]]}}')
    for definition in (resources.ADMIN_FUNCTION, resources.JOBS_FUNCTION):
        assert template.environment(definition)[Env.SCHEDULER_TARGET_ARN] == target


@pytest.fixture
def aws_resources(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", resources.DEFAULT_REGION)
    with mock_aws():
        session = boto3.session.Session(region_name=resources.DEFAULT_REGION)
        created = provision(session, [ChannelSecret(DEMO_CHANNEL_ID, "secret", "token")])
        queues = {
            definition.logical_id: LocalQueue(
                definition,
                created.queue_urls[definition.logical_id],
                created.queue_arns[definition.logical_id],
                created.dlq_urls[definition.logical_id],
            )
            for definition in resources.QUEUES
        }
        yield LocalResources(
            endpoint_url="",
            region=created.region,
            table_names=created.table_names,
            queues=queues,
            schedule_group_name=created.schedule_group_name,
            scheduler_target_arn=created.scheduler_target_arn,
            scheduler_role_arn=created.scheduler_role_arn,
            provisioned=created,
        )


def test_a_scheduled_send_deferred_again_by_quiet_hours_gets_a_new_schedule(
    aws_resources: LocalResources,
) -> None:
    """The bug a deployment hit: the scheduler function could not defer again."""
    environment = LocalValues(aws_resources).environment(resources.SCHEDULER_FUNCTION)
    table = aws_resources.table_names[resources.MAIN_TABLE.logical_id]
    dynamodb = boto3.client("dynamodb")
    FriendRepository(dynamodb, table).record_follow(DEMO_CHANNEL_ID, USER, NIGHT)
    ChannelConfigRepository(dynamodb, table).set_setting(
        DEMO_CHANNEL_ID,
        "delivery_policy",
        {"time_zone": "Asia/Tokyo", "quiet_hours": {"start": "21:00", "end": "09:00"}},
    )
    handler = load_handler(resources.SCHEDULER_FUNCTION.name)
    handler.container = functools.cache(
        functools.partial(handler.container.__wrapped__, clock=lambda: NIGHT)
    )
    job = ScheduledSend(
        job_id="reminder-1",
        request=SendRequest(
            delivery_id="reminder:1",
            channel_id=DEMO_CHANNEL_ID,
            to=[USER],
            messages=[{"type": "text", "text": "まだカートに"}],
            cause="trigger",
        ),
    )

    token = FUNCTION_ENVIRONMENT.set(environment)
    try:
        result: dict[str, Any] = handler.lambda_handler(
            job.model_dump(mode="json"), FakeLambdaContext()
        )
    finally:
        FUNCTION_ENVIRONMENT.reset(token)

    assert result == {"status": "deferred", "job_id": "reminder-1"}
    scheduler = boto3.client("scheduler")
    group = environment[Env.SCHEDULE_GROUP_NAME]
    recurring = {schedule.name for schedule in resources.RECURRING_SCHEDULES}
    (summary,) = [  # the deferred message's schedule (not the recurring ones)
        s
        for s in scheduler.list_schedules(GroupName=group)["Schedules"]
        if s["Name"] not in recurring
    ]
    schedule = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
    assert schedule["Target"]["Arn"] == environment[Env.SCHEDULER_TARGET_ARN]
    assert schedule["Target"]["RoleArn"] == aws_resources.scheduler_role_arn
    assert MORNING.strftime("%Y-%m-%dT%H:%M:%S") in schedule["ScheduleExpression"]
