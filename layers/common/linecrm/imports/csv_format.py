"""The import CSV: decoding, header, rows, and what a row asks for (pure, no AWS).

Format (docs/import.md): a header row; ``user_id`` (required, ``U`` + 32 hex); ``tags``
and ``remove_tags`` (tag names or ids separated by ``|`` or ``;``); ``field.<key>`` per
custom field. UTF-8 with or without BOM, or Shift_JIS (CP932) as Excel in Japan saves
it. Other columns are ignored (and listed on the job). Row numbers are the spreadsheet's:
the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from linecrm.domain.fields import FieldCatalog, FieldValueError, UnknownField
from linecrm.domain.friends import FieldValue

MAX_CSV_BYTES = 50 * 1024 * 1024  # the uploads bucket accepts up to this
# A CSV sent in the request body: Lambda's 6 MB request limit, with room for base64
# (API Gateway hands non-UTF-8 bodies, e.g. CP932, to Lambda base64-encoded).
MAX_INLINE_CSV_BYTES = 4_000_000
USER_ID_PATTERN = re.compile(r"^U[0-9a-f]{32}$")
TAG_SEPARATORS = re.compile(r"[|;]")
USER_ID_COLUMN = "user_id"
TAGS_COLUMN = "tags"
REMOVE_TAGS_COLUMN = "remove_tags"
FIELD_PREFIX = "field."


class CsvFormatError(ValueError):
    """The file as a whole cannot be imported (encoding, header): nothing is imported."""


class RowRejected(ValueError):
    """One row cannot be imported; the reason is shown with its row number."""


@dataclass(frozen=True)
class CsvLayout:
    """Which column is what, from the header row."""

    user_id: int
    tags: int | None = None
    remove_tags: int | None = None
    fields: dict[str, int] = field(default_factory=dict)  # field key -> column
    ignored: tuple[str, ...] = ()
    width: int = 0


@dataclass(frozen=True)
class CsvRow:
    row_number: int
    user_id: str
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # key -> raw text, non-empty only
    problem: str | None = None  # a structural problem found while reading the row


@dataclass(frozen=True)
class CsvImportFile:
    """A decoded file whose rows are read on demand (a 50 MB file as a list of rows
    would not fit a small function's memory)."""

    encoding: str
    layout: CsvLayout
    text: str
    rows_total: int  # data rows, blank lines not counted

    def rows(self, skip: int = 0) -> Iterator[CsvRow]:
        """The data rows after the first ``skip`` (a job's cursor), in file order."""
        for index, (row_number, cells) in enumerate(_data_records(self.text)):
            if index >= skip:
                yield read_row(self.layout, cells, row_number)


@dataclass(frozen=True)
class RowChange:
    """What one valid row does: tag ids to add/remove and typed field values."""

    user_id: str
    add_tag_ids: frozenset[str]
    remove_tag_ids: frozenset[str]
    set_fields: dict[str, FieldValue]


# ---------------------------------------------------------------- decoding
def decode_csv(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read as: UTF-8 (BOM or not), else CP932."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CsvFormatError(
            "the file is UTF-16 (Excel's 'Unicode text'); save it as 'CSV UTF-8' instead"
        )
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise CsvFormatError(
                f"the file starts with a UTF-8 BOM but is not UTF-8 (byte {error.start})"
            ) from error
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), "cp932"
    except UnicodeDecodeError as error:
        raise CsvFormatError(
            "the file is neither UTF-8 nor Shift_JIS (CP932); save it as 'CSV UTF-8'"
        ) from error


# ---------------------------------------------------------------- parsing
def parse_csv(data: bytes, fields: FieldCatalog | None = None) -> CsvImportFile:
    """Decode and read the whole file; CsvFormatError for file-level problems.

    With ``fields``, a ``field.<key>`` column for a field the channel does not have is
    a file-level error (a typo in the header would otherwise reject every row).
    """
    if not data.strip():
        raise CsvFormatError("the file is empty")
    text, encoding = decode_csv(data)
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
        if header is None:
            raise CsvFormatError("the file is empty")
        layout = read_header(header, fields)
        rows_total = sum(1 for _ in _data_records(text))
    except csv.Error as error:
        raise CsvFormatError(f"not a readable CSV: {error}") from error
    if not rows_total:
        raise CsvFormatError("the file has a header but no data rows")
    return CsvImportFile(encoding, layout, text, rows_total)


def _data_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) of each non-blank record after the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    for row_number, cells in enumerate(reader, start=2):
        if any(cell.strip() for cell in cells):  # blank lines are skipped, not rejected
            yield row_number, cells


def read_header(header: list[str], fields: FieldCatalog | None = None) -> CsvLayout:
    names = [cell.strip() for cell in header]
    seen: set[str] = set()
    user_id: int | None = None
    tags: int | None = None
    remove_tags: int | None = None
    field_columns: dict[str, int] = {}
    ignored: list[str] = []
    for column, name in enumerate(names):
        normalized = name.lower()
        if normalized.startswith(FIELD_PREFIX):
            key = name[len(FIELD_PREFIX) :].strip()
            normalized = FIELD_PREFIX + key
        if normalized in seen and normalized:
            raise CsvFormatError(f"column {name!r} appears twice in the header")
        seen.add(normalized)
        if normalized == USER_ID_COLUMN:
            user_id = column
        elif normalized == TAGS_COLUMN:
            tags = column
        elif normalized == REMOVE_TAGS_COLUMN:
            remove_tags = column
        elif normalized.startswith(FIELD_PREFIX):
            key = normalized[len(FIELD_PREFIX) :]
            if fields is not None:
                try:
                    fields.get(key)
                except UnknownField as error:
                    raise CsvFormatError(
                        f"column {name!r}: the channel has no custom field {key!r}"
                    ) from error
            field_columns[key] = column
        elif name:
            ignored.append(name)
    if user_id is None:
        raise CsvFormatError(
            f"the header has no {USER_ID_COLUMN!r} column (found: {', '.join(names) or 'none'})"
        )
    return CsvLayout(user_id, tags, remove_tags, field_columns, tuple(ignored), len(names))


def read_row(layout: CsvLayout, cells: list[str], row_number: int) -> CsvRow:
    def cell(column: int | None) -> str:
        if column is None or column >= len(cells):
            return ""
        return cells[column].strip()

    problem = None
    if len(cells) > layout.width and any(c.strip() for c in cells[layout.width :]):
        problem = f"row has {len(cells)} cells but the header has {layout.width}"
    return CsvRow(
        row_number=row_number,
        user_id=cell(layout.user_id),
        add_tags=split_tags(cell(layout.tags)),
        remove_tags=split_tags(cell(layout.remove_tags)),
        fields={key: cell(column) for key, column in layout.fields.items() if cell(column)},
        problem=problem,
    )


def split_tags(raw: str) -> tuple[str, ...]:
    names = (name.strip() for name in TAG_SEPARATORS.split(raw))
    return tuple(dict.fromkeys(name for name in names if name))


# ---------------------------------------------------------------- a row's meaning
TagResolver = Callable[[str], str]
"""A tag reference (name or id) -> tag id; raises RowRejected when it cannot."""


def row_change(row: CsvRow, resolve_tag: TagResolver, fields: FieldCatalog) -> RowChange:
    """Validate one row; RowRejected (with the reason) when it cannot be imported."""
    if row.problem:
        raise RowRejected(row.problem)
    if not row.user_id:
        raise RowRejected("user_id is empty")
    if not USER_ID_PATTERN.fullmatch(row.user_id):
        raise RowRejected(f"user_id {row.user_id[:40]!r} is not a LINE user id (U + 32 hex)")
    add = _resolve_all(row.add_tags, resolve_tag)
    remove = _resolve_all(row.remove_tags, resolve_tag)
    values: dict[str, FieldValue] = {}
    for key, raw in row.fields.items():
        try:
            values[key] = fields.coerce(key, raw)
        except UnknownField as error:
            raise RowRejected(f"field.{key}: the channel has no such custom field") from error
        except FieldValueError as error:
            raise RowRejected(f"field.{error}") from error
    return RowChange(row.user_id, frozenset(add), frozenset(remove - add), values)


def _resolve_all(references: Iterable[str], resolve_tag: TagResolver) -> set[str]:
    return {resolve_tag(reference) for reference in references}
