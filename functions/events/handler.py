"""Events API: POST /events/{channel_id}. Authenticate the source, apply each event once,
answer per event (docs/events.md). Also the shop's ID-linking requests, signed the same
way with the same keys: POST /link/{channel_id}/nonce and DELETE
/link/{channel_id}/members/{member_id} (docs/id-linking.md). And the shop's auto-login:
GET /login/jwks.json (public keys) and POST /login/{channel_id}/consume, signed the
same way (docs/auto-login.md). And the web tag (docs/web-tag.md): GET /web/tag.js,
POST /events/web and its CORS preflight."""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import base64
    import binascii
    import functools
    from http import HTTPStatus
    from pathlib import Path
    from typing import Any
    from urllib.parse import unquote

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from linecrm.config.events import EventsSettings
    from linecrm.domain.web_tag import WebTagRejected
    from linecrm.events.service import (
        SIGNATURE_HEADER,
        SOURCE_HEADER,
        TIMESTAMP_HEADER,
        EventsRejected,
        SignedRequest,
    )
    from linecrm.http_errors import error_response
    from linecrm.id_links.service import LinkRequestRefused
    from linecrm.observability import logger, metrics
    from linecrm.resources import WEB_EVENTS_PATH, WEB_TAG_PATH
    from linecrm.shop_login.errors import LoginRefused
    from linecrm.tracing import tracer
    from linecrm.webtag import service as webtag
    from linecrm.webtag.service import RateLimited, WebRequest
    from linecrm.wiring import Container

# No request validation middleware: the signature covers the raw bytes, which the
# receiver reads itself (and refuses with a reason when they are no batch).
app = APIGatewayHttpResolver()
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, EventsSettings))


def _raw_body() -> bytes | None:
    """The exact bytes the source signed (API Gateway may hand them over base64)."""
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return None
    return body.encode("utf-8", "surrogatepass")


@app.post("/events/<channel_id>")
def receive_events(channel_id: str) -> Response[Any]:
    body = _raw_body()
    if body is None:
        raise EventsRejected(HTTPStatus.BAD_REQUEST, "the body is not valid base64", "body")
    headers = app.current_event.headers
    batch = container().events_receiver.receive(
        SignedRequest(
            channel_id=channel_id,
            body=body,
            source=headers.get(SOURCE_HEADER),
            timestamp=headers.get(TIMESTAMP_HEADER),
            signature=headers.get(SIGNATURE_HEADER),
        )
    )
    applied, duplicates = batch.count("applied"), batch.count("duplicate")
    rejected = batch.count("rejected")
    metrics.add_metric(name="EventsApplied", unit="Count", value=applied)
    metrics.add_metric(name="EventsDuplicate", unit="Count", value=duplicates)
    metrics.add_metric(name="EventsRejected", unit="Count", value=rejected)
    if batch.listener_failures:
        metrics.add_metric(
            name="EventListenerFailures", unit="Count", value=batch.listener_failures
        )
    results = [
        {
            key: value
            for key, value in {
                "index": result.index,
                "status": result.status,
                "idempotency_key": result.idempotency_key,
                "reason": result.reason,
                "field": result.field,
            }.items()
            if value is not None
        }
        for result in batch.results
    ]
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body={
            "applied": applied,
            "duplicates": duplicates,
            "rejected": rejected,
            "results": results,
        },
    )


def _signed(channel_id: str) -> SignedRequest:
    body = _raw_body()
    if body is None:
        raise EventsRejected(HTTPStatus.BAD_REQUEST, "the body is not valid base64", "body")
    headers = app.current_event.headers
    return SignedRequest(
        channel_id=channel_id,
        body=body,
        source=headers.get(SOURCE_HEADER),
        timestamp=headers.get(TIMESTAMP_HEADER),
        signature=headers.get(SIGNATURE_HEADER),
    )


# Before POST /events/<channel_id> (a static path is matched first anyway).
@app.post(WEB_EVENTS_PATH)
def receive_web_events() -> Response[Any]:
    body = _raw_body()
    if body is None:
        raise WebTagRejected(HTTPStatus.BAD_REQUEST, "the body is not valid base64", "body")
    event = app.current_event
    answer = container().web_events_receiver.receive(
        WebRequest(
            key=(event.query_string_parameters or {}).get("key"),
            origin=event.headers.get("origin"),
            body=body,
        )
    )
    metrics.add_metric(name="WebEventsApplied", unit="Count", value=answer.body["applied"])
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=answer.body,
        headers=webtag.cors_headers(answer.origin),
    )


@app.route(WEB_EVENTS_PATH, method="OPTIONS")
def web_events_preflight() -> Response[Any]:
    event = app.current_event
    origin = container().web_events_receiver.allowed_origin(
        (event.query_string_parameters or {}).get("key"), event.headers.get("origin")
    )
    return Response(
        status_code=HTTPStatus.NO_CONTENT, body="", headers=webtag.preflight_headers(origin)
    )


_TAG_JS = Path(webtag.__file__).with_name("tag.js")


@app.get(WEB_TAG_PATH)
def web_tag_script() -> Response[Any]:
    """The web tag (a few KB, no framework); shops embed it with their key."""
    return Response(
        status_code=HTTPStatus.OK,
        content_type="application/javascript; charset=utf-8",
        body=_tag_js(),
        headers={"Cache-Control": f"public, max-age={webtag.TAG_MAX_AGE_SECONDS}"},
    )


@functools.cache
def _tag_js() -> str:
    return _TAG_JS.read_text(encoding="utf-8")


@app.post("/link/<channel_id>/nonce")
def issue_link_nonce(channel_id: str) -> Response[Any]:
    answer = container().shop_link_api.nonce(_signed(channel_id))
    metrics.add_metric(name="LinkNoncesIssued", unit="Count", value=1)
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=answer
    )


@app.delete("/link/<channel_id>/members/<member_id>")
def unlink_member(channel_id: str, member_id: str) -> Response[Any]:
    answer = container().shop_link_api.unlink(_signed(channel_id), unquote(member_id))
    return Response(
        status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=answer
    )


@app.get("/login/jwks.json")
def login_jwks() -> Response[Any]:
    """The public keys of the login tokens (every kept key: retired ones still verify
    the URLs they signed). Shops may cache it ``JWKS_MAX_AGE_SECONDS``."""
    from linecrm.shop_login.keys import JWKS_MAX_AGE_SECONDS

    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=container().login_keys.current().jwks(),
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
    )


@app.post("/login/<channel_id>/consume")
def consume_login(channel_id: str) -> Response[Any]:
    answer = container().shop_login_api.consume(_signed(channel_id))
    metrics.add_metric(name="ShopLoginsConsumed", unit="Count", value=1)
    return Response(
        status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=answer
    )


@app.exception_handler(LinkRequestRefused)
def link_refused(error: LinkRequestRefused) -> Response[Any]:
    logger.info("link request refused", extra={"status": error.status, "reason": error.reason})
    return error_response(error.status, error.reason, error.field)


@app.exception_handler(LoginRefused)
def login_refused(error: LoginRefused) -> Response[Any]:
    logger.info("shop login refused", extra={"status": error.status, "reason": error.reason})
    return error_response(error.status, error.reason, error.field)


@app.exception_handler(WebTagRejected)
def web_tag_rejected(error: WebTagRejected) -> Response[Any]:
    logger.info("web tag request refused", extra={"status": error.status, "reason": error.reason})
    metrics.add_metric(name="WebEventsRequestsRefused", unit="Count", value=1)
    response = error_response(error.status, error.reason, error.field)
    if error.origin is not None:  # the page may read why (CORS)
        response.headers.update(webtag.cors_headers(error.origin))
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@app.exception_handler(EventsRejected)
def rejected(error: EventsRejected) -> Response[Any]:
    logger.info("events request refused", extra={"status": error.status, "reason": error.reason})
    metrics.add_metric(name="EventsRequestsRefused", unit="Count", value=1)
    return error_response(error.status, error.reason, error.field)


@app.not_found
def not_found(_: Exception) -> Response[Any]:
    return error_response(
        HTTPStatus.NOT_FOUND,
        "no such route: POST /events/{channel_id}, POST /link/{channel_id}/nonce, "
        "DELETE /link/{channel_id}/members/{member_id}, GET /login/jwks.json, "
        "POST /login/{channel_id}/consume, GET /web/tag.js or POST /events/web",
    )


@app.exception_handler(Exception)
def unavailable(error: Exception) -> Response[Any]:
    # Not the caller's fault (a store is failing): 503, and a retry (signed anew) is
    # safe, the events already applied come back as duplicates.
    logger.exception("events processing failed")
    metrics.add_metric(name="EventsFailures", unit="Count", value=1)
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "temporarily unavailable; retry")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container()  # the first invocation validates the settings, before any work
    return app.resolve(event, context)
