"""Auto-login into the shop (docs/auto-login.md): the channel's setting and its rules.

A linked friend opens the shop logged in: linecrm mints a short-lived, single-use login
URL ``<base_url><login_path>?token=<JWT>`` bound to the member id and to a *target* path
on the shop; the shop verifies the token and sends the member's browser to the target.
So that this can never become an open redirect, the target is a path (never a URL, a
scheme-relative ``//host`` or a traversal) and must be on the channel's allow-list:
an exact path, or a prefix that ends in ``/``.

Everything here is plain values and rules, no AWS, HTTP or crypto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from linecrm.domain.id_links import LOCAL_HOSTS

SHOP_LOGIN_SETTING = "shop_login"
# How long a login URL works (the issue allows at most 5 minutes).
LOGIN_TOKEN_LIFETIME = timedelta(seconds=120)
MAX_LOGIN_TOKEN_LIFETIME = timedelta(minutes=5)
DEFAULT_LOGIN_PATH = "/auto-login"
MAX_ALLOWED_PATHS = 50
MAX_PATH_LENGTH = 256
MAX_TARGET_LENGTH = 1024
# A path: "/" and printable ASCII without the characters that end a path or start a
# query/fragment, and no backslash (browsers read "\" as "/": "/\evil.example").
_PATH = re.compile(r"^/[\x21-\x7e]*$")
_FORBIDDEN_IN_PATH = ("\\", "?", "#")
# Percent-encoded ".", "/", "\" and NUL: a traversal or a second slash in disguise.
_ENCODED_TRICKS = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
# The query of a target: printable ASCII, no fragment, no backslash.
_QUERY = re.compile(r"^[\x21-\x7e]*$")


class TargetRefused(ValueError):
    """The target cannot be logged into: its reason (a 4xx message)."""


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a safe absolute path on the shop (None: it is)."""
    if not _PATH.fullmatch(path) or any(char in path for char in _FORBIDDEN_IN_PATH):
        return (
            "a path starts with / and has printable ASCII only (no spaces, ?, # or \\; "
            "percent-encode other characters)"
        )
    if path.startswith("//"):
        return "a path may not start with // (a browser reads it as another host)"
    if any(segment in (".", "..") for segment in path.split("/")):
        return "a path may not contain . or .. segments"
    if _ENCODED_TRICKS.search(path):
        return "a path may not percent-encode '.', '/', '\\' or NUL"
    if "//" in path:
        return "a path may not contain an empty segment (//)"
    return None


def _checked_path(path: str) -> str:
    if len(path) > MAX_PATH_LENGTH:
        raise ValueError(f"at most {MAX_PATH_LENGTH} characters")
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(problem)
    return path


class ShopLoginSettings(BaseModel):
    """A channel's auto-login setting: where the shop is, which page verifies the token,
    and the paths a login may land on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(
        min_length=1,
        max_length=500,
        description="the shop's origin (and base path), e.g. https://shop.example; https "
        "only (http only for localhost / 127.0.0.1); no query or #fragment",
    )
    login_path: str = Field(
        default=DEFAULT_LOGIN_PATH,
        min_length=1,
        max_length=MAX_PATH_LENGTH,
        description="the shop's page that verifies the token: the login URL is "
        "<base_url><login_path>?token=…",
    )
    allow: list[str] = Field(
        min_length=1,
        max_length=MAX_ALLOWED_PATHS,
        description="the target paths a login may land on: an exact path (/mypage) or a "
        "prefix ending in / (/cart/ allows /cart/ and everything under it)",
    )

    @field_validator("base_url")
    @classmethod
    def _https(cls, url: str) -> str:
        if not re.fullmatch(r"[\x21-\x7e]+", url) or "\\" in url:
            raise ValueError("printable ASCII without spaces or backslashes")
        parts = urlsplit(url)
        local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
        if not (parts.scheme == "https" or local) or not parts.hostname:
            raise ValueError("an https URL (http only for localhost / 127.0.0.1)")
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise ValueError("no query or #fragment: the login URL adds ?token=…")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ValueError("no user name or password in the URL")
        base_path = parts.path.rstrip("/")
        if base_path and path_problem(base_path) is not None:
            raise ValueError(f"its path: {path_problem(base_path)}")
        return url.rstrip("/")

    @field_validator("login_path")
    @classmethod
    def _login_path(cls, path: str) -> str:
        return _checked_path(path)

    @field_validator("allow")
    @classmethod
    def _allow(cls, paths: list[str]) -> list[str]:
        for index, path in enumerate(paths):
            try:
                _checked_path(path)
            except ValueError as error:
                raise ValueError(f"allow[{index}] {path[:40]!r}: {error}") from error
        return list(dict.fromkeys(paths))

    def login_url(self, token: str) -> str:
        """The URL the friend's browser opens (the JWT is URL-safe base64 and dots)."""
        return f"{self.base_url}{self.login_path}?token={token}"

    def allows(self, target: str) -> bool:
        """Whether ``target`` (a path, optionally with a query) is on the allow-list."""
        path = target.split("?", 1)[0]
        return any(
            path == allowed or (allowed.endswith("/") and path.startswith(allowed))
            for allowed in self.allow
        )

    def checked_target(self, target: object) -> str:
        """``target`` if it is a safe path on the allow-list, else ``TargetRefused``."""
        if not isinstance(target, str) or not target:
            raise TargetRefused("target: a path on the shop, e.g. /mypage")
        if len(target) > MAX_TARGET_LENGTH:
            raise TargetRefused(f"target: at most {MAX_TARGET_LENGTH} characters")
        path, _, query = target.partition("?")
        problem = path_problem(path)
        if problem is not None:
            raise TargetRefused(f"target: {problem}")
        if "#" in query or "\\" in query or not _QUERY.fullmatch(query):
            raise TargetRefused("target: its query has printable ASCII only, no # or \\")
        if not self.allows(target):
            raise TargetRefused(
                "target: not on the channel's shop-login allow-list (no open redirect)"
            )
        return target


def stored_shop_login(settings: Mapping[str, Any]) -> ShopLoginSettings | None:
    """The setting from a channel's SETTINGS item (None: auto-login is not set up, or
    the stored value no longer validates, which is treated the same: no logins)."""
    raw = settings.get(SHOP_LOGIN_SETTING)
    if not raw:
        return None
    try:
        return ShopLoginSettings.model_validate(json.loads(str(raw)))
    except (ValueError, ValidationError):
        return None
