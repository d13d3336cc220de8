"""Which step scenarios a friend is in: one item per (friend, scenario).

Postbacks and auto-response rules start and stop scenarios: the enrolments are
recorded here for the scenario engine to come (nothing sends a scenario's steps yet).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import is_conditional_check_failure, iso, to_item
from linecrm.repositories.friends import friend_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SCENARIO_PREFIX = "SCENARIO#"


class EnrollmentRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def start(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool:
        """Enrol the friend; False when they are already active in that scenario."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=self._key(channel_id, user_id, scenario_id),
                UpdateExpression=(
                    "SET #status = :active, scenario_id = :scenario, started_at = :at "
                    "REMOVE stopped_at"
                ),
                ConditionExpression="attribute_not_exists(pk) OR #status <> :active",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":active": "active", ":scenario": scenario_id, ":at": iso(at)}
                ),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def stop(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool:
        """Stop an active enrolment; False when there was none."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=self._key(channel_id, user_id, scenario_id),
                UpdateExpression="SET #status = :stopped, stopped_at = :at",
                ConditionExpression="#status = :active",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":active": "active", ":stopped": "stopped", ":at": iso(at)}
                ),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def _key(self, channel_id: str, user_id: str, scenario_id: str) -> dict[str, Any]:
        return to_item({"pk": friend_pk(channel_id, user_id), "sk": SCENARIO_PREFIX + scenario_id})
