"""Deploy-time settings from CDK context."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from linecrm_infra import constants
from linecrm_infra.constructs.secrets import parse_channel_ids
from linecrm_infra.stack import StackSettings

pytestmark = pytest.mark.infra


def test_channel_ids_are_split_trimmed_and_deduplicated() -> None:
    assert parse_channel_ids(" 1655, demo,1655,") == ("1655", "demo")


@pytest.mark.parametrize("raw", ["", " , ", "ok,bad id", "a/b"])
def test_bad_channel_ids_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="channel"):
        parse_channel_ids(raw)


def test_defaults_without_context() -> None:
    settings = StackSettings.from_context(cdk.App())
    assert settings.channel_ids == (constants.DEFAULT_CHANNEL_IDS,)
    assert settings.alarm_email is None
    assert settings.line_api_base_url == "https://api.line.me"
    assert settings.line_data_api_base_url == "https://api-data.line.me"
    assert settings.line_login_base_url == "https://api.line.me"


def test_context_overrides() -> None:
    app = cdk.App(
        context={"channelIds": "1,2", "alarmEmail": "a@example.com", "lineDataApiBaseUrl": "x"}
    )
    settings = StackSettings.from_context(app)
    assert settings.channel_ids == ("1", "2")
    assert settings.alarm_email == "a@example.com"
    assert settings.line_data_api_base_url == "x"
