"""The one error body of every HTTP route (admin API and ``/liff/login``):
``{"message": …, "field": …, "errors": […]}`` (``ErrorResponse``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from linecrm.admin.models import ErrorResponse, FieldError
from linecrm.http_bodies import NOT_UTF8, UnreadableBody


def error_response(
    status: int, message: str, field: str | None = None, errors: list[FieldError] | None = None
) -> Response[Any]:
    body = ErrorResponse(message=message, field=field, errors=errors or [])
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json"),
    )


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    """("body", "add_tags", 0) -> "add_tags.0"; ("query", "limit") -> "limit"."""
    parts = [str(part) for part in location]
    return ".".join(parts[1:]) or parts[0] if parts else "request"


def invalid_request(error: RequestValidationError) -> Response[Any]:
    """422 naming the first request field at fault (all of them in ``errors``)."""
    details = [
        FieldError(
            field=_field_name(detail["loc"]),
            type=detail["type"],
            message=str(detail.get("msg") or detail["type"]).removeprefix("Value error, "),
        )
        for detail in error.errors()
    ]
    first = details[0] if details else FieldError(field="request", type="invalid", message="")
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"invalid request: {first.field}: {first.message}",
        first.field,
        details,
    )


def unreadable_body(error: UnreadableBody | UnicodeDecodeError) -> Response[Any]:
    """400: a body that is not UTF-8 (decoded before any parser runs) or nests too deeply."""
    reason = error.reason if isinstance(error, UnreadableBody) else NOT_UTF8
    return error_response(HTTPStatus.BAD_REQUEST, reason, "body")


def not_json(error: RequestUnsupportedContentType) -> Response[Any]:
    return error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request body as application/json", "body"
    )
