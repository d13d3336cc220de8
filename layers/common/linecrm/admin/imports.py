"""Friend imports: start one (LINE's followers, or a CSV), list them, watch progress.

A job runs in the background (the ``jobs`` function, step by step); these routes
answer 202 with the job and ``GET …/imports/{job_id}`` shows how far it got.
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from linecrm.admin.params import ChannelId, IdempotencyKey, new_router, responses
from linecrm.imports.csv_format import MAX_CSV_BYTES, MAX_INLINE_CSV_BYTES
from linecrm.imports.models import ImportJob, ImportOptions
from linecrm.imports.service import ImportRejected, ImportService

router = new_router()


def import_service() -> ImportService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(…, imports=…) wires the import service")


Imports = Annotated[ImportService, Depends(import_service)]
JobId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,100}$", description="import job id")]


class ImportStartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["followers", "csv"]
    upload_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{1,64}$",
        description="csv: the upload_id from POST …/imports/csv/uploads",
    )
    create_missing_tags: bool = Field(
        default=False, description="csv: create tags the channel does not have yet"
    )

    @model_validator(mode="after")
    def _upload_for_csv(self) -> ImportStartRequest:
        if self.kind == "csv" and not self.upload_id:
            raise ValueError("kind csv needs upload_id (or POST the file to …/imports/csv)")
        if self.kind == "followers" and (self.upload_id or self.create_missing_tags):
            raise ValueError("upload_id and create_missing_tags are for kind csv only")
        return self


class ImportListResponse(BaseModel):
    jobs: list[ImportJob]


class UploadForm(BaseModel):
    """Upload the CSV with a multipart POST of ``fields`` plus ``file`` to ``url``."""

    upload_id: str
    url: str
    fields: dict[str, str]
    max_bytes: int


def _accepted(job: ImportJob) -> Response[ImportJob]:
    return Response(
        status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=job
    )


def _raw_body() -> bytes:
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise ImportRejected("the request body is not valid base64") from error
    return body.encode("utf-8")


@router.post("/imports", tags=["imports"], responses=responses(202, "The job, queued", 409, 413))
def start_import(
    channel_id: ChannelId,
    request: ImportStartRequest,
    imports: Imports,
    idempotency_key: IdempotencyKey = None,
) -> Response[ImportJob]:
    """Import the channel's followers from LINE, or a CSV uploaded beforehand.

    ``{"kind": "followers"}`` pages through LINE's followers ids (verified and premium
    accounts only) and adds a friend row for each; 409 while one is running. With an
    ``Idempotency-Key``, a repeated request gets the same job and starts nothing.
    """
    if request.kind == "followers":
        return _accepted(imports.start_followers(channel_id, idempotency_key))
    assert request.upload_id is not None  # checked by the model
    options = ImportOptions(create_missing_tags=request.create_missing_tags)
    return _accepted(
        imports.start_uploaded_csv(channel_id, request.upload_id, options, idempotency_key)
    )


@router.post(
    "/imports/csv",
    tags=["imports"],
    responses=responses(202, "The job, queued", 409, 413),
    description=(
        "The request body is the CSV itself (Content-Type: text/csv), up to "
        f"{MAX_INLINE_CSV_BYTES:,} bytes; larger files (up to {MAX_CSV_BYTES:,}) go through "
        "POST …/imports/csv/uploads. Columns: user_id (required), tags, remove_tags, "
        "field.<key>; UTF-8 (with or without BOM) or Shift_JIS (CP932). See docs/import.md."
    ),
)
def import_csv(
    channel_id: ChannelId,
    imports: Imports,
    create_missing_tags: Annotated[bool, Query()] = False,
    idempotency_key: IdempotencyKey = None,
) -> Response[ImportJob]:
    """Import friends, tags and field values from the CSV in the request body."""
    options = ImportOptions(create_missing_tags=create_missing_tags)
    return _accepted(imports.start_csv(channel_id, _raw_body(), options, idempotency_key))


@router.post(
    "/imports/csv/uploads",
    tags=["imports"],
    responses=responses(201, "Where to upload the CSV (a presigned S3 POST)"),
)
def create_upload(channel_id: ChannelId, imports: Imports) -> Response[UploadForm]:
    """For a large CSV: upload it to S3 with the form returned, then start it with
    ``POST …/imports {"kind": "csv", "upload_id": …}`` (the form is valid 15 minutes)."""
    form = UploadForm.model_validate(imports.create_upload(channel_id))
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=form
    )


@router.get("/imports", tags=["imports"], responses=responses(200, "Recent jobs, newest first"))
def list_imports(
    channel_id: ChannelId,
    imports: Imports,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> ImportListResponse:
    """The channel's recent import jobs with their progress."""
    return ImportListResponse(jobs=imports.recent(channel_id, limit))


@router.get(
    "/imports/<job_id>", tags=["imports"], responses=responses(200, "The job's progress", 404)
)
def get_import(channel_id: ChannelId, job_id: JobId, imports: Imports) -> ImportJob:
    """Status, cursor, counters and the first 50 rejected rows (row number and reason)."""
    return imports.get(channel_id, job_id)
