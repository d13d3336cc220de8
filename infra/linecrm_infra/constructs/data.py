"""DynamoDB tables, one per ``resources.TABLES`` entry."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from linecrm import resources


def _attribute(key: resources.KeyAttribute) -> dynamodb.Attribute:
    attribute_type = (
        dynamodb.AttributeType.NUMBER if key.type == "N" else dynamodb.AttributeType.STRING
    )
    return dynamodb.Attribute(name=key.name, type=attribute_type)


class DataTables(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {
            definition.logical_id: self._table(definition) for definition in resources.TABLES
        }

    def table(self, definition: resources.TableDefinition) -> dynamodb.Table:
        return self.tables[definition.logical_id]

    def _table(self, definition: resources.TableDefinition) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            definition.logical_id,
            partition_key=_attribute(definition.partition_key),
            sort_key=_attribute(definition.sort_key) if definition.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=definition.ttl_attribute,
            # Customer data: a stack deletion must never take it along.
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in definition.global_indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType(index.projection),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return table
