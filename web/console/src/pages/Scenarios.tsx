import { Badge, Button, Card, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime, percent } from "../format";
import { useI18n } from "../i18n";
import { can } from "../session";

type Scenario = Schemas["ScenarioSummary"];

export function Scenarios() {
  const { api, channelId } = useConsole();
  const { t } = useI18n();
  const list = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/scenarios", { params: { path: { channel_id: channelId } } })),
    [channelId],
  );
  return (
    <Stack>
      <Title order={2}>{t("scenarios.title")}</Title>
      <ErrorNote error={list.error} />
      {list.loading && <Loading />}
      {list.data && !list.data.scenarios.length && <Text c="dimmed">{t("scenarios.empty")}</Text>}
      {list.data?.scenarios.map((scenario) => (
        <ScenarioCard key={scenario.scenario_id} scenario={scenario} onChanged={list.reload} />
      ))}
    </Stack>
  );
}

function ScenarioCard({ scenario, onChanged }: { scenario: Scenario; onChanged: () => void }) {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId, scenario_id: scenario.scenario_id };
  const [failure, setFailure] = useState<Error | null>(null);
  const [userId, setUserId] = useState("");
  const [plan, setPlan] = useState<Schemas["FriendPlan"] | null>(null);
  const funnel = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/reports/scenarios/{scenario_id}/funnel", { params: { path } })),
    [channelId, scenario.scenario_id],
  );
  const toggle = async () => {
    setFailure(null);
    try {
      await ok(
        scenario.status === "active"
          ? api.POST("/admin/channels/{channel_id}/scenarios/{scenario_id}/pause", { params: { path } })
          : api.POST("/admin/channels/{channel_id}/scenarios/{scenario_id}/resume", { params: { path } }),
      );
      onChanged();
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const showPlan = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    setPlan(null);
    try {
      setPlan(
        await ok(
          api.GET("/admin/channels/{channel_id}/scenarios/{scenario_id}/plan", {
            params: { path, query: { user_id: userId.trim() } },
          }),
        ),
      );
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const status = scenario.status;
  return (
    <Card withBorder data-scenario={scenario.scenario_id}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={3} size="h4">
              {scenario.name}
            </Title>
            <Badge color={status === "active" ? "green" : status === "paused" ? "yellow" : "gray"} variant="light">
              {t(`scenarios.status.${status}`)}
            </Badge>
            <Text size="xs" c="dimmed">
              {scenario.scenario_id} · {t("scenarios.version")} {scenario.version} · {t("scenarios.updated")}{" "}
              {dateTime(scenario.updated_at, timeZone, language)}
            </Text>
          </Group>
          {can(session, "write") && status !== "archived" && (
            <Button size="xs" variant={status === "active" ? "light" : "filled"} onClick={toggle} data-action={status === "active" ? "pause" : "resume"}>
              {status === "active" ? t("scenarios.pause") : t("scenarios.resume")}
            </Button>
          )}
        </Group>
        <ErrorNote error={failure ?? funnel.error} />
        {funnel.loading && <Loading />}
        {funnel.data && (
          <Table.ScrollContainer minWidth={560}>
            <Table striped>
              <Table.Caption>{t("scenarios.funnel")}</Table.Caption>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("scenarios.step")}</Table.Th>
                  <Table.Th ta="right">{t("scenarios.sent")}</Table.Th>
                  <Table.Th ta="right">{t("scenarios.clicks")}</Table.Th>
                  <Table.Th ta="right">{t("scenarios.ctr")}</Table.Th>
                  <Table.Th ta="right">{t("scenarios.conversions")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {funnel.data.steps.map((step) => (
                  <Table.Tr key={step.step_id} data-step={step.step_id}>
                    <Table.Td>
                      {step.step_id} {!step.sends_messages && <Text span size="xs" c="dimmed">{t("scenarios.actionsOnly")}</Text>}
                    </Table.Td>
                    <Table.Td ta="right">{count(step.sent, language)}</Table.Td>
                    <Table.Td ta="right">{count(step.unique_clicks, language)}</Table.Td>
                    <Table.Td ta="right">{percent(step.ctr)}</Table.Td>
                    <Table.Td ta="right">{count(step.conversions, language)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <form onSubmit={showPlan}>
          <Group align="end">
            <TextInput
              label={t("scenarios.planUser")}
              value={userId}
              onChange={(e) => setUserId(e.currentTarget.value)}
              w={340}
              name="plan-user"
            />
            <Button type="submit" variant="default" disabled={!userId.trim()}>
              {t("scenarios.planRun")}
            </Button>
          </Group>
        </form>
        {plan && (
          <Table data-plan={plan.user_id}>
            <Table.Caption>{t("scenarios.plan")}</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("scenarios.step")}</Table.Th>
                <Table.Th>{t("scenarios.due")}</Table.Th>
                <Table.Th>{t("scenarios.why")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {plan.steps.map((step) => (
                <Table.Tr key={step.step_id}>
                  <Table.Td>{step.step_id}</Table.Td>
                  <Table.Td>{step.due_at}</Table.Td>
                  <Table.Td>{step.why.join(" / ")}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
