import { Badge, Button, Card, Group, SegmentedControl, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime, percent } from "../format";
import { useI18n } from "../i18n";
import { newKey } from "../idempotency";
import { can } from "../session";
import { ScenarioEditor } from "./ScenarioEditor";
import { enrollBody, planInstant, type EnrollSource } from "./scenarioLogic";

type Scenario = Schemas["ScenarioSummary"];

export function Scenarios() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  // null: the list; "": a new scenario; an id: that scenario in the editor.
  const [editing, setEditing] = useState<string | null>(null);
  const list = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/scenarios", { params: { path: { channel_id: channelId } } })),
    [channelId],
  );
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("scenarios.title")}</Title>
        {can(session, "write") && editing === null && (
          <Button onClick={() => setEditing("")} id="scenario-new">
            {t("scenarios.new")}
          </Button>
        )}
      </Group>
      {editing !== null && (
        <ScenarioEditor
          key={editing}
          scenarioId={editing || null}
          onClose={() => {
            setEditing(null);
            list.reload();
          }}
          onSaved={list.reload}
        />
      )}
      <ErrorNote error={list.error} />
      {list.loading && <Loading />}
      {list.data && !list.data.scenarios.length && <Text c="dimmed">{t("scenarios.empty")}</Text>}
      {editing === null &&
        list.data?.scenarios.map((scenario) => (
          <ScenarioCard
            key={scenario.scenario_id}
            scenario={scenario}
            onChanged={list.reload}
            onEdit={() => setEditing(scenario.scenario_id)}
          />
        ))}
    </Stack>
  );
}

function ScenarioCard({ scenario, onChanged, onEdit }: { scenario: Scenario; onChanged: () => void; onEdit: () => void }) {
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
          <Group gap="xs">
            <Button size="xs" variant="default" onClick={onEdit} data-action="edit">
              {can(session, "write") ? t("scenarios.edit") : t("scenarios.view")}
            </Button>
            {can(session, "write") && status !== "archived" && (
              <Button size="xs" variant={status === "active" ? "light" : "filled"} onClick={toggle} data-action={status === "active" ? "pause" : "resume"}>
                {status === "active" ? t("scenarios.pause") : t("scenarios.resume")}
              </Button>
            )}
          </Group>
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
        {can(session, "write") && status === "active" && <EnrollPanel scenarioId={scenario.scenario_id} />}
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
                  <Table.Td data-due={step.due_at}>{dateTime(planInstant(step.due_at), timeZone, language)}</Table.Td>
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

type Job = Schemas["SegmentEnrollmentJob"];

// Enrol a saved segment's (or a tag's) active friends: a job, polled until it is done.
function EnrollPanel({ scenarioId }: { scenarioId: string }) {
  const { api, channelId } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const [kind, setKind] = useState<EnrollSource["kind"]>("segment");
  const [choice, setChoice] = useState<string | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef<{ for: string; key: string } | null>(null);
  const segments = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/segments", { params: { path } })), [channelId]);
  const tags = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path } })), [channelId]);

  const running = job?.status === "running";
  const jobId = job?.job_id;
  useEffect(() => {
    if (!running || !jobId) return;
    let live = true;
    const timer = setInterval(async () => {
      try {
        const next = await ok(
          api.GET("/admin/channels/{channel_id}/scenarios/{scenario_id}/enrollments/{job_id}", {
            params: { path: { channel_id: channelId, scenario_id: scenarioId, job_id: jobId } },
          }),
        );
        if (live) setJob(next);
      } catch (error) {
        if (live) setFailure(error as Error);
      }
    }, 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, channelId, scenarioId, running, jobId]);

  const enroll = async () => {
    if (!choice) return;
    const source: EnrollSource = kind === "segment" ? { kind, segmentId: choice } : { kind, tag: choice };
    const body = enrollBody(source);
    // A retry of the same request (a double click) sends the same key: one job.
    const fingerprint = JSON.stringify(body);
    if (!key.current || key.current.for !== fingerprint) key.current = { for: fingerprint, key: newKey() };
    setFailure(null);
    setBusy(true);
    try {
      setJob(
        await ok(
          api.POST("/admin/channels/{channel_id}/scenarios/{scenario_id}/enroll", {
            params: { path: { channel_id: channelId, scenario_id: scenarioId }, header: { "idempotency-key": key.current.key } },
            body,
          }),
        ),
      );
      key.current = null;
    } catch (error) {
      setFailure(error as Error);
    } finally {
      setBusy(false);
    }
  };

  const options =
    kind === "segment"
      ? (segments.data?.items ?? []).map((s) => ({ value: s.segmentId, label: s.name }))
      : (tags.data?.tags ?? []).map((tag) => ({ value: tag.name, label: tag.name }));
  return (
    <Stack gap="xs" data-enroll={scenarioId}>
      <Text fw={600} size="sm">
        {t("scenarios.enroll")}
      </Text>
      <Group align="end">
        <SegmentedControl
          aria-label={t("scenarios.enrollSource")}
          value={kind}
          onChange={(v) => {
            setKind(v as EnrollSource["kind"]);
            setChoice(null);
          }}
          data={[
            { value: "segment", label: t("scenarios.enrollSegment") },
            { value: "tag", label: t("scenarios.enrollTag") },
          ]}
        />
        <Select
          className="enroll-choice"
          label={kind === "segment" ? t("scenarios.enrollSegment") : t("scenarios.enrollTag")}
          data={options}
          value={choice}
          onChange={setChoice}
          // Segments and tags made since the page opened are listed too.
          onDropdownOpen={() => (kind === "segment" ? segments.reload() : tags.reload())}
          searchable
          w={300}
          nothingFoundMessage={t("scenarios.enrollNone")}
        />
        <Button onClick={enroll} disabled={!choice || running} loading={busy} className="enroll-start">
          {t("scenarios.enrollRun")}
        </Button>
      </Group>
      <ErrorNote error={failure ?? segments.error ?? tags.error} />
      {job && (
        <Stack gap={4} className="enroll-job" data-status={job.status} data-enrolled={job.counts?.outcomes?.enrolled ?? 0}>
          <Text size="sm">
            {t("scenarios.enrollStatus", {
              status: t(`scenarios.enrollStatus.${job.status ?? "running"}`),
              walked: count(job.counts?.walked ?? 0, language),
              matched: count(job.counts?.matched ?? 0, language),
            })}
          </Text>
          {job.reason && (
            <Text size="sm" c="red">
              {job.reason}
            </Text>
          )}
          {!!Object.keys(job.counts?.outcomes ?? {}).length && (
            <Table>
              <Table.Caption>{t("scenarios.enrollOutcomes")}</Table.Caption>
              <Table.Tbody>
                {Object.entries(job.counts?.outcomes ?? {}).map(([outcome, n]) => (
                  <Table.Tr key={outcome} data-outcome={outcome}>
                    <Table.Th>{outcome === "enrolled" ? t("scenarios.enrolled") : outcome}</Table.Th>
                    <Table.Td ta="right">{count(n, language)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
    </Stack>
  );
}
