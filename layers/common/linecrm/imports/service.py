"""Starting and watching import jobs (what the admin API calls)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from linecrm.domain.idempotency import CreateOnce, fingerprint, fingerprint_bytes
from linecrm.imports.csv_format import (
    MAX_CSV_BYTES,
    MAX_INLINE_CSV_BYTES,
    CsvFormatError,
    CsvImportFile,
    parse_csv,
)
from linecrm.imports.models import ImportJob, ImportKind, ImportOptions, ImportStep, new_job_id
from linecrm.imports.storage import UploadStore, upload_key
from linecrm.jobs import JobStepQueue
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.imports import ImportJobRepository, ImportNotFound

UPLOAD_ID_BYTES = 12
# A running job saves progress every few minutes at most: one silent for this long is
# stuck (e.g. its first step was never queued) and does not block a new import.
STALE_JOB = timedelta(hours=1)
# The operations an Idempotency-Key is bound to (a key used for one cannot start another).
START = "POST /imports"
START_CSV = "POST /imports/csv"


class ImportRejected(ValueError):
    """The import cannot start; ``status`` is the HTTP status that says why."""

    status = 422


class ImportTooLarge(ImportRejected):
    status = 413


class ImportAlreadyRunning(ImportRejected):
    status = 409


class ImportService:
    def __init__(
        self,
        jobs: ImportJobRepository,
        channel_config: ChannelConfigRepository,
        uploads: Callable[[], UploadStore],
        queue: Callable[[], JobStepQueue],
        clock: Callable[[], datetime],
        create_once: CreateOnce | None = None,
    ) -> None:
        self._jobs = jobs
        self._create_once = create_once
        self._channel_config = channel_config
        self._uploads = uploads  # built on first use: a followers import needs no bucket
        self._queue = queue
        self._clock = clock

    # ------------------------------------------------------------------ start
    def start_followers(self, channel_id: str, idempotency_key: str | None = None) -> ImportJob:
        """Page through LINE's followers ids; one job per channel at a time."""

        def create(job_id: str) -> ImportJob:
            now = self._clock()
            for job in self._jobs.recent(channel_id):
                if (
                    job.kind == "followers"
                    and not job.is_finished
                    and now - job.updated_at < STALE_JOB
                ):
                    raise ImportAlreadyRunning(
                        f"a followers import is already {job.status} (job {job.job_id})"
                    )
            return self._start(self._new_job(channel_id, "followers", job_id=job_id))

        body = {"kind": "followers"}
        return self._once(channel_id, idempotency_key, START, fingerprint(START, body), create)

    def start_csv(
        self,
        channel_id: str,
        data: bytes,
        options: ImportOptions | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """A CSV sent in the request: checked, stored in the uploads bucket, queued."""
        if len(data) > MAX_INLINE_CSV_BYTES:
            raise ImportTooLarge(
                f"the CSV is {len(data):,} bytes; up to {MAX_INLINE_CSV_BYTES:,} can be sent "
                f"in the request; larger files (up to {MAX_CSV_BYTES:,}) go through "
                "POST …/imports/csv/uploads"
            )
        parsed = self._check_csv(channel_id, data)

        def create(job_id: str) -> ImportJob:
            key = upload_key(channel_id, job_id)
            self._uploads().put(key, data)
            return self._start(self._csv_job(channel_id, job_id, key, parsed, options))

        check = fingerprint_bytes(START_CSV, data, options=_options(options))
        return self._once(channel_id, idempotency_key, START_CSV, check, create)

    def create_upload(self, channel_id: str) -> dict[str, Any]:
        """Where to upload a large CSV (a presigned POST), then start it by its upload id."""
        upload_id = secrets.token_hex(UPLOAD_ID_BYTES)
        form = self._uploads().upload_form(upload_key(channel_id, upload_id), MAX_CSV_BYTES)
        return {"upload_id": upload_id, "max_bytes": MAX_CSV_BYTES, **form}

    def start_uploaded_csv(
        self,
        channel_id: str,
        upload_id: str,
        options: ImportOptions | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """A CSV uploaded with ``create_upload``: checked like an inline one, then queued."""
        if not upload_id.isalnum() or len(upload_id) > 64:
            raise ImportRejected("upload_id is not one this API handed out")
        key = upload_key(channel_id, upload_id)
        uploads = self._uploads()
        size = uploads.size(key)
        if size is None:
            raise ImportRejected(f"nothing was uploaded for upload_id {upload_id}")
        if size > MAX_CSV_BYTES:
            raise ImportTooLarge(f"the CSV is {size:,} bytes; the limit is {MAX_CSV_BYTES:,}")
        parsed = self._check_csv(channel_id, uploads.read(key))

        def create(job_id: str) -> ImportJob:
            return self._start(self._csv_job(channel_id, job_id, key, parsed, options))

        body = {"kind": "csv", "upload_id": upload_id, "options": _options(options)}
        return self._once(channel_id, idempotency_key, START, fingerprint(START, body), create)

    # ------------------------------------------------------------------ progress
    def get(self, channel_id: str, job_id: str) -> ImportJob:
        job = self._jobs.get(channel_id, job_id)
        if job is None:
            raise ImportNotFound(channel_id, job_id)
        return job

    def recent(self, channel_id: str, limit: int = 20) -> list[ImportJob]:
        return self._jobs.recent(channel_id, limit)

    # ------------------------------------------------------------------ internals
    def _check_csv(self, channel_id: str, data: bytes) -> CsvImportFile:
        try:
            return parse_csv(data, self._channel_config.load(channel_id).fields)
        except CsvFormatError as error:
            raise ImportRejected(f"CSV: {error}") from error

    def _new_job(
        self, channel_id: str, kind: ImportKind, *, job_id: str | None = None, **values: Any
    ) -> ImportJob:
        now = self._clock()
        if values.get("options") is None:
            values.pop("options", None)
        return ImportJob(
            job_id=job_id or new_job_id(now),
            channel_id=channel_id,
            kind=kind,
            created_at=now,
            updated_at=now,
            **values,
        )

    def _csv_job(
        self,
        channel_id: str,
        job_id: str,
        source_key: str,
        parsed: CsvImportFile,
        options: ImportOptions | None,
    ) -> ImportJob:
        return self._new_job(
            channel_id,
            "csv",
            job_id=job_id,
            options=options,
            source_key=source_key,
            rows_total=parsed.rows_total,
            encoding=parsed.encoding,
            ignored_columns=list(parsed.layout.ignored),
        )

    def _start(self, job: ImportJob) -> ImportJob:
        self._jobs.create(job)
        return self._queued(job)

    def _queued(self, job: ImportJob) -> ImportJob:
        # A second message for a job is harmless: a step takes the job's lease first.
        if not job.is_finished:
            self._queue().send_step(ImportStep(channel_id=job.channel_id, job_id=job.job_id))
        return job

    def _once(
        self,
        channel_id: str,
        idempotency_key: str | None,
        operation: str,
        request_fingerprint: str,
        create: Callable[[str], ImportJob],
    ) -> ImportJob:
        """``create`` the job under a new id, or, with an Idempotency-Key, once per key
        (``CreateOnce``). A job already stored under the id (an earlier attempt with the
        key stored it, then crashed) is queued again instead of created."""

        def create_or_resume(job_id: str) -> ImportJob:
            earlier = self._jobs.get(channel_id, job_id)
            if earlier is not None:
                return self._queued(earlier)
            return create(job_id)

        new_id = new_job_id(self._clock())
        if idempotency_key is None:
            return create_or_resume(new_id)
        if self._create_once is None:
            raise RuntimeError("this ImportService was built without an idempotency key store")
        return self._create_once.run(
            channel_id,
            idempotency_key,
            operation=operation,
            fingerprint=request_fingerprint,
            new_id=new_id,
            create=create_or_resume,
            load=lambda job_id: self._jobs.get(channel_id, job_id),
        )


def _options(options: ImportOptions | None) -> dict[str, Any]:
    return (options or ImportOptions()).model_dump(mode="json")
