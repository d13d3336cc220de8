"""The CLI's seams a new user trips over: one-line errors instead of tracebacks, exit
statuses that tell a failed wait from a good one, YAML that means what it looks like."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from linecrm_local import admin_cli, cli, cli_broadcasts, cli_imports
from linecrm_local.admin_cli import AdminCliError, IncompleteResult, load_document


@pytest.mark.parametrize(
    "argv",
    [
        ["--api-url", "127.0.0.1:8080", "tags", "list"],
        ["tags", "list", "--api-url", "localhost"],
        ["--emulator", "127.0.0.1:8090", "simulated-friends"],
        ["--api-url", "ftp://example.com", "broadcast", "list"],
    ],
)
def test_a_url_without_a_scheme_is_a_one_line_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a URL" in err and "http://" in err


def test_simulate_text_takes_the_text_after_user(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str, Any]] = []
    monkeypatch.setattr(
        cli.EmulatorControl,
        "call",
        lambda self, method, path, body=None: sent.append((method, path, body)),
    )
    user = "U" + "a" * 32
    for argv in (
        ["simulate", "text", "--user", user, "hello"],
        ["simulate", "text", "hello", "--user", user],
    ):
        assert cli.main(argv) == 0
    assert [body for _, _, body in sent] == [{"type": "text", "userId": user, "text": "hello"}] * 2
    assert cli.main(["simulate", "postback", "--user", user, "action=buy"]) == 0
    assert sent[-1][2] == {"type": "postback", "userId": user, "data": "action=buy"}


def test_simulate_id_token_prints_the_member_card_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[tuple[str, str, Any]] = []

    def call(self: Any, method: str, path: str, body: Any = None) -> Any:
        sent.append((method, path, body))
        return {"idToken": "header.claims.signature"}

    monkeypatch.setattr(cli.EmulatorControl, "call", call)
    user = "U" + "b" * 32
    argv = ["--channel", "2000000001", "simulate", "id-token", "--user", user]
    assert cli.main([*argv, "--api-url", "http://127.0.0.1:9999"]) == 0

    assert sent == [("POST", "/channels/2000000001/id-token", {"userId": user})]
    printed = json.loads(capsys.readouterr().out)
    assert printed["memberCardUrl"] == (
        "http://127.0.0.1:9999/liff/2000000001/card?mockIdToken=header.claims.signature"
    )
    assert cli.main([*argv, "--api-url", "localhost"]) == 2


def test_a_closed_pipe_is_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """``linecrm … | head``: head leaves, the rest of the output goes nowhere, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved = os.dup(1)
    try:
        os.dup2(write_end, 1)
        stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        monkeypatch.setattr("sys.stdout", stdout)
        monkeypatch.setattr(cli, "run", lambda args: [{"n": n} for n in range(20_000)])
        assert cli.main(["simulated-friends"]) == 0
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write_end)


# ---------------------------------------------------------------- exit statuses
class FakeClient:
    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = answers

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        return self.answers[path].pop(0)


def _report(status: str, **deliveries: int) -> dict[str, Any]:
    return {
        "broadcast": {"broadcast_id": "B1", "status": status, "counters": {"recipients": 3}},
        "deliveries": deliveries,
    }


def test_broadcast_wait_with_dead_chunks_is_incomplete() -> None:
    client = FakeClient({"/broadcasts/B1": [_report("sent", sent=1, dead=2)]})
    with pytest.raises(IncompleteResult, match="2 chunk\\(s\\) dead") as raised:
        cli_broadcasts.wait_for(client, "B1", sleep=lambda _: None)  # type: ignore[arg-type]
    assert raised.value.result["deliveries"] == {"sent": 1, "dead": 2}


def test_incomplete_results_print_the_result_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    job = {
        "job_id": "J1",
        "kind": "csv",
        "status": "done",
        "counters": {
            "rows_seen": 2,
            "friends_created": 0,
            "friends_updated": 0,
            "rows_rejected": 2,
        },
    }
    monkeypatch.setattr(cli_imports.ImportApiClient, "call", lambda self, *a, **k: job)
    assert cli.main(["import", "status", "J1"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["job_id"] == "J1"
    assert "every row was rejected (2)" in captured.err

    partly = {**job, "counters": {**job["counters"], "friends_created": 1}}
    monkeypatch.setattr(cli_imports.ImportApiClient, "call", lambda self, *a, **k: partly)
    assert cli.main(["import", "status", "J1"]) == 0


def test_an_import_says_how_many_erased_friends_it_skipped() -> None:
    job: dict[str, Any] = {
        "job_id": "J1",
        "kind": "followers",
        "status": "done",
        "counters": {
            "rows_seen": 8,
            "friends_created": 0,
            "friends_updated": 7,
            "rows_rejected": 0,
            "friends_skipped_erased": 1,
        },
    }
    assert cli_imports.progress_line(job) == (
        "J1 followers done: 8 rows, 0 new, 7 known, 0 rejected, 1 erased (skipped)"
    )
    job["counters"]["friends_skipped_erased"] = 0
    assert cli_imports.progress_line(job).endswith("0 rejected")


def test_a_finished_broadcast_without_chunks_says_none() -> None:
    assert cli_broadcasts.progress_line(_report("sent")).endswith("chunks: none")
    assert cli_broadcasts.progress_line(_report("scheduled")).endswith("chunks: none yet")


# ---------------------------------------------------------------- YAML
def test_yaml_dates_and_times_become_iso_text(tmp_path: Path) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(
        "closed_dates: [2025-12-31]\nactive_from: 2025-07-01T00:00:00+09:00\n", encoding="utf-8"
    )
    document = load_document(path)
    assert document == {
        "closed_dates": ["2025-12-31"],
        "active_from": "2025-07-01T00:00:00+09:00",
    }
    json.dumps(document)  # what crashed before: datetime is not JSON serializable


def test_an_unquoted_clock_time_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text('weekly:\n  mon: [["10:00", 21:00]]\n', encoding="utf-8")
    with pytest.raises(AdminCliError) as raised:
        load_document(path)
    message = str(raised.value)
    assert "line 2" in message and "base-60 number 1260" in message and '"21:00"' in message


def test_rules_apply_sends_the_business_hours_too(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "business_hours:\n  weekly: {mon: [['10:00', '19:00']]}\n  closed_dates: [2026-01-01]\n"
        "rules: []\n",
        encoding="utf-8",
    )
    sent: list[Any] = []

    class Recorder:
        def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
            sent.append((method, path, body, kwargs))
            return {}

    args = cli.build_parser().parse_args(["rules", "apply", "-f", str(path), "--dry-run"])
    admin_cli._rules_apply(Recorder(), args)  # type: ignore[arg-type]
    ((method, route, body, kwargs),) = sent
    assert (method, route, kwargs["params"]) == ("PUT", "/rules", {"dry_run": "true"})
    assert body == {
        "rules": [],
        "business_hours": {"weekly": {"mon": [["10:00", "19:00"]]}, "closed_dates": ["2026-01-01"]},
    }
    path.write_text("rules: []\nbusiness_hour: {}\n", encoding="utf-8")
    with pytest.raises(AdminCliError, match="unknown key\\(s\\) business_hour"):
        admin_cli._rules_apply(Recorder(), args)  # type: ignore[arg-type]
