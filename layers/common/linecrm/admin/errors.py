"""Errors the admin service raises for bad requests; ``api`` maps them to HTTP."""

from __future__ import annotations

from http import HTTPStatus


class AdminError(Exception):
    """A request the admin API refuses, with the reason and the request field at fault."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(AdminError):
    """The resource named in the path does not exist."""

    status = HTTPStatus.NOT_FOUND


class Conflict(AdminError):
    """The request contradicts the current state (a name taken, a folder not empty)."""

    status = HTTPStatus.CONFLICT


class InvalidInput(AdminError):
    """A well-formed request that refers to things that do not exist or do not fit."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class Forbidden(AdminError):
    """The caller's role may not do this (the reason names the role and the action)."""

    status = HTTPStatus.FORBIDDEN
