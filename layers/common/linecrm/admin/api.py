"""The admin API's resolver: routers, the error-to-HTTP mapping (all of it, here),
the OpenAPI document and the Swagger page."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

from linecrm.admin import (
    audit,
    broadcasts,
    chat,
    dashboard,
    events,
    experiments,
    fields,
    friends,
    id_links,
    imports,
    inflow_routes,
    insight,
    liff,
    reports,
    richmenus,
    rules,
    scenarios,
    segments,
    settings,
    shop_login,
    staff,
    staff_users,
    tags,
    timeline,
    web_tag,
)
from linecrm.admin.errors import AdminError
from linecrm.admin.models import FieldError
from linecrm.admin.params import admin_services
from linecrm.admin.services import AdminServices
from linecrm.broadcasts.service import (
    BroadcastNotCancellable,
    BroadcastRejected,
    BroadcastService,
    PreviewNotFound,
)
from linecrm.channels import UnknownChannel
from linecrm.chat.service import ChatRejected, ChatService, TemplateNotFound
from linecrm.dashboard.summary import DashboardService
from linecrm.delivery.ledger_admin import DeliveryNotFound, LedgerAdmin, NotRedrivable
from linecrm.domain.fields import FieldValueError, UnknownField
from linecrm.domain.idempotency import IdempotencyKeyInProgress, IdempotencyKeyReused
from linecrm.domain.tags import TagConflict, UnknownTag
from linecrm.experiments.report import ExperimentReports
from linecrm.http_bodies import UnreadableBody
from linecrm.http_errors import (
    error_response,
    invalid_request,
    json_resolver,
    not_json,
    unreadable_body,
)
from linecrm.id_links.service import AccountLinks
from linecrm.imports.service import ImportRejected, ImportService
from linecrm.inflow.routes import RouteRejected, RouteService
from linecrm.insight.service import CampaignNotSent, InsightReports
from linecrm.reports.service import (
    CampaignNotFound,
    ReportRejected,
    ReportService,
    ScenarioNotFound,
)
from linecrm.repositories.audit import AuditLog, InvalidAuditCursor
from linecrm.repositories.broadcasts import BroadcastNotFound
from linecrm.repositories.conversations import InvalidChatCursor
from linecrm.repositories.deliveries import InvalidDeliveryCursor
from linecrm.repositories.events import EventStore
from linecrm.repositories.friends import FriendNotFound, InvalidCursor
from linecrm.repositories.imports import ImportNotFound
from linecrm.repositories.inflow_routes import RouteExists, RouteNotFound
from linecrm.repositories.web_tag_keys import WebTagKeyRepository
from linecrm.resources import STAFF_PREFIX
from linecrm.richmenus.service import RichMenuService, RichMenusMissing, RichMenusRejected
from linecrm.scenarios.enrollment_jobs import EnrollmentJobNotFound
from linecrm.scenarios.service import (
    ScenarioMissing,
    ScenarioNotActive,
    ScenarioRejected,
    ScenarioService,
)
from linecrm.shop_login.keys import LoginKeyStore

ADMIN_PREFIX = "/admin"
CHANNEL_PREFIX = f"{ADMIN_PREFIX}/channels/<channel_id>"
OPENAPI_PATH = f"{ADMIN_PREFIX}/openapi.json"
SWAGGER_PATH = f"{ADMIN_PREFIX}/swagger"
API_VERSION = "1.0.0"

_DESCRIPTION = """\
Manage a LINE Official Account: friends (list, change tags and field values, export,
delete, chat mode), tags and tag folders, custom fields, auto-response rules and
business hours; **imports** of existing friends (LINE's followers list or a CSV, as
resumable jobs); **1:1 chat** (the inbox, a friend's conversation, staff replies and saved
replies: docs/chat.md); **broadcasts** to every friend or a segment, now or at a time, with a
dry-run preview; **rich menus** as config (menus, images, tabs, assignment rules by
segment, bulk relinking); **auto-login** into the shop (its allow-list, the signing
keys); the **LIFF** setup of the member card pages; the **delivery policy** (frequency
caps, quiet hours, the account's time zone); **inflow routes** (a URL and QR code per ad
or poster, attributed follows and a report per route); the **delivery ledger**
(every message queued, sent, skipped or dead, with re-drive); and **reports** read from
counters (per delivery and A/B variant, a scenario's funnel, inflow routes, a daily
timeline; CSV for Excel with `?format=csv`). Guides: docs/import.md,
docs/broadcasts.md, docs/segments.md, docs/delivery-policy.md, docs/auto-response.md,
docs/rich-menus.md, docs/auto-login.md, docs/inflow-routes.md, docs/liff.md,
docs/reports.md in the repository.

One deployment serves several channels: the channel id is in every path. A channel id
this deployment has not set up answers 404 "unknown channel" and nothing is written
(a channel is set up by its first signed webhook, e.g. LINE's Verify button; see
docs/deploy.md).

**Authentication.** On AWS every `/admin` route is IAM-authorized: sign requests with
SigV4 (service `execute-api`); the caller needs `execute-api:Invoke` on the API.
In the local stack (`make dev`), send `Authorization: Bearer <admin token>` instead
(the token is printed by `make dev`). Missing credentials: 401 locally, 403 on AWS;
wrong credentials: 403. Staff signed in to the console send their Cognito token
(`Authorization: Bearer <JWT>`) to the staff API, which has the same routes behind a JWT
authorizer; locally `POST /local/staff/login` gives one (docs/staff.md).

**Roles.** A staff member's Cognito group is their role: owner (everything, staff users
included), marketer (everything but staff users), operator (chat, reading friends and
tagging them) or viewer (read only). A machine caller (SigV4, the local admin token) is
an owner. A route the role may not use answers 403 with the reason.

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
    "staffJwt": HTTPBearer(
        bearerFormat="JWT",
        description=(
            "a staff member's Cognito token (the console): on AWS to the same routes under "
            "/staff; locally from POST /local/staff/login (docs/staff.md)"
        ),
    ),
}


def build_app(
    service: Callable[[], AdminServices],
    import_service: Callable[[], ImportService] = imports.import_service,
    broadcast_service: Callable[[], BroadcastService] = broadcasts.broadcast_service,
    ledger_admin: Callable[[], LedgerAdmin] = broadcasts.ledger_admin,
    channels: Callable[[], KnownChannels] | None = None,
    *,
    event_store: Callable[[], EventStore] = events.event_store,
    scenario_service: Callable[[], ScenarioService] = scenarios.scenario_service,
    rich_menu_service: Callable[[], RichMenuService] = richmenus.rich_menu_service,
    account_links: Callable[[], AccountLinks] = id_links.account_links,
    login_keys: Callable[[], LoginKeyStore] = shop_login.login_keys,
    clock: Callable[[], Callable[[], datetime]] = shop_login.admin_clock,
    route_service: Callable[[], RouteService] = inflow_routes.route_service,
    report_service: Callable[[], ReportService] = reports.report_service,
    insight_reports: Callable[[], InsightReports] = insight.insight_reports,
    experiment_reports: Callable[[], ExperimentReports] = experiments.experiment_reports,
    public_base_url: Callable[[], str] = lambda: "",
    web_tag_keys: Callable[[], WebTagKeyRepository] = web_tag.web_tag_keys,
    chat_service: Callable[[], ChatService] = chat.chat_service,
    dashboard_service: Callable[[], DashboardService] = dashboard.dashboard_service,
    audit_log: Callable[[], AuditLog] | None = None,
    staff_directory: Callable[[], staff_users.StaffDirectory] = staff_users.staff_directory,
) -> APIGatewayHttpResolver:
    """The admin resolver; ``service`` gives the AdminServices for a request (and
    ``import_service`` the ImportService of the friend import routes). ``channels``
    says which channel ids exist: any other gets 404 before a route runs."""
    # Staff signed in to the console call the same routes under /staff (docs/staff.md).
    app = json_resolver(strip_prefixes=[STAFF_PREFIX])
    # Roles first, before the request is validated or the channel looked up: a caller who
    # may not use a route learns nothing from it.
    # Powertools' hook (http_errors.json_resolver sets it too) runs any middleware.
    app._request_validation_middleware = staff.checked_before(  # type: ignore[assignment]
        staff.require_permission(), app._request_validation_middleware
    )
    if channels is not None:
        app.use(middlewares=[_known_channels_only(channels)])
    if audit_log is not None:
        app.use(middlewares=[audit.record_changes(audit_log, lambda: clock()())])
        app.dependency_overrides[audit.audit_log] = audit_log
    for router in (
        friends.router,
        tags.router,
        fields.router,
        rules.router,
        settings.router,
        liff.router,
        segments.router,
        timeline.router,
    ):
        app.include_router(router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[admin_services] = service
    app.include_router(imports.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[imports.import_service] = import_service
    app.include_router(broadcasts.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[broadcasts.broadcast_service] = broadcast_service
    app.dependency_overrides[broadcasts.ledger_admin] = ledger_admin
    app.include_router(events.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[events.event_store] = event_store
    app.include_router(scenarios.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[scenarios.scenario_service] = scenario_service
    app.include_router(richmenus.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[richmenus.rich_menu_service] = rich_menu_service
    app.include_router(id_links.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[id_links.account_links] = account_links
    app.include_router(shop_login.router, prefix=CHANNEL_PREFIX)
    app.include_router(shop_login.keys_router, prefix=ADMIN_PREFIX)
    app.dependency_overrides[shop_login.login_keys] = login_keys
    app.dependency_overrides[shop_login.admin_clock] = clock
    app.include_router(experiments.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[experiments.experiment_reports] = experiment_reports
    app.include_router(inflow_routes.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[inflow_routes.route_service] = route_service
    app.dependency_overrides[inflow_routes.public_base_url] = lambda: _public_base_url(
        app, public_base_url()
    )
    app.include_router(reports.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[reports.report_service] = report_service
    app.include_router(insight.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[insight.insight_reports] = insight_reports
    app.include_router(audit.router, prefix=CHANNEL_PREFIX)
    app.include_router(audit.deployment_router, prefix=ADMIN_PREFIX)
    app.include_router(staff_users.router, prefix=ADMIN_PREFIX)
    app.dependency_overrides[staff_users.staff_directory] = staff_directory
    app.include_router(web_tag.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[web_tag.web_tag_keys] = web_tag_keys
    app.include_router(chat.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[chat.chat_service] = chat_service
    app.include_router(dashboard.router, prefix=CHANNEL_PREFIX)
    app.dependency_overrides[dashboard.dashboard_service] = dashboard_service
    _register_error_handlers(app)

    openapi: dict[str, Any] = {
        "title": "linecrm admin API",
        "version": API_VERSION,
        "description": _DESCRIPTION,
        "security_schemes": _SECURITY_SCHEMES,
        "security": [{"sigv4": []}, {"localBearer": []}, {"staffJwt": []}],
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
    app = build_app(admin_services)
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return document


def _public_base_url(app: APIGatewayHttpResolver, configured: str) -> str:
    """The configured public URL, else the scheme and host this request came to."""
    if configured:
        return configured.rstrip("/")
    event = app.current_event
    proto = (event.headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    return f"{proto}://{event.request_context.domain_name or event.headers.get('host', '')}"


class KnownChannels(Protocol):
    def is_known(self, channel_id: str) -> bool: ...


def _known_channels_only(
    channels: Callable[[], KnownChannels],
) -> Callable[[APIGatewayHttpResolver, NextMiddleware], Response[Any]]:
    """A middleware: a route under an unknown channel id answers 404 and runs not at all
    (so nothing is written for a channel that does not exist)."""

    def check(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        channel_id = app.context.get("_route_args", {}).get("channel_id")
        if channel_id is not None and not channels().is_known(channel_id):
            raise UnknownChannel(channel_id)
        return next_middleware(app)

    return check


# ---------------------------------------------------------------------- errors
def _refused(error: AdminError) -> Response[Any]:
    return error_response(error.status, error.message, error.field)


def _unknown_channel(error: UnknownChannel) -> Response[Any]:
    return error_response(
        HTTPStatus.NOT_FOUND,
        f"unknown channel {error.args[0]!r}: no channel with this id is set up here "
        "(see docs/deploy.md#put-each-channels-credentials)",
        "channel_id",
    )


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


def _invalid_delivery_cursor(error: Exception) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), "cursor")


def _scenario_rejected(error: ScenarioRejected) -> Response[Any]:
    first = error.problems[0].path if error.problems else None
    details = [
        FieldError(field=problem.path or "scenario", type="invalid", message=problem.reason)
        for problem in error.problems
    ]
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), first or None, details)


def _rich_menus_rejected(error: RichMenusRejected) -> Response[Any]:
    first = error.problems[0].path if error.problems else None
    details = [
        FieldError(field=problem.path or "menus", type="invalid", message=problem.reason)
        for problem in error.problems
    ]
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), first or None, details)


def _route_rejected(error: RouteRejected) -> Response[Any]:
    return error_response(error.status, str(error), error.field)


def _report_rejected(error: ReportRejected) -> Response[Any]:
    return error_response(HTTPStatus.BAD_REQUEST, str(error), error.field)


def _invalid_reference(error: Exception) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))


def _chat_rejected(error: ChatRejected) -> Response[Any]:
    return error_response(error.status, str(error), error.field)


def _invalid_chat_cursor(error: InvalidChatCursor) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), "cursor")


def _key_reused(error: IdempotencyKeyReused) -> Response[Any]:
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), "Idempotency-Key")


def _key_in_progress(error: IdempotencyKeyInProgress) -> Response[Any]:
    response = error_response(HTTPStatus.CONFLICT, str(error), "Idempotency-Key")
    response.headers["Retry-After"] = "1"
    return response


# Every error the admin API turns into an HTTP answer. Anything else is a fault of ours
# (the function fails, API Gateway answers 500 and the Errors alarm counts it).
_ERROR_HANDLERS: tuple[tuple[type[Exception] | list[type[Exception]], Callable[..., Any]], ...] = (
    (RequestValidationError, invalid_request),
    (RequestUnsupportedContentType, not_json),
    # A body of other bytes sent as JSON, or nested deeper than any request of ours.
    ([UnicodeDecodeError, UnreadableBody], unreadable_body),
    (AdminError, _refused),
    (UnknownChannel, _unknown_channel),
    (FriendNotFound, _no_friend),
    (TagConflict, _tag_conflict),
    (InvalidCursor, _invalid_cursor),
    ([UnknownTag, UnknownField, FieldValueError], _invalid_reference),
    (ImportRejected, _import_refused),
    (ImportNotFound, _no_import),
    (BroadcastRejected, _broadcast_refused),
    (
        [
            BroadcastNotFound,
            DeliveryNotFound,
            PreviewNotFound,
            ScenarioMissing,
            EnrollmentJobNotFound,
            RichMenusMissing,
            RouteNotFound,
            CampaignNotFound,
            ScenarioNotFound,
            CampaignNotSent,
            TemplateNotFound,
        ],
        _not_found,
    ),
    (ReportRejected, _report_rejected),
    (RouteRejected, _route_rejected),
    (ScenarioRejected, _scenario_rejected),
    (RichMenusRejected, _rich_menus_rejected),
    ([BroadcastNotCancellable, NotRedrivable, ScenarioNotActive, RouteExists], _conflict),
    ([InvalidDeliveryCursor, InvalidAuditCursor], _invalid_delivery_cursor),
    (ChatRejected, _chat_rejected),
    (InvalidChatCursor, _invalid_chat_cursor),
    (IdempotencyKeyReused, _key_reused),
    (IdempotencyKeyInProgress, _key_in_progress),
)


def _register_error_handlers(app: APIGatewayHttpResolver) -> None:
    for errors, handler in _ERROR_HANDLERS:
        app.exception_handler(errors)(handler)
