import { Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useMemo } from "react";
import { ok, type Schemas } from "../api/client";
import { Chart, type ChartOption } from "../components/Chart";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, money, percent, shortDay } from "../format";
import { useI18n } from "../i18n";
import { campaignLabel, rankCampaigns } from "./dashboardLogic";

type Timeline = Schemas["Timeline"];
type Campaign = Schemas["CampaignReport"];

export function Dashboard() {
  const { api, channelId } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const timeline = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/reports/timeline", { params: { path } })),
    [channelId],
  );
  const campaigns = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/reports/campaigns", { params: { path, query: { limit: 50 } } })),
    [channelId],
  );

  return (
    <Stack>
      <Title order={2}>{t("dashboard.title")}</Title>
      <Card withBorder id="friends-chart-card">
        <Title order={3} size="h4">
          {t("dashboard.friendsChart")}
        </Title>
        <ErrorNote error={timeline.error} />
        {timeline.loading && <Loading />}
        {timeline.data && <FriendsChart timeline={timeline.data} />}
      </Card>
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

  function FriendsChart({ timeline: data }: { timeline: Timeline }) {
    const option = useMemo<ChartOption>(() => {
      const days = data.days;
      return {
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: [t("dashboard.added"), t("dashboard.blocked"), t("dashboard.net")] },
        grid: { left: 40, right: 16, top: 40, bottom: 30 },
        xAxis: { type: "category", data: days.map((d) => shortDay(d.date)) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t("dashboard.added"), type: "bar", data: days.map((d) => d.friends_added), color: "#06c755" },
          { name: t("dashboard.blocked"), type: "bar", data: days.map((d) => -d.unfollows), color: "#e5484d" },
          { name: t("dashboard.net"), type: "line", data: days.map((d) => d.friends_added - d.unfollows), color: "#3b5bdb" },
        ],
      };
    }, [data]);
    const added = data.days.reduce((sum, d) => sum + d.friends_added, 0);
    const blocked = data.days.reduce((sum, d) => sum + d.unfollows, 0);
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
            {t("dashboard.range", { from: first, to: last })} ({data.time_zone})
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
