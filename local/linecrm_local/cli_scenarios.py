"""``linecrm apply|scenarios|plan``: step scenarios as code, through the admin API.

linecrm apply -f scenarios.yaml [--dry-run]     validate (file:line: field: reason), diff, store
linecrm scenarios list | show ID | pause ID | resume ID | archive ID
linecrm scenarios enroll ID --segment segment.yaml [--no-wait]   a job; waits for it
linecrm scenarios enrollment ID JOB_ID [--wait]                  a job's progress
linecrm plan --friend U… [--scenario ID] [--days 14]

A scenarios file holds one scenario or ``scenarios: [...]`` (docs/scenarios.md). Each
error names the file, the line and the field; nothing is stored when any scenario of
the file is invalid.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from linecrm_local.admin_cli import (
    AdminApiClient,
    AdminCliError,
    IncompleteResult,
    add_connection_options,
    describe_error,
    load_document,
)

COMMANDS = ("apply", "scenarios", "plan")
POLL_SECONDS = 1.0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    apply = commands.add_parser(
        "apply", help="create or edit step scenarios from a YAML file", parents=[leaf]
    )
    apply.add_argument("-f", "--file", type=Path, required=True)
    apply.add_argument(
        "--dry-run", action="store_true", help="validate and print the diff; store nothing"
    )
    scenarios = commands.add_parser("scenarios", help="step scenarios (ステップ配信)")
    actions = scenarios.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every scenario, its status and version", parents=[leaf])
    for name, help_text in (
        ("show", "a scenario's definition and per-step counters"),
        ("pause", "pause: nobody enrolled, due steps wait"),
        ("resume", "resume a paused scenario"),
        ("archive", "archive: pending steps end their enrolments"),
    ):
        actions.add_parser(name, help=help_text, parents=[leaf]).add_argument("id")
    enroll = actions.add_parser(
        "enroll",
        help="enrol a segment's active friends by hand: a job, waited for",
        parents=[leaf],
    )
    enroll.add_argument("id")
    enroll.add_argument("--segment", type=Path, required=True, help="a segment file (YAML)")
    enroll.add_argument(
        "--no-wait",
        action="store_true",
        help="print the job and return (`scenarios enrollment ID JOB_ID` shows it later)",
    )
    enrollment = actions.add_parser(
        "enrollment", help="a segment enrolment job: progress, then outcomes", parents=[leaf]
    )
    enrollment.add_argument("id")
    enrollment.add_argument("job_id")
    enrollment.add_argument("--wait", action="store_true", help="poll until the job is done")
    for waiting in (enroll, enrollment):
        waiting.add_argument(
            "--timeout", type=float, help="stop waiting after this many seconds (the job goes on)"
        )
    plan = commands.add_parser(
        "plan", help="the timeline a friend would get, and why", parents=[leaf]
    )
    plan.add_argument("--friend", required=True, help="the friend's user id (U…)")
    plan.add_argument("--scenario", help="one scenario (default: every active one)")
    plan.add_argument("--days", type=int, default=14, help="how far ahead (default 14)")


def run(
    args: argparse.Namespace,
    *,
    client: AdminApiClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    client = client or AdminApiClient(
        args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4)
    )
    if args.command == "apply":
        return apply_file(client, args.file, dry_run=args.dry_run)
    if args.command == "plan":
        return _plan(client, args)
    if args.action == "list":
        return client.call("GET", "/scenarios")["scenarios"]
    if args.action == "show":
        return client.call("GET", f"/scenarios/{args.id}")
    if args.action == "enroll":
        job = _enroll(client, args)
        if args.no_wait:
            return job
        return enrollment_outcome(wait_for_enrollment(client, job, args.timeout, sleep=sleep))
    if args.action == "enrollment":
        job = client.call("GET", _enrollment_path(args.id, args.job_id))
        if not args.wait:
            return job
        return enrollment_outcome(wait_for_enrollment(client, job, args.timeout, sleep=sleep))
    return client.call("POST", f"/scenarios/{args.id}/{args.action}")


# ---------------------------------------------------------------------- enrol
def _enroll(client: AdminApiClient, args: argparse.Namespace) -> Any:
    """Start the job (with the invocation's Idempotency-Key: a retried request starts
    it once)."""
    document = load_document(args.segment)
    if isinstance(document, dict) and "segment" in document:
        document = document["segment"]
    if not isinstance(document, dict):
        raise AdminCliError(f"{args.segment}: expected a segment (a mapping: match: …)")
    return client.call(
        "POST", f"/scenarios/{args.id}/enroll", {"segment": document}, idempotent=True
    )


def _enrollment_path(scenario_id: str, job_id: str) -> str:
    return f"/scenarios/{quote(scenario_id, safe='')}/enrollments/{quote(job_id, safe='')}"


def wait_for_enrollment(
    client: AdminApiClient,
    job: Any,
    timeout: float | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll the job until it is done or failed, showing its progress when it changes."""
    path = _enrollment_path(job["scenario_id"], job["job_id"])
    deadline = None if timeout is None else monotonic() + timeout
    shown = ""
    while True:
        line = enrollment_progress(job)
        if line != shown:
            print(line, file=sys.stderr)
            shown = line
        if job["status"] != "running":
            return job
        if deadline is not None and monotonic() >= deadline:
            raise AdminCliError(
                f"enrolment {job['job_id']} still running after {timeout:g} s; see "
                f"`linecrm scenarios enrollment {job['scenario_id']} {job['job_id']}`"
            )
        sleep(POLL_SECONDS)
        job = client.call("GET", path)


def enrollment_progress(job: Any) -> str:
    counts = job["counts"]
    enrolled = counts["outcomes"].get("enrolled", 0)
    return (
        f"enrolment {job['job_id']} {job['status']}: {counts['walked']:,} friends walked, "
        f"{counts['matched']:,} matched, {enrolled:,} enrolled"
    )


def enrollment_outcome(job: Any) -> Any:
    """What a finished job came to (the matched friends by outcome); a failed job is
    printed too, then its reason (exit status 1)."""
    counts = job["counts"]
    outcome = {
        "scenario_id": job["scenario_id"],
        "job_id": job["job_id"],
        "status": job["status"],
        "walked": counts["walked"],
        "matched": counts["matched"],
        "outcomes": counts["outcomes"],
    }
    if job["status"] == "failed":
        raise IncompleteResult(f"enrolment {job['job_id']} failed: {job.get('reason')}", outcome)
    return outcome


# ---------------------------------------------------------------------- apply
def apply_file(client: AdminApiClient, path: Path, *, dry_run: bool) -> Any:
    documents, lines = load_scenarios(path)
    problems = []
    from linecrm.scenarios.service import ScenarioRejected, parse_definition

    for index, (prefix, document) in enumerate(documents):
        try:
            parse_definition(document)
        except ScenarioRejected as error:
            for problem in error.problems:
                problems.append(_located(path, lines, prefix, problem.path, problem.reason))
        if not isinstance(document.get("id"), str):
            problems.append(_located(path, lines, prefix, "id", f"scenario {index} has no id"))
    if problems:
        raise AdminCliError("invalid scenarios file:\n" + "\n".join(problems))
    # Every scenario is checked against the channel first (a dry run each), so an
    # error in the last one stores nothing of the first ones.
    results = [_put(client, path, lines, prefix, doc, dry_run=True) for prefix, doc in documents]
    if not dry_run:
        results = [
            _put(client, path, lines, prefix, doc, dry_run=False)
            if result["action"] != "unchanged"
            else result
            for (prefix, doc), result in zip(documents, results, strict=True)
        ]
    return results


def _put(
    client: AdminApiClient,
    path: Path,
    lines: dict[str, int],
    prefix: str,
    document: dict[str, Any],
    *,
    dry_run: bool,
) -> Any:
    return put_document(
        client,
        f"/scenarios/{document['id']}",
        document,
        dry_run=dry_run,
        what="scenarios",
        locate=lambda field, reason: _located(path, lines, prefix, field, reason),
    )


def put_document(
    client: AdminApiClient,
    route: str,
    body: dict[str, Any],
    *,
    dry_run: bool,
    what: str,
    locate: Callable[[str, str], str],
) -> Any:
    """PUT a file's document to the channel's ``route`` (``?dry_run=true`` if asked):
    its answer, or AdminCliError, with a 422's errors as ``file:line`` lines
    (``locate(field, reason)``)."""
    import requests

    url = f"{client.base_url}/admin/channels/{client.channel_id}{route}"
    request = requests.Request(
        "PUT",
        url,
        params={"dry_run": "true"} if dry_run else {},
        json=body,
        headers={"Accept": "application/json"},
    )
    response = client.send(request)
    payload = response.json() if response.content else None
    if response.status_code == 422 and isinstance(payload, dict) and payload.get("errors"):
        raise AdminCliError(
            f"invalid {what} file:\n"
            + "\n".join(locate(error["field"], error["message"]) for error in payload["errors"])
        )
    if response.status_code >= 400:
        raise AdminCliError(describe_error(response.status_code, payload, sigv4=client.sigv4))
    return payload


def _located(path: Path, lines: dict[str, int], prefix: str, field: str, reason: str) -> str:
    """``file:line: field: reason``, the line of the deepest node of ``field`` found."""
    full = f"{prefix}.{field}" if prefix and field else prefix or field
    probe = full
    while probe and probe not in lines:
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    line = lines.get(probe, 1)
    return f"{path}:{line}: {field or 'scenario'}: {reason}"


def load_scenarios(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, int]]:
    """The scenario documents of a file (with their path prefix) and the line of every
    node (``scenarios[0].steps[1].timing`` -> 12)."""
    value, lines = load_with_lines(path)
    if isinstance(value, dict) and isinstance(value.get("scenarios"), list):
        documents = [(f"scenarios[{i}]", doc) for i, doc in enumerate(value["scenarios"])]
    elif isinstance(value, dict):
        documents = [("", value)]
    else:
        raise AdminCliError(f"{path}:1: expected a scenario or `scenarios: [...]`")
    for prefix, document in documents:
        if not isinstance(document, dict):
            raise AdminCliError(f"{path}:{lines.get(prefix, 1)}: {prefix}: not a mapping")
    return documents, lines


def load_with_lines(path: Path) -> tuple[Any, dict[str, int]]:
    """A YAML file's value and the line of every node (``menus[0].areas[1]`` -> 12);
    a one-line CLI error when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AdminCliError(f"cannot read {path}: {error.strerror}") from error
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or error
        raise AdminCliError(f"{path}{where}: not valid YAML ({reason})") from None
    finally:
        loader.dispose()
    if node is None:
        raise AdminCliError(f"{path}: empty file")
    lines: dict[str, int] = {}
    return _value(loader, node, "", lines), lines


def located(path: Path, lines: dict[str, int], field: str, reason: str, what: str) -> str:
    """``file:line: field: reason`` (``what`` when no field is named)."""
    return _located(path, lines, "", field, reason).replace(": scenario: ", f": {what}: ", 1)


def _value(loader: Any, node: Any, path: str, lines: dict[str, int]) -> Any:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node, deep=True))
            child = f"{path}.{key}" if path else key
            result[key] = _value(loader, value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1  # the key's line reads best
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_value(loader, item, f"{path}[{i}]", lines) for i, item in enumerate(node.value)]
    if node.tag.endswith(":int") and ":" in node.value:
        return node.value  # "09:00" unquoted is YAML 1.1's base-60 number: keep the text
    if node.tag.endswith(":timestamp"):
        return node.value  # dates and times stay ISO 8601 text
    return loader.construct_object(node, deep=True)


# ---------------------------------------------------------------------- plan
def _plan(client: AdminApiClient, args: argparse.Namespace) -> Any:
    if not 1 <= args.days <= 365:
        raise AdminCliError("--days is 1 to 365")
    ids = (
        [args.scenario]
        if args.scenario
        else [
            s["scenario_id"]
            for s in client.call("GET", "/scenarios")["scenarios"]
            if s["status"] == "active"
        ]
    )
    return [
        client.call(
            "GET",
            f"/scenarios/{scenario_id}/plan",
            params={"user_id": args.friend, "days": args.days},
        )
        for scenario_id in ids
    ]
