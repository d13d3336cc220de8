"""Staff users (owner only; docs/staff.md): list them with their role, invite one with a
role (Cognito emails a temporary password), change a role, disable a user.

Users live in the staff user pool (Cognito); a role is the group of the same name. The
calls are few and small: a listing is one ListUsers page and one ListUsersInGroup per
role; a change is two or three Admin* calls.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from linecrm.admin.errors import AdminError, Conflict, InvalidInput, NotFound
from linecrm.admin.params import new_router, no_content, responses
from linecrm.admin.staff import ROLE_GRANTS, Role, current_identity
from linecrm.aws_errors import error_code

router = new_router()


class StaffPoolMissing(AdminError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class StaffUser(BaseModel):
    email: str
    role: Role | None = Field(description="null: in no role group (the user can do nothing)")
    enabled: bool
    status: str = Field(description="Cognito's: FORCE_CHANGE_PASSWORD until the first sign-in")


class StaffListResponse(BaseModel):
    users: list[StaffUser]


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class StaffInvite(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    role: Role


class StaffRoleChange(BaseModel):
    role: Role


class StaffDirectory:
    """The staff user pool, through Cognito's admin API."""

    def __init__(self, client: Any, pool_id: str) -> None:
        self._client = client
        self._pool_id = pool_id

    def _cognito(self) -> Any:  # boto3's cognito-idp client (no stubs installed)
        if self._client is None or not self._pool_id:
            raise StaffPoolMissing(
                "no staff user pool is configured for this deployment (docs/staff.md)"
            )
        return self._client

    def list(self) -> list[StaffUser]:
        cognito = self._cognito()
        roles: dict[str, Role] = {}
        for role in reversed(Role):  # the strongest last: it wins
            for user in _pages(cognito.list_users_in_group, self._pool_id, GroupName=role.value):
                roles[user["Username"]] = role
        users = [
            StaffUser(
                email=_email(user),
                role=roles.get(user["Username"]),
                enabled=bool(user.get("Enabled", True)),
                status=str(user.get("UserStatus", "")),
            )
            for user in _pages(cognito.list_users, self._pool_id)
        ]
        return sorted(users, key=lambda user: user.email)

    def invite(self, email: str, role: Role) -> StaffUser:
        cognito = self._cognito()
        try:
            created = cognito.admin_create_user(
                UserPoolId=self._pool_id,
                Username=email,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
                DesiredDeliveryMediums=["EMAIL"],
            )
        except Exception as error:
            if error_code(error) == "UsernameExistsException":
                raise Conflict(f"a staff user {email} exists already", field="email") from error
            if error_code(error) == "InvalidParameterException":
                # Cognito's own checks of the address (stricter than our pattern).
                raise InvalidInput(f"Cognito refused {email!r}: {error}", field="email") from error
            raise
        return self._in_role(email, role, dict(created["User"]))

    def set_role(self, email: str, role: Role) -> StaffUser:
        cognito = self._cognito()
        user = self._user(email)
        groups = cognito.admin_list_groups_for_user(UserPoolId=self._pool_id, Username=email)
        for group in groups.get("Groups", []):
            name = group.get("GroupName", "")
            if name in {other.value for other in Role} and name != role.value:
                cognito.admin_remove_user_from_group(
                    UserPoolId=self._pool_id, Username=email, GroupName=name
                )
        return self._in_role(email, role, user)

    def _in_role(self, email: str, role: Role, user: dict[str, Any]) -> StaffUser:
        """Add the user to the group of ``role``; the user as they are now."""
        self._cognito().admin_add_user_to_group(
            UserPoolId=self._pool_id, Username=email, GroupName=role.value
        )
        return StaffUser(
            email=email,
            role=role,
            enabled=bool(user.get("Enabled", True)),
            status=str(user.get("UserStatus", "")),
        )

    def disable(self, email: str) -> None:
        self._user(email)
        self._cognito().admin_disable_user(UserPoolId=self._pool_id, Username=email)

    def _user(self, email: str) -> dict[str, Any]:
        try:
            user: dict[str, Any] = dict(
                self._cognito().admin_get_user(UserPoolId=self._pool_id, Username=email)
            )
        except Exception as error:
            if error_code(error) == "UserNotFoundException":
                raise NotFound(f"no staff user {email}", field="email") from error
            raise
        return user


def _pages(call: Any, pool_id: str, **params: Any) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(UserPoolId=pool_id, **params, **({"NextToken": token} if token else {}))
        users.extend(page.get("Users", []))
        token = page.get("NextToken") or page.get("PaginationToken")
        if not token:
            return users


def _email(user: dict[str, Any]) -> str:
    for attribute in user.get("Attributes", []):
        if attribute.get("Name") == "email":
            return str(attribute.get("Value"))
    return str(user.get("Username", ""))


def staff_directory() -> StaffDirectory:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real pool."""
    return StaffDirectory(None, "")


Directory = Annotated[StaffDirectory, Depends(staff_directory)]
Email = Annotated[str, Path(min_length=3, max_length=254, description="the user's email")]


def _address(username: str) -> str:
    """The email in the path as typed: a browser sends ``@`` as ``%40`` and the route
    sees the raw path (API Gateway's ``rawPath``), so it is decoded here."""
    return unquote(username)


def _not_yourself(email: str, action: str) -> None:
    identity = current_identity()
    if identity is not None and identity.kind == "staff" and identity.display == email:
        raise Conflict(f"you may not {action} yourself: ask another owner", field="email")


class CallerResponse(BaseModel):
    subject: str
    display: str
    role: Role
    kind: str = Field(description="staff (a console user) or machine (IAM, the admin token)")
    grants: list[str] = Field(description="what the role may do (docs/staff.md)")


@router.get("/me", tags=["staff"], responses=responses(200, "Who is calling, with which role"))
def who_am_i() -> CallerResponse:
    """The caller and their role, for the console to show what they may do."""
    identity = current_identity()
    if identity is None:  # the permission check puts every caller here
        raise AdminError("no identity")
    return CallerResponse(
        subject=identity.subject,
        display=identity.display,
        role=identity.role,
        kind=identity.kind,
        grants=sorted(need.value for need in ROLE_GRANTS[identity.role]),
    )


@router.get("/staff", tags=["staff"], responses=responses(200, "The staff users"))
def list_staff(directory: Directory) -> StaffListResponse:
    """The staff users of the console with their role (owner only)."""
    return StaffListResponse(users=directory.list())


@router.post(
    "/staff", tags=["staff"], responses=responses(201, "Invited: Cognito emails them", 409)
)
def invite_staff(request: StaffInvite, directory: Directory) -> Response[Any]:
    """Invite a staff user with a role: Cognito emails a temporary password (owner only)."""
    user = directory.invite(request.email.strip().lower(), request.role)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=user.model_dump(mode="json"),
    )


@router.put(
    "/staff/<username>", tags=["staff"], responses=responses(200, "The user's new role", 404)
)
def change_staff_role(username: Email, request: StaffRoleChange, directory: Directory) -> StaffUser:
    """Change a staff user's role (owner only; not your own)."""
    email = _address(username)
    _not_yourself(email, "change the role of")
    return directory.set_role(email, request.role)


@router.delete(
    "/staff/<username>",
    tags=["staff"],
    responses=responses(204, "Disabled: they can no longer sign in", 404, body=False),
)
def disable_staff(username: Email, directory: Directory) -> Response[None]:
    """Disable a staff user: they can no longer sign in (owner only; not yourself)."""
    email = _address(username)
    _not_yourself(email, "disable")
    directory.disable(email)
    return no_content()
