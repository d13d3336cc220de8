"""The admin API's resolver: routers, the error-to-HTTP mapping (all of it, here),
the OpenAPI document and the Swagger page."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

from linecrm.admin import broadcasts, fields, friends, imports, rules, settings, tags
from linecrm.admin.errors import AdminError
from linecrm.admin.models import ErrorResponse, FieldError
from linecrm.admin.params import admin_service
from linecrm.admin.service import AdminService
from linecrm.broadcasts.service import (
    BroadcastNotCancellable,
    BroadcastRejected,
    BroadcastService,
    PreviewNotFound,
)
from linecrm.delivery.ledger_admin import DeliveryNotFound, LedgerAdmin, NotRedrivable
from linecrm.domain.fields import FieldValueError, UnknownField
from linecrm.domain.tags import TagConflict, UnknownTag
from linecrm.imports.service import ImportRejected, ImportService
from linecrm.repositories.broadcasts import BroadcastNotFound
from linecrm.repositories.deliveries import InvalidDeliveryCursor
from linecrm.repositories.friends import FriendNotFound, InvalidCursor
from linecrm.repositories.imports import ImportNotFound

ADMIN_PREFIX = "/admin"
CHANNEL_PREFIX = f"{ADMIN_PREFIX}/channels/<channel_id>"
OPENAPI_PATH = f"{ADMIN_PREFIX}/openapi.json"
SWAGGER_PATH = f"{ADMIN_PREFIX}/swagger"
API_VERSION = "1.0.0"

_DESCRIPTION = """\
Manage a LINE Official Account's friends, tags, custom fields, auto-response rules,
chat mode and business hours. One deployment serves several channels: the channel id
is in every path.

**Authentication.** On AWS every `/admin` route is IAM-authorized: sign requests with
SigV4 (service `execute-api`); the caller needs `execute-api:Invoke` on the API.
In the local stack (`make dev`), send `Authorization: Bearer <admin token>` instead
(the token is printed by `make dev`). Missing credentials: 401 locally, 403 on AWS;
wrong credentials: 403.

**Errors.** Every 4xx answer is `{"message": …, "field": …}`; 422 names the request
field at fault.
"""

_SECURITY_SCHEMES: dict[str, Any] = {
    "sigv4": APIKey(
        name="Authorization",
        in_=APIKeyIn.header,
        description="AWS Signature Version 4 (service execute-api), on AWS",
        openapi_extensions={"x-amazon-apigateway-authtype": "awsSigv4"},
    ),
    "localBearer": HTTPBearer(description="the admin token of the local stack (`make dev`)"),
}


def build_app(
    service: Callable[[], AdminService],
    import_service: Callable[[], ImportService] = imports.import_service,
    broadcast_service: Callable[[], BroadcastService] = broadcasts.broadcast_service,
    ledger_admin: Callable[[], LedgerAdmin] = broadcasts.ledger_admin,
) -> APIGatewayHttpResolver:
    """The admin resolver; ``service`` gives the AdminService for a request (and
    ``import_service`` the ImportService of the friend import routes)."""
    app = APIGatewayHttpResolver(enable_validation=True)
    for router in (friends.router, tags.router, fields.router, rules.router, settings.router):
        app.include_router(router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[admin_service] = service
    app.include_router(imports.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[imports.import_service] = import_service
    app.include_router(broadcasts.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[broadcasts.broadcast_service] = broadcast_service
    app.dependency_overrides[broadcasts.ledger_admin] = ledger_admin
    _register_error_handlers(app)

    openapi: dict[str, Any] = {
        "title": "linecrm admin API",
        "version": API_VERSION,
        "description": _DESCRIPTION,
        "security_schemes": _SECURITY_SCHEMES,
        "security": [{"sigv4": []}, {"localBearer": []}],
    }
    app.configure_openapi(**openapi)
    app.enable_swagger(path=SWAGGER_PATH, persist_authorization=True, **openapi)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def serve_openapi() -> Response[Any]:
        return Response(
            status_code=HTTPStatus.OK,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(),
        )

    return app


def openapi_document() -> dict[str, Any]:
    """The admin API's OpenAPI document (what ``docs/admin-openapi.json`` holds)."""
    app = build_app(admin_service)
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return document


# ---------------------------------------------------------------------- errors
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


def _invalid_request(error: RequestValidationError) -> Response[Any]:
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


def _not_json(error: RequestUnsupportedContentType) -> Response[Any]:
    return error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request body as application/json", "body"
    )


def _not_utf8(error: UnicodeDecodeError) -> Response[Any]:
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY, "the request body is not UTF-8 encoded JSON", "body"
    )


def _refused(error: AdminError) -> Response[Any]:
    return error_response(error.status, error.message, error.field)


def _no_friend(error: FriendNotFound) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, str(error))


def _tag_conflict(error: TagConflict) -> Response[Any]:
    return error_response(HTTPStatus.CONFLICT, str(error), "name")


def _invalid_cursor(error: InvalidCursor) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), "cursor")


def _import_refused(error: ImportRejected) -> Response[Any]:
    return error_response(error.status, str(error))


def _no_import(error: ImportNotFound) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, str(error))


def _broadcast_refused(error: BroadcastRejected) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), error.field)


def _not_found(error: Exception) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, str(error))


def _conflict(error: Exception) -> Response[Any]:
    return error_response(HTTPStatus.CONFLICT, str(error))


def _invalid_delivery_cursor(error: InvalidDeliveryCursor) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), "cursor")


def _invalid_reference(error: Exception) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))


# Every error the admin API turns into an HTTP answer. Anything else is a fault of ours
# (the function fails, API Gateway answers 500 and the Errors alarm counts it).
_ERROR_HANDLERS: tuple[tuple[type[Exception] | list[type[Exception]], Callable[..., Any]], ...] = (
    (RequestValidationError, _invalid_request),
    (RequestUnsupportedContentType, _not_json),
    (UnicodeDecodeError, _not_utf8),  # a body of other bytes, sent as JSON
    (AdminError, _refused),
    (FriendNotFound, _no_friend),
    (TagConflict, _tag_conflict),
    (InvalidCursor, _invalid_cursor),
    ([UnknownTag, UnknownField, FieldValueError], _invalid_reference),
    (ImportRejected, _import_refused),
    (ImportNotFound, _no_import),
    (BroadcastRejected, _broadcast_refused),
    ([BroadcastNotFound, DeliveryNotFound, PreviewNotFound], _not_found),
    ([BroadcastNotCancellable, NotRedrivable], _conflict),
    (InvalidDeliveryCursor, _invalid_delivery_cursor),
)


def _register_error_handlers(app: APIGatewayHttpResolver) -> None:
    for errors, handler in _ERROR_HANDLERS:
        app.exception_handler(errors)(handler)
