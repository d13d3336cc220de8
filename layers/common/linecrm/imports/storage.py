"""Adapter of the import jobs' uploads bucket (S3); their job queue is ``linecrm.jobs``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from linecrm.aws_errors import error_code
from linecrm.resources import UPLOADS_BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

CSV_CONTENT_TYPE = "text/csv"
UPLOAD_URL_SECONDS = 900


def upload_key(channel_id: str, upload_id: str) -> str:
    return f"{UPLOADS_BUCKET.object_prefix}{channel_id}/{upload_id}.csv"


class UploadStore:
    """CSV files in the uploads bucket (objects expire after the bucket's lifecycle)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType=CSV_CONTENT_TYPE
        )

    def read(self, key: str) -> bytes:
        response = self._client.get_object(Bucket=self._bucket, Key=key)
        return response["Body"].read()

    def read_if_kept(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object (expired)."""
        try:
            return self.read(key)
        except Exception as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=key)
        except Exception as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(response["ContentLength"])

    def upload_form(self, key: str, max_bytes: int) -> dict[str, Any]:
        """A presigned POST (url + form fields) that S3 accepts only up to ``max_bytes``."""
        form = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": CSV_CONTENT_TYPE},
            Conditions=[
                {"Content-Type": CSV_CONTENT_TYPE},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=UPLOAD_URL_SECONDS,
        )
        return {"url": form["url"], "fields": form["fields"]}
