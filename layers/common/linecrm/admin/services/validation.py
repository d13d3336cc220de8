"""Turning request values into domain models, with errors that name the request field."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from linecrm.admin.errors import InvalidInput

Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], *, model_field: str | None = None, **values: Any) -> Model:
    """A domain model from request values; its validation errors name the field
    (``model_field`` for a rule about the whole model, e.g. a field's choices)."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or model_field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}" if field else message, field=field) from error


def json_size(value: Any) -> int:
    """Bytes of ``value`` as UTF-8 JSON (what stored config is measured by)."""
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
