"""S3 buckets, one per ``resources.BUCKETS`` entry: private, encrypted, SSL only, and
emptied by a lifecycle rule (uploads are inputs of jobs, not records to keep)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from linecrm import resources
from linecrm.resources import Env


class UploadBuckets(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.buckets: dict[str, s3.Bucket] = {
            definition.logical_id: self._bucket(definition) for definition in resources.BUCKETS
        }

    def bucket(self, definition: resources.BucketDefinition) -> s3.Bucket:
        return self.buckets[definition.logical_id]

    def grant_uploads(
        self, definition: resources.BucketDefinition, function: lambda_.Function, *, write: bool
    ) -> str:
        """Read (and with ``write``, put) objects under the uploads prefix, plus listing
        that prefix (so a missing object is a 404, not a 403); the bucket name goes into
        the function's environment. Returns the cdk-nag finding id of the object ARN
        pattern, for the caller to acknowledge with its reason."""
        bucket = self.bucket(definition)
        prefix = definition.object_prefix
        objects = bucket.arn_for_objects(f"{prefix}*")
        actions = ["s3:GetObject", "s3:PutObject"] if write else ["s3:GetObject"]
        function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[objects]))
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        function.add_environment(Env.UPLOADS_BUCKET_NAME, bucket.bucket_name)
        cfn = bucket.node.default_child
        assert isinstance(cfn, CfnElement)
        stack = Stack.of(self)
        logical_id = stack.resolve(stack.get_logical_id(cfn))
        return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{prefix}*]"

    def _bucket(self, definition: resources.BucketDefinition) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            definition.logical_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-uploads",
                    expiration=Duration.days(definition.expire_after_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Friends' user ids: a stack deletion leaves them to expire, not to vanish
            # with a failed (non-empty) bucket deletion half-way.
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason=(
                    f"{definition.logical_id} holds short-lived job inputs (expire after "
                    f"{definition.expire_after_days} days), written and read only by linecrm's "
                    "functions, whose CloudTrail and function logs record who started which job"
                ),
            )
        )
        return bucket
