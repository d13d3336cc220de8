"""PUT/GET/DELETE /admin/channels/{channel_id}/attribution: the purchase attribution
window the report counters use (default 7 days)."""

from __future__ import annotations

import pytest

from linecrm.domain.attribution import stored_attribution
from linecrm.repositories.channel_config import ChannelConfigRepository
from tests.unit.admin.conftest import AdminApi
from tests.unit.conftest import CHANNEL_ID


def test_the_attribution_window_lifecycle(api: AdminApi) -> None:
    assert api.call("GET", "/attribution").body == {"window_days": 7}

    stored = api.call("PUT", "/attribution", {"window_days": 14})
    assert stored.status == 200 and stored.body == {"window_days": 14}
    assert api.call("GET", "/attribution").body == {"window_days": 14}
    config = ChannelConfigRepository(
        api.aws.client("dynamodb"), api.aws.resources.table_names["Main"]
    ).load(CHANNEL_ID)
    assert stored_attribution(config.settings).window_days == 14  # what the counters read

    assert api.call("DELETE", "/attribution").status == 204
    assert api.call("GET", "/attribution").body == {"window_days": 7}


@pytest.mark.parametrize(
    "body",
    [
        {"window_days": 0},
        {"window_days": 91},
        {"window_days": "7"},
        {"window_days": 1.5},
        {"days": 7},
    ],
)
def test_a_bad_window_is_422_naming_the_field(api: AdminApi, body: dict[str, object]) -> None:
    answer = api.call("PUT", "/attribution", body)
    assert answer.status == 422, answer.body
    assert answer.body["field"]
    assert api.call("GET", "/attribution").body == {"window_days": 7}
