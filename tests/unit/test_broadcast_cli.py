"""``linecrm broadcast|deliveries|policy`` without a server: parsing, files, requests."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from linecrm_local import cli, cli_broadcasts
from linecrm_local.admin_cli import AdminCliError

SALE_YAML = """\
name: VIP sale
messages:
  - {type: text, text: "{display_name|お客様}、VIP限定セール開催中！"}
segment:
  match: {tag: VIP}
message_class: marketing
method: auto
"""


class FakeClient:
    """Records calls; answers from ``answers`` (a list per path, consumed in order)."""

    def __init__(self, answers: dict[str, list[Any]] | None = None) -> None:
        self.calls: list[tuple[str, str, Any, dict[str, Any] | None]] = []
        self.idempotent: list[str] = []  # paths called with the invocation's key
        self.answers = answers or {}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Any:
        self.calls.append((method, path, body, params))
        if idempotent:
            self.idempotent.append(path)
        queue = self.answers.get(path)
        return queue.pop(0) if queue else {}


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def run(client: FakeClient, *argv: str) -> Any:
    return cli_broadcasts.run(parse(*argv), client=client, sleep=lambda _: None)  # type: ignore[arg-type]


@pytest.fixture
def sale(tmp_path: Path) -> Path:
    path = tmp_path / "sale.yaml"
    path.write_text(SALE_YAML, encoding="utf-8")
    return path


# ---------------------------------------------------------------- files
def test_a_broadcast_file_becomes_the_request_body(sale: Path) -> None:
    body = cli_broadcasts.broadcast_request(sale)
    assert body == {
        "name": "VIP sale",
        "messages": [{"type": "text", "text": "{display_name|お客様}、VIP限定セール開催中！"}],
        "segment": {"match": {"tag": "VIP"}},
        "message_class": "marketing",
        "method": "auto",
    }


def test_an_ab_broadcast_file_keeps_its_experiment(tmp_path: Path) -> None:
    path = tmp_path / "ab.yaml"
    path.write_text(
        "name: n\nmessages: [{type: text, text: hi}]\nexperiment:\n"
        "  variants: [{name: A, percent: 45}, {name: B, percent: 45}]\n"
        "  holdout_percent: 10\n",
        encoding="utf-8",
    )
    assert cli_broadcasts.broadcast_request(path)["experiment"] == {
        "variants": [{"name": "A", "percent": 45}, {"name": "B", "percent": 45}],
        "holdout_percent": 10,
    }


def test_at_overrides_send_at_and_needs_a_zone(sale: Path) -> None:
    body = cli_broadcasts.broadcast_request(sale, "2026-12-01T10:00+09:00")
    assert body["send_at"] == "2026-12-01T10:00:00+09:00"
    with pytest.raises(AdminCliError, match="no time zone"):
        cli_broadcasts.broadcast_request(sale, "2026-12-01T10:00")
    with pytest.raises(AdminCliError, match="not a time"):
        cli_broadcasts.broadcast_request(sale, "tomorrow")


def test_json_files_and_an_unquoted_yaml_time(tmp_path: Path) -> None:
    as_json = tmp_path / "b.json"
    as_json.write_text('{"name": "n", "messages": {"type": "text", "text": "hi"}}')
    assert cli_broadcasts.broadcast_request(as_json)["messages"] == [{"type": "text", "text": "hi"}]
    timed = tmp_path / "b.yaml"
    timed.write_text("name: n\nmessages: [{type: text, text: hi}]\nsend_at: 2026-12-01T01:00:00Z\n")
    assert cli_broadcasts.broadcast_request(timed)["send_at"] == "2026-12-01T01:00:00+00:00"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- just a list\n", "expected a mapping"),
        ("name: n\n", "no messages"),
        ("name: n\nmessages: []\nsegmnt: {}\n", "unknown key(s) segmnt"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_broadcast_files_are_one_line_errors(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(AdminCliError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        cli_broadcasts.broadcast_request(path)


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(AdminCliError, match="cannot read"):
        cli_broadcasts.broadcast_request(tmp_path / "nope.yaml")


def test_a_policy_file_may_wrap_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("delivery_policy:\n  marketing_caps: {per_day: 2}\n  when_capped: defer\n")
    assert cli_broadcasts.policy_document(path) == {
        "marketing_caps": {"per_day": 2},
        "when_capped": "defer",
    }
    path.write_text("- nope\n")
    with pytest.raises(AdminCliError, match="expected a mapping"):
        cli_broadcasts.policy_document(path)


# ---------------------------------------------------------------- requests
def test_dry_run_previews_and_send_creates(sale: Path) -> None:
    client = FakeClient()
    run(client, "broadcast", "send", "-f", str(sale), "--dry-run")
    run(client, "broadcast", "send", "-f", str(sale), "--at", "2026-12-01T10:00+09:00")
    (preview, create) = client.calls
    assert preview[:2] == ("POST", "/broadcasts/preview")
    assert "send_at" not in preview[2]
    assert create[:2] == ("POST", "/broadcasts")
    assert create[2]["send_at"] == "2026-12-01T10:00:00+09:00"
    assert client.idempotent == ["/broadcasts"]  # creating, not the preview


def test_a_dry_run_polls_a_preview_that_runs_as_a_job(
    sale: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = {"preview_id": "p1", "status": "running", "friends_considered": 5000}
    done = {**running, "status": "done", "friends_considered": 9000, "result": {"recipients": 7}}
    client = FakeClient(
        {
            "/broadcasts/preview": [running],
            "/broadcasts/previews/p1": [{**running, "friends_considered": 7000}, done],
        }
    )
    assert run(client, "broadcast", "send", "-f", str(sale), "--dry-run") == {"recipients": 7}
    assert [path for _, path, _, _ in client.calls] == [
        "/broadcasts/preview",
        "/broadcasts/previews/p1",
        "/broadcasts/previews/p1",
    ]
    assert "7,000 friends counted" in capsys.readouterr().err
    failed = {**running, "status": "failed", "reason": "unknown tag 'VIP'"}
    client = FakeClient({"/broadcasts/preview": [running], "/broadcasts/previews/p1": [failed]})
    with pytest.raises(AdminCliError, match="preview failed: unknown tag"):
        run(client, "broadcast", "send", "-f", str(sale), "--dry-run")


def test_broadcast_reads_and_cancel() -> None:
    client = FakeClient()
    run(client, "broadcast", "list", "--limit", "5")
    run(client, "broadcast", "show", "20261201T100000-ab12cd34")
    run(client, "broadcast", "cancel", "20261201T100000-ab12cd34")
    assert [(m, p, q) for m, p, _, q in client.calls] == [
        ("GET", "/broadcasts", {"limit": 5}),
        ("GET", "/broadcasts/20261201T100000-ab12cd34", None),
        ("POST", "/broadcasts/20261201T100000-ab12cd34/cancel", None),
    ]


def _report(status: str, **deliveries: int) -> dict[str, Any]:
    return {
        "broadcast": {"broadcast_id": "B1", "status": status, "reason": "quota", "counters": {}},
        "deliveries": deliveries,
    }


def test_wait_polls_until_finished_and_nothing_queued(capsys: pytest.CaptureFixture[str]) -> None:
    answers = [_report("sending", queued=1), _report("sent", queued=1), _report("sent", sent=2)]
    client = FakeClient({"/broadcasts/B1": answers})
    report = run(client, "broadcast", "wait", "B1")
    assert report["deliveries"] == {"sent": 2}
    assert len(client.calls) == 3
    assert "B1 sent" in capsys.readouterr().err


def test_wait_reports_a_failure_and_a_timeout() -> None:
    client = FakeClient({"/broadcasts/B1": [_report("failed")]})
    with pytest.raises(AdminCliError, match="B1 failed: quota"):
        run(client, "broadcast", "wait", "B1")
    never = FakeClient({"/broadcasts/B1": [_report("scheduled")] * 3})
    with pytest.raises(AdminCliError, match="still scheduled after 0 s"):
        run(never, "broadcast", "wait", "B1", "--timeout", "0")


def test_send_wait_creates_then_polls(sale: Path) -> None:
    client = FakeClient(
        {"/broadcasts": [{"broadcast_id": "B1"}], "/broadcasts/B1": [_report("sent", sent=1)]}
    )
    assert run(client, "broadcast", "send", "-f", str(sale), "--wait")["deliveries"] == {"sent": 1}


def test_deliveries_list_follows_the_cursor_with_all() -> None:
    pages = [
        {"deliveries": [{"delivery_id": "a"}], "next_cursor": "c1"},
        {"deliveries": [{"delivery_id": "b"}], "next_cursor": None},
    ]
    client = FakeClient({"/deliveries": pages})
    listed = run(client, "deliveries", "list", "--status", "dead", "--cause", "broadcast", "--all")
    assert [d["delivery_id"] for d in listed] == ["a", "b"]
    assert client.calls[0][3] == {
        "status": "dead",
        "cause": "broadcast",
        "limit": 50,
        "cursor": None,
    }
    assert client.calls[1][3]["cursor"] == "c1"


def test_redrive_one_or_all_dead() -> None:
    client = FakeClient()
    run(client, "deliveries", "show", "bc:B1:0")
    run(client, "deliveries", "redrive", "bc:B1:0")
    run(client, "deliveries", "redrive", "--all-dead", "--cause", "broadcast", "--limit", "10")
    run(client, "deliveries", "redrive", "--all-dead")
    run(client, "deliveries", "redrive", "bc:B1:1", "--force")
    run(client, "deliveries", "redrive", "--all-dead", "--force")
    assert [(m, p, b) for m, p, b, _ in client.calls] == [
        ("GET", "/deliveries/bc:B1:0", None),
        ("POST", "/deliveries/bc:B1:0/redrive", None),
        ("POST", "/deliveries/redrive-dead", {"cause": "broadcast", "limit": 10}),
        ("POST", "/deliveries/redrive-dead", {"cause": None}),
        ("POST", "/deliveries/bc:B1:1/redrive", None),
        ("POST", "/deliveries/redrive-dead", {"cause": None, "force": True}),
    ]
    assert client.calls[4][3] == {"force": "true"}


def test_policy_show_and_set(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(
        '{"time_zone": "Asia/Tokyo", "quiet_hours": {"start": "21:00", "end": "09:00"}}'
    )
    client = FakeClient()
    run(client, "policy", "show")
    run(client, "policy", "set", "-f", str(path))
    assert client.calls[0][:2] == ("GET", "/delivery-policy")
    assert client.calls[1][:3] == (
        "PUT",
        "/delivery-policy",
        {"time_zone": "Asia/Tokyo", "quiet_hours": {"start": "21:00", "end": "09:00"}},
    )


# ---------------------------------------------------------------- the command line
def test_options_after_the_command() -> None:
    args = parse("deliveries", "list", "--channel", "42", "--sigv4", "--status", "dead")
    assert (args.channel, args.sigv4, args.status) == ("42", True, "dead")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["deliveries", "redrive"], "needs a delivery id or --all-dead"),
        (["deliveries", "redrive", "bc:B1:0", "--all-dead"], "needs a delivery id or --all-dead"),
        (["deliveries", "redrive", "bc:B1:0", "--limit", "3"], "go with --all-dead"),
        (["broadcast", "send", "-f", "/nonexistent/sale.yaml"], "cannot read"),
        (["policy", "set", "-f", "/nonexistent/policy.yaml"], "cannot read"),
    ],
)
def test_usage_errors_exit_2_in_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_at_exits_2(sale: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["broadcast", "send", "-f", str(sale), "--at", "2026-12-01 10:00"]) == 2
    assert "no time zone" in capsys.readouterr().err
