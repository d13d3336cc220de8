"""The admin console's built files (web/console, `make console`) at ``/console/``.

What CloudFront does on AWS, the local gateway does here: hashed assets under
``/console/assets/`` are immutable (cached for a year), ``index.html`` is revalidated
on every load, any other path under ``/console/`` without a file is a client route of
the single-page app and gets ``index.html`` (the SPA fallback), and
``/console/config.json`` tells the app where the API is and how staff sign in.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linecrm_local.lambda_runtime import REPO_ROOT
from linecrm_local.staff_oauth import DOMAIN

CONSOLE_PREFIX = "/console"
CONSOLE_DIST = REPO_ROOT / "web" / "console" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Types the console ships; mimetypes' guesses depend on the machine's /etc/mime.types.
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


@dataclass(frozen=True)
class StaticResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class ConsoleFiles:
    """Serves ``dist`` (the Vite build) under ``/console/``."""

    dist: Path = CONSOLE_DIST
    config: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def handles(path: str) -> bool:
        return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")

    def serve(self, method: str, path: str) -> StaticResponse:
        if method not in ("GET", "HEAD"):
            return _plain(405, "the console is static: GET or HEAD", [("Allow", "GET, HEAD")])
        if path == CONSOLE_PREFIX:
            return StaticResponse(308, [("Location", CONSOLE_PREFIX + "/")], b"")
        relative = path[len(CONSOLE_PREFIX) + 1 :]
        if relative == "config.json":
            body = json.dumps(self.config).encode()
            headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
            return StaticResponse(200, headers, body)
        root = self.dist.resolve()
        index = root / "index.html"
        if not index.is_file():
            return _plain(404, "the console is not built: run `make console`")
        target = (root / relative).resolve() if relative else index
        if not target.is_relative_to(root):
            return _plain(404, "Not Found")
        if target.is_file():
            cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
            return _file(target, cache)
        if relative.startswith("assets/") or "." in relative.rsplit("/", 1)[-1]:
            # A missing file (an old hash, a typo) stays a 404, never the app's HTML.
            return _plain(404, "Not Found")
        return _file(index, REVALIDATE)  # a client route: the app routes it


def content_type(path: Path) -> str:
    known = _TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _file(path: Path, cache: str) -> StaticResponse:
    headers = [
        ("Content-Type", content_type(path)),
        ("Cache-Control", cache),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return StaticResponse(200, headers, path.read_bytes())


def _plain(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> StaticResponse:
    body = json.dumps({"message": message}).encode()
    return StaticResponse(status, [("Content-Type", "application/json"), *(extra or [])], body)


def console_config(*channel_ids: str, client_id: str | None = None) -> dict[str, Any]:
    """The local console's config.json: the API on the same origin; staff sign in through
    the local managed login (``console_auth``) once the staff pool's client exists, and the
    admin token (a machine with the owner role) always."""
    return {
        "apiBaseUrl": "",
        "channels": list(channel_ids),
        "auth": console_auth(client_id) if client_id else {"mode": "none"},
    }


def console_auth(client_id: str) -> dict[str, Any]:
    """``mode: local``: the authorization code flow with PKCE at the local gateway's
    ``{domain}/oauth2/authorize`` and ``/oauth2/token`` (staff_oauth), as on AWS at
    Cognito's domain (``mode: cognito``); the admin token as well."""
    return {"mode": "local", "domain": DOMAIN, "clientId": client_id}
