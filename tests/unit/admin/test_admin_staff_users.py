"""The staff users' routes take the email in the path as a browser sends it."""

from __future__ import annotations

from typing import Any

from linecrm.admin.staff import Role
from linecrm.admin.staff_users import (
    StaffDirectory,
    StaffRoleChange,
    StaffUser,
    change_staff_role,
    disable_staff,
)


class _Directory(StaffDirectory):
    def __init__(self) -> None:
        super().__init__(None, "")
        self.calls: list[tuple[str, Any]] = []

    def set_role(self, email: str, role: Role) -> StaffUser:
        self.calls.append(("role", email))
        return StaffUser(email=email, role=role, enabled=True, status="CONFIRMED")

    def disable(self, email: str) -> None:
        self.calls.append(("disable", email))


def test_an_encoded_at_sign_in_the_path_is_the_email() -> None:
    directory = _Directory()
    changed = change_staff_role("sato%40shop.example", StaffRoleChange(role=Role.viewer), directory)
    assert changed.email == "sato@shop.example"
    disable_staff("sato%40shop.example", directory)
    disable_staff("kato@shop.example", directory)
    assert directory.calls == [
        ("role", "sato@shop.example"),
        ("disable", "sato@shop.example"),
        ("disable", "kato@shop.example"),
    ]
