"""The audit log of the admin API (docs/staff.md#audit-log): every change that
succeeded, who made it, and for settings, rules, scenarios and broadcasts the resource
before and after; listed newest first.

``record_changes`` is a middleware: after a POST, PUT, PATCH or DELETE answered 2xx it
writes one entry (one PutItem). For the routes in ``SNAPSHOTS`` it first reads the
resource as its GET route answers it (the same resolver, one route's reads) and keeps
the answer of the change as "after".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Depends, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from linecrm.admin.params import ChannelId, new_router, responses
from linecrm.admin.staff import current_identity
from linecrm.repositories.audit import DEPLOYMENT, MAX_PAGE_SIZE, AuditEntry, AuditLog
from linecrm.repositories.erasures import erasure_digest

router = new_router()
# The changes outside any channel (staff users, signing keys), under /admin.
deployment_router = new_router()

_CHANNEL = "/admin/channels/<channel_id>"

# A change of one of these (method, route) -> the GET route of the resource it changes:
# the entry keeps the resource before the change and the change's answer after it.
SNAPSHOTS: dict[tuple[str, str], str] = {
    **{
        (method, f"{_CHANNEL}{path}"): f"{_CHANNEL}{path}"
        for path in (
            "/business-hours",
            "/delivery-policy",
            "/liff",
            "/shop-login",
            "/attribution",
            "/account-link",
        )
        for method in ("PUT", "DELETE")
    },
    ("PUT", f"{_CHANNEL}/rules"): f"{_CHANNEL}/rules",
    ("PUT", f"{_CHANNEL}/scenarios/<scenario_id>"): f"{_CHANNEL}/scenarios/<scenario_id>",
    **{
        ("POST", f"{_CHANNEL}/scenarios/<scenario_id>/{action}"): (
            f"{_CHANNEL}/scenarios/<scenario_id>"
        )
        for action in ("pause", "resume", "archive")
    },
    ("POST", f"{_CHANNEL}/broadcasts/<broadcast_id>/cancel"): (
        f"{_CHANNEL}/broadcasts/<broadcast_id>"
    ),
}
# Created: nothing before, the answer after.
_CREATED = frozenset({("POST", f"{_CHANNEL}/broadcasts")})


def audit_log() -> AuditLog:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real log."""
    raise NotImplementedError("build_app(..., audit_log=...) wires the audit log")


Audit = Annotated[AuditLog, Depends(audit_log)]


class AuditActor(BaseModel):
    subject: str
    display: str
    role: str
    kind: str


class AuditEntryResponse(BaseModel):
    entry_id: str
    at: datetime
    actor: AuditActor
    method: str
    route: str = Field(description="the route, with {parameters}")
    path: dict[str, str] = Field(description="the path parameters")
    summary: str
    status: int
    user_id: str | None = None
    user_ids: list[str] = Field(default_factory=list)
    before: Any = None
    after: Any = None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryResponse:
        return cls(
            entry_id=entry.entry_id,
            at=entry.at,
            actor=AuditActor(**dict(entry.actor)),
            method=entry.method,
            route=entry.route,
            path=dict(entry.path),
            summary=entry.summary,
            status=entry.status,
            user_id=entry.user_id,
            user_ids=list(entry.user_ids),
            before=entry.before,
            after=entry.after,
        )


class AuditListResponse(BaseModel):
    entries: list[AuditEntryResponse]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; null on the last page"
    )


@router.get("/audit", tags=["audit"], responses=responses(200, "Changes, newest first"))
def list_audit(
    channel_id: ChannelId,
    log: Audit,
    user_id: Annotated[
        str | None, Query(max_length=64, description="only changes about this friend")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="next_cursor of the previous page")
    ] = None,
) -> AuditListResponse:
    """The channel's audit log, newest first: every change made through the admin API
    (who, what, when; before and after for settings, rules, scenarios and broadcasts)."""
    entries, next_cursor = log.page(channel_id, limit=limit, cursor=cursor, user_id=user_id)
    return AuditListResponse(
        entries=[AuditEntryResponse.of(entry) for entry in entries], next_cursor=next_cursor
    )


@deployment_router.get(
    "/audit", tags=["audit"], responses=responses(200, "Changes outside a channel, newest first")
)
def list_deployment_audit(
    log: Audit,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="next_cursor of the previous page")
    ] = None,
) -> AuditListResponse:
    """The changes outside any channel, newest first: staff users (invited, role
    changed, disabled) and the signing keys (owner only: it names the staff)."""
    entries, next_cursor = log.page(DEPLOYMENT, limit=limit, cursor=cursor)
    return AuditListResponse(
        entries=[AuditEntryResponse.of(entry) for entry in entries], next_cursor=next_cursor
    )


# ---------------------------------------------------------------- recording
_Middleware = Callable[[APIGatewayHttpResolver, NextMiddleware], Response[Any]]


def record_changes(log: Callable[[], AuditLog], clock: Callable[[], datetime]) -> _Middleware:
    """The middleware that writes an entry for every change that succeeded."""

    def middleware(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        route = app.context.get("_route")
        identity = current_identity()
        if route is None or route.method in ("GET", "HEAD", "OPTIONS") or identity is None:
            return next_middleware(app)
        if _is_dry_run(app):  # validates and diffs only: nothing changes
            return next_middleware(app)
        # Path parameters only (validation adds the parsed body and query to the args).
        names = re.findall(r"<(\w+)>", route.path)
        given = app.context.get("_route_args", {})
        args = {name: str(given[name]) for name in names if name in given}
        key = (route.method, route.path)
        before = _read(app, SNAPSHOTS[key], args) if key in SNAPSHOTS else None
        response = next_middleware(app)
        if not 200 <= int(response.status_code) < 300:
            return response
        snapshot = key in SNAPSHOTS or key in _CREATED
        channel_id = args.pop("channel_id", None)
        user_id = args.get("user_id")
        erased = route.method == "DELETE" and route.path == f"{_CHANNEL}/friends/<user_id>"
        if erased and channel_id and user_id:
            # The friend is gone: the entry keeps no id of theirs (the erasure digest).
            args["user_id"] = f"erased:{erasure_digest(channel_id, user_id)[:16]}"
            user_id = None
        log().record(
            channel_id,
            at=clock(),
            actor={
                "subject": identity.subject,
                "display": identity.display,
                "role": identity.role.value,
                "kind": identity.kind,
            },
            method=route.method,
            route=route.openapi_path,
            path=args,
            summary=route.summary or f"{route.method} {route.openapi_path}",
            status=int(response.status_code),
            user_id=user_id,
            user_ids=_bulk_user_ids(app) if route.path.endswith("/friends/bulk") else (),
            before=before,
            after=_body(response) if snapshot else None,
        )
        return response

    return middleware


def _read(app: APIGatewayHttpResolver, get_path: str, args: dict[str, str]) -> Any:
    """The resource as its GET route answers it now (None when there is none)."""
    for route in app._dynamic_routes:
        if route.method == "GET" and route.path == get_path:
            break
    else:
        return None
    saved = dict(app.context)
    try:
        app.context.clear()
        app.context.update(_route=route, _path=get_path)
        # The route's own middlewares (its stack is built once, for every request).
        response = route(
            router_middlewares=app._router_middlewares, app=app, route_arguments=dict(args)
        )
    except Exception:  # not there (404), or unreadable: no before
        return None
    finally:
        app.context.clear()
        app.context.update(saved)
    if isinstance(response, Response):
        return _body(response) if int(response.status_code) == 200 else None
    return response


def _body(response: Response[Any]) -> Any:
    body = response.body
    if isinstance(body, str | bytes):
        try:
            return json.loads(body) if body else None
        except ValueError:
            return None
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    return body


def _bulk_user_ids(app: APIGatewayHttpResolver) -> tuple[str, ...]:
    try:
        request = json.loads(app.current_event.body or "{}")
    except ValueError:
        return ()
    user_ids = request.get("user_ids") if isinstance(request, dict) else None
    return tuple(str(user) for user in user_ids[:500]) if isinstance(user_ids, list) else ()


def _is_dry_run(app: APIGatewayHttpResolver) -> bool:
    value = (app.current_event.query_string_parameters or {}).get("dry_run", "")
    return value.strip().lower() in ("1", "true", "yes")
