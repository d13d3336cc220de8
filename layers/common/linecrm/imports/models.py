"""An import job as stored and shown: kind, status, cursor, counters, rejections."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ImportKind = Literal["followers", "csv"]
ImportStatus = Literal["pending", "running", "done", "failed"]
MAX_REJECTIONS_KEPT = 50  # the first ones; the counter keeps counting past them


def new_job_id(now: datetime) -> str:
    """Sortable by creation time (recent jobs are a descending query) and unique."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


class ImportOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # CSV: a tag name that the channel does not have yet is created (instead of the row
    # being rejected).
    create_missing_tags: bool = False


class ImportCursor(BaseModel):
    """Where the next step starts.

    followers: ``token`` is the ``start`` of the page being read (None: the first page)
    and ``offset`` how many ids of that page are done. csv: ``offset`` data rows done.
    """

    model_config = ConfigDict(frozen=True)

    token: str | None = None
    offset: int = Field(default=0, ge=0)


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int  # csv: the spreadsheet row (header = 1); followers: position in the list
    user_id: str | None = None
    reason: str


class ImportCounters(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows_seen: int = 0
    friends_created: int = 0
    friends_updated: int = 0  # already known friends (csv: their tags/fields applied)
    rows_rejected: int = 0
    tags_created: int = 0
    # Friends deleted on request (an erasure record) are not re-created by an import.
    friends_skipped_erased: int = 0

    def plus(self, other: ImportCounters) -> ImportCounters:
        return ImportCounters(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )


class ImportJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    channel_id: str
    kind: ImportKind
    status: ImportStatus = "pending"
    options: ImportOptions = ImportOptions()
    cursor: ImportCursor = ImportCursor()
    counters: ImportCounters = ImportCounters()
    rejections: list[Rejection] = Field(default_factory=list)
    rows_total: int | None = None  # csv: known up front; followers: unknown
    source_key: str | None = None  # csv: the uploaded file in the uploads bucket
    encoding: str | None = None  # csv: how the file was decoded
    ignored_columns: list[str] = Field(default_factory=list)
    error: str | None = None  # why the job failed
    steps: int = 0  # steps that ran (claims)
    version: int = 0  # bumped by every write; writes are conditional on it
    # The step that runs the job now (internal: not shown by the API).
    lease_token: str | None = Field(default=None, exclude=True)
    lease_expires_at: datetime | None = Field(default=None, exclude=True)
    created_at: datetime
    started_at: datetime | None = None
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in ("done", "failed")


class ImportStep(BaseModel):
    """The job queue's message: run the next step of this job."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["import_step"] = "import_step"
    channel_id: str = Field(min_length=1, max_length=64)
    job_id: str = Field(min_length=1, max_length=100)
