"""Typed path parameters and the service dependencies of the admin routers."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from linecrm.admin.models import USER_ID_PATTERN, ErrorResponse
from linecrm.admin.services import AdminServices
from linecrm.admin.services.fields import FieldsService
from linecrm.admin.services.friends import FriendsService
from linecrm.admin.services.rules import RulesService
from linecrm.admin.services.segments import SegmentsService
from linecrm.admin.services.settings import SettingsService
from linecrm.admin.services.tags import TagsService
from linecrm.admin.services.timeline import TimelineService
from linecrm.channels import CHANNEL_ID_PATTERN
from linecrm.domain.idempotency import KEY_PATTERN
from linecrm.domain.tags import ID_PATTERN


class DocumentedRouter(APIGatewayHttpRouter):
    """A router whose routes take their OpenAPI summary (the first sentence) and
    description (the whole text) from the route function's docstring, unless given."""

    def route(  # type: ignore[override]  # the same parameters, passed on by name
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        bound = inspect.signature(super().route).bind(*args, **kwargs)
        route = super().route

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            summary, description = summary_and_description(inspect.getdoc(func) or "")
            arguments = bound.arguments
            arguments["summary"] = arguments.get("summary") or summary
            arguments["description"] = arguments.get("description") or description
            registered: Callable[..., Any] = route(*bound.args, **bound.kwargs)(func)
            return registered

        return register


def summary_and_description(doc: str) -> tuple[str, str]:
    """A docstring's first sentence (up to ". " or "; " outside parentheses), without
    its full stop, and the whole docstring."""
    text = " ".join(doc.split())
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in ".;" and text[index + 1 : index + 2] in (" ", ""):
            return text[:index], doc.strip()
    return text, doc.strip()


def new_router() -> APIGatewayHttpRouter:
    """A router for one concern, included by ``api.build_app`` under the channel path."""
    return DocumentedRouter()  # type: ignore[no-untyped-call]  # Powertools: untyped init


def admin_services() -> AdminServices:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real services."""
    raise NotImplementedError("build_app(services) wires the admin services")


_Services = Annotated[AdminServices, Depends(admin_services)]


def _friends(services: _Services) -> FriendsService:
    return services.friends


def _tags(services: _Services) -> TagsService:
    return services.tags


def _fields(services: _Services) -> FieldsService:
    return services.fields


def _rules(services: _Services) -> RulesService:
    return services.rules


def _settings(services: _Services) -> SettingsService:
    return services.settings


def _segments(services: _Services) -> SegmentsService:
    return services.segments


def _timeline(services: _Services) -> TimelineService:
    return services.timeline


# What a router's routes take as their ``service`` parameter.
Friends = Annotated[FriendsService, Depends(_friends)]
Tags = Annotated[TagsService, Depends(_tags)]
Fields = Annotated[FieldsService, Depends(_fields)]
Rules = Annotated[RulesService, Depends(_rules)]
Settings = Annotated[SettingsService, Depends(_settings)]
SavedSegments = Annotated[SegmentsService, Depends(_segments)]
FriendTimeline = Annotated[TimelineService, Depends(_timeline)]
ChannelId = Annotated[
    str, Path(pattern=CHANNEL_ID_PATTERN.pattern, description="LINE Messaging API channel id")
]
UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="LINE user id (U + 32 hex)")]
TagId = Annotated[str, Path(pattern=ID_PATTERN)]
FolderId = Annotated[str, Path(pattern=ID_PATTERN)]
FieldKey = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description=(
            "Any unique string (a UUID) to make the request safe to retry: the same key "
            "again, also concurrently, answers with the resource the first request created "
            "and creates nothing more; the same key with a different request is a 422. "
            "Keys are kept 24 hours per channel. A 409 with Retry-After means a request "
            "with the key is still running: retry with the same key."
        ),
    ),
]


def responses(
    status: int, description: str, *errors: int, body: bool = True
) -> dict[int, OpenAPIResponse]:
    """The documented answers of a route: its success and the 4xx it can give."""
    success: OpenAPIResponse = {"description": description}
    if not body:
        success["content"] = {}
    documented = {status: success}
    # Every route can answer 404 (an unknown channel) and 422 (an invalid request).
    for error in sorted({*errors, 404, 422}):
        documented[error] = {
            "description": _ERROR_DESCRIPTIONS[error],
            "content": {"application/json": {"model": ErrorResponse}},
        }
    return documented


_ERROR_DESCRIPTIONS = {
    400: "Bad request (the message says what, `field` names the parameter)",
    404: "Not found (the message says what; also any route of an unknown channel)",
    409: "Conflicts with the current state (or, with Retry-After, the Idempotency-Key's "
    "first request is still running: retry)",
    413: "Too large (the message gives the limit)",
    422: "Invalid request; `field` names the request field at fault",
}


def created(body: Any) -> Response[Any]:
    """201 with the created resource."""
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=body
    )


def no_content() -> Response[None]:
    return Response(status_code=HTTPStatus.NO_CONTENT)
