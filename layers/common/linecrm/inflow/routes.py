"""Managing a channel's inflow routes (the admin API and the CLI): create, change,
list, show with the report, delete, and the QR code of the route's URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.inflow import (
    MAX_ROUTES_PER_CHANNEL,
    InflowRoute,
    RouteSettings,
    new_code,
    route_url,
)
from linecrm.domain.tags import UnknownTag
from linecrm.inflow.qr import QrFormat, qr_code
from linecrm.repositories.inflow_routes import CodeTaken, RouteNotFound

_CODE_DRAWS = 5


class RouteRejected(ValueError):
    """The route names something that does not exist, or there are too many."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


class RouteRepository(Protocol):
    def create(self, route: InflowRoute) -> None: ...
    def update(
        self, channel_id: str, route_id: str, settings: RouteSettings, at: datetime
    ) -> InflowRoute: ...
    def get(self, channel_id: str, route_id: str) -> InflowRoute | None: ...
    def list(self, channel_id: str) -> list[InflowRoute]: ...
    def count(self, channel_id: str) -> int: ...
    def delete(self, channel_id: str, route_id: str) -> bool: ...


class ScenarioHeads(Protocol):
    def head(self, channel_id: str, scenario_id: str) -> Any: ...


class RouteService:
    def __init__(
        self,
        routes: RouteRepository,
        config: Callable[[str], ChannelConfig],
        scenarios: ScenarioHeads,
        clock: Callable[[], datetime],
        code: Callable[[], str] = new_code,
    ) -> None:
        self._routes = routes
        self._config = config
        self._scenarios = scenarios
        self._clock = clock
        self._code = code

    def create(self, channel_id: str, route_id: str, settings: RouteSettings) -> InflowRoute:
        self._check(channel_id, settings)
        if self._routes.count(channel_id) >= MAX_ROUTES_PER_CHANNEL:
            raise RouteRejected(
                f"a channel has at most {MAX_ROUTES_PER_CHANNEL} inflow routes; delete one",
                "route_id",
                409,
            )
        now = self._clock()
        for _ in range(_CODE_DRAWS):
            route = InflowRoute(
                channel_id=channel_id,
                route_id=route_id,
                code=self._code(),
                settings=settings,
                created_at=now,
                updated_at=now,
            )
            try:
                self._routes.create(route)
            except CodeTaken:
                continue
            return route
        raise RuntimeError(f"no free route code after {_CODE_DRAWS} draws")

    def update(self, channel_id: str, route_id: str, settings: RouteSettings) -> InflowRoute:
        self._check(channel_id, settings)
        return self._routes.update(channel_id, route_id, settings, self._clock())

    def get(self, channel_id: str, route_id: str) -> InflowRoute:
        route = self._routes.get(channel_id, route_id)
        if route is None:
            raise RouteNotFound(route_id)
        return route

    def list(self, channel_id: str) -> list[InflowRoute]:
        return sorted(self._routes.list(channel_id), key=lambda route: route.route_id)

    def delete(self, channel_id: str, route_id: str) -> None:
        """The route and its code go (its URL answers 404); friends keep the route id."""
        if not self._routes.delete(channel_id, route_id):
            raise RouteNotFound(route_id)

    def qr(
        self, channel_id: str, route_id: str, fmt: QrFormat, public_base_url: str, scale: int
    ) -> bytes:
        route = self.get(channel_id, route_id)
        return qr_code(
            route_url(public_base_url, route.code), fmt, scale=scale, title=route.settings.name
        )

    def _check(self, channel_id: str, settings: RouteSettings) -> None:
        config = self._config(channel_id)
        for index, name in enumerate(settings.tags):
            try:
                config.tags.resolve(name)
            except UnknownTag as error:
                raise RouteRejected(f"{error}; create it first", f"tags.{index}") from error
        if settings.scenario and self._scenarios.head(channel_id, settings.scenario) is None:
            raise RouteRejected(f"no scenario {settings.scenario!r}; apply it first", "scenario")
