"""Auto-response rules: read, replace as a whole (with a dry run), and test."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from linecrm.admin.models import (
    RulesApplyResponse,
    RulesRequest,
    RulesResponse,
    RuleTestRequest,
    RuleTestResponse,
)
from linecrm.admin.params import ChannelId, Rules, new_router, responses

router = new_router()


@router.get("/rules", tags=["rules"], responses=responses(200, "The rule set", 409))
def get_rules(channel_id: ChannelId, service: Rules) -> RulesResponse:
    """The channel's auto-response rules."""
    return RulesResponse(rules=service.rule_set(channel_id).rules)


@router.put(
    "/rules",
    tags=["rules"],
    responses=responses(200, "What changed (or, with dry_run, would change)", 409),
)
def put_rules(
    channel_id: ChannelId,
    request: RulesRequest,
    service: Rules,
    dry_run: Annotated[bool, Query(description="validate and diff only; store nothing")] = False,
) -> RulesApplyResponse:
    """Replace the whole rule set. Rules are checked one by one and as a set (ids,
    replies), and every tag and field they name must exist (422 names them)."""
    return service.replace_rules(channel_id, request, dry_run=dry_run)


@router.post(
    "/rules/test", tags=["rules"], responses=responses(200, "The rule that would answer", 404)
)
def test_rules(channel_id: ChannelId, request: RuleTestRequest, service: Rules) -> RuleTestResponse:
    """Which stored rule would answer a text or postback, and why (sends nothing)."""
    return service.test_rules(channel_id, request)
