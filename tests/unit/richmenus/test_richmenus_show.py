"""What the console reads of an applied set: ``show`` gives the set as written (each
tracked URI area's own link, not its tracking URL), so applying it again changes
nothing; ``image`` gives each menu's image, and once the uploads bucket no longer keeps
it, draws a drawn one again (its fingerprint proves it the same) and refuses an
uploaded one."""

from __future__ import annotations

import base64
from io import BytesIO

import pytest
from PIL import Image

from linecrm.imports.storage import UploadStore
from linecrm.liff.settings import LIFF_SETTING
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.rich_menus import RichMenuRepository
from linecrm.repositories.tracked_links import TrackedLinkRepository
from linecrm.richmenus.service import ApplyRequest, RichMenuService, RichMenusMissing
from linecrm.tracking.links import LinkTracker
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.richmenus.test_richmenus_sync_job import Steps
from tests.unit.tracking.test_rich_menu_links import AT, LIFF_ID, MENUS, SHOP


def _service(aws: AwsWorld, *, kept: bool) -> tuple[RichMenuService, ChannelConfigRepository]:
    dynamodb, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    config = ChannelConfigRepository(dynamodb, table)
    uploads = UploadStore(aws.client("s3"), aws.resources.bucket_names["Uploads"])
    service = RichMenuService(
        RichMenuRepository(dynamodb, table),
        config.load,
        lambda: uploads,
        lambda: Steps(),
        lambda: AT,
        links=LinkTracker(TrackedLinkRepository(dynamodb, table), config.load, lambda: AT),
        read_image=uploads.read_if_kept if kept else (lambda _key: None),
    )
    return service, config


def test_the_set_is_shown_as_written_and_applying_it_again_changes_nothing(
    aws: AwsWorld,
) -> None:
    service, config = _service(aws, kept=True)
    config.set_setting(CHANNEL_ID, LIFF_SETTING, {"liff_id": LIFF_ID})
    applied = service.apply(
        CHANNEL_ID, ApplyRequest(menus=MENUS["menus"], default="main"), dry_run=False
    )
    assert applied.links  # the shop's links are tracked on LINE

    shown = service.show(CHANNEL_ID)
    assert shown.document is not None
    uris = [getattr(a.action, "uri", None) for a in shown.document.menus[0].areas]
    assert uris[0] == SHOP and uris[9] == SHOP
    assert all(link.uri not in uris for link in applied.links)

    again = shown.document.model_dump(mode="json")
    answer = service.apply(CHANNEL_ID, ApplyRequest(**again), dry_run=False)
    assert answer.action == "unchanged"


def test_an_expired_image_is_drawn_again_or_refused_when_it_was_uploaded(aws: AwsWorld) -> None:
    service, _ = _service(aws, kept=False)
    jpeg = BytesIO()
    Image.new("RGB", (2500, 843), "navy").save(jpeg, format="JPEG")
    request = ApplyRequest(
        menus=MENUS["menus"],
        default="main",
        images={"tab2": base64.b64encode(jpeg.getvalue()).decode()},
    )
    service.apply(CHANNEL_ID, request, dry_run=False)
    assert [(m.id, m.image) for m in service.show(CHANNEL_ID).menus] == [
        ("main", "generated"),
        ("tab2", "given"),
    ]

    drawn = service.image(CHANNEL_ID, "main")
    assert drawn.content_type == "image/png"
    assert Image.open(BytesIO(drawn.data)).size == (2500, 843)
    with pytest.raises(RichMenusMissing, match="no longer kept"):
        service.image(CHANNEL_ID, "tab2")
    kept, _ = _service(aws, kept=True)
    assert kept.image(CHANNEL_ID, "tab2").data == jpeg.getvalue()
