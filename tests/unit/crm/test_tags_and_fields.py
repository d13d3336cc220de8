"""Tags (catalog lookups, names) and custom fields (definitions, value coercion)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from linecrm.domain.fields import (
    MAX_TEXT_LENGTH,
    FieldCatalog,
    FieldDefinition,
    FieldValueError,
    UnknownField,
)
from linecrm.domain.tags import (
    Tag,
    TagCatalog,
    TagConflict,
    TagFolder,
    UnknownTag,
    new_folder_id,
    new_tag_id,
)

VIP = Tag(tag_id="tag_vip", name="VIP")
BUYER = Tag(tag_id="tag_buyer", name="購入者", folder_id="folder_a")
SEMINAR = Tag(tag_id="tag_seminar", name="セミナー参加")


def catalog() -> TagCatalog:
    folders = [
        TagFolder(folder_id="folder_b", name="Zeta"),
        TagFolder(folder_id="folder_a", name="Alpha"),
    ]
    return TagCatalog([VIP, BUYER, SEMINAR], folders)


# ---------------------------------------------------------------- tags


def test_resolve_finds_a_tag_by_id_and_by_exact_name() -> None:
    tags = catalog()
    assert tags.resolve("tag_buyer") is BUYER
    assert tags.resolve("購入者") is BUYER
    assert tags.resolve("VIP") is VIP


def test_resolve_ignores_surrounding_spaces_of_a_name() -> None:
    assert catalog().resolve("  セミナー参加 ") is SEMINAR


def test_resolve_is_exact_about_case_and_unknown_references() -> None:
    tags = catalog()
    for reference in ("vip", "tag_unknown", "", "   "):
        with pytest.raises(UnknownTag) as raised:
            tags.resolve(reference)
        assert raised.value.reference == reference
        assert isinstance(raised.value, LookupError)


def test_resolve_prefers_the_id_when_a_name_looks_like_another_tags_id() -> None:
    impostor = Tag(tag_id="tag_other", name="tag_vip")
    tags = TagCatalog([VIP, impostor], [])
    assert tags.resolve("tag_vip") is VIP
    assert tags.resolve("tag_other") is impostor


def test_resolve_all_keeps_order_and_fails_on_the_first_unknown() -> None:
    tags = catalog()
    assert tags.resolve_all(["VIP", "tag_buyer"]) == [VIP, BUYER]
    with pytest.raises(UnknownTag, match="nope"):
        tags.resolve_all(["VIP", "nope"])


def test_get_is_by_id_only() -> None:
    tags = catalog()
    assert tags.get("tag_vip") is VIP
    assert tags.get("VIP") is None


def test_catalog_lists_tags_and_folders_sorted_by_name() -> None:
    tags = catalog()
    assert [tag.name for tag in tags.tags] == sorted(["VIP", "購入者", "セミナー参加"])
    assert [folder.name for folder in tags.folders] == ["Alpha", "Zeta"]
    assert tags.has_folder("folder_a")
    assert not tags.has_folder("folder_x")


def test_tag_names_are_stripped_and_must_not_be_blank() -> None:
    assert Tag(tag_id="t1", name="  VIP  ").name == "VIP"
    assert TagFolder(folder_id="f1", name=" 顧客 ").name == "顧客"
    for blank in ("", "   ", "\u3000"):
        with pytest.raises(ValidationError):
            Tag(tag_id="t1", name=blank)
        with pytest.raises(ValidationError):
            TagFolder(folder_id="f1", name=blank)


def test_tag_ids_and_folder_ids_follow_the_id_pattern() -> None:
    for bad in ("", "has space", "a/b", "x" * 65, "タグ"):
        with pytest.raises(ValidationError):
            Tag(tag_id=bad, name="ok")
    with pytest.raises(ValidationError):
        Tag(tag_id="ok", name="ok", folder_id="bad folder")
    with pytest.raises(ValidationError):
        Tag(tag_id="ok", name="x" * 101)


def test_generated_ids_are_valid_and_unique() -> None:
    tag_ids = {new_tag_id() for _ in range(50)}
    folder_ids = {new_folder_id() for _ in range(50)}
    assert len(tag_ids) == 50 and len(folder_ids) == 50
    assert all(tag_id.startswith("tag_") for tag_id in tag_ids)
    assert all(folder_id.startswith("folder_") for folder_id in folder_ids)
    Tag(tag_id=next(iter(tag_ids)), name="x", folder_id=next(iter(folder_ids)))


def test_check_name_free_reports_the_holder() -> None:
    tags = catalog()
    with pytest.raises(TagConflict, match="tag_vip"):
        tags.check_name_free("VIP")
    with pytest.raises(TagConflict):
        tags.check_name_free("  VIP ")
    tags.check_name_free("vip")  # names are case sensitive
    tags.check_name_free("新しいタグ")


def test_check_name_free_allows_a_tag_to_keep_its_own_name() -> None:
    tags = catalog()
    tags.check_name_free("VIP", except_tag_id="tag_vip")
    with pytest.raises(TagConflict):
        tags.check_name_free("VIP", except_tag_id="tag_buyer")


def test_tag_conflict_is_a_value_error() -> None:
    assert issubclass(TagConflict, ValueError)


# ---------------------------------------------------------------- field definitions


def field(type_: str, key: str = "rank", choices: tuple[str, ...] = ()) -> FieldDefinition:
    return FieldDefinition(key=key, label="ラベル", type=type_, choices=choices)  # type: ignore[arg-type]


def test_a_choice_field_needs_choices() -> None:
    with pytest.raises(ValidationError, match="at least one choice"):
        field("choice")


def test_choices_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="unique"):
        field("choice", choices=("gold", "silver", "gold"))


@pytest.mark.parametrize("type_", ["text", "number", "date"])
def test_only_choice_fields_take_choices(type_: str) -> None:
    with pytest.raises(ValidationError, match=f"not {type_}"):
        field(type_, choices=("a",))
    assert field(type_).choices == ()


@pytest.mark.parametrize("key", ["Rank", "1rank", "_rank", "ran-k", "", "r" * 65, "ランク"])
def test_field_keys_are_lower_snake_case(key: str) -> None:
    with pytest.raises(ValidationError):
        field("text", key=key)


def test_unknown_field_type_and_blank_label_are_rejected() -> None:
    with pytest.raises(ValidationError):
        field("boolean")
    with pytest.raises(ValidationError):
        FieldDefinition(key="rank", label="", type="text")


# ---------------------------------------------------------------- coercion: text


def test_text_keeps_the_value_as_text() -> None:
    text = field("text", key="memo")
    assert text.coerce("こんにちは") == "こんにちは"
    assert text.coerce(42) == "42"
    assert text.coerce("") == ""


def test_text_length_limit() -> None:
    text = field("text", key="memo")
    assert text.coerce("あ" * MAX_TEXT_LENGTH) == "あ" * MAX_TEXT_LENGTH
    with pytest.raises(FieldValueError, match=r"^memo: .*500"):
        text.coerce("あ" * (MAX_TEXT_LENGTH + 1))


# ---------------------------------------------------------------- coercion: number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,200", 1200),
        ("1,234,567", 1234567),
        ("3.5", 3.5),
        ("1,200.75", 1200.75),
        (" 7 ", 7),
        ("-2", -2),
        ("0", 0),
        (12, 12),
        (2.5, 2.5),
    ],
)
def test_number_parses_text_and_numbers(raw: object, expected: float) -> None:
    value = field("number", key="points").coerce(raw)
    assert value == expected
    assert type(value) is type(expected)


def test_number_with_a_decimal_point_stays_a_float() -> None:
    value = field("number", key="points").coerce("3.0")
    assert value == 3.0 and isinstance(value, float)


@pytest.mark.parametrize(
    "raw",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        float("nan"),
        float("inf"),
        "",
        "abc",
        "1.2.3",
        "¥100",
    ],
)
def test_number_rejects_what_is_not_a_finite_number(raw: object) -> None:
    with pytest.raises(FieldValueError, match=r"^points: "):
        field("number", key="points").coerce(raw)


@pytest.mark.parametrize("raw", [True, False, None])
def test_booleans_and_none_are_rejected_for_every_type(raw: object) -> None:
    for definition in (
        field("number", key="points"),
        field("text", key="memo"),
        field("date", key="birthday"),
        field("choice", key="rank", choices=("True", "False", "None")),
    ):
        with pytest.raises(
            FieldValueError, match=rf"^{definition.key}: expected a {definition.type}"
        ):
            definition.coerce(raw)


# ---------------------------------------------------------------- coercion: date


def test_date_accepts_iso_dates_and_stores_yyyy_mm_dd() -> None:
    birthday = field("date", key="birthday")
    assert birthday.coerce("2026-01-05") == "2026-01-05"
    assert birthday.coerce(" 2000-02-29 ") == "2000-02-29"


@pytest.mark.parametrize(
    "raw",
    [
        "2026/01/05",
        "05/01/2026",
        "2026-1-5",
        "2026-02-30",
        "2025-02-29",
        "令和8年1月5日",
        "",
        "tomorrow",
    ],
)
def test_date_rejects_everything_but_iso(raw: object) -> None:
    with pytest.raises(FieldValueError, match=r"^birthday: expected a date YYYY-MM-DD"):
        field("date", key="birthday").coerce(raw)


@pytest.mark.parametrize("raw", ["20260105", 20260105, "2026-W02-1"])
def test_date_accepts_only_the_yyyy_mm_dd_form(raw: object) -> None:
    with pytest.raises(FieldValueError, match=r"^birthday: expected a date YYYY-MM-DD"):
        field("date", key="birthday").coerce(raw)


# ---------------------------------------------------------------- coercion: choice


def test_choice_accepts_only_its_choices() -> None:
    rank = field("choice", key="rank", choices=("gold", "silver", "1"))
    assert rank.coerce("gold") == "gold"
    assert rank.coerce(" silver ") == "silver"
    assert rank.coerce(1) == "1"
    for bad in ("Gold", "bronze", ""):
        with pytest.raises(FieldValueError, match=r"^rank: .*not one of \['gold', 'silver', '1'\]"):
            rank.coerce(bad)


# ---------------------------------------------------------------- catalog


def test_field_catalog_finds_definitions_by_key_and_coerces() -> None:
    points = field("number", key="points")
    rank = field("choice", key="rank", choices=("gold",))
    fields = FieldCatalog([rank, points])
    assert [definition.key for definition in fields.definitions] == ["points", "rank"]
    assert fields.get("points") is points
    assert fields.coerce("points", "1,000") == 1000
    with pytest.raises(FieldValueError, match=r"^rank: "):
        fields.coerce("rank", "silver")
    with pytest.raises(UnknownField) as raised:
        fields.coerce("missing", "1")
    assert raised.value.key == "missing"
    assert "missing" in str(raised.value)
