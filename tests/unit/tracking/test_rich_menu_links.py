"""Rich menu links: ``LinkTracker.track_menus`` rewrites a menu's ``uri`` areas through
the click page (campaign ``richmenu:<menu id>``) and leaves postbacks, tabs, other
schemes, tracking URLs and our own LIFF pages alone; the apply stores and fingerprints
the tracked set, so re-applying it changes nothing, and the sync job puts those URLs
on LINE. A channel without LIFF gets its menus as written."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from linecrm.delivery.pacing import Pacer
from linecrm.domain.campaigns import is_campaign, richmenu_campaign
from linecrm.domain.stats import CLICKS, UNIQUE_CLICKS
from linecrm.domain.tracked_links import MAX_URI_LENGTH, TrackedLink, token_of
from linecrm.imports.storage import UploadStore
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.liff.settings import LIFF_SETTING
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.rich_menus import RichMenuRepository
from linecrm.repositories.tracked_links import TrackedLinkRepository
from linecrm.repositories.tracking_markers import TrackingMarkers
from linecrm.richmenus.jobs import RichMenuSyncRunner
from linecrm.richmenus.model import MenuSet, UriAction
from linecrm.richmenus.service import ApplyRequest, RichMenuService
from linecrm.richmenus.sync import Relinker
from linecrm.tracking.clicks import ClickRecorder
from linecrm.tracking.links import LinkTracker
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.richmenus.test_richmenus_sync import FakeLine
from tests.unit.richmenus.test_richmenus_sync_job import Repairs, Steps
from tests.unit.tracking.test_tracker_and_clicks import AT, CountingLinks, _config

LIFF_ID = "2000000002-AbCdEfGh"
SHOP = "https://shop.example/sale?utm_source=richmenu"
COUPON = "https://shop.example/coupon"
CARD = f"https://liff.line.me/{LIFF_ID}/card"  # our member card: identifies the friend itself
TRACKED_ALREADY = f"https://liff.line.me/{LIFF_ID}/click?t={'a' * 22}"
OTHER_LIFF = "https://liff.line.me/1999999999-Zzzzzzzz/reserve"  # someone else's LIFF app
LONG = "https://shop.example/" + "x" * (MAX_URI_LENGTH - len("https://shop.example/"))


def _area(x: int, action: dict[str, Any]) -> dict[str, Any]:
    return {"bounds": {"x": x, "y": 0, "width": 100, "height": 843}, "action": action}


MENUS: dict[str, Any] = {
    "menus": [
        {
            "id": "main",
            "name": "メイン",
            "size": "compact",
            "areas": [
                _area(0, {"type": "uri", "uri": SHOP}),
                _area(100, {"type": "postback", "data": "linecrm=1&tag.add=VIP"}),
                _area(200, {"type": "richmenuswitch", "to": "tab2"}),
                _area(300, {"type": "uri", "uri": "tel:0312345678"}),
                _area(400, {"type": "uri", "uri": CARD}),
                _area(500, {"type": "uri", "uri": TRACKED_ALREADY}),
                _area(600, {"type": "message", "text": "こんにちは"}),
                _area(700, {"type": "uri", "uri": OTHER_LIFF}),
                _area(800, {"type": "uri", "uri": LONG}),
                _area(900, {"type": "uri", "uri": SHOP}),  # the same URL again: one link
                _area(1000, {"type": "uri", "uri": f"https://miniapp.line.me/{LIFF_ID}"}),
            ],
        },
        {
            "id": "tab2",
            "name": "タブ2",
            "size": "compact",
            "areas": [_area(0, {"type": "uri", "uri": COUPON})],
        },
    ],
    "default": "main",
}


def _uris(menu_set: MenuSet, menu_id: str) -> list[str | None]:
    return [
        area.action.uri if isinstance(area.action, UriAction) else None
        for area in menu_set.menu(menu_id).areas
    ]


def _tracker(aws: AwsWorld, settings: dict[str, Any]) -> tuple[LinkTracker, CountingLinks]:
    links = CountingLinks(aws.client("dynamodb"), aws.resources.table_names["Main"])
    return LinkTracker(links, lambda _: _config(settings), lambda: AT), links


def test_a_menus_uri_areas_are_tracked_and_nothing_else(aws: AwsWorld) -> None:
    tracker, links = _tracker(aws, {LIFF_SETTING: f'{{"liff_id": "{LIFF_ID}"}}'})
    source = MenuSet.model_validate(MENUS)

    tracked, menu_links = tracker.track_menus(CHANNEL_ID, source)

    uris = _uris(tracked, "main")
    click = f"https://liff.line.me/{LIFF_ID}/click?t="
    assert uris[0] is not None and uris[0].startswith(click)
    assert uris[3:6] == ["tel:0312345678", CARD, TRACKED_ALREADY]  # as written
    assert uris[10] == f"https://miniapp.line.me/{LIFF_ID}"  # our app as a LINE MINI App
    assert uris[7] is not None and uris[7].startswith(click)  # another app's LIFF URL
    assert uris[8] is not None and uris[8].startswith(click)  # 1,000 characters: tracked
    assert uris[9] == uris[0]  # one token per URL and menu
    assert all(uri is None or len(uri) <= MAX_URI_LENGTH for uri in uris)
    # Postback, tab and message areas are the same objects' values.
    for index in (1, 2, 6):
        assert tracked.menu("main").areas[index] == source.menu("main").areas[index]
    assert [(link.menu, link.area) for link in menu_links] == [
        ("main", 0),
        ("main", 7),
        ("main", 8),
        ("main", 9),
        ("tab2", 0),
    ]
    (coupon,) = [u for u in _uris(tracked, "tab2") if u]
    token = token_of(coupon)
    assert token is not None
    assert links.get(token) == TrackedLink(token, CHANNEL_ID, "richmenu:tab2", None, COUPON)
    shop_token = token_of(uris[0])
    assert shop_token is not None
    assert links.get(shop_token) == TrackedLink(
        shop_token, CHANNEL_ID, richmenu_campaign("main"), None, SHOP
    )
    assert links.puts == 4  # SHOP, OTHER_LIFF, LONG and COUPON; SHOP's repeat is known
    # The document as LINE gets it is still a valid menu set (limits and references).
    assert MenuSet.model_validate(tracked.model_dump()) == tracked


def test_tracking_again_gives_the_same_urls_and_a_dry_run_stores_nothing(aws: AwsWorld) -> None:
    settings = {LIFF_SETTING: f'{{"liff_id": "{LIFF_ID}"}}'}
    first_tracker, first_links = _tracker(aws, settings)
    dry_tracker, dry_links = _tracker(aws, settings)
    source = MenuSet.model_validate(MENUS)

    dry, dry_menu_links = dry_tracker.track_menus(CHANNEL_ID, source, record=False)
    assert dry_links.puts == 0
    first, first_menu_links = first_tracker.track_menus(CHANNEL_ID, source)
    again, _ = _tracker(aws, settings)[0].track_menus(CHANNEL_ID, source)  # a cold environment
    assert dry == first == again and dry_menu_links == first_menu_links
    assert first_links.puts == 4


def test_a_channel_without_liff_gets_its_menus_as_written(aws: AwsWorld) -> None:
    source = MenuSet.model_validate(MENUS)
    for settings in ({}, {LIFF_SETTING: '{"liff_id": "not-a-liff-id"}'}):
        tracker, links = _tracker(aws, settings)
        assert tracker.track_menus(CHANNEL_ID, source) == (source, [])
        assert links.puts == 0


def test_the_campaign_key_of_a_menu() -> None:
    assert richmenu_campaign("main") == "richmenu:main"
    assert is_campaign("richmenu:main") and is_campaign("richmenu:vip-2_tab")
    assert not is_campaign("richmenu:") and not is_campaign("richmenu:a:b")


# ------------------------------------------------------------------ apply and sync
class BodyLine(FakeLine):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    def create_rich_menu(self, menu: dict[str, object]) -> str:
        self.bodies.append(dict(menu))
        return super().create_rich_menu(menu)


def _world(aws: AwsWorld) -> tuple[RichMenuService, RichMenuSyncRunner, BodyLine, Any]:
    dynamodb, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    repository = RichMenuRepository(dynamodb, table)
    config = ChannelConfigRepository(dynamodb, table)
    uploads = UploadStore(aws.client("s3"), aws.resources.bucket_names["Uploads"])
    stats = CampaignStatsRepository(dynamodb, table)
    line, steps = BodyLine(), Steps()
    tracker = LinkTracker(TrackedLinkRepository(dynamodb, table), config.load, lambda: AT)
    service = RichMenuService(
        repository,
        config.load,
        lambda: uploads,
        lambda: steps,
        lambda: AT,
        links=tracker,
        campaigns=stats,
    )
    runner = RichMenuSyncRunner(
        repository,
        config.load,
        config,
        uploads.read,
        lambda _c: line,
        Relinker(
            FriendRepository(dynamodb, table),
            lambda _c: line,
            Pacer(1, sleep=lambda _s: None),
            lambda: AT,
            lambda: Repairs(),
        ),
        lambda: steps,
        lambda: AT,
    )
    return service, runner, line, (config, stats, dynamodb, table)


def _budget() -> StepBudget:
    return StepBudget(lambda: 900_000, max_chunks=10)


def _request() -> ApplyRequest:
    return ApplyRequest(menus=MENUS["menus"], default="main")


def test_an_applied_menu_goes_to_line_tracked_and_a_tap_counts_on_its_campaign(
    aws: AwsWorld,
) -> None:
    service, runner, line, (config, stats, dynamodb, table) = _world(aws)
    config.set_setting(CHANNEL_ID, LIFF_SETTING, {"liff_id": LIFF_ID})

    dry = service.apply(CHANNEL_ID, _request(), dry_run=True)
    assert dry.action == "would_apply" and len(dry.links) == 5
    assert stats.campaigns(CHANNEL_ID) == []  # a dry run indexes (and stores) nothing

    applied = service.apply(CHANNEL_ID, _request(), dry_run=False)
    assert applied.links == dry.links
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.DONE
    main = next(body for body in line.bodies if body["name"] == "メイン")
    on_line = [area["action"].get("uri") for area in main["areas"]]
    assert on_line[0] == applied.links[0].uri and SHOP not in on_line
    assert on_line[4] == CARD
    assert service.show(CHANNEL_ID).links == applied.links
    listed = stats.campaigns(CHANNEL_ID, "richmenu")
    assert sorted(entry.campaign for entry in listed) == ["richmenu:main", "richmenu:tab2"]

    # The same file again: the same tracked set, so unchanged, and no LINE call.
    line.calls.clear()
    again = service.apply(CHANNEL_ID, _request(), dry_run=False)
    assert again.action == "unchanged" and again.links == applied.links
    assert line.calls == []

    # A tap on the menu's area: the click recorder counts it on richmenu:main.
    recorder = ClickRecorder(
        TrackedLinkRepository(dynamodb, table),
        TrackingMarkers(dynamodb, table),
        stats,
        lambda: AT,
        lambda _: ZoneInfo("Asia/Tokyo"),
    )
    token = token_of(applied.links[0].uri)
    assert token is not None
    link = recorder.link(token)
    assert link is not None and link.url == SHOP
    recorder.record(link, "U1")
    recorder.record(link, "U1")
    assert stats.campaign_total(CHANNEL_ID, "richmenu:main") == {CLICKS: 2, UNIQUE_CLICKS: 1}


def test_liff_set_up_later_makes_the_next_apply_put_tracked_menus_on_line(
    aws: AwsWorld,
) -> None:
    service, runner, line, (config, stats, _dynamodb, _table) = _world(aws)
    untracked = service.apply(CHANNEL_ID, _request(), dry_run=False)
    assert untracked.links == []
    assert runner.run_step(CHANNEL_ID, 1, _budget()) is StepOutcome.DONE
    assert SHOP in [area["action"].get("uri") for area in line.bodies[0]["areas"]]
    assert stats.campaigns(CHANNEL_ID) == []

    config.set_setting(CHANNEL_ID, LIFF_SETTING, {"liff_id": LIFF_ID})
    line.bodies.clear()
    tracked = service.apply(CHANNEL_ID, _request(), dry_run=False)
    assert tracked.action == "applied" and {m.change for m in tracked.menus} == {"changed"}
    assert runner.run_step(CHANNEL_ID, 2, _budget()) is StepOutcome.DONE
    assert len(line.bodies) == 2
    assert all(SHOP not in str(body) and COUPON not in str(body) for body in line.bodies)


def test_the_index_records_when_the_menus_links_went_live(aws: AwsWorld) -> None:
    service, _runner, _line, (config, stats, _dynamodb, _table) = _world(aws)
    config.set_setting(CHANNEL_ID, LIFF_SETTING, {"liff_id": LIFF_ID})
    service.apply(CHANNEL_ID, _request(), dry_run=False)
    indexed = stats.indexed(CHANNEL_ID, "richmenu:main")
    assert indexed is not None
    assert (indexed.kind, indexed.first_sent_at, indexed.last_sent_at) == ("richmenu", AT, AT)
