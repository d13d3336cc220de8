"""Each function's settings model reads exactly what resources.FUNCTION_ACCESS gives it,
and a missing setting fails at cold start, naming the variable."""

from __future__ import annotations

import pytest

from linecrm import resources
from linecrm.config import FUNCTION_ENVIRONMENT, SettingsError
from linecrm.config.liff_login import LiffLoginSettings
from linecrm.config.registry import FUNCTION_SETTINGS
from linecrm.config.scheduler import SchedulerSettings
from linecrm.config.webhook import WebhookSettings
from linecrm.resources import Env
from linecrm.wiring import Container
from linecrm_local.aws_calls import count_aws_calls
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.unit.conftest import AwsWorld


@pytest.mark.parametrize("access", resources.FUNCTION_ACCESS, ids=lambda a: a.function.name)
def test_the_settings_model_reads_the_variables_of_the_access_table(
    access: resources.FunctionAccess,
) -> None:
    assert FUNCTION_SETTINGS[access.function.name].env_names() == set(access.environment_names)


def test_every_function_has_one_access_entry_and_one_settings_model() -> None:
    assert sorted(a.function.name for a in resources.FUNCTION_ACCESS) == sorted(
        f.name for f in resources.FUNCTIONS
    )
    assert sorted(FUNCTION_SETTINGS) == sorted(f.name for f in resources.FUNCTIONS)
    every_table_queue_and_bucket = {
        *resources.TABLE_ENV.values(),
        *resources.QUEUE_ENV.values(),
        *resources.BUCKET_ENV.values(),
    }
    assert len(resources.TABLE_ENV) == len(resources.TABLES)
    assert len(resources.QUEUE_ENV) == len(resources.QUEUES)
    assert len(resources.BUCKET_ENV) == len(resources.BUCKETS)
    every_name = {value for name, value in vars(Env).items() if name.isupper()}
    assert every_table_queue_and_bucket <= every_name
    assert every_name == {n for a in resources.FUNCTION_ACCESS for n in a.environment_names}


def test_least_privilege_in_the_table() -> None:
    webhook = resources.function_access(resources.WEBHOOK_FUNCTION)
    assert webhook.manages_schedules  # a follow or a tap schedules a scenario step's bucket
    assert not webhook.buckets
    liff = resources.function_access(resources.LIFF_LOGIN_FUNCTION)
    # It finds or creates the friend of a login (UpdateItem), and never deletes.
    assert liff.tables == ((resources.MAIN_TABLE, "read_update"),)
    assert Env.LIFF_MOCK_ID_TOKENS in resources.LOCAL_ONLY_SETTINGS
    scheduler = resources.function_access(resources.SCHEDULER_FUNCTION)
    assert scheduler.manages_schedules  # it defers a due delivery again
    assert Env.SCHEDULER_TARGET_ARN in scheduler.environment_names


def test_a_missing_setting_is_named() -> None:
    environ = {Env.TABLE_NAME: "t", Env.SEND_QUEUE_URL: "q", Env.CHANNEL_SECRET_PREFIX: "p/"}
    with pytest.raises(SettingsError, match=Env.IDEMPOTENCY_TABLE_NAME) as raised:
        WebhookSettings.from_env(environ)
    assert "webhook" in str(raised.value)
    with pytest.raises(SettingsError, match=Env.SEND_RETRY_BASE_SECONDS):
        WebhookSettings.from_env(
            {**environ, Env.IDEMPOTENCY_TABLE_NAME: "i", Env.SEND_RETRY_BASE_SECONDS: "-1"}
        )


def test_the_function_environment_wins_over_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(Env.TABLE_NAME, "from-the-process")
    monkeypatch.setenv(Env.CHANNEL_SECRET_PREFIX, "p/")
    assert LiffLoginSettings.from_env().table_name == "from-the-process"
    token = FUNCTION_ENVIRONMENT.set({Env.TABLE_NAME: "own", Env.CHANNEL_SECRET_PREFIX: "p/"})
    try:
        assert LiffLoginSettings.from_env().table_name == "own"
        assert Container(LiffLoginSettings).settings.table_name == "own"
    finally:
        FUNCTION_ENVIRONMENT.reset(token)


def test_a_container_refuses_a_part_its_function_does_not_have() -> None:
    container = Container(LiffLoginSettings(table_name="t", channel_secret_prefix="p/"))
    with pytest.raises(SettingsError, match="SendQueueSettings"):
        _ = container.outbox
    with pytest.raises(SettingsError, match="ScheduleSettings"):
        container.schedule_planner()


def test_a_handler_fails_at_cold_start_before_any_work(aws: AwsWorld) -> None:
    environ = aws.resources.function_environment(resources.SCHEDULER_FUNCTION)
    del environ[Env.SCHEDULER_ROLE_ARN]
    handler = load_handler(resources.SCHEDULER_FUNCTION.name)
    token = FUNCTION_ENVIRONMENT.set(environ)
    try:
        with count_aws_calls() as calls, pytest.raises(SettingsError, match="ROLE_ARN"):
            handler.lambda_handler({"kind": "send"}, FakeLambdaContext())
    finally:
        FUNCTION_ENVIRONMENT.reset(token)
    assert calls.count() == 0


def test_a_complete_environment_starts(aws: AwsWorld) -> None:
    environ = aws.resources.function_environment(resources.SCHEDULER_FUNCTION)
    settings = SchedulerSettings.from_env(environ)
    assert settings.scheduler_target_arn == aws.resources.scheduler_target_arn
