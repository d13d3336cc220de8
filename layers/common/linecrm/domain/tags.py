"""Tags and tag folders: how shops label friends (購入者, VIP, セミナー参加 …)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TAGS_PER_CHANNEL = 2_000
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def new_tag_id() -> str:
    return f"tag_{uuid.uuid4().hex[:12]}"


def new_folder_id() -> str:
    return f"folder_{uuid.uuid4().hex[:12]}"


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


class TagFolder(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, defer_build=True)

    folder_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)

    _name = field_validator("name")(_clean_name)


class Tag(BaseModel):
    """A tag; friends carry its id, so renaming it touches one item."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    tag_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    folder_id: str | None = Field(default=None, pattern=ID_PATTERN)

    _name = field_validator("name")(_clean_name)


class TagConflict(ValueError):
    """Another tag of the channel already has this name."""


class UnknownTag(LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"unknown tag: {reference}")
        self.reference = reference


class TagCatalog:
    """The tags of one channel, found by id or by name (names are unique per channel)."""

    def __init__(self, tags: list[Tag], folders: list[TagFolder]) -> None:
        self.tags = sorted(tags, key=lambda tag: tag.name)
        self.folders = sorted(folders, key=lambda folder: folder.name)
        self._by_id = {tag.tag_id: tag for tag in tags}
        self._by_name = {tag.name: tag for tag in tags}

    def resolve(self, reference: str) -> Tag:
        """A tag by id, or else by exact name."""
        tag = self._by_id.get(reference) or self._by_name.get(reference.strip())
        if tag is None:
            raise UnknownTag(reference)
        return tag

    def resolve_all(self, references: list[str] | frozenset[str]) -> list[Tag]:
        return [self.resolve(reference) for reference in references]

    def get(self, tag_id: str) -> Tag | None:
        return self._by_id.get(tag_id)

    def check_name_free(self, name: str, *, except_tag_id: str | None = None) -> None:
        holder = self._by_name.get(name.strip())
        if holder is not None and holder.tag_id != except_tag_id:
            raise TagConflict(f"a tag named {name!r} already exists ({holder.tag_id})")

    def has_folder(self, folder_id: str) -> bool:
        return any(folder.folder_id == folder_id for folder in self.folders)
