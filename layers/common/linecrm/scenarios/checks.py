"""Checking a scenario against the channel: tags, fields, conditions, messages.

``ScenarioDefinition`` checks the document's own shape; this checks what it refers to
(so a typo in a tag name is a 422 naming the field, not a step that never matches).
Every problem carries the path of the field at fault (``steps[2].condition.tag``),
which ``linecrm apply`` turns into a line of the YAML file.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from linecrm.domain.actions import AddTags, RemoveTags, SetField
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldValueError, UnknownField
from linecrm.domain.personalization import PersonalizationError, check_fields, placeholders
from linecrm.domain.problems import Problem, problems_of
from linecrm.domain.segments import SegmentError, compile_segment
from linecrm.domain.tags import UnknownTag
from linecrm.scenarios.model import (
    EventExit,
    FieldSetTrigger,
    PostbackBranch,
    ScenarioDefinition,
    TagAddedTrigger,
    TagBranch,
    TagExit,
)


def parse_problems(error: ValidationError) -> list[Problem]:
    """Pydantic's errors as problems with dotted paths (``steps[0].timing``)."""
    return problems_of(error, union_tags=_UNION_TAGS, located=_LOCATED)


_LOCATED = re.compile(r"^((?:steps|triggers|exit_when)\[\d+\][\w.\[\]]*): (.+)$", re.DOTALL)
_UNION_TAGS = frozenset(
    {
        "follow",
        "tag_added",
        "field_set",
        "postback",
        "event",
        "id_linked",
        "tag",
        "blocked",
        "unlinked",
        "add_tags",
        "remove_tags",
        "set_field",
        "reply",
        "reply_rule",
        "start_scenario",
        "stop_scenario",
        "switch_rich_menu",
        "PostbackBranch",
        "TagBranch",
    }
)


def check_against(definition: ScenarioDefinition, config: ChannelConfig) -> list[Problem]:
    """Every reference that does not resolve in ``config``, and every message LINE
    would refuse; empty when the scenario can be stored."""
    problems: list[Problem] = []

    def tag(path: str, reference: str) -> None:
        try:
            config.tags.resolve(reference)
        except UnknownTag:
            problems.append(Problem(path, f"no tag {reference!r} (see `linecrm tags list`)"))

    for index, trigger in enumerate(definition.triggers):
        if isinstance(trigger, TagAddedTrigger):
            tag(f"triggers[{index}].tag", trigger.tag)
        elif isinstance(trigger, FieldSetTrigger):
            _field(problems, config, f"triggers[{index}].field", trigger.field, trigger.value)
    for index, exit_condition in enumerate(definition.exit_when):
        if isinstance(exit_condition, TagExit):
            tag(f"exit_when[{index}].tag", exit_condition.tag)
        elif isinstance(exit_condition, EventExit) and not exit_condition.name.strip():
            problems.append(Problem(f"exit_when[{index}].name", "an event name"))
    policy = config.delivery_policy
    for index, step in enumerate(definition.steps):
        where = f"steps[{index}]"
        if step.condition is not None:
            try:
                compile_segment(
                    {"match": step.condition},
                    config.tags,
                    config.fields,
                    time_zone=policy.time_zone,
                )
            except SegmentError as error:
                inner = str(error.path).removeprefix("match").lstrip(".")
                path = f"{where}.condition" + (f".{inner}" if inner else "")
                problems.append(Problem(path, error.reason))
        if step.messages:
            problems += _message_problems(f"{where}.messages", step.messages, config)
        for action_index, action in enumerate(step.actions):
            path = f"{where}.actions[{action_index}]"
            if isinstance(action, AddTags | RemoveTags):
                for name in action.tags:
                    tag(f"{path}.tags", name)
            elif isinstance(action, SetField):
                _field(problems, config, f"{path}.field", action.field, action.value)
        for branch_index, branch in enumerate(step.branches):
            if isinstance(branch, TagBranch):
                tag(f"{where}.branches[{branch_index}].tag", branch.tag)
            elif isinstance(branch, PostbackBranch) and len(branch.postback) > 300:
                problems.append(Problem(f"{where}.branches[{branch_index}]", "postback too long"))
    return problems


def _field(problems: list[Problem], config: ChannelConfig, path: str, key: str, value: Any) -> None:
    try:
        definition = config.fields.get(key)
        if value is not None:
            definition.coerce(value)
    except UnknownField:
        problems.append(Problem(path, f"no custom field {key!r} (see `linecrm fields list`)"))
    except FieldValueError as error:
        problems.append(Problem(path, str(error)))


def _message_problems(
    path: str, messages: list[dict[str, Any]], config: ChannelConfig
) -> list[Problem]:
    from linecrm.line.messages import InvalidMessage, validate_messages

    try:
        placeholders(messages)
        check_fields(messages, config.fields.keys())
    except PersonalizationError as error:
        return [Problem(path.rsplit(".", 1)[0], str(error))]
    try:
        validate_messages(messages)
    except InvalidMessage as error:
        return [Problem(f"{path}[{error.index}]", error.reason)]
    return []
