import { Card, Group, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useEffect, useMemo, useRef } from "react";
import { ok, type Schemas } from "../api/client";
import { Chart, type ChartOption } from "../components/Chart";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime, money, percent, shortDay } from "../format";
import { useI18n } from "../i18n";
import { campaignLabel, quotaShare, rankCampaigns } from "./dashboardLogic";

type Summary = Schemas["DashboardSummary"];
type Quota = Schemas["Quota"];
type Campaign = Schemas["CampaignReport"];

// While the API reads the quota from LINE again (quotaRefreshing), ask again this often.
const QUOTA_RETRY_MS = 3000;
const QUOTA_RETRIES = 30;

export function Dashboard() {
  const { api, channelId, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const summary = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/dashboard/summary", { params: { path, query: { days: 30 } } })),
    [channelId],
  );
  const retries = useRef(0);
  const { reload: reloadSummary } = summary;
  const refreshing = summary.data?.quotaRefreshing ?? false;
  useEffect(() => {
    if (!refreshing || retries.current >= QUOTA_RETRIES) return;
    const timer = setTimeout(() => {
      retries.current += 1;
      reloadSummary();
    }, QUOTA_RETRY_MS);
    return () => clearTimeout(timer);
  }, [summary.data, refreshing, reloadSummary]);
  const campaigns = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/reports/campaigns", { params: { path, query: { limit: 50 } } })),
    [channelId],
  );

  return (
    <Stack>
      <Title order={2}>{t("dashboard.title")}</Title>
      <ErrorNote error={summary.error} />
      {summary.loading && !summary.data && <Loading />}
      {summary.data && (
        <>
          <Card withBorder id="friends-chart-card">
            <Title order={3} size="h4">
              {t("dashboard.friendsChart")}
            </Title>
            <FriendsChart summary={summary.data} />
          </Card>
          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <Card withBorder id="deliveries-chart-card">
              <Title order={3} size="h4">
                {t("dashboard.deliveriesChart")}
              </Title>
              <DeliveriesChart summary={summary.data} />
            </Card>
            <Card withBorder id="dashboard-quota">
              <Title order={3} size="h4">
                {t("dashboard.quota")}
              </Title>
              <QuotaCard quota={summary.data.quota} refreshing={summary.data.quotaRefreshing} />
            </Card>
          </SimpleGrid>
        </>
      )}
      <ErrorNote error={campaigns.error} />
      {campaigns.loading && <Loading />}
      {campaigns.data && (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          {(["best", "worst"] as const).map((which) => (
            <Card withBorder key={which} id={`campaigns-${which}`}>
              <Title order={3} size="h4">
                {t(which === "best" ? "dashboard.best" : "dashboard.worst")}
              </Title>
              <CampaignTable rows={rankCampaigns(campaigns.data!.campaigns)[which]} language={language} />
            </Card>
          ))}
        </SimpleGrid>
      )}
    </Stack>
  );

  function DeliveriesChart({ summary: data }: { summary: Summary }) {
    const option = useMemo<ChartOption>(
      () => ({
        tooltip: { trigger: "axis" },
        grid: { left: 48, right: 16, top: 16, bottom: 30 },
        xAxis: { type: "category", data: data.days.map((d) => shortDay(d.date)) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          {
            name: t("dashboard.deliveries"),
            type: "bar",
            data: data.days.map((d) => d.deliveries),
            color: "#06c755",
          },
        ],
      }),
      [data],
    );
    const total = data.days.reduce((sum, d) => sum + d.deliveries, 0);
    return (
      <Stack gap="xs">
        <Chart id="chart-deliveries" option={option} label={t("dashboard.deliveriesChart")} height={240} />
        <Text size="sm" id="deliveries-total">
          {t("dashboard.deliveriesTotal", { count: count(total, language) })}
        </Text>
      </Stack>
    );
  }

  function QuotaCard({ quota, refreshing: busy }: { quota: Quota | null; refreshing: boolean }) {
    if (!quota) {
      return (
        <Text c="dimmed" id="quota-missing">
          {t(busy ? "dashboard.quotaReading" : "dashboard.quotaMissing")}
        </Text>
      );
    }
    const share = quotaShare(quota);
    return (
      <Stack gap="xs">
        <Text size="xl" fw={700} id="quota-used">
          {quota.limit != null
            ? t("dashboard.quotaUsed", { used: count(quota.used, language), limit: count(quota.limit, language) })
            : t("dashboard.quotaUnlimited", { used: count(quota.used, language) })}
        </Text>
        {share != null && (
          <Progress
            value={Math.min(100, share * 100)}
            color={share >= 0.9 ? "red" : share >= 0.7 ? "yellow" : "green"}
            aria-label={t("dashboard.quota")}
          />
        )}
        {quota.remaining != null && (
          <Text size="sm">{t("dashboard.quotaRemaining", { count: count(quota.remaining, language) })}</Text>
        )}
        <Text size="xs" c="dimmed">
          {t("dashboard.quotaFetched", { at: dateTime(quota.fetchedAt, timeZone, language) })}
          {busy ? ` · ${t("dashboard.quotaRefreshing")}` : ""}
        </Text>
      </Stack>
    );
  }

  function FriendsChart({ summary: data }: { summary: Summary }) {
    const option = useMemo<ChartOption>(() => {
      const days = data.days;
      return {
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: [t("dashboard.added"), t("dashboard.blocked"), t("dashboard.net")] },
        grid: { left: 40, right: 16, top: 40, bottom: 30 },
        xAxis: { type: "category", data: days.map((d) => shortDay(d.date)) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t("dashboard.added"), type: "bar", data: days.map((d) => d.friendsAdded), color: "#06c755" },
          { name: t("dashboard.blocked"), type: "bar", data: days.map((d) => -d.blocked), color: "#e5484d" },
          { name: t("dashboard.net"), type: "line", data: days.map((d) => d.net), color: "#3b5bdb" },
        ],
      };
    }, [data]);
    const added = data.days.reduce((sum, d) => sum + d.friendsAdded, 0);
    const blocked = data.days.reduce((sum, d) => sum + d.blocked, 0);
    const first = data.days[0]?.date ?? "";
    const last = data.days[data.days.length - 1]?.date ?? "";
    return (
      <Stack gap="xs">
        <Chart id="chart-friends" option={option} label={t("dashboard.friendsChart")} />
        <Group justify="space-between">
          <Text size="sm" id="friends-totals">
            {t("dashboard.totals", { added: count(added), blocked: count(blocked), net: count(added - blocked) })}
          </Text>
          <Text size="xs" c="dimmed">
            {t("dashboard.range", { from: first, to: last })} ({data.timeZone})
          </Text>
        </Group>
      </Stack>
    );
  }

  function CampaignTable({ rows, language: lang }: { rows: Campaign[]; language: "ja" | "en" }) {
    if (!rows.length) return <Text c="dimmed">{t("dashboard.noCampaigns")}</Text>;
    return (
      <Table.ScrollContainer minWidth={480}>
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("dashboard.campaign")}</Table.Th>
              <Table.Th ta="right">{t("dashboard.sent")}</Table.Th>
              <Table.Th ta="right">{t("dashboard.ctr")}</Table.Th>
              <Table.Th ta="right">{t("dashboard.cvr")}</Table.Th>
              <Table.Th ta="right">{t("dashboard.blockRate")}</Table.Th>
              <Table.Th ta="right">{t("dashboard.revenue")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((row) => (
              <Table.Tr key={row.campaign}>
                <Table.Td>{campaignLabel(row.campaign, row.name, t)}</Table.Td>
                <Table.Td ta="right">{count(row.sent, lang)}</Table.Td>
                <Table.Td ta="right">{percent(row.ctr)}</Table.Td>
                <Table.Td ta="right">{percent(row.cvr)}</Table.Td>
                <Table.Td ta="right">{percent(row.block_rate)}</Table.Td>
                <Table.Td ta="right">{money(row.revenue, lang)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    );
  }
}
