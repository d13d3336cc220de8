"""Who calls the admin API, and what their role may do (docs/staff.md).

API Gateway authenticates the caller and hands the function what it found in
``requestContext.authorizer``: ``iam`` for a SigV4 caller (the CLI, other systems: a
machine, with the owner's rights) or ``jwt.claims`` for a staff member signed in to the
console with Cognito (their role is their Cognito group). ``PERMISSIONS`` says, per
route and method, what a caller needs; ``require_permission`` checks it before every
route runs, so a route without an entry is refused, never open by accident.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from linecrm.admin.errors import Forbidden

GROUPS_CLAIM = "cognito:groups"


class Role(StrEnum):
    """A staff member's role: their Cognito group of the same name."""

    owner = "owner"
    marketer = "marketer"
    operator = "operator"
    viewer = "viewer"


# The strongest first: a user in several groups acts with the strongest.
_ROLE_ORDER = (Role.owner, Role.marketer, Role.operator, Role.viewer)


@dataclass(frozen=True)
class StaffIdentity:
    """The caller: ``subject`` is stable (Cognito's ``sub``, the IAM caller id),
    ``display`` is what people read (an email, an ARN)."""

    subject: str
    display: str
    role: Role
    kind: Literal["staff", "machine"]


class Need(StrEnum):
    """What a route needs of its caller (one entry of ``PERMISSIONS``)."""

    public = "public"  # no identity (the API's description, the dashboard's static page)
    signed_in = "signed_in"  # any role (who am I)
    read = "read"  # read the account's data
    change = "change"  # change the account's data
    staff = "staff"  # the staff users
    chat_read = "chat_read"  # read conversations and reply templates
    chat = "chat"  # answer friends, mark read, templates, take over / release
    friend_read = "friend_read"  # friends, a friend's detail and timeline, the tags
    friend_tag = "friend_tag"  # add / remove tags on one friend


ROLE_GRANTS: Mapping[Role, frozenset[Need]] = {
    Role.owner: frozenset(Need),
    Role.marketer: frozenset(Need) - {Need.staff},
    Role.operator: frozenset(
        {
            Need.public,
            Need.signed_in,
            Need.chat_read,
            Need.chat,
            Need.friend_read,
            Need.friend_tag,
        }
    ),
    Role.viewer: frozenset(
        {Need.public, Need.signed_in, Need.read, Need.chat_read, Need.friend_read}
    ),
}

_ROLE_SCOPE = {
    Role.owner: "an owner may do everything",
    Role.marketer: "everything but staff users",
    Role.operator: "chat, reading friends and tagging them only",
    Role.viewer: "read only",
}

_CHANNEL = "/admin/channels/<channel_id>"
_GET, _CHANGES = ("GET",), ("POST", "PUT", "PATCH", "DELETE")


def _entries(
    paths: Iterable[str], methods: Iterable[str], need: Need
) -> dict[tuple[str, str], Need]:
    return {
        (method, path if path.startswith("/admin/") else f"{_CHANNEL}{path}"): need
        for path in paths
        for method in methods
    }


# (method, route path as the resolver registers it) -> what the caller needs. Paths
# without the /admin/ prefix are under the channel. Every route of the admin function
# has an entry (a unit test lists any it misses); a route without one is refused.
PERMISSIONS: Mapping[tuple[str, str], Need] = {
    **_entries(
        (
            "/admin/openapi.json",
            "/admin/swagger",
            "/admin/dashboard",
            "/admin/dashboard/assets/<file>",
        ),
        _GET,
        Need.public,
    ),
    ("GET", "/admin/me"): Need.signed_in,
    # Staff users (owner only, reading included).
    **_entries(("/admin/staff", "/admin/staff/<username>"), ("GET", *_CHANGES), Need.staff),
    # The changes outside a channel name the staff users: owner only too.
    ("GET", "/admin/audit"): Need.staff,
    # Friends: an operator reads them and tags one at a time (no field values).
    **_entries(
        (
            "/friends",
            "/friends/<user_id>",
            "/friends/<user_id>/events",
            "/friends/<user_id>/link",
            "/friends/<user_id>/timeline",
            "/tags",
            "/tag-folders",
        ),
        _GET,
        Need.friend_read,
    ),
    ("PATCH", f"{_CHANNEL}/friends/<user_id>"): Need.friend_tag,
    # Chat: the conversations, replies, templates, take over and release.
    **_entries(
        (
            "/chat/conversations",
            "/chat/conversations/<user_id>/messages",
            "/chat/templates",
        ),
        _GET,
        Need.chat_read,
    ),
    **_entries(
        (
            "/chat/conversations/<user_id>/read",
            "/chat/conversations/<user_id>/replies",
            "/chat/templates",
            "/chat/templates/<template_id>",
            "/friends/<user_id>/chat-mode",
        ),
        _CHANGES,
        Need.chat,
    ),
    # Everything else a marketer reads...
    **_entries(
        (
            "/admin/login-keys",
            "/account-link",
            "/attribution",
            "/audit",
            "/broadcasts",
            "/broadcasts/<broadcast_id>",
            "/broadcasts/previews/<preview_id>",
            "/business-hours",
            "/deliveries",
            "/deliveries/<delivery_id>",
            "/delivery-policy",
            "/fields",
            "/friends/<user_id>/export",
            "/imports",
            "/imports/<job_id>",
            "/insight",
            "/liff",
            "/reports/campaigns",
            "/reports/campaigns/<campaign>",
            "/reports/campaigns/<campaign>/experiment",
            "/reports/routes",
            "/reports/scenarios/<scenario_id>/funnel",
            "/reports/timeline",
            "/richmenus",
            "/routes",
            "/routes/<route_id>",
            "/routes/<route_id>/qr.png",
            "/routes/<route_id>/qr.svg",
            "/rules",
            "/scenarios",
            "/scenarios/<scenario_id>",
            "/scenarios/<scenario_id>/enrollments/<job_id>",
            "/scenarios/<scenario_id>/plan",
            "/shop-login",
            "/web-tag/keys",
            "/segments",
            "/segments/<segment_id>",
            "/dashboard/summary",
            "/chat/settings",
        ),
        _GET,
        Need.read,
    ),
    # Trying a message against the rules, or counting a segment, changes nothing: a
    # viewer may.
    ("POST", f"{_CHANNEL}/rules/test"): Need.read,
    ("POST", f"{_CHANNEL}/segments/preview"): Need.read,
    # A rich menu's image, for the console's preview.
    ("GET", f"{_CHANNEL}/richmenus/<menu_id>/image"): Need.read,
    # ...and changes.
    **{
        (method, f"{_CHANNEL}{path}"): Need.change
        for method, path in (
            ("PUT", "/account-link"),
            ("DELETE", "/account-link"),
            ("PUT", "/attribution"),
            ("DELETE", "/attribution"),
            ("POST", "/broadcasts"),
            ("POST", "/broadcasts/<broadcast_id>/cancel"),
            ("POST", "/broadcasts/preview"),
            ("PUT", "/business-hours"),
            ("DELETE", "/business-hours"),
            ("POST", "/deliveries/<delivery_id>/redrive"),
            ("POST", "/deliveries/redrive-dead"),
            ("PUT", "/delivery-policy"),
            ("POST", "/fields"),
            ("PUT", "/fields/<key>"),
            ("DELETE", "/fields/<key>"),
            ("DELETE", "/friends/<user_id>"),
            ("DELETE", "/friends/<user_id>/link"),
            ("POST", "/friends/bulk"),
            ("POST", "/imports"),
            ("POST", "/imports/csv"),
            ("POST", "/imports/csv/uploads"),
            ("PUT", "/liff"),
            ("DELETE", "/liff"),
            ("PUT", "/richmenus"),
            ("POST", "/routes"),
            ("PUT", "/routes/<route_id>"),
            ("DELETE", "/routes/<route_id>"),
            ("PUT", "/rules"),
            ("PUT", "/scenarios/<scenario_id>"),
            ("POST", "/scenarios/<scenario_id>/archive"),
            ("POST", "/scenarios/<scenario_id>/enroll"),
            ("POST", "/scenarios/<scenario_id>/pause"),
            ("POST", "/scenarios/<scenario_id>/resume"),
            ("PUT", "/shop-login"),
            ("DELETE", "/shop-login"),
            ("POST", "/tag-folders"),
            ("DELETE", "/tag-folders/<folder_id>"),
            ("POST", "/tags"),
            ("PATCH", "/tags/<tag_id>"),
            ("DELETE", "/tags/<tag_id>"),
            ("POST", "/web-tag/keys"),
            ("DELETE", "/web-tag/keys/<key>"),
            ("POST", "/segments"),
            ("PUT", "/segments/<segment_id>"),
            ("DELETE", "/segments/<segment_id>"),
            ("POST", "/tags/<tag_id>/merge"),
            ("PUT", "/chat/settings"),
        )
    },
    ("POST", "/admin/login-keys/rotate"): Need.change,
}

# The body keys an operator's PATCH of a friend may carry (tags, not field values).
_TAG_CHANGES = frozenset({"add_tags", "remove_tags"})


# ---------------------------------------------------------------- identity
class NoIdentity(Forbidden):
    """The request carries no identity this function accepts."""


def identity_from_authorizer(authorizer: Mapping[str, Any] | None) -> StaffIdentity:
    """The caller, from an HTTP API (payload 2.0) ``requestContext.authorizer``."""
    if not authorizer:
        raise NoIdentity("no identity: the request was not authorized (IAM or a staff JWT)")
    iam = authorizer.get("iam")
    if isinstance(iam, Mapping):
        caller = str(iam.get("userArn") or iam.get("callerId") or iam.get("userId") or "iam")
        subject = str(iam.get("callerId") or iam.get("userId") or caller)
        return StaffIdentity(subject=subject, display=caller, role=Role.owner, kind="machine")
    jwt = authorizer.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping) or not claims.get("sub"):
        raise NoIdentity("no identity: the authorizer passed neither IAM nor JWT claims")
    role = role_from_groups(claims.get(GROUPS_CLAIM))
    if role is None:
        raise NoIdentity(
            "no role: the staff user is in no group owner, marketer, operator or viewer"
        )
    display = str(
        claims.get("email")
        or claims.get("cognito:username")
        or claims.get("username")
        or claims["sub"]
    )
    return StaffIdentity(subject=str(claims["sub"]), display=display, role=role, kind="staff")


def role_from_groups(groups: Any) -> Role | None:
    """The strongest role among Cognito groups given as a list or as HTTP API renders
    an array claim: the string "[owner marketer]" (or "owner,marketer")."""
    if isinstance(groups, str):
        names = set(re.split(r"[\s,]+", groups.strip().strip("[]")))
    elif isinstance(groups, list | tuple):
        names = {str(group).strip() for group in groups}
    else:
        return None
    return next((role for role in _ROLE_ORDER if role.value in names), None)


# ---------------------------------------------------------------- enforcement
def may(role: Role, need: Need) -> bool:
    return need in ROLE_GRANTS[role]


def forbidden_reason(role: Role, method: str, path: str) -> str:
    action = "read" if method == "GET" else "change"
    shown = re.sub(r"<(\w+)>", r"{\1}", path)
    return (
        f"forbidden: role {role.value} may not {action} {method} {shown} "
        f"({role.value}: {_ROLE_SCOPE[role]})"
    )


_Middleware = Callable[[APIGatewayHttpResolver, NextMiddleware], Response[Any]]


def require_permission(
    on_identity: Callable[[StaffIdentity], None] | None = None,
) -> _Middleware:
    """The middleware that checks ``PERMISSIONS`` before a route runs, and makes the
    caller ``current_identity()`` while it runs (``on_identity`` hears of it too)."""

    def check(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        route = app.context.get("_route")
        method, path = (route.method, route.path) if route is not None else ("", "")
        need = PERMISSIONS.get((method, path))
        if need is None and not _registered(app, route):
            return next_middleware(app)  # no such route: the resolver answers 404
        if need is None:
            raise Forbidden(f"forbidden: {method} {path} has no entry in the permission table")
        if need is Need.public:
            return next_middleware(app)
        authorizer = app.current_event.raw_event.get("requestContext", {}).get("authorizer")
        identity = identity_from_authorizer(authorizer)
        if not may(identity.role, need):
            raise Forbidden(forbidden_reason(identity.role, method, path))
        if need is Need.friend_tag and not may(identity.role, Need.change):
            _tags_only(identity.role, app.current_event.body)
        if on_identity is not None:
            on_identity(identity)
        token = _CALLER.set(identity)
        try:
            return next_middleware(app)
        finally:
            _CALLER.reset(token)

    return check


def checked_before(check: _Middleware, then: _Middleware) -> _Middleware:
    """A middleware that runs ``check`` and then ``then`` (the request validation, which
    Powertools runs before any other middleware)."""

    def middleware(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        def validated(checked: APIGatewayHttpResolver) -> Response[Any]:
            return then(checked, next_middleware)

        return check(app, cast(NextMiddleware, validated))

    return middleware


def _registered(app: APIGatewayHttpResolver, route: Any) -> bool:
    return any(known is route for known in (*app._static_routes, *app._dynamic_routes))


def _tags_only(role: Role, body: str | None) -> None:
    try:
        request = json.loads(body or "{}")
    except ValueError:
        return  # not JSON: the request validation answers it
    keys = set(request) if isinstance(request, dict) else set()
    if keys - _TAG_CHANGES:
        raise Forbidden(
            f"forbidden: role {role.value} may only add or remove tags on a friend, "
            f"not {', '.join(sorted(keys - _TAG_CHANGES))} ({role.value}: {_ROLE_SCOPE[role]})"
        )


# The caller of the request being answered, for the routes (set by the middleware).
_CALLER: ContextVar[StaffIdentity | None] = ContextVar("linecrm_admin_caller", default=None)


def current_identity() -> StaffIdentity | None:
    """The caller of the request being answered (None on public routes, outside one)."""
    return _CALLER.get()


def staff_display(named: str | None) -> str:
    """Who is acting (taking a chat, answering a friend): a signed-in staff member's
    display; a machine caller (IAM, the local admin token) may name someone, else its
    own identity."""
    identity = current_identity()
    if identity is None:
        return named or "staff"
    if identity.kind == "staff":
        return identity.display
    return named or identity.display
