"""``linecrm import …``: import existing friends through the admin API.

linecrm import followers [--wait]            every follower LINE lists, as a friend row
linecrm import csv friends.csv [--wait]      user ids with tags / field values (docs/import.md)
linecrm import status [JOB_ID] [--wait]      recent jobs, or one job's progress

Same connection options as the other admin commands (``--api-url``, ``--token``,
``--sigv4``). A CSV larger than the request limit is uploaded to S3 with a presigned
form first, then started by its upload id.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from linecrm.imports.csv_format import MAX_CSV_BYTES, MAX_INLINE_CSV_BYTES
from linecrm_local.admin_cli import (
    TIMEOUT_SECONDS,
    AdminApiClient,
    AdminCliError,
    IncompleteResult,
    add_connection_options,
)

COMMAND = "import"
POLL_SECONDS = 1.0


class ImportApiClient(AdminApiClient):
    """The admin API client, plus a request whose body is raw bytes (the CSV)."""

    def send_bytes(
        self, path: str, data: bytes, content_type: str, params: dict[str, Any] | None = None
    ) -> Any:
        """POST raw bytes to a creating route (with the invocation's Idempotency-Key)."""
        url = f"{self.base_url}/admin/channels/{quote(self.channel_id, safe='')}{path}"
        request = requests.Request(
            "POST",
            url,
            params=params,
            data=data,
            headers={"Accept": "application/json", "Content-Type": content_type},
        )
        return self._result(self.send(request, idempotent=True))


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    leaf.add_argument("--wait", action="store_true", help="poll until the job is done")
    group = commands.add_parser(COMMAND, help="import existing friends (followers, CSV)")
    actions = group.add_subparsers(dest="action", required=True)
    actions.add_parser("followers", parents=[leaf], help="every follower LINE lists")
    csv = actions.add_parser("csv", parents=[leaf], help="a CSV of user ids, tags and fields")
    csv.add_argument("file", type=Path)
    csv.add_argument("--create-missing-tags", action="store_true", help="create unknown tag names")
    status = actions.add_parser("status", parents=[leaf], help="recent jobs or one job")
    status.add_argument("job_id", nargs="?")


def run(args: argparse.Namespace, *, sleep: Callable[[float], None] = time.sleep) -> Any:
    client = ImportApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    if args.action == "followers":
        job = client.call("POST", "/imports", {"kind": "followers"}, idempotent=True)
    elif args.action == "csv":
        job = _start_csv(client, args.file, args.create_missing_tags)
    elif args.job_id:
        job = client.call("GET", f"/imports/{args.job_id}")
    else:
        return client.call("GET", "/imports")
    if args.wait:
        job = wait_for(client, job, sleep=sleep)
    return checked_outcome(job)


def checked_outcome(job: Any) -> Any:
    """The job, unless it finished having imported nothing because every row was
    rejected: then IncompleteResult (exit status 1, the job still printed)."""
    if not isinstance(job, dict) or job.get("status") != "done":
        return job
    counters = job.get("counters") or {}
    imported = counters.get("friends_created", 0) + counters.get("friends_updated", 0)
    rejected = counters.get("rows_rejected", 0)
    if rejected and not imported:
        raise IncompleteResult(
            f"import {job['job_id']}: every row was rejected ({rejected}); "
            "the reasons are in the job's rejected rows",
            job,
        )
    return job


def _start_csv(client: ImportApiClient, path: Path, create_missing_tags: bool) -> Any:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AdminCliError(f"cannot read {path}: {error.strerror}") from error
    if len(data) > MAX_CSV_BYTES:
        raise AdminCliError(f"{path} is {len(data):,} bytes; the limit is {MAX_CSV_BYTES:,}")
    if len(data) <= MAX_INLINE_CSV_BYTES:
        params = {"create_missing_tags": "true"} if create_missing_tags else None
        return client.send_bytes("/imports/csv", data, "text/csv", params)
    form = client.call("POST", "/imports/csv/uploads")
    try:
        response = requests.post(
            form["url"],
            data=form["fields"],
            files={"file": (path.name, data, "text/csv")},
            timeout=max(TIMEOUT_SECONDS, len(data) / 100_000),
        )
    except requests.RequestException as error:
        raise AdminCliError(f"uploading {path} failed: {error}") from error
    if response.status_code >= 300:
        raise AdminCliError(f"uploading {path} failed: S3 answered {response.status_code}")
    body = {
        "kind": "csv",
        "upload_id": form["upload_id"],
        "create_missing_tags": create_missing_tags,
    }
    return client.call("POST", "/imports", body, idempotent=True)


def wait_for(
    client: AdminApiClient, job: Any, *, sleep: Callable[[float], None] = time.sleep
) -> Any:
    """Poll the job until it is done (returned) or failed (an error), showing progress."""
    while job["status"] not in ("done", "failed"):
        print(progress_line(job), file=sys.stderr)
        sleep(POLL_SECONDS)
        job = client.call("GET", f"/imports/{job['job_id']}")
    print(progress_line(job), file=sys.stderr)
    if job["status"] == "failed":
        raise AdminCliError(f"import {job['job_id']} failed: {job.get('error')}")
    return job


def progress_line(job: Any) -> str:
    counters = job["counters"]
    total = f"/{job['rows_total']}" if job.get("rows_total") else ""
    # Friends deleted on request are not created again, and not left out of the count.
    erased = counters.get("friends_skipped_erased", 0)
    return (
        f"{job['job_id']} {job['kind']} {job['status']}: {counters['rows_seen']}{total} rows, "
        f"{counters['friends_created']} new, {counters['friends_updated']} known, "
        f"{counters['rows_rejected']} rejected" + (f", {erased} erased (skipped)" if erased else "")
    )
