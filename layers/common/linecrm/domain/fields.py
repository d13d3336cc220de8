"""Custom fields: typed per-friend attributes (会員ランク, 誕生日, ポイント …)."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linecrm.domain.friends import FieldValue

FieldType = Literal["text", "number", "date", "choice"]
MAX_TEXT_LENGTH = 500
MAX_FIELDS_PER_CHANNEL = 200


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


class FieldValueError(ValueError):
    """A value does not fit the field's type; the message names the field."""


class UnknownField(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"unknown field: {key}")
        self.key = key


class FieldDefinition(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, defer_build=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType
    choices: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _choices_only_for_choice(self) -> FieldDefinition:
        if self.type == "choice":
            if not self.choices:
                raise ValueError("a choice field needs at least one choice")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("choices must be unique")
        elif self.choices:
            raise ValueError(f"choices are only for choice fields, not {self.type}")
        return self

    def coerce(self, raw: object) -> FieldValue:
        """The stored form of ``raw`` (CSV text, JSON value, postback string)."""
        if isinstance(raw, bool) or raw is None:
            raise FieldValueError(f"{self.key}: expected a {self.type} value, got {raw!r}")
        if self.type == "text":
            text = str(raw)
            if len(text) > MAX_TEXT_LENGTH:
                raise FieldValueError(f"{self.key}: text longer than {MAX_TEXT_LENGTH} characters")
            return text
        if self.type == "number":
            return _number(self.key, raw)
        if self.type == "date":
            text = str(raw).strip()
            try:
                if not _ISO_DATE.fullmatch(text):
                    raise ValueError(text)
                return date.fromisoformat(text).isoformat()
            except ValueError as error:
                raise FieldValueError(
                    f"{self.key}: expected a date YYYY-MM-DD, got {raw!r}"
                ) from error
        text = str(raw).strip()
        if text not in self.choices:
            raise FieldValueError(f"{self.key}: {text!r} is not one of {list(self.choices)}")
        return text


def _number(key: str, raw: object) -> int | float:
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    try:
        # Only plain numbers, with "," allowed as a thousands separator ("1,200").
        if not isinstance(raw, float) and not _NUMBER.fullmatch(text):
            raise ValueError(text)
        value = float(text.replace(",", ""))
    except ValueError as error:
        raise FieldValueError(f"{key}: expected a number, got {raw!r}") from error
    if not math.isfinite(value):
        raise FieldValueError(f"{key}: expected a finite number, got {raw!r}")
    return int(value) if value.is_integer() and "." not in text else value


class FieldCatalog:
    def __init__(self, definitions: list[FieldDefinition]) -> None:
        self.definitions = sorted(definitions, key=lambda definition: definition.key)
        self._by_key = {definition.key: definition for definition in definitions}

    def get(self, key: str) -> FieldDefinition:
        definition = self._by_key.get(key)
        if definition is None:
            raise UnknownField(key)
        return definition

    def coerce(self, key: str, raw: object) -> FieldValue:
        return self.get(key).coerce(raw)

    def keys(self) -> frozenset[str]:
        return frozenset(self._by_key)
