"""Import steps: resumable from the cursor, no double counting, one step at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from linecrm.domain.fields import FieldDefinition
from linecrm.domain.tags import Tag
from linecrm.imports.models import ImportJob, ImportOptions
from linecrm.imports.service import ImportAlreadyRunning
from linecrm.jobs import StepOutcome
from linecrm.line.errors import LineRequestRejected, LineTransientError
from linecrm.repositories.erasures import ErasureRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.imports import JobBusy
from tests.unit.conftest import CHANNEL_ID
from tests.unit.imports.conftest import START, ImportWorld, budget, user


def followers_job(world: ImportWorld) -> ImportJob:
    return world.service().start_followers(CHANNEL_ID)


def run_to_end(world: ImportWorld, job: ImportJob, **runner: Any) -> list[StepOutcome]:
    outcomes = []
    step_runner = world.runner(**runner)
    for _ in range(50):
        outcome = step_runner.run_step(CHANNEL_ID, job.job_id, budget(max_chunks=1))
        outcomes.append(outcome)
        if outcome is not StepOutcome.CONTINUE:
            return outcomes
    raise AssertionError("the job never finished")


def stored(world: ImportWorld, job: ImportJob) -> ImportJob:
    found = world.jobs.get(CHANNEL_ID, job.job_id)
    assert found is not None
    return found


# ---------------------------------------------------------------- followers
def test_followers_import_runs_in_steps_and_counts_each_follower_once(
    world: ImportWorld,
) -> None:
    world.friends.record_follow(CHANNEL_ID, user(7), START)  # known already
    job = followers_job(world)
    assert world.queued_steps() == [
        {"kind": "import_step", "channel_id": CHANNEL_ID, "job_id": job.job_id}
    ]

    outcomes = run_to_end(world, job, page_size=50)

    assert outcomes == [StepOutcome.CONTINUE, StepOutcome.CONTINUE, StepOutcome.DONE]
    assert world.followers.calls == [(None, 50), ("tok-50", 50), ("tok-100", 50)]
    done = stored(world, job)
    assert done.status == "done"
    assert done.steps == 3
    assert done.counters.rows_seen == 120
    assert done.counters.friends_created == 119
    assert done.counters.friends_updated == 1
    assert done.finished_at is not None and done.lease_token is None
    assert world.friend_count() == 120
    friend = world.friends.get(CHANNEL_ID, user(100))
    assert friend is not None and friend.status == "active"


def test_a_step_that_runs_out_of_time_mid_page_resumes_at_the_same_id(
    world: ImportWorld,
) -> None:
    job = followers_job(world)
    calls = {"n": 0}

    def remaining_ms() -> int:
        # Asked after each row (a step's first page is always fetched): time is short
        # after the 30th row.
        calls["n"] += 1
        return 60_000 if calls["n"] < 30 else 1_000

    first = world.runner(page_size=50).run_step(CHANNEL_ID, job.job_id, budget(None, remaining_ms))
    assert first is StepOutcome.CONTINUE
    halfway = stored(world, job)
    assert halfway.cursor.token is None and halfway.cursor.offset == 30
    assert halfway.counters.rows_seen == 30

    assert run_to_end(world, job, page_size=50)[-1] is StepOutcome.DONE
    done = stored(world, job)
    assert done.counters.rows_seen == 120
    assert done.counters.friends_created == 120  # nothing was counted twice
    assert world.followers.calls[1] == (None, 50)  # the same page again, from id 31


class CrashingFriends(FriendRepository):
    """Dies (like a Lambda timeout) after ``limit`` ensures."""

    def __init__(self, real: FriendRepository, limit: int) -> None:
        self.__dict__.update(real.__dict__)
        self.limit = limit

    def ensure(self, channel_id: str, user_id: str, at: Any) -> bool:
        if self.limit == 0:
            raise RuntimeError("the function died")
        self.limit -= 1
        return super().ensure(channel_id, user_id, at)


def test_a_crashed_step_is_resumed_from_the_last_checkpoint(world: ImportWorld) -> None:
    job = followers_job(world)
    runner = world.runner(page_size=50, friends=CrashingFriends(world.friends, limit=75))
    assert runner.run_step(CHANNEL_ID, job.job_id, budget(1)) is StepOutcome.CONTINUE
    with pytest.raises(RuntimeError, match="died"):
        runner.run_step(CHANNEL_ID, job.job_id, budget(1))
    after_crash = stored(world, job)
    assert after_crash.cursor.token == "tok-50" and after_crash.cursor.offset == 0
    assert after_crash.counters.rows_seen == 50  # the unfinished page is not counted
    assert after_crash.lease_token is None  # released: the redelivery can go on at once

    assert run_to_end(world, job)[-1] is StepOutcome.DONE
    done = stored(world, job)
    assert done.counters.rows_seen == 120
    # The 25 rows written before the crash are written again: known now, not new.
    assert done.counters.friends_created == 95
    assert done.counters.friends_updated == 25
    assert world.friend_count() == 120


def test_a_step_cannot_run_while_another_holds_the_job(world: ImportWorld) -> None:
    job = followers_job(world)
    holder = world.jobs.claim(job, "other-step", START, START + timedelta(minutes=3))
    assert world.runner().run_step(CHANNEL_ID, job.job_id, budget()) is StepOutcome.BUSY
    assert world.followers.calls == []
    assert stored(world, job).version == holder.version

    world.clock.advance(minutes=4)  # the holder died: its lease ran out
    assert world.runner().run_step(CHANNEL_ID, job.job_id, budget()) is StepOutcome.DONE


def test_a_step_whose_lease_was_taken_over_cannot_save(world: ImportWorld) -> None:
    job = followers_job(world)
    slow = world.jobs.claim(job, "slow", START, START + timedelta(minutes=3))
    taker = world.jobs.claim(slow, "taker", START + timedelta(minutes=5), START)
    with pytest.raises(JobBusy):
        world.jobs.checkpoint(
            slow,
            "slow",
            cursor=slow.cursor.model_copy(update={"offset": 99}),
            counters=slow.counters,
            rejections=[],
            now=START,
        )
    with pytest.raises(JobBusy):  # even with the right version, the lease is the taker's
        world.jobs.checkpoint(
            taker, "slow", cursor=taker.cursor, counters=taker.counters, rejections=[], now=START
        )
    assert stored(world, job).cursor.offset == 0


def test_finished_and_unknown_jobs_are_no_ops(world: ImportWorld) -> None:
    job = followers_job(world)
    run_to_end(world, job, page_size=1000)
    assert world.runner().run_step(CHANNEL_ID, job.job_id, budget()) is StepOutcome.FINISHED
    assert world.runner().run_step(CHANNEL_ID, "nope", budget()) is StepOutcome.MISSING


def test_line_refusing_the_followers_api_fails_the_job(world: ImportWorld) -> None:
    world.followers.fail_with = LineRequestRejected(
        "LINE answered 403: Access to this API is not available for your account", status=403
    )
    job = followers_job(world)
    assert world.runner().run_step(CHANNEL_ID, job.job_id, budget()) is StepOutcome.FAILED
    failed = stored(world, job)
    assert failed.status == "failed"
    assert failed.error is not None and "403" in failed.error


def test_transient_line_errors_propagate_for_a_retry_and_free_the_job(
    world: ImportWorld,
) -> None:
    world.followers.fail_with = LineTransientError("LINE answered 500", status=500)
    job = followers_job(world)
    with pytest.raises(LineTransientError):
        world.runner().run_step(CHANNEL_ID, job.job_id, budget())
    assert stored(world, job).status == "running"
    world.followers.fail_with = None
    assert run_to_end(world, job)[-1] is StepOutcome.DONE


# ---------------------------------------------------------------- csv
def csv_job(world: ImportWorld, text: str, **options: Any) -> ImportJob:
    return world.service().start_csv(
        CHANNEL_ID, text.encode("utf-8"), ImportOptions(**options) if options else None
    )


def setup_catalog(world: ImportWorld) -> None:
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="tag_vip", name="VIP"))
    world.config.put_field(
        CHANNEL_ID,
        FieldDefinition(key="rank", label="ランク", type="choice", choices=("gold", "silver")),
    )


def test_csv_import_tags_existing_friends_and_records_rejections(world: ImportWorld) -> None:
    setup_catalog(world)
    world.friends.record_follow(CHANNEL_ID, user(1), START)
    rows = [f"{user(1)},VIP,gold", f"{user(2)},VIP,", "U-bad,VIP,", f"{user(3)},常連,"]
    job = csv_job(world, "user_id,tags,field.rank\n" + "\n".join(rows) + "\n")
    assert job.rows_total == 4

    assert run_to_end(world, job)[-1] is StepOutcome.DONE

    done = stored(world, job)
    assert done.counters.model_dump() == {
        "rows_seen": 4,
        "friends_created": 1,
        "friends_updated": 1,
        "rows_rejected": 2,
        "tags_created": 0,
        "friends_skipped_erased": 0,
    }
    assert [(r.row, r.user_id) for r in done.rejections] == [(4, "U-bad"), (5, user(3))]
    assert "not a LINE user id" in done.rejections[0].reason
    assert "unknown tag '常連'" in done.rejections[1].reason
    tagged = world.friends.get(CHANNEL_ID, user(1))
    assert tagged is not None
    assert tagged.tag_ids == {"tag_vip"} and tagged.fields == {"rank": "gold"}
    assert tagged.last_followed_at is not None  # the rest of the friend is untouched
    created = world.friends.get(CHANNEL_ID, user(2))
    assert created is not None and created.tag_ids == {"tag_vip"}
    assert world.friends.get(CHANNEL_ID, user(3)) is None


def test_only_the_first_50_rejections_are_kept_but_all_are_counted(world: ImportWorld) -> None:
    lines = "\n".join(f"bad-{n}" for n in range(60))
    job = csv_job(world, f"user_id\n{lines}\n")
    run_to_end(world, job, page_size=25)  # three chunks
    done = stored(world, job)
    assert done.counters.rows_rejected == 60
    assert len(done.rejections) == 50
    assert done.rejections[-1].row == 51


def test_csv_steps_resume_from_the_row_offset(world: ImportWorld) -> None:
    lines = "\n".join(user(n) for n in range(1, 101))
    job = csv_job(world, f"user_id\n{lines}\n")
    outcomes = run_to_end(world, job, page_size=40)
    assert outcomes == [StepOutcome.CONTINUE, StepOutcome.CONTINUE, StepOutcome.DONE]
    done = stored(world, job)
    assert done.cursor.offset == 100
    assert done.counters.rows_seen == 100 and done.counters.friends_created == 100


def test_missing_tags_are_created_once_when_asked(world: ImportWorld) -> None:
    rows = "\n".join(f"{user(n)},常連|2025夏" for n in range(1, 6))
    job = csv_job(world, f"user_id,tags\n{rows}\n", create_missing_tags=True)
    run_to_end(world, job)
    done = stored(world, job)
    assert done.counters.tags_created == 2
    assert done.counters.rows_rejected == 0
    names = {tag.name: tag.tag_id for tag in world.config.load(CHANNEL_ID).tags.tags}
    assert set(names) == {"常連", "2025夏"}
    friend = world.friends.get(CHANNEL_ID, user(5))
    assert friend is not None and friend.tag_ids == set(names.values())


def test_a_stuck_followers_job_does_not_block_a_new_one_forever(world: ImportWorld) -> None:
    stuck = followers_job(world)  # say its first step was never queued
    with pytest.raises(ImportAlreadyRunning, match=stuck.job_id):
        followers_job(world)
    world.clock.advance(hours=2)
    assert followers_job(world).job_id != stuck.job_id


# ---------------------------------------------------------------- erased friends
def test_imports_do_not_recreate_a_friend_erased_on_request(world: ImportWorld) -> None:
    erasures = ErasureRepository(world.aws.client("dynamodb"), world.table)
    erasures.record(CHANNEL_ID, user(5), START)
    erasures.record(CHANNEL_ID, user(6), START)
    world.friends.record_follow(CHANNEL_ID, user(6), START)  # followed again: a new consent

    followers = followers_job(world)
    assert run_to_end(world, followers)[-1] is StepOutcome.DONE
    assert stored(world, followers).counters.friends_skipped_erased == 1
    assert world.friends.get(CHANNEL_ID, user(5)) is None
    assert world.friends.get(CHANNEL_ID, user(6)) is not None

    csv = csv_job(world, f"user_id\n{user(5)}\n{user(121)}\n")
    assert run_to_end(world, csv)[-1] is StepOutcome.DONE
    counters = stored(world, csv).counters
    assert (counters.friends_skipped_erased, counters.friends_created) == (1, 1)
    assert world.friends.get(CHANNEL_ID, user(5)) is None
