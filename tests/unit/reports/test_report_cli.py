"""``linecrm report …`` against the admin function on moto (the CLI's HTTP requests go
to the handler in-process): tables, CSV files, JSON, and one-line mistakes."""

from __future__ import annotations

import contextlib
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from linecrm_local import cli
from linecrm_local.admin_cli import AdminApiClient
from linecrm_local.cli_reports import table
from tests.support.lambda_support import load_handler
from tests.unit.admin.conftest import AdminApi
from tests.unit.conftest import AwsWorld
from tests.unit.reports.world import ReportWorld, text

SENT_AT = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def api(aws: AwsWorld) -> AdminApi:
    return AdminApi(load_handler("admin"), aws)


@pytest.fixture
def world(api: AdminApi, monkeypatch: pytest.MonkeyPatch) -> ReportWorld:
    def send(self: AdminApiClient, prepared: requests.PreparedRequest) -> requests.Response:
        url = urlsplit(prepared.url or "")
        # The handler flushes its metrics (EMF) to stdout, as on Lambda; in this process
        # that would be the CLI's output, so it goes elsewhere.
        with contextlib.redirect_stdout(io.StringIO()):
            answer = api.invoke(
                prepared.method or "GET", unquote(url.path), query=dict(parse_qsl(url.query))
            )
        response = requests.Response()
        response.status_code = answer["statusCode"]
        response.headers = CaseInsensitiveDict(answer.get("headers", {}))
        response._content = str(answer.get("body") or "").encode("utf-8")
        return response

    monkeypatch.setattr(AdminApiClient, "_send", send)
    monkeypatch.setenv("LINECRM_CHANNEL_ID", api.channel_id)
    world = ReportWorld(api.aws, channel_id=api.channel_id)
    world.broadcast("spring", "春のセール", started_at=SENT_AT)
    world.sent("broadcast:spring", SENT_AT, 1200, variant="A")
    world.add("broadcast:spring", "U1", "A", clicks=150, unique_clicks=120, revenue=128000)
    world.add("broadcast:spring", "U1", "A", conversions=12, blocks=6)
    world.add("broadcast:spring", "H1", "holdout", held_out=100, conversions=2, revenue=5000)
    world.scenario(
        "onboarding",
        "新規フォロー",
        [{"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]}],
    )
    world.sent("step:onboarding:day0", SENT_AT, 10)
    return world


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["--channel", os.environ["LINECRM_CHANNEL_ID"], *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.usefixtures("world")
def test_a_campaign_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "report", "campaign", "broadcast:spring")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "broadcast:spring  春のセール  [broadcast]"
    assert lines[1] == "first sent 2026-12-01 10:00, last 2026-12-01 10:00"
    header = lines[3].split()
    assert header == [
        "variant",
        *["sent", "clicks", "unique", "CTR", "conv", "CVR", "revenue", "blocks", "block%"],
    ]
    assert lines[5].split() == [
        "all",
        "1,200",
        "150",
        "120",
        "10.0%",
        "12",
        "1.0%",
        "¥128,000",
        "6",
        "0.5%",
    ]
    assert lines[6].split()[0] == "A"
    assert "LINE: opens not fetched yet" in out
    assert "holdout: 100 friends held out" in out and "(CVR 2.0%, ¥5,000)" in out


@pytest.mark.usefixtures("world")
def test_the_other_reports_as_tables(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "report", "campaigns", "--kind", "broadcast")
    assert status == 0 and "春のセール" in out and "step:" not in out
    status, out, _ = run(capsys, "report", "funnel", "onboarding")
    assert status == 0 and out.splitlines()[0] == "onboarding  新規フォロー"
    assert out.splitlines()[4].split()[:2] == ["day0", "10"]
    status, out, _ = run(capsys, "report", "routes")
    assert status == 0 and "no inflow routes" in out
    status, out, _ = run(capsys, "report", "timeline", "--from", "2026-11-30", "--to", "2026-12-01")
    assert status == 0 and out.startswith("days in Asia/Tokyo")
    assert [line.split()[0] for line in out.splitlines()[4:]] == ["2026-11-30", "2026-12-01"]


@pytest.mark.usefixtures("world")
def test_an_experiment_as_a_table_and_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = run(capsys, "report", "experiment", "broadcast:spring")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "broadcast:spring  control: A"
    assert lines[2].split() == [
        "variant",
        "sent",
        "CTR",
        "CVR",
        "CVR",
        "95%",
        "revenue",
        "block%",
        "p",
    ]
    assert lines[4].split()[:2] == ["A", "1,200"]
    assert lines[5].split()[:2] == ["holdout", "(100)"]
    assert any(line.startswith("holdout: ") for line in lines)
    assert "verdict:" in out and "z-test" in out

    target = tmp_path / "ab.csv"
    status, out, err = run(capsys, "report", "experiment", "broadcast:spring", "--csv", str(target))
    assert (status, err) == (0, "")
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    status, out, err = run(capsys, "report", "experiment", "spring")
    assert status == 2 and out == "" and "422" in err


@pytest.mark.usefixtures("world")
def test_csv_to_a_file_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "spring.csv"
    status, out, err = run(capsys, "report", "campaign", "broadcast:spring", "--csv", str(target))
    assert (status, err) == (0, "")
    assert json.loads(out) == {"file": str(target), "rows": 3, "bytes": target.stat().st_size}
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "春のセール" in raw.decode("utf-8-sig")

    status, out, _ = run(capsys, "report", "campaign", "broadcast:spring", "--json")
    assert status == 0 and json.loads(out)["sent"] == 1200


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["report", "campaign", "broadcast:nope"], "404: no campaign 'broadcast:nope'"),
        (["report", "campaign", "spring"], "422"),
        (["report", "funnel", "nope"], "404: no scenario 'nope'"),
        (["report", "timeline", "--from", "2026-13-01"], "400: from '2026-13-01' is not a date"),
        (["report", "timeline", "--from", "2026-12-02", "--to", "2026-12-01"], "is after to"),
        (["report", "timeline", "--from", "2026-13-01", "--csv", "x.csv"], "is not a date"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and says in err, err


@pytest.mark.usefixtures("world")
def test_an_unwritable_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for target in (tmp_path / "missing" / "x.csv", tmp_path):
        status, out, err = run(capsys, "report", "routes", "--csv", str(target))
        assert status == 2 and out == ""
        assert err.startswith(f"linecrm: cannot write {target}") and err.count("\n") == 1


def test_tables_align_japanese_text() -> None:
    rendered = table(("name", "sent"), [["春のセール", "1,200"], ["spring", "3"]]).splitlines()
    assert rendered == [
        "name         sent",
        "----------  -----",
        "春のセール  1,200",
        "spring          3",
    ]


def test_a_rich_menu_as_a_table_taps_without_rates(
    world: ReportWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.menus({"main": "メイン"})
    world.client.update_item(**world.stats.index_update(world.channel_id, "richmenu:main", SENT_AT))
    world.add("richmenu:main", "U1", clicks=3, unique_clicks=1)

    status, out, err = run(capsys, "report", "campaign", "richmenu:main")

    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "richmenu:main  メイン  [richmenu]"
    assert lines[1] == "links live since 2026-12-01 10:00, last applied 2026-12-01 10:00"
    assert lines[5].split()[:5] == ["all", "0", "3", "1", "-"]  # CTR: nothing was sent
    assert lines[-1].startswith("a rich menu sends nothing: taps only")
    status, out, _ = run(capsys, "report", "campaigns", "--kind", "richmenu")
    assert status == 0 and "richmenu:main" in out and "broadcast:spring" not in out
