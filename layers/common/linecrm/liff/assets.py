"""The LIFF pages' built JS and CSS (web/liff, built by ``make liff`` with Vite).

Only files the build wrote are served, by exact name (no paths, so no traversal),
with their content type and a year-long immutable cache (the names carry a hash).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ENTRY = "src/main.ts"
MANIFEST = Path(".vite") / "manifest.json"
# Vite's output names: "<name>-<hash>.<ext>", flat (assetsDir "").
FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}\.[a-z0-9]{1,8}$")
# Text only: the bundle has no images or fonts (Vite inlines small ones; the pages use
# system fonts), and a text body needs no base64 through API Gateway.
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"


class AssetsMissing(RuntimeError):
    """The bundle was not built (run ``make liff``, or ``make dashboard`` for the
    admin dashboard's)."""


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class AssetBundle:
    """The built files, read once (a warm function serves them from memory)."""

    def __init__(self, directory: Path, build_command: str = "make liff") -> None:
        self._directory = directory
        self._build_command = build_command
        self._files: dict[str, Asset] | None = None
        self._entry: tuple[str, tuple[str, ...]] | None = None

    def _load(self) -> dict[str, Asset]:
        if self._files is None:
            if not (self._directory / MANIFEST).is_file():
                raise AssetsMissing(f"no bundle in {self._directory}: run `{self._build_command}`")
            files: dict[str, Asset] = {}
            for path in self._directory.iterdir():
                content_type = CONTENT_TYPES.get(path.suffix)
                if path.is_file() and content_type and FILE_NAME.fullmatch(path.name):
                    files[path.name] = Asset(path.name, content_type, path.read_bytes())
            self._files = files
        return self._files

    def entry(self) -> tuple[str, tuple[str, ...]]:
        """The entry script's file name and its style sheets'."""
        if self._entry is None:
            self._load()
            manifest = json.loads((self._directory / MANIFEST).read_text(encoding="utf-8"))
            chunk = manifest[ENTRY]
            self._entry = (str(chunk["file"]), tuple(str(css) for css in chunk.get("css", ())))
        return self._entry

    def get(self, name: str) -> Asset | None:
        """The built file called exactly ``name`` (None for anything else)."""
        if not FILE_NAME.fullmatch(name):
            return None
        return self._load().get(name)
