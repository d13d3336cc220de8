"""``linecrm segments``: parsing, files and the requests it makes (no server)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from linecrm_local import cli, cli_segments
from linecrm_local.admin_cli import AdminCliError

VIP_YAML = """\
name: VIPs
description: every VIP
match: {tag: VIP}
"""
SAVED = {"segmentId": "seg_1", "name": "VIPs"}


class FakeClient:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self.calls.append((method, path, body))
        if (method, path) == ("GET", "/segments"):
            return {"items": self.items}
        return {"ok": True}


def run(client: FakeClient, *argv: str) -> Any:
    args: argparse.Namespace = cli.build_parser().parse_args(["segments", *argv])
    return cli_segments.run(args, client=client)  # type: ignore[arg-type]


@pytest.fixture
def vip(tmp_path: Path) -> Path:
    path = tmp_path / "vip.yaml"
    path.write_text(VIP_YAML, encoding="utf-8")
    return path


def test_save_creates_then_replaces_by_name(vip: Path) -> None:
    client = FakeClient([])
    run(client, "save", "-f", str(vip))
    body = {"name": "VIPs", "definition": {"match": {"tag": "VIP"}}, "description": "every VIP"}
    assert client.calls[-1] == ("POST", "/segments", body)

    client = FakeClient([SAVED])
    run(client, "save", "-f", str(vip))
    assert client.calls[-1] == ("PUT", "/segments/seg_1", body)


def test_show_preview_delete_by_name_or_id(vip: Path) -> None:
    client = FakeClient([SAVED])
    run(client, "show", "vips")
    assert client.calls[-1][:2] == ("GET", "/segments/seg_1")
    run(client, "preview", "seg_1")
    assert client.calls[-1] == ("POST", "/segments/preview", {"segmentId": "seg_1"})
    run(client, "preview", "-f", str(vip))
    assert client.calls[-1] == (
        "POST",
        "/segments/preview",
        {"definition": {"match": {"tag": "VIP"}}},
    )
    assert run(client, "delete", "VIPs")["deleted"] is True
    assert client.calls[-1][:2] == ("DELETE", "/segments/seg_1")


def test_mistakes_are_said(tmp_path: Path) -> None:
    with pytest.raises(AdminCliError, match="no saved segment"):
        run(FakeClient([]), "show", "nope")
    with pytest.raises(AdminCliError, match="one of them"):
        run(FakeClient([]), "preview")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tag: VIP\n", encoding="utf-8")
    with pytest.raises(AdminCliError, match="match"):
        run(FakeClient([]), "save", "-f", str(bad), "--name", "x")
