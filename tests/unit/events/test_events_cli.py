"""``linecrm events send``: properties typed from the command line, one-line errors."""

from __future__ import annotations

import pytest

from linecrm_local import cli, cli_events


def test_properties_are_typed_like_json_or_kept_as_text() -> None:
    assert cli_events._property("qty=2") == ("qty", 2)
    assert cli_events._property("gift=true") == ("gift", True)
    assert cli_events._property("sku=A1") == ("sku", "A1")
    assert cli_events._property("note=a=b") == ("note", "a=b")
    assert cli_events._property("limit=NaN") == ("limit", "NaN")


@pytest.mark.parametrize(
    "argv",
    [
        ["events", "send", "--name", "purchase", "--user", "U" + "a" * 32, "--property", "x"],
        ["events", "send", "--name", "purchase", "--user", "U" + "a" * 32, "--api-url", "nope"],
    ],
)
def test_mistakes_are_one_line_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("linecrm: ") and "\n" not in err
