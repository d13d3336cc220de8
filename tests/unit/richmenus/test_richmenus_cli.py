"""``linecrm richmenus apply -f``: a bad file is one-line errors with file:line (no
request is made), and images are read relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecrm_local import cli

BAD = """\
menus:
  - id: main
    name: メイン
    size: compact
    chat_bar_text: とても長いチャットバーのテキストです
    areas:
      - bounds: {x: 0, y: 0, width: 2500, height: 843}
        action: {type: richmenuswitch, to: tab2}
default: nowhere
"""


def test_a_bad_file_names_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    menus = tmp_path / "menus.yaml"
    menus.write_text(BAD, encoding="utf-8")
    # Port 9: nothing listens; the checks fail before any request would be made.
    status = cli.main(["--api-url", "http://127.0.0.1:9", "richmenus", "apply", "-f", str(menus)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{menus}:5: menus[0].chat_bar_text: String should have at most 14 characters" in err
    # Once every field is right, the references across the file are checked.
    menus.write_text(BAD.replace("とても長いチャットバーのテキストです", "メニュー"))
    status = cli.main(["--api-url", "http://127.0.0.1:9", "richmenus", "apply", "-f", str(menus)])
    assert status == 2
    assert f"{menus}:9: default: no menu 'nowhere' in menus" in capsys.readouterr().err


def test_a_missing_image_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    menus = tmp_path / "menus.yaml"
    menus.write_text(BAD.replace("    size: compact\n", "    size: compact\n    image: no.png\n"))
    status = cli.main(["--api-url", "http://127.0.0.1:9", "richmenus", "apply", "-f", str(menus)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{menus}:5: menus[0].image: cannot read {tmp_path / 'no.png'}" in err
