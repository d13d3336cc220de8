"""Inflow routes: the signed login state, attribution in either order and within the
window only (once per follow), first and last touch, the counters, and the QR codes.
The repositories run on moto; the route's actions and signals are recorded."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import segno
from PIL import Image

from linecrm.domain.actions import AddTags, CrmAction, StartScenario
from linecrm.domain.automation import ActionReport, EventContext
from linecrm.domain.inflow import (
    CODE_PATTERN,
    InflowRoute,
    LoginState,
    RouteSettings,
    StateRejected,
    attributable,
    new_code,
    open_state,
    sign_state,
    state_channel,
    state_key,
)
from linecrm.domain.signals import (
    BehaviourEvent,
    Blocked,
    Followed,
    FriendSignal,
    IdLinked,
    Signals,
    Unlinked,
)
from linecrm.inflow.attribution import InflowAttribution
from linecrm.inflow.qr import qr_code
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.inflow_routes import InflowRouteRepository, RouteExists
from tests.unit.conftest import CHANNEL_ID, AwsWorld

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
ALICE = "U" + "a" * 32


# ---------------------------------------------------------------- the login state
def test_a_signed_state_opens_with_its_key_until_it_expires() -> None:
    key = state_key("login-secret")
    state = LoginState(
        CHANNEL_ID, "qr_shop_a", "nonce-1", int((T0 + timedelta(minutes=10)).timestamp())
    )
    text = sign_state(state, key)

    assert state_channel(text) == CHANNEL_ID
    assert open_state(text, key, T0) == state
    with pytest.raises(StateRejected, match="too long"):
        open_state(text, key, T0 + timedelta(minutes=11))
    with pytest.raises(StateRejected, match="not one linecrm signed"):
        open_state(text, state_key("another secret"), T0)
    signature = text.split(".")[1]
    forged = sign_state(LoginState(CHANNEL_ID, "ad_other", "nonce-1", state.expires_at), key)
    with pytest.raises(StateRejected, match="not one linecrm signed"):
        open_state(f"{forged.split('.')[0]}.{signature}", key, T0)  # another route, old MAC
    for malformed in ("", "abc", "a.b.c", "!!!.x", "e30.x", "x" * 2000):
        with pytest.raises(StateRejected):
            open_state(malformed, key, T0)


def test_codes_are_short_random_and_of_the_alphabet() -> None:
    import re

    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(CODE_PATTERN, code) for code in codes)


def test_the_window_counts_either_order() -> None:
    assert attributable(T0, T0 + WINDOW, WINDOW)  # login, then the follow
    assert attributable(T0 + WINDOW, T0, WINDOW)  # the follow (inside the login) first
    assert not attributable(T0, T0 + WINDOW + timedelta(seconds=1), WINDOW)
    assert not attributable(T0 + WINDOW + timedelta(seconds=1), T0, WINDOW)


def test_route_settings_check_the_landing_page_and_add_utm() -> None:
    with pytest.raises(ValueError, match="https"):
        RouteSettings(name="x", landing_url="http://shop.example/")
    with pytest.raises(ValueError, match="https"):
        RouteSettings(name="x", landing_url="javascript:alert(1)")
    settings = RouteSettings(
        name="x",
        tags=["VIP", "VIP", "QR"],
        landing_url="https://shop.example/lp?a=1#top",
        utm={"source": "poster", "medium": "qr"},
    )
    assert settings.tags == ["VIP", "QR"]
    route = InflowRoute(
        channel_id=CHANNEL_ID,
        route_id="r",
        code="abcdefgh",
        settings=settings,
        created_at=T0,
        updated_at=T0,
    )
    assert route.landing() == "https://shop.example/lp?a=1&utm_source=poster&utm_medium=qr#top"


# ---------------------------------------------------------------- QR codes
def test_qr_codes_are_valid_png_and_svg_of_the_url() -> None:
    url = "https://crm.example/r/abcdefgh"
    modules = segno.make(url, error="m", micro=False).symbol_size(scale=1, border=4)[0]

    png = Image.open(io.BytesIO(qr_code(url, "png", scale=5)))
    assert png.format == "PNG"
    assert png.size == (modules * 5, modules * 5)
    svg = ET.fromstring(qr_code(url, "svg", scale=3, title="Shibuya poster"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("width") == str(modules * 3)
    assert svg.find("{http://www.w3.org/2000/svg}title").text == "Shibuya poster"  # type: ignore[union-attr]


# ---------------------------------------------------------------- attribution
@dataclass
class RecordedActions:
    runs: list[tuple[str, list[CrmAction]]] = field(default_factory=list)

    def run(self, context: EventContext, actions: list[CrmAction], config: Any) -> ActionReport:
        self.runs.append((context.user_id, list(actions)))
        return ActionReport(applied=[f"{len(actions)} action(s)"])


@dataclass
class RecordedSignals:
    signals: list[FriendSignal] = field(default_factory=list)

    def on_signal(self, signal: FriendSignal) -> list[str]:
        self.signals.append(signal)
        return []


@dataclass
class World:
    routes: InflowRouteRepository
    friends: FriendRepository
    attribution: InflowAttribution
    actions: RecordedActions
    emitted: RecordedSignals
    now: list[datetime]

    def at(self, moment: datetime) -> None:
        self.now[0] = moment

    def follow(self, user_id: str, at: datetime) -> list[str]:
        refollow = self.friends.record_follow(CHANNEL_ID, user_id, at).value == "refollow"
        return list(
            self.attribution.on_signal(Followed(CHANNEL_ID, user_id, at, refollow=refollow))
        )

    def counters(self, route_id: str) -> dict[str, int]:
        route = self.routes.get(CHANNEL_ID, route_id)
        assert route is not None
        return route.counters.model_dump()

    def add_route(self, route_id: str, **settings: Any) -> None:
        self.routes.create(
            InflowRoute(
                channel_id=CHANNEL_ID,
                route_id=route_id,
                code=new_code(),
                settings=RouteSettings(name=route_id, **settings),
                created_at=T0,
                updated_at=T0,
            )
        )


@pytest.fixture
def world(aws: AwsWorld) -> World:
    client = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    routes = InflowRouteRepository(client, table)
    friends = FriendRepository(client, table)
    actions, emitted = RecordedActions(), RecordedSignals()
    now = [T0]
    attribution = InflowAttribution(
        routes,
        friends,
        config=lambda channel_id: None,  # type: ignore[arg-type,return-value]
        actions=lambda: actions,  # type: ignore[arg-type,return-value]
        signals=lambda: Signals(listeners=(emitted,)),
        clock=lambda: now[0],
        window=WINDOW,
    )
    built = World(routes, friends, attribution, actions, emitted, now)
    built.add_route("qr_shop_a", tags=["QR渋谷"], scenario="qr-welcome")
    built.add_route("ad_b")
    return built


def attributed(world: World) -> list[Followed]:
    return [s for s in world.emitted.signals if isinstance(s, Followed) and s.route_attribution]


def test_login_then_follow_is_attributed_once_with_the_routes_actions(world: World) -> None:
    assert world.attribution.touched(CHANNEL_ID, ALICE, "qr_shop_a") == [
        "touch kept: no follow yet"
    ]
    world.at(T0 + timedelta(minutes=10))
    notes = world.follow(ALICE, T0 + timedelta(minutes=10))

    assert "follow attributed to inflow route qr_shop_a" in notes
    assert world.actions.runs == [
        (ALICE, [AddTags(tags=["QR渋谷"]), StartScenario(scenario="qr-welcome")])
    ]
    (signal,) = attributed(world)
    assert (signal.inflow_route, signal.occurred_at) == ("qr_shop_a", T0 + timedelta(minutes=10))
    friend = world.friends.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert (friend.inflow_route, friend.last_inflow_route) == ("qr_shop_a", "qr_shop_a")
    assert world.counters("qr_shop_a") == {"friends": 1, "blocked": 0, "linked": 0, "converted": 0}

    # The login's callback of the same follow comes late: it finds the follow taken.
    assert world.attribution.touched(CHANNEL_ID, ALICE, "qr_shop_a") == [
        f"follow at {(T0 + timedelta(minutes=10)).isoformat(timespec='milliseconds')} "
        "attributed already"
    ]
    assert len(world.actions.runs) == 1
    assert world.counters("qr_shop_a")["friends"] == 1


def test_follow_then_login_is_attributed_by_the_callback(world: World) -> None:
    world.follow(ALICE, T0)  # inside LINE Login's add-friend prompt: no touch yet
    assert attributed(world) == []
    world.at(T0 + timedelta(minutes=2))

    notes = world.attribution.touched(CHANNEL_ID, ALICE, "qr_shop_a")

    assert "follow attributed to inflow route qr_shop_a" in notes
    assert len(world.actions.runs) == 1
    assert [s.inflow_route for s in attributed(world)] == ["qr_shop_a"]
    assert world.counters("qr_shop_a")["friends"] == 1


def test_both_parties_seeing_each_other_apply_the_route_once(world: World) -> None:
    # The race: the callback stored its touch and the webhook stored its follow, and
    # each now reads the other's write.
    world.routes.record_touch(CHANNEL_ID, ALICE, "qr_shop_a", T0, 2 * WINDOW)
    world.friends.record_follow(CHANNEL_ID, ALICE, T0)
    world.attribution.touched(CHANNEL_ID, ALICE, "qr_shop_a")
    world.attribution.on_signal(Followed(CHANNEL_ID, ALICE, T0))

    assert len(world.actions.runs) == 1
    assert len(attributed(world)) == 1
    assert world.counters("qr_shop_a")["friends"] == 1


def test_outside_the_window_nothing_is_attributed_in_either_order(world: World) -> None:
    world.attribution.touched(CHANNEL_ID, ALICE, "qr_shop_a")
    world.follow(ALICE, T0 + WINDOW + timedelta(seconds=1))
    bob = "U" + "b" * 32
    world.follow(bob, T0)
    world.at(T0 + WINDOW + timedelta(seconds=1))
    assert world.attribution.touched(CHANNEL_ID, bob, "qr_shop_a") == ["touch kept: no follow yet"]

    assert world.actions.runs == []
    assert attributed(world) == []
    assert world.counters("qr_shop_a")["friends"] == 0
    friend = world.friends.get(CHANNEL_ID, ALICE)
    assert friend is not None and friend.inflow_route is None


def test_first_touch_stays_last_touch_moves_and_the_counters_follow(world: World) -> None:
    world.attribution.touched(CHANNEL_ID, ALICE, "qr_shop_a")
    world.follow(ALICE, T0)
    world.attribution.on_signal(Blocked(CHANNEL_ID, ALICE, T0))
    world.friends.record_unfollow(CHANNEL_ID, ALICE, T0 + timedelta(minutes=1))
    world.attribution.on_signal(Blocked(CHANNEL_ID, ALICE, T0 + timedelta(minutes=1)))  # again
    assert world.counters("qr_shop_a")["blocked"] == 1

    later = T0 + timedelta(days=3)
    world.at(later)
    world.attribution.touched(CHANNEL_ID, ALICE, "ad_b")
    world.follow(ALICE, later)  # back, through another route

    friend = world.friends.get(CHANNEL_ID, ALICE)
    assert friend is not None
    assert (friend.inflow_route, friend.last_inflow_route) == ("qr_shop_a", "ad_b")
    assert friend.inflow_routes == {"qr_shop_a", "ad_b"}
    assert world.counters("qr_shop_a") == {"friends": 1, "blocked": 0, "linked": 0, "converted": 0}
    assert world.counters("ad_b")["friends"] == 1

    for signal in (
        IdLinked(CHANNEL_ID, ALICE, later, member_id="M1"),
        IdLinked(CHANNEL_ID, ALICE, later, member_id="M1"),
        BehaviourEvent(CHANNEL_ID, ALICE, later, "page_view", {}, "k0", "shop"),
        BehaviourEvent(CHANNEL_ID, ALICE, later, "purchase", {}, "k1", "shop"),
        BehaviourEvent(CHANNEL_ID, ALICE, later, "purchase", {}, "k2", "shop"),
    ):
        world.attribution.on_signal(signal)
    expected = {"friends": 1, "blocked": 0, "linked": 1, "converted": 1}
    assert world.counters("qr_shop_a") == expected
    assert world.counters("ad_b") == expected
    world.attribution.on_signal(Unlinked(CHANNEL_ID, ALICE, later, member_id="M1"))
    assert world.counters("ad_b")["linked"] == 0


def test_a_friend_without_a_route_moves_no_counter(world: World) -> None:
    world.follow(ALICE, T0)
    assert world.attribution.on_signal(Blocked(CHANNEL_ID, ALICE, T0)) == []
    assert world.counters("qr_shop_a") == {"friends": 0, "blocked": 0, "linked": 0, "converted": 0}


def test_a_deleted_route_attributes_nothing(world: World) -> None:
    world.attribution.touched(CHANNEL_ID, ALICE, "ad_b")
    assert world.routes.delete(CHANNEL_ID, "ad_b")
    notes = world.follow(ALICE, T0)

    assert notes == ["inflow route ad_b: deleted, not attributed"]
    assert world.routes.by_code("whatever") is None
    assert world.actions.runs == []


def test_route_ids_and_codes_are_unique(world: World) -> None:
    with pytest.raises(RouteExists):
        world.add_route("ad_b")
    route = world.routes.get(CHANNEL_ID, "qr_shop_a")
    assert route is not None
    assert world.routes.by_code(route.code) == route
    assert [r.route_id for r in world.routes.list(CHANNEL_ID)] == ["ad_b", "qr_shop_a"]
