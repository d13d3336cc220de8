"""The report service: reads counters (never friends or events) and answers reports.

Each report reads a fixed number of items, whatever the number of friends or events:

- one campaign: its counters (``STATS_SHARDS`` queries, every variant at once), its
  index entry (one GetItem), LINE's figures (one GetItem), and what names it (a
  broadcast: one GetItem; a step: the scenario's head and version; a rule: the
  channel's config);
- the campaign list: the index (one query), LINE's figures (one BatchGetItem per 100)
  and the above per campaign listed;
- a scenario's funnel: the scenario (two GetItems) and each step's counters;
- the inflow routes: one query (their counters live on the route items);
- the timeline: ``STATS_SHARDS`` range queries, and the channel's config (its time zone).

A rich menu's links (``richmenu:<menu id>``) send nothing: its ``sent`` is 0, so its
rates are null (taps without a denominator), and its name is the menu's (the applied
set: one GetItem per report).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from linecrm.domain import stats
from linecrm.domain.broadcasts import Broadcast
from linecrm.domain.campaigns import CHAT_CAMPAIGN, RICHMENU_KIND, WELCOME_CAMPAIGN, is_campaign
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.inflow import InflowRoute
from linecrm.domain.insight import CampaignInsight
from linecrm.reports.models import (
    CampaignList,
    CampaignReport,
    DayReport,
    Figures,
    FunnelStep,
    HoldoutReport,
    LineInsight,
    RouteReport,
    RoutesReport,
    ScenarioFunnel,
    Timeline,
    VariantReport,
)
from linecrm.repositories.campaign_stats import NO_VARIANT, Counters, IndexedCampaign, campaign_kind
from linecrm.repositories.rich_menus import StoredMenuSet
from linecrm.repositories.scenarios import ScenarioVersion

MAX_TIMELINE_DAYS = 366
DEFAULT_TIMELINE_DAYS = 30
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 200
LIST_READERS = 8  # campaigns read at once for a list
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BUILT_IN_NAMES = {
    WELCOME_CAMPAIGN: "welcome message (on follow)",
    CHAT_CAMPAIGN: "chat (staff replies)",
}


class ReportRejected(ValueError):
    """A report asked for with parameters that make no sense (a bad date, a range)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class CampaignNotFound(LookupError):
    def __init__(self, campaign: str) -> None:
        super().__init__(
            f"no campaign {campaign!r}: nothing was sent for it and what it names does not "
            "exist (list them with GET …/reports/campaigns)"
        )
        self.campaign = campaign


class ScenarioNotFound(LookupError):
    def __init__(self, scenario_id: str) -> None:
        super().__init__(f"no scenario {scenario_id!r}")
        self.scenario_id = scenario_id


# ---------------------------------------------------------------------- ports
class CampaignCounters(Protocol):
    def campaign(self, channel_id: str, campaign: str) -> dict[str, Counters]: ...
    def campaigns(self, channel_id: str, kind: str | None = None) -> list[IndexedCampaign]: ...
    def indexed(self, channel_id: str, campaign: str) -> IndexedCampaign | None: ...
    def days(self, channel_id: str, first: date, last: date) -> dict[date, Counters]: ...


class BroadcastLookup(Protocol):
    def get(self, channel_id: str, broadcast_id: str) -> Broadcast | None: ...


class ScenarioLookup(Protocol):
    def current(self, channel_id: str, scenario_id: str) -> ScenarioVersion | None: ...


class InsightLookup(Protocol):
    def get(self, channel_id: str, campaign: str) -> CampaignInsight | None: ...
    def get_many(self, channel_id: str, campaigns: Iterable[str]) -> dict[str, CampaignInsight]: ...


class MenuLookup(Protocol):
    def load(self, channel_id: str) -> StoredMenuSet | None: ...


class RouteLookup(Protocol):
    def list(self, channel_id: str) -> list[InflowRoute]: ...


# ---------------------------------------------------------------------- service
class ReportService:
    def __init__(
        self,
        counters: CampaignCounters,
        broadcasts: BroadcastLookup,
        scenarios: ScenarioLookup,
        routes: RouteLookup,
        config: Callable[[str], ChannelConfig],
        clock: Callable[[], datetime],
        insight: InsightLookup | None = None,
        menus: MenuLookup | None = None,
    ) -> None:
        self._counters = counters
        self._menus = menus
        self._insight = insight
        self._broadcasts = broadcasts
        self._scenarios = scenarios
        self._routes = routes
        self._config = config
        self._clock = clock

    def _names(self, channel_id: str) -> _Names:
        return _Names(channel_id, self._broadcasts, self._scenarios, self._config, self._menus)

    # ------------------------------------------------------------ campaigns
    def campaign(self, channel_id: str, campaign: str) -> CampaignReport:
        """One delivery's report; CampaignNotFound when nothing was sent for it and
        what it names (the broadcast, the scenario step, the rule) does not exist."""
        if not is_campaign(campaign):
            raise CampaignNotFound(campaign)
        by_variant = self._counters.campaign(channel_id, campaign)
        indexed = self._counters.indexed(channel_id, campaign)
        names = self._names(channel_id)
        if not by_variant and indexed is None and not names.exists(campaign):
            raise CampaignNotFound(campaign)
        line = self._insight.get(channel_id, campaign) if self._insight else None
        return self._report(campaign, by_variant, indexed, names, line)

    def campaigns(
        self, channel_id: str, kind: str | None = None, limit: int = DEFAULT_LIST_LIMIT
    ) -> CampaignList:
        """The channel's campaigns (of one kind), most recently sent first, with their
        figures: ``limit`` of them at most."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ReportRejected(f"limit is 1 to {MAX_LIST_LIMIT}", "limit")
        names = self._names(channel_id)
        entries = self._counters.campaigns(channel_id, kind)[:limit]
        line = (
            self._insight.get_many(channel_id, [entry.campaign for entry in entries])
            if self._insight and entries
            else {}
        )

        # Each campaign's counters are a few queries: run them side by side, so a list of
        # 50 costs the time of a few campaigns, not of 50 (boto3 clients are thread-safe).
        # Each runs in a copy of this context (what the runtime keeps in context
        # variables, e.g. whose call it is, holds there too).
        def read(entry: IndexedCampaign) -> dict[str, Counters]:
            return self._counters.campaign(channel_id, entry.campaign)

        contexts = [contextvars.copy_context() for _ in entries]
        with ThreadPoolExecutor(max_workers=LIST_READERS) as pool:
            counters = list(
                pool.map(lambda context, entry: context.run(read, entry), contexts, entries)
            )
        reports = [
            self._report(entry.campaign, by_variant, entry, names, line.get(entry.campaign))
            for entry, by_variant in zip(entries, counters, strict=True)
        ]
        return CampaignList(kind=kind, campaigns=reports)

    def _report(
        self,
        campaign: str,
        by_variant: Mapping[str, Counters],
        indexed: IndexedCampaign | None,
        names: _Names,
        line: CampaignInsight | None = None,
    ) -> CampaignReport:
        sent_variants = {
            variant: counts
            for variant, counts in by_variant.items()
            if variant != stats.HOLDOUT_VARIANT
        }
        variants = (
            []
            if set(sent_variants) <= {NO_VARIANT}
            else [
                VariantReport.of(variant, sent_variants[variant])
                for variant in sorted(sent_variants, key=lambda v: (v != NO_VARIANT, v))
            ]
        )
        holdout = by_variant.get(stats.HOLDOUT_VARIANT)
        total = _total(by_variant)
        zone = names.zone
        label = names.label(campaign)
        # A broadcast's start stands in for the index (written with its first chunk).
        first_sent_at = indexed.first_sent_at if indexed else label.started_at
        last_sent_at = indexed.last_sent_at if indexed else label.started_at
        scenario_id = step_id = None
        if campaign_kind(campaign) == "step":
            _, scenario_id, step_id = campaign.split(":", 2)
        return CampaignReport(
            campaign=campaign,
            kind=campaign_kind(campaign),
            name=label.name,
            scenario_id=scenario_id,
            step_id=step_id,
            first_sent_at=first_sent_at.astimezone(zone) if first_sent_at else None,
            last_sent_at=last_sent_at.astimezone(zone) if last_sent_at else None,
            variants=variants,
            holdout=HoldoutReport.of(holdout) if holdout is not None else None,
            line=_line(line, total.get(stats.SENT, 0), zone) if line is not None else None,
            **Figures.values(total),
        )

    # ------------------------------------------------------------ funnel
    def funnel(self, channel_id: str, scenario_id: str) -> ScenarioFunnel:
        """The scenario's steps in its order, each with sent, unique clicks and
        conversions (its current version's steps)."""
        current = self._scenarios.current(channel_id, scenario_id)
        if current is None:
            raise ScenarioNotFound(scenario_id)
        steps = []
        for step in current.definition.steps:
            campaign = f"step:{scenario_id}:{step.id}"
            total = _total(self._counters.campaign(channel_id, campaign))
            steps.append(
                FunnelStep(
                    step_id=step.id,
                    campaign=campaign,
                    sends_messages=bool(step.messages),
                    sent=total.get(stats.SENT, 0),
                    unique_clicks=total.get(stats.UNIQUE_CLICKS, 0),
                    ctr=stats.ctr(total),
                    conversions=total.get(stats.CONVERSIONS, 0),
                    cvr=stats.cvr(total),
                )
            )
        return ScenarioFunnel(scenario_id=scenario_id, name=current.definition.name, steps=steps)

    # ------------------------------------------------------------ inflow routes
    def routes(self, channel_id: str) -> RoutesReport:
        """Every inflow route's counters (kept on the route itself: one query)."""
        routes = sorted(self._routes.list(channel_id), key=lambda route: route.route_id)
        return RoutesReport(
            routes=[
                RouteReport(
                    route_id=route.route_id,
                    name=route.settings.name,
                    friends=route.counters.friends,
                    blocked=route.counters.blocked,
                    linked=route.counters.linked,
                    converted=route.counters.converted,
                    block_rate=stats.rate(route.counters.blocked, route.counters.friends),
                    conversion_rate=stats.rate(route.counters.converted, route.counters.friends),
                )
                for route in routes
            ]
        )

    # ------------------------------------------------------------ timeline
    def timeline(self, channel_id: str, first: str | None, last: str | None) -> Timeline:
        """Day by day in the account's time zone, ``first`` … ``last`` (YYYY-MM-DD,
        inclusive; default the 30 days up to today; from ``first`` alone its 30 days, up
        to today at most), days without activity as zeros."""
        zone_name = self._config(channel_id).delivery_policy.time_zone
        today = self._clock().astimezone(ZoneInfo(zone_name)).date()
        last_day = _parse_day(last, "to") if last is not None else None
        first_day = _parse_day(first, "from") if first is not None else None
        if last_day is None:
            last_day = today
            if first_day is not None and first_day <= today:
                # From a day: its 30 days, but no day to come (they would only be zeros).
                last_day = min(today, first_day + timedelta(days=DEFAULT_TIMELINE_DAYS - 1))
        if first_day is None:
            first_day = last_day - timedelta(days=DEFAULT_TIMELINE_DAYS - 1)
        if first_day > last_day:
            raise ReportRejected(f"from ({first_day}) is after to ({last_day})", "from")
        length = (last_day - first_day).days + 1
        if length > MAX_TIMELINE_DAYS:
            raise ReportRejected(
                f"from {first_day} to {last_day} is {length} days; a timeline covers at most "
                f"{MAX_TIMELINE_DAYS}",
                "to",
            )
        found = self._counters.days(channel_id, first_day, last_day)
        days = [
            DayReport.of(day, found.get(day, {}))
            for day in (first_day + timedelta(days=offset) for offset in range(length))
        ]
        return Timeline(time_zone=zone_name, days=days)


def _line(insight: CampaignInsight, sent: int, zone: ZoneInfo) -> LineInsight:
    figures = insight.statistics
    # A send through LINE's broadcast endpoint counts no ``sent``: LINE's delivered does.
    reached = sent or figures.delivered or 0
    return LineInsight(
        opens=figures.unique_impressions,
        open_rate=(
            stats.rate(figures.unique_impressions, reached)
            if figures.unique_impressions is not None
            else None
        ),
        line_unique_clicks=figures.unique_clicks,
        impressions=figures.impressions,
        line_clicks=figures.clicks,
        withheld=figures.withheld,
        final=insight.final,
        fetched_at=insight.fetched_at.astimezone(zone),
        over_unit_limit=insight.over_unit_limit,
        error=insight.error,
    )


def _total(by_variant: Mapping[str, Counters]) -> Counters:
    """The counters of every variant but the holdout (whose friends got nothing)."""
    total: Counters = {}
    for variant, counts in by_variant.items():
        if variant == stats.HOLDOUT_VARIANT:
            continue
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value
    return total


def _parse_day(value: str, field: str) -> date:
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ReportRejected(f"{field} {value!r} is not a date (YYYY-MM-DD, e.g. 2026-12-01)", field)


@dataclass(frozen=True)
class _Label:
    name: str | None
    started_at: datetime | None = None


class _Names:
    """What names a campaign, read once per report (a list shares the reads)."""

    def __init__(
        self,
        channel_id: str,
        broadcasts: BroadcastLookup,
        scenarios: ScenarioLookup,
        config: Callable[[str], ChannelConfig],
        menus: MenuLookup | None = None,
    ) -> None:
        self._channel_id = channel_id
        self._broadcasts = broadcasts
        self._scenarios = scenarios
        self._load_config = config
        self._menu_lookup = menus
        self._menu_set: StoredMenuSet | None = None
        self._menus_read = False
        self._config: ChannelConfig | None = None
        self._scenario_versions: dict[str, ScenarioVersion | None] = {}
        self._broadcast_found: dict[str, Broadcast | None] = {}

    @property
    def config(self) -> ChannelConfig:
        if self._config is None:
            self._config = self._load_config(self._channel_id)
        return self._config

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.delivery_policy.time_zone)

    def scenario(self, scenario_id: str) -> ScenarioVersion | None:
        if scenario_id not in self._scenario_versions:
            self._scenario_versions[scenario_id] = self._scenarios.current(
                self._channel_id, scenario_id
            )
        return self._scenario_versions[scenario_id]

    def broadcast(self, broadcast_id: str) -> Broadcast | None:
        if broadcast_id not in self._broadcast_found:
            self._broadcast_found[broadcast_id] = self._broadcasts.get(
                self._channel_id, broadcast_id
            )
        return self._broadcast_found[broadcast_id]

    def menu_name(self, menu_id: str) -> str | None:
        """The name of the applied set's menu ``menu_id`` (None: not in the set)."""
        if not self._menus_read and self._menu_lookup is not None:
            self._menu_set = self._menu_lookup.load(self._channel_id)
        self._menus_read = True
        if self._menu_set is None:
            return None
        return next((m.name for m in self._menu_set.document.menus if m.id == menu_id), None)

    def rule(self, rule_id: str) -> dict[str, Any] | None:
        return next((rule for rule in self.config.rules if rule.get("rule_id") == rule_id), None)

    def exists(self, campaign: str) -> bool:
        """Whether what the campaign names exists (nothing may have been sent yet)."""
        kind, _, rest = campaign.partition(":")
        if kind == "broadcast":
            return self.broadcast(rest) is not None
        if kind == "step":
            scenario_id, _, step_id = rest.partition(":")
            current = self.scenario(scenario_id)
            return current is not None and any(
                step.id == step_id for step in current.definition.steps
            )
        if kind == "rule":
            return self.rule(rest) is not None
        if kind == RICHMENU_KIND:
            return self.menu_name(rest) is not None
        return campaign in _BUILT_IN_NAMES

    def label(self, campaign: str) -> _Label:
        kind, _, rest = campaign.partition(":")
        if kind == "broadcast":
            broadcast = self.broadcast(rest)
            if broadcast is None:
                return _Label(None)
            return _Label(broadcast.name, broadcast.started_at)
        if kind == "step":
            scenario_id, _, step_id = rest.partition(":")
            current = self.scenario(scenario_id)
            return _Label(f"{current.definition.name} / {step_id}" if current else None)
        if kind == "rule":
            rule = self.rule(rest)
            return _Label(str(rule["name"]) if rule and rule.get("name") else None)
        if kind == RICHMENU_KIND:
            return _Label(self.menu_name(rest))
        return _Label(_BUILT_IN_NAMES.get(campaign))
