"""LIFF / LINE Login: POST /liff/login {channelId, idToken} -> who this LINE user is;
the LIFF pages and the member card (linecrm.liff.routes)."""

from __future__ import annotations

import functools
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from linecrm.channels import UnknownChannel
from linecrm.config import LiffLoginSettings
from linecrm.http_bodies import UnreadableBody
from linecrm.http_errors import (
    error_response,
    invalid_request,
    json_resolver,
    not_json,
    unreadable_body,
)
from linecrm.liff import routes as liff_routes
from linecrm.line.login import IdTokenRejected, LineLoginVerifier, LoginServiceUnavailable
from linecrm.observability import logger, metrics
from linecrm.tracing import tracer
from linecrm.wiring import Container

app = json_resolver()
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, LiffLoginSettings))
# The LIFF pages, their assets (built by `make liff`) and the member card's data.
app.include_router(liff_routes.build_router(container, Path(__file__).with_name("liff_assets")))


class LoginRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    channel_id: str = Field(alias="channelId", min_length=1, max_length=64)
    id_token: str = Field(alias="idToken", min_length=1, max_length=4096)
    nonce: str | None = Field(default=None, max_length=256)


class LoginResponse(BaseModel):
    user_id: str = Field(serialization_alias="userId")
    display_name: str | None = Field(serialization_alias="displayName")
    is_friend: bool = Field(serialization_alias="isFriend")


@app.post("/liff/login")
def login(request: LoginRequest) -> Response[Any]:
    deps = container()
    credentials = deps.channels.credentials(request.channel_id)
    verifier = LineLoginVerifier(deps.settings.line.login_base_url)
    token = verifier.verify(
        request.id_token, credentials.login_channel_id or request.channel_id, request.nonce
    )
    friend = deps.friends.get(request.channel_id, token.user_id)
    body = LoginResponse(
        user_id=token.user_id,
        display_name=token.name,
        is_friend=friend is not None and friend.status == "active",
    )
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(by_alias=True),
    )


# Errors have the admin API's shape: {"message": …, "field": …, "errors": […]}.
app.exception_handler(RequestValidationError)(invalid_request)
app.exception_handler(RequestUnsupportedContentType)(not_json)
app.exception_handler([UnicodeDecodeError, UnreadableBody])(unreadable_body)


@app.exception_handler(UnknownChannel)
def unknown_channel(_: UnknownChannel) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, "unknown channel", "channelId")


@app.exception_handler(IdTokenRejected)
def rejected(error: IdTokenRejected) -> Response[Any]:
    return error_response(HTTPStatus.UNAUTHORIZED, f"invalid ID token: {error}", "idToken")


@app.exception_handler(LoginServiceUnavailable)
def unavailable(error: LoginServiceUnavailable) -> Response[Any]:
    logger.warning("LINE Login unavailable", extra={"error": str(error)})
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "LINE Login unavailable; retry later")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container()  # the first invocation validates the settings, before any work
    return app.resolve(event, context)
