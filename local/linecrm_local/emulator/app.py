"""The emulator's WSGI application: LINE's API pipeline in front of the routes.

Order per request, as a caller sees it from LINE: route → auth (401) → JSON and
schema (400) → retry-key format (400) → rate limit (429) → injected fault →
route (retry key 409, monthly quota 429, delivery) → ``error_500_after_delivery``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from . import config as keys
from . import ids
from .faults import FaultDecision, FaultOutcome
from .http import (
    MSG_AUTH_FAILED,
    MSG_INTERNAL_ERROR,
    MSG_NOT_FOUND,
    MSG_RATE_LIMITED,
    ApiRequest,
    HttpError,
    error,
    json_response,
)
from .login import VerifyError
from .models import ApiCall
from .routes import Operation, messaging_operations, url_map
from .validation import spec_catalog

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .config import EmulatedChannel
    from .server import LineEmulator

CONTROL_PREFIX = "/_emulator"
# LINE's account-link dialog (https://access.line.me/dialog/bot/accountLink) on this host.
ACCOUNT_LINK_PATH = "/dialog/bot/accountLink"
LOGIN_VERIFY_PATH = "/oauth2/v2.1/verify"
LOGIN_JWKS_PATH = "/oauth2/v2.1/certs"
RETRY_KEY_HEADER = "X-Line-Retry-Key"
REQUEST_ID_HEADER = "x-line-request-id"

logger = logging.getLogger(__name__)


class EmulatorApp:
    def __init__(self, emulator: LineEmulator) -> None:
        from .control import ControlApi  # the control API needs this module's helpers

        self.emulator = emulator
        self.state = emulator.state
        self.operations = {op.rule_endpoint: op for op in messaging_operations(self.state)}
        self.url_map = url_map(list(self.operations.values()))
        self.catalog = spec_catalog()
        self.control = ControlApi(emulator)
        from .oauth import TOKEN_PATH, LoginWebFlow

        # LINE Login's web flow (authorize, consent, add-friend page): pages, not API.
        self.login_web = LoginWebFlow(emulator)
        self.login_routes: dict[tuple[str, str], tuple[str, Callable[[Request], Response]]] = {
            ("POST", LOGIN_VERIFY_PATH): (keys.LOGIN_VERIFY, self._login_verify),
            ("GET", LOGIN_JWKS_PATH): (keys.LOGIN_JWKS, self._login_jwks),
            ("POST", TOKEN_PATH): (keys.LOGIN_TOKEN, self.login_web.token),
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            response = self.control.dispatch(request)
        elif request.path == ACCOUNT_LINK_PATH:
            response = self._account_link_dialog(request)
        elif self.login_web.handles(request.path):
            response = self.login_web.dispatch(request)
        else:
            response = self._line_api(request)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    # ------------------------------------------------------------ LINE API
    def _line_api(self, request: Request) -> Response:
        request_id = ids.request_id()
        call = ApiCall(
            "unknown", request.method, request.full_path.rstrip("?"), 0, self.state.clock()
        )
        call.request_id = request_id
        try:
            response = self._route(request, request_id, call)
        except HttpError as failure:
            response = failure.response()
        except Exception:
            # An emulator bug: log it, and still answer in LINE's shape.
            logger.exception("LINE emulator failed on %s %s", request.method, request.path)
            response = error(500, MSG_INTERNAL_ERROR)
        response.headers[REQUEST_ID_HEADER] = request_id
        call.status = response.status_code
        self.state.record_call(call)
        return response

    def _route(self, request: Request, request_id: str, call: ApiCall) -> Response:
        login = self.login_routes.get((request.method, request.path))
        if login is not None:
            call.endpoint = login[0]
            self._apply_fault(self.emulator.faults.decide(login[0]))
            return login[1](request)
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            rule_endpoint, path_params = adapter.match()
        except MethodNotAllowed as not_allowed:
            raise HttpError(405, "Method not allowed") from not_allowed
        except NotFound as not_found:
            raise HttpError(404, MSG_NOT_FOUND) from not_found
        operation = self.operations[rule_endpoint]
        call.endpoint = operation.key
        # Logged as sent even when the call is refused below (a 401 keeps its key).
        call.retry_key = request.headers.get(RETRY_KEY_HEADER)
        channel = self._authenticate(request)
        call.channel_id = channel.channel_id
        body = self._checked_body(operation, request)
        retry_key = self._retry_key(operation, request)
        call.retry_key = retry_key
        call.body = body
        if not self.emulator.limiter.allow(channel.channel_id, operation.key):
            raise HttpError(429, MSG_RATE_LIMITED)
        fault = self.emulator.faults.decide(operation.key)
        self._apply_fault(fault)
        api = ApiRequest(request, channel, dict(path_params), body, request_id, retry_key)
        response = operation.handler(api)
        if fault.outcome is FaultOutcome.ERROR_500_AFTER_DELIVERY:
            # The work is done (and a retry key accepted): the case retry keys exist for.
            return error(500, MSG_INTERNAL_ERROR)
        return response

    def _authenticate(self, request: Request) -> EmulatedChannel:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.state.lock:
            channel = self.emulator.config.channel_by_token(token.strip(), self.state.clock())
            if scheme.lower() != "bearer" or not token.strip() or channel is None:
                raise HttpError(401, MSG_AUTH_FAILED)
            self.emulator.config.count_call(channel)
        return channel

    def _checked_body(self, operation: Operation, request: Request) -> Any:
        if not self.catalog.has_json_body(operation.method, operation.spec_path):
            return None
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as bad:
            where = (
                f" (line: {bad.lineno}, column: {bad.colno})"
                if isinstance(bad, json.JSONDecodeError)
                else ""
            )
            raise HttpError(400, f"The request body could not be parsed as JSON{where}") from bad
        problems = self.catalog.validate(operation.method, operation.spec_path, body)
        if problems:
            raise HttpError(
                400,
                f"The request body has {len(problems)} error(s)",
                details=[problem.to_json() for problem in problems],
            )
        return body

    def _retry_key(self, operation: Operation, request: Request) -> str | None:
        retry_key = request.headers.get(RETRY_KEY_HEADER)
        if retry_key is None or operation.key not in keys.RETRY_KEY_ENDPOINTS:
            return None
        if not ids.is_uuid(retry_key):
            raise HttpError(
                400, "The retry key must be a UUID (e.g. 123e4567-e89b-12d3-a456-426614174000)"
            )
        return retry_key.lower()

    def _apply_fault(self, fault: FaultDecision) -> None:
        if fault.delay_seconds > 0:
            self.emulator.wait(fault.delay_seconds)
        if fault.outcome is FaultOutcome.TIMEOUT:
            # Held past any client timeout; ends at once when the emulator stops.
            self.emulator.wait(self.emulator.config.fault_timeout_hold_seconds)
            raise HttpError(504, "Gateway timeout (injected fault)")
        if fault.outcome is FaultOutcome.ERROR_500:
            raise HttpError(500, MSG_INTERNAL_ERROR)
        if fault.outcome is FaultOutcome.ERROR_429:
            raise HttpError(429, MSG_RATE_LIMITED)

    # ------------------------------------------------------------ account link
    def _account_link_dialog(self, request: Request) -> Response:
        """The page the shop redirects the friend to: a GET with linkToken and nonce.
        The friend "agrees" at once; the page says what happened."""
        from .state import InvalidLinkToken

        if request.method != "GET":
            return _page(405, "Method not allowed", "Open this URL with GET.")
        link_token = request.args.get("linkToken", "")
        nonce = request.args.get("nonce", "")
        if not link_token or not nonce:
            return _page(400, "Invalid request", "linkToken and nonce are required.")
        try:
            delivery = self.emulator.account_link(link_token, nonce)
        except InvalidLinkToken as invalid:
            return _page(400, "Account link failed", invalid.reason)
        return _page(
            200,
            "Account linked",
            f"The accountLink event went to the webhook (HTTP {delivery.status}).",
        )

    # ------------------------------------------------------------ LINE Login
    def _login_verify(self, request: Request) -> Response:
        id_token = request.form.get("id_token", "")
        client_id = request.form.get("client_id", "")
        if not id_token or not client_id:
            missing = "id_token" if not id_token else "client_id"
            return json_response(
                {"error": "invalid_request", "error_description": f"{missing} is required"}, 400
            )
        try:
            claims = self.emulator.issuer.verify(
                id_token,
                client_id=client_id,
                now=self.state.clock(),
                nonce=request.form.get("nonce"),
                user_id=request.form.get("user_id"),
                channel_secret=self._login_channel_secret(client_id),
            )
        except VerifyError as invalid:
            return json_response(invalid.to_json(), 400)
        return json_response(claims)

    def _login_channel_secret(self, client_id: str) -> str | None:
        channel = self.emulator.config.channel(client_id)
        return channel.channel_secret if channel is not None else None

    def _login_jwks(self, request: Request) -> Response:
        return json_response(self.emulator.issuer.jwks())


def _page(status: int, title: str, text: str) -> Response:
    import html

    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")
