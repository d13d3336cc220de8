"""LIFF / LINE Login: POST /liff/login {channelId, idToken, nonce?} -> who this LINE user is.
POST /liff/shop-login {channelId, idToken, target} -> a login URL into the shop for a
linked friend (docs/auto-login.md). GET/POST /t/{token}: tracked links
(linecrm.tracking.routes, docs/tracking.md).

The ID token is verified (LINE's JWKS, or its verify endpoint: LINECRM_ID_TOKEN_VERIFICATION),
then the friend is found or created login-only (linecrm.liff_login). The LIFF pages and
the member card: linecrm.liff.routes."""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import functools
    import time
    from datetime import datetime
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

    from linecrm.admin.models import FieldError
    from linecrm.channels import UnknownChannel
    from linecrm.config.liff_login import LiffLoginSettings
    from linecrm.http_bodies import UnreadableBody
    from linecrm.http_errors import (
        error_response,
        invalid_request,
        json_resolver,
        not_json,
        unreadable_body,
    )
    from linecrm.liff import routes as liff_routes
    from linecrm.liff_login import LiffLogin, login_channel
    from linecrm.line.login import (
        IdTokenRejected,
        IdTokenVerifier,
        LoginServiceUnavailable,
        VerifiedIdToken,
        build_verifier,
    )
    from linecrm.observability import logger, metrics
    from linecrm.shop_login.errors import LoginRefused, NoSigningKey
    from linecrm.tracing import tracer
    from linecrm.tracking import routes as click_routes
    from linecrm.wiring import Container

app = json_resolver()
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, LiffLoginSettings))


@functools.cache
def verifier() -> IdTokenVerifier:
    """One per execution environment: the JWKS verifier's key cache lives in it."""
    deps = container()
    return build_verifier(
        deps.settings.id_token_verification,
        deps.settings.login_base_url,
        # Expiry is LINE's time: the wall clock (on Lambda the runtime's clock is too;
        # locally the emulator's is, while the stack's movable clock may run ahead).
        time.time,
        mock_tokens=deps.settings.liff_mock_id_tokens,
        refresh_cooldown_seconds=deps.settings.jwks_refresh_cooldown_seconds,
    )


# The LIFF pages, their assets (built by `make liff`) and the member card's data.
app.include_router(
    liff_routes.build_router(container, verifier, Path(__file__).with_name("liff_assets"))
)
# Click tracking: the redirector and the LIFF click page's identified click.
app.include_router(click_routes.build_router(container, verifier))


class LoginRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    channel_id: str = Field(alias="channelId", min_length=1, max_length=64)
    id_token: str = Field(alias="idToken", min_length=1, max_length=4096)
    nonce: str | None = Field(default=None, min_length=1, max_length=256)


@app.post("/liff/login")
def login(request: LoginRequest) -> Response[Any]:
    deps = container()
    credentials = deps.channels.credentials(request.channel_id)
    service = LiffLogin(verifier(), deps.friends, deps.clock)
    result = service.login(request.channel_id, credentials, request.id_token, request.nonce)
    if result.created:
        logger.info("login-only friend created", extra={"channel_id": request.channel_id})
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=result.to_json(),
    )


def verified_id_token(channel_id: str, id_token: str, nonce: str | None) -> VerifiedIdToken:
    """The LINE user of a valid ID token for the channel (``IdTokenRejected`` else): the
    one verification the shop-login route calls."""
    credentials = container().channels.credentials(channel_id)
    return verifier().verify(id_token, login_channel(channel_id, credentials), nonce)


class ShopLoginRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    channel_id: str = Field(alias="channelId", min_length=1, max_length=64)
    id_token: str = Field(alias="idToken", min_length=1, max_length=4096)
    target: str = Field(
        min_length=1, max_length=1024, description="the shop path to land on, e.g. /mypage"
    )
    nonce: str | None = Field(default=None, max_length=256)


class ShopLoginResponse(BaseModel):
    url: str
    expires_at: datetime = Field(serialization_alias="expiresAt")


@app.post("/liff/shop-login")
def shop_login(request: ShopLoginRequest) -> Response[Any]:
    token = verified_id_token(request.channel_id, request.id_token, request.nonce)
    login_url = container().shop_login_minter.mint(
        request.channel_id, token.user_id, request.target
    )
    metrics.add_metric(name="ShopLoginsMinted", unit="Count", value=1)
    body = ShopLoginResponse(url=login_url.url, expires_at=login_url.expires_at)
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json", by_alias=True),
        # The URL logs the member in: no cache may keep it.
        headers={"Cache-Control": "no-store"},
    )


@app.exception_handler(LoginRefused)
def shop_login_refused(error: LoginRefused) -> Response[Any]:
    logger.info("shop login refused", extra={"status": error.status, "reason": error.reason})
    return error_response(error.status, error.reason, error.field)


@app.exception_handler(NoSigningKey)
def no_signing_key(error: NoSigningKey) -> Response[Any]:
    logger.error("no login signing key", extra={"error": str(error)})
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "auto-login is unavailable; retry later")


# Errors have the admin API's shape: {"message": …, "field": …, "errors": […]}.
app.exception_handler(RequestValidationError)(invalid_request)
app.exception_handler(RequestUnsupportedContentType)(not_json)
app.exception_handler([UnicodeDecodeError, UnreadableBody])(unreadable_body)


@app.exception_handler(UnknownChannel)
def unknown_channel(_: UnknownChannel) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, "unknown channel", "channelId")


@app.exception_handler(IdTokenRejected)
def rejected(error: IdTokenRejected) -> Response[Any]:
    return error_response(
        HTTPStatus.UNAUTHORIZED,
        f"invalid ID token: {error.reason}",
        error.field,
        [FieldError(field=error.field, type=error.kind, message=error.reason)],
    )


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
