"""``linecrm simulate open``: the campaign key becomes its aggregation unit; mistakes
are said in one line (exit 2), before any call."""

from __future__ import annotations

import pytest

from linecrm.domain.insight import aggregation_unit_for
from linecrm_local import cli, cli_insight


def parse(*argv: str) -> dict[str, object]:
    args = cli.build_parser().parse_args(["simulate", "open", *argv])
    return cli_insight.open_body(args)


def test_a_campaign_is_read_as_its_unit() -> None:
    assert parse("U1", "--campaign", "broadcast:b1") == {
        "userId": "U1",
        "unit": aggregation_unit_for("broadcast:b1"),
    }


def test_a_message_is_a_request_id_and_click_may_name_a_url() -> None:
    assert parse("U1", "--message", "req-1", "--click") == {
        "userId": "U1",
        "requestId": "req-1",
        "click": True,
    }
    assert parse("U1", "--click", "https://a.example/") == {
        "userId": "U1",
        "url": "https://a.example/",
    }


def test_a_bad_campaign_key_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["--emulator", "http://127.0.0.1:9", "simulate", "open", "U1", "--campaign", "sale"]
    )
    assert code == 2
    assert "no campaign key" in capsys.readouterr().err


def test_campaign_and_message_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse("U1", "--campaign", "welcome", "--message", "req-1")
