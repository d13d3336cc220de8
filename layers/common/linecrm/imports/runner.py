"""One step of an import job: claim it, work from its cursor until the time budget is
low, checkpoint after every page or chunk, and say whether another step is needed.

A step that dies loses at most the rows since its last checkpoint, and those are
applied again by the next step: ``ensure`` and ``apply_change`` are idempotent, so a
re-applied row changes nothing (only its created/updated split may count it as
updated the second time).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from linecrm.channels import UnknownChannel
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.friends import FriendChangeSet
from linecrm.domain.tags import MAX_TAGS_PER_CHANNEL, Tag, TagConflict, UnknownTag, new_tag_id
from linecrm.imports.csv_format import (
    CsvFormatError,
    CsvImportFile,
    CsvRow,
    RowRejected,
    parse_csv,
)
from linecrm.imports.csv_format import row_change as csv_row_change
from linecrm.imports.models import (
    MAX_REJECTIONS_KEPT,
    ImportCounters,
    ImportCursor,
    ImportJob,
    Rejection,
)
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.line.client import FollowersPage
from linecrm.line.errors import LineRequestRejected
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.imports import ImportJobRepository, JobBusy


class FollowersSource(Protocol):
    def followers_ids(self, start: str | None = None, limit: int = 1000) -> FollowersPage: ...


@dataclass
class _Progress:
    cursor: ImportCursor
    counters: ImportCounters
    rejections: list[Rejection]
    step_counts: ImportCounters = field(default_factory=ImportCounters)

    def count(self, **changes: int) -> None:
        delta = ImportCounters(**changes)
        self.counters = self.counters.plus(delta)
        self.step_counts = self.step_counts.plus(delta)

    def reject(self, row: int, user_id: str | None, reason: str) -> None:
        self.count(rows_seen=1, rows_rejected=1)
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append(Rejection(row=row, user_id=user_id or None, reason=reason))


class ErasedFriends(Protocol):
    def is_erased(self, channel_id: str, user_id: str) -> bool: ...


class ImportRunner:
    def __init__(
        self,
        jobs: ImportJobRepository,
        friends: FriendRepository,
        channel_config: ChannelConfigRepository,
        followers: Callable[[str], FollowersSource],
        read_upload: Callable[[str], bytes],
        clock: Callable[[], datetime],
        *,
        erasures: ErasedFriends,
        page_size: int = 1000,
        lease: timedelta = timedelta(minutes=3),
    ) -> None:
        self._jobs = jobs
        self._friends = friends
        self._channel_config = channel_config
        self._followers = followers
        self._read_upload = read_upload
        self._clock = clock
        self._erasures = erasures
        self._page_size = page_size
        self._lease = lease
        self._parsed: dict[str, CsvImportFile] = {}  # one file, kept while warm

    def run_step(self, channel_id: str, job_id: str, budget: StepBudget) -> StepOutcome:
        job = self._jobs.get(channel_id, job_id)
        if job is None:
            return StepOutcome.MISSING
        if job.is_finished:
            return StepOutcome.FINISHED
        token = uuid.uuid4().hex
        now = self._clock()
        try:
            job = self._jobs.claim(job, token, now, now + self._lease)
        except JobBusy:
            return StepOutcome.BUSY
        try:
            if job.kind == "followers":
                job, done = self._followers_step(job, token, budget)
            else:
                job, done = self._csv_step(job, token, budget)
        except (LineRequestRejected, CsvFormatError, UnknownChannel) as error:
            # Retrying cannot help (e.g. the followers API is for verified accounts only).
            self.fail(channel_id, job_id, f"{type(error).__name__}: {error}")
            return StepOutcome.FAILED
        except JobBusy:
            return StepOutcome.BUSY  # our lease ran out and another step took over
        except BaseException:
            self._release_quietly(job, token)
            raise
        if done:
            return StepOutcome.DONE
        self._jobs.release(job, token, self._clock())
        return StepOutcome.CONTINUE

    def fail(self, channel_id: str, job_id: str, reason: str) -> None:
        self._jobs.fail(channel_id, job_id, reason, self._clock())

    # ------------------------------------------------------------------ followers
    def _followers_step(
        self, job: ImportJob, token: str, budget: StepBudget
    ) -> tuple[ImportJob, bool]:
        client = self._followers(job.channel_id)
        progress = _Progress(job.cursor, job.counters, list(job.rejections))
        while budget.allows_more():
            page = client.followers_ids(start=progress.cursor.token, limit=self._page_size)
            budget.chunks += 1
            remaining = page.user_ids[progress.cursor.offset :]
            for index, user_id in enumerate(remaining, start=progress.cursor.offset):
                if self._erased(job.channel_id, user_id):
                    progress.count(rows_seen=1, friends_skipped_erased=1)
                else:
                    created = self._friends.ensure(job.channel_id, user_id, self._clock())
                    progress.count(
                        rows_seen=1, friends_created=int(created), friends_updated=int(not created)
                    )
                progress.cursor = ImportCursor(token=progress.cursor.token, offset=index + 1)
                if not budget.allows_row():
                    break
            page_done = progress.cursor.offset >= len(page.user_ids)
            if page_done:
                progress.cursor = ImportCursor(token=page.next, offset=0)
            done = page_done and page.next is None
            job = self._checkpoint(job, token, progress, done=done)
            if done or not page_done:
                return job, done
        return job, False

    # ------------------------------------------------------------------ csv
    def _csv_step(self, job: ImportJob, token: str, budget: StepBudget) -> tuple[ImportJob, bool]:
        if job.source_key is None:
            raise CsvFormatError("the job has no uploaded file")
        config = self._channel_config.load(job.channel_id)
        csv_file = self._csv_file(job.source_key)
        total = csv_file.rows_total
        tags = _TagResolver(
            self._channel_config, config, create_missing=job.options.create_missing_tags
        )
        progress = _Progress(job.cursor, job.counters, list(job.rejections))
        rows = csv_file.rows(skip=progress.cursor.offset)
        while budget.allows_more() and progress.cursor.offset < total:
            budget.chunks += 1
            chunk_end = min(total, progress.cursor.offset + self._page_size)
            while progress.cursor.offset < chunk_end:
                self._csv_row(job, next(rows), tags, config, progress)
                progress.cursor = ImportCursor(offset=progress.cursor.offset + 1)
                if not budget.allows_row():
                    break
            progress.count(tags_created=tags.take_created())
            done = progress.cursor.offset >= total
            job = self._checkpoint(job, token, progress, done=done)
            if done or progress.cursor.offset < chunk_end:
                return job, done
        return job, progress.cursor.offset >= total

    def _csv_file(self, key: str) -> CsvImportFile:
        """The decoded file, kept while the function is warm. Field columns are checked
        per row here: a field deleted since the upload rejects rows, not the job."""
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = parse_csv(self._read_upload(key))
            self._parsed = {key: parsed}
        return parsed

    def _csv_row(
        self,
        job: ImportJob,
        row: CsvRow,
        tags: _TagResolver,
        config: ChannelConfig,
        progress: _Progress,
    ) -> None:
        try:
            change = csv_row_change(row, tags.resolve, config.fields)
        except RowRejected as error:
            progress.reject(row.row_number, row.user_id, str(error))
            return
        if self._erased(job.channel_id, change.user_id):
            progress.count(rows_seen=1, friends_skipped_erased=1)
            return
        now = self._clock()
        created = self._friends.ensure(job.channel_id, change.user_id, now)
        change_set = FriendChangeSet(
            add_tag_ids=change.add_tag_ids,
            remove_tag_ids=change.remove_tag_ids,
            set_fields=change.set_fields or None,
        )
        if not change_set.is_empty:
            self._friends.apply_change(
                job.channel_id, change.user_id, change_set, now, source="import"
            )
        progress.count(rows_seen=1, friends_created=int(created), friends_updated=int(not created))

    # ------------------------------------------------------------------ internals
    def _erased(self, channel_id: str, user_id: str) -> bool:
        """Deleted on request and not followed again since (a follow re-creates the row)."""
        return (
            self._erasures.is_erased(channel_id, user_id)
            and self._friends.get(channel_id, user_id) is None
        )

    def _checkpoint(
        self, job: ImportJob, token: str, progress: _Progress, *, done: bool
    ) -> ImportJob:
        return self._jobs.checkpoint(
            job,
            token,
            cursor=progress.cursor,
            counters=progress.counters,
            rejections=progress.rejections,
            now=self._clock(),
            done=done,
        )

    def _release_quietly(self, job: ImportJob, token: str) -> None:
        # The original error is what matters; an unreleased lease expires anyway.
        with contextlib.suppress(Exception):
            self._jobs.release(job, token, self._clock())


class _TagResolver:
    """Tag names/ids of the channel; with ``create_missing``, unknown names are created."""

    def __init__(
        self, repository: ChannelConfigRepository, config: ChannelConfig, *, create_missing: bool
    ) -> None:
        self._repository = repository
        self._config = config
        self._create_missing = create_missing
        self._created: dict[str, str] = {}  # name -> id, created by this step
        self._uncounted = 0

    def resolve(self, reference: str) -> str:
        try:
            return self._config.tags.resolve(reference).tag_id
        except UnknownTag:
            pass
        name = reference.strip()
        if name in self._created:
            return self._created[name]
        if not self._create_missing:
            raise RowRejected(
                f"unknown tag {name!r} (create it first, or import with create_missing_tags)"
            )
        return self._create(name)

    def take_created(self) -> int:
        count, self._uncounted = self._uncounted, 0
        return count

    def _create(self, name: str) -> str:
        if len(self._config.tags.tags) + len(self._created) >= MAX_TAGS_PER_CHANNEL:
            raise RowRejected(
                f"cannot create tag {name!r}: the channel has the maximum "
                f"of {MAX_TAGS_PER_CHANNEL} tags"
            )
        try:
            tag = Tag(tag_id=new_tag_id(), name=name)
        except ValueError as error:
            raise RowRejected(f"tag name {name[:40]!r} is not valid") from error
        try:
            self._repository.create_tag(self._config.channel_id, tag)
        except TagConflict:
            # Created meanwhile by someone else: use theirs.
            self._config = self._repository.load(self._config.channel_id)
            try:
                return self._config.tags.resolve(name).tag_id
            except UnknownTag as error:
                raise RowRejected(f"tag {name!r} could not be created") from error
        self._created[name] = tag.tag_id
        self._uncounted += 1
        return tag.tag_id
