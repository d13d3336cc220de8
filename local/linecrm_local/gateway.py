"""A local API Gateway HTTP API: HTTP requests become payload format 2.0 events.

Routes come from ``resources.ROUTES``; responses follow API Gateway's v2 rules
(structured ``statusCode`` responses, or inference from a bare string / JSON value).
A handler that raises becomes ``500 {"message":"Internal Server Error"}``, exactly
what API Gateway answers, and is counted in ``internal_errors`` so tests can insist
that our handlers never let it happen.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request

from linecrm import resources
from linecrm.resources import Route
from linecrm_local import stalls
from linecrm_local.console_static import ConsoleFiles
from linecrm_local.lambda_runtime import LocalFunctions
from linecrm_local.provision import LOCAL_ACCOUNT_ID
from linecrm_local.serving import BackgroundWsgiServer, bind_listening_socket
from linecrm_local.staff_auth import (
    LOGIN_PATH,
    InvalidToken,
    LoginRefused,
    LoginRequestInvalid,
    StaffAuth,
)
from linecrm_local.staff_oauth import (
    AUTHORIZE_PATH,
    LOGOUT_PATH,
    TOKEN_PATH,
    HostedLogin,
    OAuthResponse,
)

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's request payload limit
LOCAL_API_ID = "linecrmlocal"
# A request still unanswered this long is logged with every thread's stack (stalls.py).
STALL_SECONDS = 5.0

# API Gateway passes these bodies as text; anything else (or invalid UTF-8) as base64.
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/x-yaml",
        "application/yaml",
    }
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class InvalidLambdaResponse(ValueError):
    """The function's result is not a response API Gateway could map."""


# ---------------------------------------------------------------- routing
@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"

    @property
    def specificity(self) -> tuple[int, int, int]:
        # API Gateway prefers static paths, then {param} paths, then greedy {proxy+}.
        path = self.route.path
        return (path.count("+}"), path.count("{"), -len(path))


def compile_route(route: Route) -> CompiledRoute:
    parts = []
    for segment in route.path.strip("/").split("/"):
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        param = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            parts.append(f"(?P<{greedy.group(1)}>.+)")
        elif param:
            parts.append(f"(?P<{param.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return CompiledRoute(route, re.compile("/" + "/".join(parts)))


def match_route(
    routes: Sequence[CompiledRoute], method: str, path: str
) -> tuple[CompiledRoute, dict[str, str]] | None:
    for compiled in routes:
        if compiled.route.method != method:
            continue
        found = compiled.pattern.fullmatch(path)
        if found:
            return compiled, found.groupdict()
    return None


# ---------------------------------------------------------------- event
def is_text_body(content_type: str | None, body: bytes) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    text_like = (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )
    if not text_like:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _comma_joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def build_event(
    request: Request,
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    *,
    api_id: str = LOCAL_API_ID,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload format 2.0 event for ``request``."""
    environ = request.environ
    raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or request.path
    raw_path = raw_uri.split("?", 1)[0]
    raw_query = environ.get("QUERY_STRING", "")
    source_ip = request.remote_addr or "127.0.0.1"
    host = request.host

    headers = _comma_joined(
        (name.lower(), value) for name, value in request.headers.items() if name.lower() != "cookie"
    )
    # API Gateway adds these in front of every integration.
    headers.setdefault("x-forwarded-for", source_ip)
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-port", str(request.environ.get("SERVER_PORT", "")))
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")

    now = datetime.now(UTC)
    request_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode("ascii")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": source_ip,
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    cookie_header = request.headers.get("Cookie")
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.split(";") if c.strip()]
    if raw_query:
        event["queryStringParameters"] = _comma_joined(parse_qsl(raw_query, keep_blank_values=True))
    if path_parameters:
        event["pathParameters"] = path_parameters
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if body:
        if is_text_body(request.headers.get("Content-Type"), body):
            event["body"] = body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


# ---------------------------------------------------------------- response
@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, payload: Any) -> HttpResponse:
    body = json.dumps(payload).encode("utf-8")
    return HttpResponse(status, [("Content-Type", "application/json")], body)


def to_http_response(result: Any) -> HttpResponse:
    """Map a function result to HTTP like API Gateway's payload format 2.0 does."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway infers 200, application/json, body as returned.
        if isinstance(result, str):
            body = result.encode("utf-8")
        else:
            try:
                body = json.dumps(result).encode("utf-8")
            except (TypeError, ValueError) as error:
                raise InvalidLambdaResponse(f"result is not JSON: {error}") from error
        return HttpResponse(200, [("Content-Type", "application/json")], body)

    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise InvalidLambdaResponse(f"statusCode {result['statusCode']!r} is not an HTTP status")
    headers_in = result.get("headers") or {}
    cookies = result.get("cookies") or []
    if not isinstance(headers_in, dict) or not isinstance(cookies, list):
        raise InvalidLambdaResponse("headers must be an object and cookies a list")
    headers = [(str(name), str(value)) for name, value in headers_in.items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in cookies]

    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif not isinstance(raw_body, str):
        raise InvalidLambdaResponse("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw_body, validate=True)
        except binascii.Error as error:
            raise InvalidLambdaResponse("isBase64Encoded body is not base64") from error
    else:
        body = raw_body.encode("utf-8")
    return HttpResponse(status, headers, body)


NOT_FOUND = json_response(404, {"message": "Not Found"})
UNAUTHORIZED = HttpResponse(
    401,
    [("Content-Type", "application/json"), ("WWW-Authenticate", 'Bearer realm="linecrm admin"')],
    json.dumps({"message": "Unauthorized: send Authorization: Bearer <admin token>"}).encode(),
)
FORBIDDEN = json_response(403, {"message": "Forbidden"})


def unauthorized(reason: str) -> HttpResponse:
    """401 for a staff token the JWT authorizer refuses (API Gateway says only
    "Unauthorized"; locally the reason helps)."""
    return HttpResponse(
        401,
        [
            ("Content-Type", "application/json"),
            ("WWW-Authenticate", 'Bearer error="invalid_token"'),
        ],
        json.dumps({"message": f"Unauthorized: {reason}"}).encode(),
    )


TOO_LARGE = json_response(413, {"message": "Request Entity Too Large"})
INTERNAL_ERROR = json_response(500, {"message": "Internal Server Error"})


# ---------------------------------------------------------------- the gateway
class LocalGateway:
    """Bind first (``bind()`` makes ``url`` known), then ``start()`` serving."""

    def __init__(
        self,
        functions: LocalFunctions,
        *,
        admin_token: str | None = None,
        routes: Iterable[Route] = resources.ROUTES,
        host: str = "127.0.0.1",
        port: int = 0,
        console: ConsoleFiles | None = None,
    ) -> None:
        self.functions = functions
        self.console = console
        self.admin_token = admin_token
        # Staff sign-in and their JWTs (set by the local stack once its pool exists).
        self.staff_auth: StaffAuth | None = None
        # Cognito's managed login for the console, locally (staff_oauth; set with it).
        self.hosted_login: HostedLogin | None = None
        self.host = host
        self.requested_port = port
        self.routes = sorted((compile_route(r) for r in routes), key=lambda r: r.specificity)
        self.internal_errors = 0
        self._lock = threading.Lock()
        self._server: BackgroundWsgiServer | None = None

    # ------------------------------------------------------------ lifecycle
    def bind(self) -> None:
        if self._server is None:
            sock = bind_listening_socket("gateway", self.host, self.requested_port)
            self._server = BackgroundWsgiServer("gateway", sock, self.wsgi_app)

    def start(self) -> None:
        self.bind()
        assert self._server is not None
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not bound yet: call bind() or start()")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------ requests
    def wsgi_app(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        response = self.handle(Request(environ))
        start_response(f"{response.status} {_reason(response.status)}", response.headers)
        return [response.body]

    def handle(self, request: Request) -> HttpResponse:
        request_id = str(uuid.uuid4())
        with stalls.watch(f"gateway request {request.method} {request.path}", STALL_SECONDS):
            response = self._route(request)
        response.headers.append(("apigw-requestid", request_id))
        logger.info("%s %s -> %s", request.method, request.path, response.status)
        return response

    def _route(self, request: Request) -> HttpResponse:
        if self.console is not None and ConsoleFiles.handles(request.path):
            static = self.console.serve(request.method, request.path)
            body = b"" if request.method == "HEAD" else static.body
            return HttpResponse(static.status, list(static.headers), body)
        if request.path == LOGIN_PATH and self.staff_auth is not None:
            return self._staff_login(request)
        if request.path in (AUTHORIZE_PATH, TOKEN_PATH, LOGOUT_PATH) and self.hosted_login:
            return self._managed_login(self.hosted_login, request)
        found = match_route(self.routes, request.method, request.path)
        if found is None:
            if request.method == "GET" and request.path == "/":
                return json_response(200, self.index())
            return _copy(NOT_FOUND)
        compiled, path_parameters = found

        authorizer = None
        if compiled.route.authorization == "jwt":
            # The staff routes: API Gateway's JWT authorizer, nothing else (docs/staff.md).
            token = _staff_jwt(request.headers.get("Authorization", ""))
            if token is None or self.staff_auth is None:
                return unauthorized("send Authorization: Bearer <staff token>")
            try:
                authorizer = self.staff_auth.authorizer(token)
            except InvalidToken as error:
                return unauthorized(str(error))
        elif compiled.route.authorization == "iam":
            # Locally a bearer token stands in for SigV4: none -> 401, a wrong one -> 403.
            authorization = request.headers.get("Authorization", "")
            # A staff member's Cognito JWT is checked as the JWT authorizer does (the
            # staff API on AWS; docs/staff.md): a refused one -> 401.
            if not authorization.strip():
                return _copy(UNAUTHORIZED)
            if self._is_admin(authorization):
                authorizer = {"iam": {"accountId": LOCAL_ACCOUNT_ID, "callerId": "local-admin"}}
            elif (token := _staff_jwt(authorization)) and self.staff_auth is not None:
                try:
                    authorizer = self.staff_auth.authorizer(token)
                except InvalidToken as error:
                    return unauthorized(str(error))
            else:
                return _copy(FORBIDDEN)

        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return _copy(TOO_LARGE)
        body = request.stream.read(MAX_PAYLOAD_BYTES + 1)
        if len(body) > MAX_PAYLOAD_BYTES:
            return _copy(TOO_LARGE)

        event = build_event(
            request, body, compiled.route_key, path_parameters, authorizer=authorizer
        )
        try:
            result = self.functions.invoke(compiled.route.function.name, event)
            return to_http_response(result)
        except Exception:
            with self._lock:
                self.internal_errors += 1
            logger.exception("%s answered 500 Internal Server Error", compiled.route_key)
            return _copy(INTERNAL_ERROR)

    def _staff_login(self, request: Request) -> HttpResponse:
        assert self.staff_auth is not None
        if request.method != "POST":
            return json_response(405, {"message": f"use POST {LOGIN_PATH}"})
        try:
            return json_response(200, self.staff_auth.login(request.get_data()[:65536]))
        except LoginRequestInvalid as error:
            return json_response(400, {"message": f"Bad Request: {error}"})
        except LoginRefused as error:
            return unauthorized(str(error))

    def _managed_login(self, login: HostedLogin, request: Request) -> HttpResponse:
        """The console's authorization code flow with PKCE (staff_oauth): its callback
        and sign-out URLs are the console's, on this gateway (under either host name)."""
        consoles = {self.url, request.host_url.rstrip("/")}
        answer: OAuthResponse
        if request.path == AUTHORIZE_PATH:
            params = request.form if request.method == "POST" else request.args
            answer = login.authorize(
                request.method,
                params.to_dict(),
                redirect_uris={f"{origin}/console/callback" for origin in consoles},
            )
        elif request.path == TOKEN_PATH:
            answer = login.token(request.method, request.content_type or "", request.form.to_dict())
        else:
            answer = login.logout(
                request.args.to_dict(), logout_uris={f"{origin}/console/" for origin in consoles}
            )
        return HttpResponse(answer.status, list(answer.headers), answer.body)

    def _is_admin(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if not self.admin_token or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), self.admin_token.encode())

    def index(self) -> dict[str, Any]:
        return {
            "service": "linecrm local gateway",
            "routes": [
                {
                    "route": r.route_key,
                    "function": r.route.function.name,
                    "authorization": r.route.authorization,
                }
                for r in self.routes
            ],
        }


def _staff_jwt(authorization: str) -> str | None:
    """The token of "Bearer <JWT>" (three dot-separated parts), else None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.count(".") == 2 else None


def _copy(response: HttpResponse) -> HttpResponse:
    return HttpResponse(response.status, list(response.headers), response.body)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
