"""Scenario definitions: timing rules, validation with field paths, and scenario files
whose errors name the file, the line and the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from linecrm.scenarios.engine import bucket_minute
from linecrm.scenarios.model import ScenarioDefinition, Timing
from linecrm.scenarios.service import ScenarioRejected, parse_definition
from linecrm_local.admin_cli import AdminCliError
from linecrm_local.cli_scenarios import apply_file, load_scenarios

TOKYO = ZoneInfo("Asia/Tokyo")
# 2026-12-01 23:30 Tokyo = 14:30 UTC
ENROLLED = datetime(2026, 12, 1, 14, 30, 20, tzinfo=UTC)
EXAMPLE = Path(__file__).parents[3] / "examples" / "scenarios.yaml"


def due(
    timing: dict[str, object], *, previous: datetime = ENROLLED, hour: int | None = None
) -> datetime:
    return Timing.model_validate(timing).due_at(
        enrolled_at=ENROLLED, previous_at=previous, zone=TOKYO, preferred_hour=hour
    )


def test_delays_count_from_the_previous_step_or_from_enrolment() -> None:
    later = ENROLLED + timedelta(hours=5)
    assert due({"after": "2h"}, previous=later) == later + timedelta(hours=2)
    assert due({"after_enrollment": "3d"}, previous=later) == ENROLLED + timedelta(days=3)
    assert due({"after": "30m"}) == ENROLLED + timedelta(minutes=30)


def test_day_n_is_counted_in_the_account_time_zone() -> None:
    # Enrolled on 12-01 (Tokyo); day 1 at 10:00 is 12-02 10:00 Tokyo = 01:00 UTC.
    assert due({"day": 1, "at": "10:00"}) == datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    assert due({"day": 0, "at": "23:45"}) == datetime(2026, 12, 1, 14, 45, tzinfo=UTC)


def test_day_n_without_a_time_uses_the_preferred_send_hour_else_the_enrolment_time() -> None:
    assert due({"day": 2}, hour=20) == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert due({"day": 2}) == datetime(2026, 12, 3, 14, 30, tzinfo=UTC)


def test_a_bucket_is_the_next_whole_minute_and_never_one_that_may_have_fired() -> None:
    assert bucket_minute(ENROLLED, ENROLLED) == datetime(2026, 12, 1, 14, 31, tzinfo=UTC)
    on_the_minute = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert bucket_minute(on_the_minute, ENROLLED) == on_the_minute
    # Due in the past (a late branch): the next minute after now.
    assert bucket_minute(ENROLLED - timedelta(hours=1), ENROLLED) == datetime(
        2026, 12, 1, 14, 31, tzinfo=UTC
    )


def test_invalid_definitions_name_each_field_at_fault() -> None:
    with pytest.raises(ScenarioRejected) as raised:
        parse_definition(
            {
                "id": "Bad Id",
                "name": "x",
                "steps": [
                    {
                        "id": "a",
                        "timing": {"after": "1h", "day": 2},
                        "messages": [{"type": "text", "text": "a"}],
                    },
                    {
                        "id": "b",
                        "timing": {"after": "soon"},
                        "messages": [{"type": "text", "text": "b"}],
                    },
                ],
            }
        )
    paths = {problem.path: problem.reason for problem in raised.value.problems}
    assert "id" in paths
    assert "exactly one of" in paths["steps[0].timing"]
    assert "not a duration" in paths["steps[1].timing"]


def test_branch_targets_must_be_steps() -> None:
    with pytest.raises(ScenarioRejected) as raised:
        parse_definition(
            {
                "id": "s",
                "name": "s",
                "steps": [
                    {
                        "id": "a",
                        "timing": {"after": "0m"},
                        "messages": [{"type": "text", "text": "a"}],
                        "branches": [{"postback": "x=1", "goto": "nowhere"}],
                    }
                ],
            }
        )
    assert "steps[0].branches[0].goto: no step 'nowhere'" in str(raised.value)


def test_the_demo_file_is_valid_and_navigates_as_documented() -> None:
    documents, _ = load_scenarios(EXAMPLE)
    definitions = [ScenarioDefinition.model_validate(document) for _, document in documents]
    # The seeds' scenarios: welcome + 3 steps, cart left, favourite item, points, rank.
    assert [d.id for d in definitions] == [
        "welcome-series",
        "cart-reminder",
        "favourite-item",
        "points-expiring",
        "rank-up",
    ]
    prefix, _ = documents[0]
    definition = definitions[0]
    assert prefix == "scenarios[0]"
    assert [step.id for step in definition.steps] == ["welcome", "nudge", "skin", "hair", "day3"]
    assert definition.next_step("nudge") is not None
    assert definition.next_step("skin").id == "day3"  # type: ignore[union-attr]
    assert definition.next_step("day3") is None
    assert definition.steps[0].timing.is_immediate


BROKEN = """\
scenarios:
  - id: broken
    name: 壊れたシナリオ
    steps:
      - id: first
        timing: {after: 0m}
        messages: [{type: text, text: hi}]
      - id: second
        timing:
          day: 3
          at: 10:00
          after: 1h
        messages: [{type: text, text: later}]
        next: third
"""


def test_apply_names_file_line_and_field_of_each_error(tmp_path: Path) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(AdminCliError) as raised:
        apply_file(None, path, dry_run=True)  # type: ignore[arg-type]  # fails before any call
    message = str(raised.value)
    # The unquoted 10:00 is read as the text "10:00", not YAML 1.1's base-60 600: the
    # only problem of that step's timing is the second timing given.
    assert f"{path}:9: steps[1].timing: give exactly one of after" in message
    # Once the fields are right, the checks across them run: the unknown step.
    path.write_text(BROKEN.replace("          after: 1h\n", ""), encoding="utf-8")
    with pytest.raises(AdminCliError) as raised:
        apply_file(None, path, dry_run=True)  # type: ignore[arg-type]
    assert f"{path}:13: steps[1].next: no step 'third'" in str(raised.value)


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text("scenarios:\n  - id: x\n    name: [unclosed\n", encoding="utf-8")
    with pytest.raises(AdminCliError, match=r"scenarios.yaml:\d+: not valid YAML"):
        load_scenarios(path)
