"""Tags and tag folders. Friends carry tag ids, so renaming a tag touches one item."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from linecrm.admin.models import (
    FolderCreateRequest,
    FolderListResponse,
    TagCreateRequest,
    TagListResponse,
    TagMergeRequest,
    TagMergeResponse,
    TagUpdateRequest,
    TagUsage,
)
from linecrm.admin.params import (
    ChannelId,
    FolderId,
    TagId,
    Tags,
    created,
    new_router,
    no_content,
    responses,
)
from linecrm.domain.tags import Tag, TagFolder

router = new_router()


@router.get("/tags", tags=["tags"], responses=responses(200, "Tags and folders, by name"))
def list_tags(channel_id: ChannelId, service: Tags) -> TagListResponse:
    """Every tag and tag folder of the channel, each tag with the number of friends
    holding it (counters kept on every change: reading them is one BatchGetItem)."""
    tags = service.catalog(channel_id)
    counts = service.usage(channel_id)
    return TagListResponse(
        tags=[
            TagUsage(**tag.model_dump(), friend_count=counts.get(tag.tag_id, 0))
            for tag in tags.tags
        ],
        folders=tags.folders,
    )


@router.post("/tags", tags=["tags"], responses=responses(201, "The new tag", 409))
def create_tag(channel_id: ChannelId, request: TagCreateRequest, service: Tags) -> Response[Tag]:
    """Create a tag (names are unique per channel: 409 when taken)."""
    return created(service.create_tag(channel_id, request))


@router.patch("/tags/<tag_id>", tags=["tags"], responses=responses(200, "The tag", 404, 409))
def update_tag(
    channel_id: ChannelId, tag_id: TagId, request: TagUpdateRequest, service: Tags
) -> Tag:
    """Rename a tag and/or move it to another folder."""
    return service.update_tag(channel_id, tag_id, request)


@router.delete(
    "/tags/<tag_id>", tags=["tags"], responses=responses(204, "Deleted", 404, 409, body=False)
)
def delete_tag(channel_id: ChannelId, tag_id: TagId, service: Tags) -> Response[None]:
    """Delete a tag; friends that carried it simply no longer show it."""
    service.delete_tag(channel_id, tag_id)
    return no_content()


@router.post(
    "/tags/<tag_id>/merge",
    tags=["tags"],
    responses=responses(200, "Friends moved; done when the tag is gone", 404, 409),
)
def merge_tag(
    channel_id: ChannelId, tag_id: TagId, request: TagMergeRequest, service: Tags
) -> TagMergeResponse:
    """Merge a tag into another: its friends get the other tag, then it is deleted.

    Paged and idempotent: a call moves up to 200 friends; repeat the same request until
    ``done`` is true (the tag is then deleted). 409 while auto-response rules name the
    tag (change them first), 422 for an unknown ``into`` or the tag itself."""
    return service.merge(channel_id, tag_id, request.into)


@router.get("/tag-folders", tags=["tags"], responses=responses(200, "Tag folders, by name"))
def list_folders(channel_id: ChannelId, service: Tags) -> FolderListResponse:
    """Every tag folder of the channel."""
    return FolderListResponse(folders=service.catalog(channel_id).folders)


@router.post("/tag-folders", tags=["tags"], responses=responses(201, "The new folder", 409))
def create_folder(
    channel_id: ChannelId, request: FolderCreateRequest, service: Tags
) -> Response[TagFolder]:
    """Create a tag folder."""
    return created(service.create_folder(channel_id, request))


@router.delete(
    "/tag-folders/<folder_id>",
    tags=["tags"],
    responses=responses(204, "Deleted", 404, 409, body=False),
)
def delete_folder(channel_id: ChannelId, folder_id: FolderId, service: Tags) -> Response[None]:
    """Delete an empty tag folder (409 while tags are still in it)."""
    service.delete_folder(channel_id, folder_id)
    return no_content()
