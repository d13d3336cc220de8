"""The one error body of every HTTP route (admin API and ``/liff/login``):
``{"message": …, "field": …, "errors": […]}`` (``ErrorResponse``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from linecrm.admin.models import ErrorResponse, FieldError
from linecrm.http_bodies import NOT_UTF8, UnreadableBody, loads_json


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


class _JsonBodiesOnly(OpenAPIRequestValidationMiddleware):
    """Request validation that reads bodies as JSON only: a form or multipart body (no
    route of ours takes one) is 415, instead of Powertools' parser failing on a missing
    multipart boundary with a ValueError (a 500)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _get_body(self, app: Any) -> dict[str, Any]:
        content_type = app.current_event.headers.get("content-type", "").strip().lower()
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[
                    {
                        "type": "unsupported_content_type",
                        "loc": ("body",),
                        "msg": f"Unsupported content type: {content_type}",
                        "input": {},
                        "ctx": {},
                    }
                ],
            )
        body: dict[str, Any] = super()._get_body(app)
        return body


def no_route(app: APIGatewayHttpResolver) -> Response[Any]:
    """404 for a path (or method) no route serves, in the one error shape (Powertools'
    own is ``{"statusCode", "message"}``)."""
    event = app.current_event
    return error_response(
        HTTPStatus.NOT_FOUND, f"no such route: {event.http_method} {event.path[:200]}"
    )


def json_resolver(strip_prefixes: list[str] | None = None) -> APIGatewayHttpResolver:
    """A validating resolver that reads bodies with ``loads_json``, as JSON only; a
    request no route serves is 404 in the one error shape. ``strip_prefixes``: paths
    that reach the same routes under a prefix (the staff routes of the admin API)."""
    app = APIGatewayHttpResolver(
        enable_validation=True,
        json_body_deserializer=loads_json,
        strip_prefixes=list(strip_prefixes or []),
    )
    app._request_validation_middleware = _JsonBodiesOnly()  # Powertools' hook; see above
    app.not_found(lambda _error: no_route(app))
    return app
