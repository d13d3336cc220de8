"""The import CSV: encodings, header, row numbers and what makes a row rejected."""

from __future__ import annotations

import codecs

import pytest

from linecrm.domain.fields import FieldCatalog, FieldDefinition
from linecrm.domain.tags import Tag, TagCatalog, UnknownTag
from linecrm.imports.csv_format import (
    CsvFormatError,
    CsvImportFile,
    CsvRow,
    RowChange,
    RowRejected,
    decode_csv,
    parse_csv,
    row_change,
    split_tags,
)

ALICE = "U" + "a" * 32
BOB = "U" + "b" * 32
FIELDS = FieldCatalog(
    [
        FieldDefinition(key="rank", label="会員ランク", type="choice", choices=("gold", "silver")),
        FieldDefinition(key="birthday", label="誕生日", type="date"),
        FieldDefinition(key="points", label="ポイント", type="number"),
    ]
)
TAGS = TagCatalog([Tag(tag_id="tag_vip", name="VIP"), Tag(tag_id="tag_buyer", name="購入者")], [])


def resolve(reference: str) -> str:
    try:
        return TAGS.resolve(reference).tag_id
    except UnknownTag as error:
        raise RowRejected(f"unknown tag {reference!r}") from error


def first(parsed: CsvImportFile) -> CsvRow:
    return next(parsed.rows())


def change(row: CsvRow) -> RowChange:
    return row_change(row, resolve, FIELDS)


# ---------------------------------------------------------------- encodings
def test_utf8_with_and_without_bom() -> None:
    text = f"user_id,tags\n{ALICE},VIP|購入者\n"
    plain = parse_csv(text.encode("utf-8"), FIELDS)
    with_bom = parse_csv(codecs.BOM_UTF8 + text.encode("utf-8"), FIELDS)
    assert plain.encoding == "utf-8"
    assert with_bom.encoding == "utf-8-sig"
    assert list(plain.rows()) == list(with_bom.rows())
    assert first(with_bom).add_tags == ("VIP", "購入者")  # the BOM is not in "user_id"


def test_shift_jis_cp932_from_excel_is_read() -> None:
    text = f"user_id,tags,メモ\r\n{ALICE},購入者;VIP,①特別\r\n"  # ① exists in CP932 only
    parsed = parse_csv(text.encode("cp932"), FIELDS)
    assert parsed.encoding == "cp932"
    assert first(parsed).add_tags == ("購入者", "VIP")
    assert parsed.layout.ignored == ("メモ",)


def test_utf16_and_undecodable_files_are_refused_with_advice() -> None:
    with pytest.raises(CsvFormatError, match="CSV UTF-8"):
        decode_csv(codecs.BOM_UTF16_LE + "user_id\n".encode("utf-16-le"))
    with pytest.raises(CsvFormatError, match="neither UTF-8 nor Shift_JIS"):
        decode_csv(b"user_id\n\x81\x20\xff\xfe\n")
    with pytest.raises(CsvFormatError, match="BOM"):
        decode_csv(codecs.BOM_UTF8 + b"\xff")


# ---------------------------------------------------------------- header
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"tags\nVIP\n", "no 'user_id' column"),
        (b"user_id,tags,TAGS\nU1,,\n", "appears twice"),
        (b"user_id,field.nickname\nU1,x\n", "no custom field 'nickname'"),
        (b"user_id\n\n\n", "no data rows"),
    ],
)
def test_file_level_problems(content: bytes, message: str) -> None:
    with pytest.raises(CsvFormatError, match=message):
        parse_csv(content, FIELDS)


def test_header_is_case_and_space_tolerant_and_lists_ignored_columns() -> None:
    parsed = parse_csv(
        f" User_ID , Tags ,Field.rank,display name\n{ALICE},VIP,gold,Hanako\n".encode(), FIELDS
    )
    assert parsed.layout.fields == {"rank": 2}
    assert parsed.layout.ignored == ("display name",)
    assert first(parsed).fields == {"rank": "gold"}


# ---------------------------------------------------------------- rows
def test_row_numbers_are_the_spreadsheet_rows_and_blank_lines_are_skipped() -> None:
    parsed = parse_csv(f"user_id\n{ALICE}\n\n{BOB}\n".encode(), FIELDS)
    assert [(row.row_number, row.user_id) for row in parsed.rows()] == [(2, ALICE), (4, BOB)]
    assert parsed.rows_total == 2
    assert [row.row_number for row in parsed.rows(skip=1)] == [4]  # a job's cursor


def test_quoted_cells_with_newlines_and_separators() -> None:
    parsed = parse_csv(f'user_id,tags\n"{ALICE}","VIP | 購入者 |"\n'.encode(), FIELDS)
    assert first(parsed).add_tags == ("VIP", "購入者")
    assert split_tags(" a ;b|a ") == ("a", "b")


def test_a_valid_row_resolves_tags_and_coerces_fields() -> None:
    parsed = parse_csv(
        (
            "user_id,tags,remove_tags,field.rank,field.birthday,field.points\n"
            f'{ALICE},VIP,tag_buyer,gold,1990-04-01,"1,200"\n'
        ).encode(),
        FIELDS,
    )
    result = change(first(parsed))
    assert result.user_id == ALICE
    assert result.add_tag_ids == {"tag_vip"}
    assert result.remove_tag_ids == {"tag_buyer"}
    assert result.set_fields == {
        "rank": "gold",
        "birthday": "1990-04-01",
        "points": 1200,
    }


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (",VIP", "user_id is empty"),
        ("U123,VIP", "not a LINE user id"),
        (f"{ALICE.upper()},VIP", "not a LINE user id"),
        (f"{ALICE},常連", "unknown tag '常連'"),
        (f"{ALICE},VIP,platinum", "field.rank: 'platinum' is not one of"),
        (f"{ALICE},VIP,,1990/04/01", "field.birthday: expected a date YYYY-MM-DD"),
        (f"{ALICE},VIP,gold,,lots", "field.points: expected a number"),
        (f"{ALICE},VIP,gold,,,surplus", "row has 6 cells but the header has 5"),
    ],
)
def test_rejected_rows_say_why(line: str, reason: str) -> None:
    header = "user_id,tags,field.rank,field.birthday,field.points"
    (row,) = parse_csv(f"{header}\n{line}\n".encode(), FIELDS).rows()
    assert row.row_number == 2
    with pytest.raises(RowRejected, match=reason):
        change(row)


def test_short_rows_mean_empty_cells() -> None:
    (row,) = parse_csv(f"user_id,tags,field.rank\n{ALICE}\n".encode(), FIELDS).rows()
    assert row.add_tags == ()
    assert row.fields == {}
