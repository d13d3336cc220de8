"""Inflow routes: GET /r/{code} -> LINE Login (bot_prompt=aggressive); GET /r/callback ->
who came, attribution, then the add-friend page or the route's landing page
(docs/inflow-routes.md). A person's browser calls both: answers are HTML pages (JSON
``{message, field, errors}`` for a client that asks for JSON)."""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import functools
    import html
    from http import HTTPStatus
    from typing import Any

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.shared.cookies import Cookie, SameSite
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from linecrm.config.inflow import InflowSettings
    from linecrm.domain.inflow import StateRejected
    from linecrm.http_errors import error_response
    from linecrm.inflow.login import (
        COOKIE_NAME,
        LoginCancelled,
        LoginNotSetUp,
        LoginRefused,
        Redirect,
        RouteUnknown,
    )
    from linecrm.line.login import IdTokenRejected, LoginServiceUnavailable
    from linecrm.line.oauth import CodeRejected
    from linecrm.observability import logger, metrics
    from linecrm.tracing import tracer
    from linecrm.wiring import Container

app = APIGatewayHttpResolver()
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, InflowSettings))


def _public_base_url() -> str:
    configured = container().settings.public_base_url
    if configured:
        return configured.rstrip("/")
    event = app.current_event
    proto = (event.headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    host = event.request_context.domain_name or event.headers.get("host", "")
    return f"{proto}://{host}"


def _cookie(name: str) -> str | None:
    for cookie in app.current_event.get("cookies") or []:
        key, _, value = str(cookie).partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def _redirect(redirect: Redirect) -> Response[Any]:
    return Response(
        status_code=HTTPStatus.FOUND,
        headers={"Location": redirect.location, "Cache-Control": "no-store"},
        cookies=[
            Cookie(
                c.name,
                c.value,
                path="/r",
                secure=c.secure,
                http_only=True,
                max_age=c.max_age,
                same_site=SameSite.LAX_MODE,
            )
            for c in redirect.cookies
        ],
    )


def _page(status: int, title: str, text: str, link: tuple[str, str] | None = None) -> Response[Any]:
    """An HTML page for the person; the error shape for a client that asks for JSON."""
    accept = app.current_event.headers.get("accept", "")
    if status >= 400 and "application/json" in accept and "text/html" not in accept:
        return error_response(status, text)
    anchor = (
        f"<p><a href='{html.escape(link[0], quote=True)}'>{html.escape(link[1])}</a></p>"
        if link
        else ""
    )
    body = (
        "<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{anchor}</body></html>"
    )
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=body,
        headers={"Cache-Control": "no-store"},
    )


# Registered before /r/<code>: the static path wins (as in API Gateway).
@app.get("/r/callback")
def login_callback() -> Response[Any]:
    query = app.current_event.query_string_parameters or {}
    params = {key: str(value) for key, value in query.items()}
    done = container().inflow_login.callback(params, _cookie(COOKIE_NAME), _public_base_url())
    metrics.add_metric(name="InflowLogins", unit="Count", value=1)
    logger.info(
        "inflow login", extra={"route": done.route.route_id, "notes": "; ".join(done.notes)}
    )
    if done.redirect is not None:
        return _redirect(done.redirect)
    return _page(
        HTTPStatus.OK,
        "ありがとうございます / Thank you",
        "You are now a friend of the account; you can close this page.",
    )


@app.get("/r/<code>")
def open_route(code: str) -> Response[Any]:
    secure = _public_base_url().startswith("https://")
    redirect = container().inflow_login.start(code, _public_base_url(), secure=secure)
    metrics.add_metric(name="InflowRouteOpened", unit="Count", value=1)
    return _redirect(redirect)


@app.exception_handler(RouteUnknown)
def unknown_route(_: RouteUnknown) -> Response[Any]:
    return _page(HTTPStatus.NOT_FOUND, "Not found", "This link is not (or no longer) in use.")


@app.exception_handler(StateRejected)
def bad_state(error: StateRejected) -> Response[Any]:
    return _page(HTTPStatus.BAD_REQUEST, "Login not accepted", str(error))


@app.exception_handler(LoginCancelled)
def cancelled(error: LoginCancelled) -> Response[Any]:
    link = (error.retry_url, "Try again") if error.retry_url else None
    return _page(
        HTTPStatus.OK,
        "Login cancelled",
        "You did not allow the LINE login, so nothing was recorded. "
        "You can open the link again at any time.",
        link,
    )


@app.exception_handler([LoginRefused, CodeRejected, IdTokenRejected])
def refused(error: Exception) -> Response[Any]:
    logger.info("inflow login refused", extra={"reason": str(error)})
    return _page(
        HTTPStatus.BAD_REQUEST, "Login not accepted", f"{error}. Please open the link again."
    )


@app.exception_handler(LoginNotSetUp)
def not_set_up(error: LoginNotSetUp) -> Response[Any]:
    logger.error("inflow route without LINE Login", extra={"reason": str(error)})
    return _page(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "Not available",
        "LINE Login is not set up for this account yet.",
    )


@app.exception_handler(LoginServiceUnavailable)
def unavailable(error: LoginServiceUnavailable) -> Response[Any]:
    logger.warning("LINE Login unavailable", extra={"error": str(error)})
    return _page(
        HTTPStatus.SERVICE_UNAVAILABLE, "Please retry", "LINE Login is not answering; retry later."
    )


@app.not_found
def not_found(_: Exception) -> Response[Any]:
    return _page(HTTPStatus.NOT_FOUND, "Not found", "No such page.")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container()  # the first invocation validates the settings, before any work
    return app.resolve(event, context)
