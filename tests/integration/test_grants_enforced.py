"""The local stack checks every AWS call of a function against its role in the CDK
template: granted calls pass, and a call the role lacks fails, naming the function,
the action and the resource."""

from __future__ import annotations

import pytest

from linecrm import resources
from linecrm_local import demo, grants
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration


def test_the_stack_checks_the_template_grants(fresh: LocalStack) -> None:
    check = fresh.grant_check
    assert check is not None
    assert set(check.statements) == {f.name for f in resources.FUNCTIONS}

    delivery = fresh.emulator.simulate_follow(demo.DEMO_CHANNEL_ID, display_name="Granted")

    assert delivery.status == 200, delivery.body
    assert grants.take_violations() == []


def test_a_call_the_role_lacks_fails_and_names_function_action_and_resource(
    fresh: LocalStack,
) -> None:
    check = fresh.grant_check
    assert check is not None
    # The webhook records each new event in the idempotency table (PutItem).
    stricter = check.without(resources.WEBHOOK_FUNCTION.name, "dynamodb:PutItem")

    with grants.enforcing(stricter):
        delivery = fresh.emulator.simulate_follow(demo.DEMO_CHANNEL_ID, display_name="Denied")

    assert delivery.status == 503, delivery.body  # AccessDenied, as AWS would answer
    found = grants.take_violations()
    assert found
    idempotency_table = fresh.resources.table_names[resources.IDEMPOTENCY_TABLE.logical_id]
    assert {(v.function, v.action) for v in found} == {("webhook", "dynamodb:PutItem")}
    assert any(v.resource.endswith(f":table/{idempotency_table}") for v in found)
    assert "webhook" in str(found[0]) and "dynamodb:PutItem" in str(found[0])
