// 設定: the delivery policy and the business hours (everyone reads, owner and marketer
// change them); the owner also sees the channels of this console (config.json), who
// the API says is calling (GET /admin/me) and the channel's chat-log retention.
import { Alert, Badge, Button, Card, Group, NumberInput, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { ApiError, ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { useI18n } from "../i18n";
import { can } from "../session";
import { DAYS, intervalsText, parseDates, parseIntervals, type Day, type Weekly } from "./settingsLogic";

type Policy = Schemas["DeliveryPolicy-Output"];

export function Settings() {
  const { session } = useConsole();
  const { t } = useI18n();
  return (
    <Stack>
      <Title order={2}>{t("settings.title")}</Title>
      {can(session, "staff") && <ChannelsCard />}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <PolicyCard />
        <HoursCard />
      </SimpleGrid>
    </Stack>
  );
}

// The owner's view of the channels: which ones this console serves, who is calling,
// and the open channel's chat-log retention (GET / PUT …/chat/settings).
function ChannelsCard() {
  const { api, channelId, config } = useConsole();
  const { t } = useI18n();
  const me = useLoad(() => ok(api.GET("/admin/me")), []);
  const [retention, setRetention] = useState<number | null>(null);
  const [saved, setSaved] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const chat = useLoad(async () => {
    const settings = await ok(
      api.GET("/admin/channels/{channel_id}/chat/settings", { params: { path: { channel_id: channelId } } }),
    );
    setRetention(settings.retention_days ?? 180);
    return settings;
  }, [channelId]);
  const save = async () => {
    if (retention === null) return;
    setFailure(null);
    setSaved(false);
    try {
      const next = await ok(
        api.PUT("/admin/channels/{channel_id}/chat/settings", {
          params: { path: { channel_id: channelId } },
          body: { retention_days: retention },
        }),
      );
      setRetention(next.retention_days ?? 180);
      setSaved(true);
    } catch (error) {
      setFailure(error as Error);
    }
  };
  return (
    <Card withBorder id="settings-channels">
      <Stack gap="xs">
        <Title order={3} size="h4">
          {t("settings.channels")}
        </Title>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("settings.channelId")}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {config.channels.map((id) => (
              <Table.Tr key={id} data-channel-id={id}>
                <Table.Td>
                  <code>{id}</code>
                </Table.Td>
                <Table.Td>
                  {id === channelId && (
                    <Badge variant="light" tt="none">
                      {t("settings.channelOpen")}
                    </Badge>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Text size="xs" c="dimmed">
          {t("settings.channelsHint")}
        </Text>
        <ErrorNote error={me.error} />
        {me.data && (
          <Text size="sm" id="settings-me">
            {t("settings.me", {
              who: me.data.display,
              role: t(`role.${me.data.role}`),
              kind: me.data.kind === "staff" ? t("audit.kind.staff") : t("audit.kind.machine"),
            })}
          </Text>
        )}
        <ErrorNote error={failure ?? chat.error} />
        {chat.loading && <Loading />}
        {retention !== null && (
          <Group align="end">
            <NumberInput
              id="settings-chat-retention"
              label={t("settings.chatRetention")}
              min={1}
              max={3650}
              value={retention}
              onChange={(v) => setRetention(v === "" ? null : Number(v))}
            />
            <Button onClick={save} id="settings-chat-save" disabled={retention === null}>
              {t("common.save")}
            </Button>
            {saved && (
              <Text size="sm" c="green.8">
                {t("common.saved")}
              </Text>
            )}
          </Group>
        )}
      </Stack>
    </Card>
  );
}

function PolicyCard() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const [form, setForm] = useState<Policy | null>(null);
  const [saved, setSaved] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const writes = can(session, "write");
  const loaded = useLoad(async () => {
    const policy = await ok(api.GET("/admin/channels/{channel_id}/delivery-policy", { params: { path } }));
    setForm(policy);
    return policy;
  }, [channelId]);
  const save = async () => {
    if (!form) return;
    setFailure(null);
    setSaved(false);
    try {
      const caps = form.marketing_caps;
      const quiet = form.quiet_hours;
      const next = await ok(
        api.PUT("/admin/channels/{channel_id}/delivery-policy", {
          params: { path },
          body: {
            time_zone: form.time_zone ?? "Asia/Tokyo",
            when_capped: form.when_capped ?? "skip",
            marketing_caps: caps && (caps.per_day || caps.per_week) ? caps : null,
            quiet_hours: quiet && quiet.start && quiet.end ? quiet : null,
          },
        }),
      );
      setForm(next);
      setSaved(true);
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const caps = form?.marketing_caps ?? { per_day: null, per_week: null };
  const quiet = form?.quiet_hours ?? { start: "", end: "" };
  return (
    <Card withBorder id="settings-policy">
      <Stack>
        <Title order={3} size="h4">
          {t("settings.policy")}
        </Title>
        <ErrorNote error={failure ?? loaded.error} />
        {loaded.loading && <Loading />}
        {form && (
          <>
            <TextInput id="policy-time-zone" label={t("settings.timeZone")} value={form.time_zone ?? ""} readOnly={!writes} onChange={(e) => setForm({ ...form, time_zone: e.currentTarget.value })} />
            <Group grow>
              <NumberInput
                label={t("settings.perDay")}
                min={1}
                value={caps.per_day ?? ""}
                readOnly={!writes}
                onChange={(v) => setForm({ ...form, marketing_caps: { ...caps, per_day: v === "" ? null : Number(v) } })}
              />
              <NumberInput
                label={t("settings.perWeek")}
                min={1}
                value={caps.per_week ?? ""}
                readOnly={!writes}
                onChange={(v) => setForm({ ...form, marketing_caps: { ...caps, per_week: v === "" ? null : Number(v) } })}
              />
            </Group>
            <Group grow>
              <TextInput label={t("settings.quietStart")} value={quiet.start} readOnly={!writes} onChange={(e) => setForm({ ...form, quiet_hours: { ...quiet, start: e.currentTarget.value } })} />
              <TextInput label={t("settings.quietEnd")} value={quiet.end} readOnly={!writes} onChange={(e) => setForm({ ...form, quiet_hours: { ...quiet, end: e.currentTarget.value } })} />
            </Group>
            <Select
              label={t("settings.whenCapped")}
              value={form.when_capped ?? "skip"}
              readOnly={!writes}
              allowDeselect={false}
              onChange={(v) => v && setForm({ ...form, when_capped: v as "skip" | "defer" })}
              data={[
                { value: "skip", label: t("settings.skip") },
                { value: "defer", label: t("settings.defer") },
              ]}
            />
            {saved && <Alert color="green">{t("common.saved")}</Alert>}
            {writes ? (
              <Button onClick={save} id="policy-save">
                {t("common.save")}
              </Button>
            ) : (
              <Text size="sm" c="dimmed">{t("common.readOnly")}</Text>
            )}
          </>
        )}
      </Stack>
    </Card>
  );
}

interface HoursForm {
  time_zone: string;
  days: Record<Day, string>;
  closed: string;
}

function HoursCard() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const [form, setForm] = useState<HoursForm | null>(null);
  const [exists, setExists] = useState(false);
  const [saved, setSaved] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const writes = can(session, "write");
  const fill = (hours: { time_zone?: string; weekly?: unknown; closed_dates?: string[] } | null): HoursForm => ({
    time_zone: hours?.time_zone ?? "Asia/Tokyo",
    days: Object.fromEntries(DAYS.map((d) => [d, intervalsText((hours?.weekly as Weekly | undefined)?.[d])])) as Record<Day, string>,
    closed: (hours?.closed_dates ?? []).join(", "),
  });
  const loaded = useLoad(async () => {
    try {
      const hours = await ok(api.GET("/admin/channels/{channel_id}/business-hours", { params: { path } }));
      setExists(true);
      setForm(fill(hours));
      return hours;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      setExists(false);
      setForm(fill(null));
      return null;
    }
  }, [channelId]);
  const save = async () => {
    if (!form) return;
    setFailure(null);
    setSaved(false);
    try {
      const weekly = Object.fromEntries(
        DAYS.map((d) => [d, parseIntervals(t(`settings.day.${d}`), form.days[d])]).filter(([, v]) => (v as unknown[]).length),
      );
      const next = await ok(
        api.PUT("/admin/channels/{channel_id}/business-hours", {
          params: { path },
          body: { time_zone: form.time_zone, weekly, closed_dates: parseDates(form.closed) },
        }),
      );
      setForm(fill(next));
      setExists(true);
      setSaved(true);
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const clear = async () => {
    setFailure(null);
    try {
      await ok(api.DELETE("/admin/channels/{channel_id}/business-hours", { params: { path } }));
      setExists(false);
      setForm(fill(null));
    } catch (error) {
      setFailure(error as Error);
    }
  };
  return (
    <Card withBorder id="settings-hours">
      <Stack>
        <Title order={3} size="h4">
          {t("settings.hours")}
        </Title>
        <ErrorNote error={failure ?? loaded.error} />
        {loaded.loading && <Loading />}
        {!loaded.loading && !exists && <Text size="sm" c="dimmed">{t("settings.noHours")}</Text>}
        {form && (
          <>
            <TextInput label={t("settings.timeZone")} value={form.time_zone} readOnly={!writes} onChange={(e) => setForm({ ...form, time_zone: e.currentTarget.value })} />
            <Text size="xs" c="dimmed">
              {t("settings.dayHint")}
            </Text>
            {DAYS.map((day) => (
              <TextInput
                key={day}
                id={`hours-${day}`}
                label={t(`settings.day.${day}`)}
                value={form.days[day]}
                readOnly={!writes}
                onChange={(e) => setForm({ ...form, days: { ...form.days, [day]: e.currentTarget.value } })}
              />
            ))}
            <TextInput label={t("settings.closedDates")} value={form.closed} readOnly={!writes} onChange={(e) => setForm({ ...form, closed: e.currentTarget.value })} />
            {saved && <Alert color="green">{t("common.saved")}</Alert>}
            {writes && (
              <Group>
                <Button onClick={save} id="hours-save">
                  {t("common.save")}
                </Button>
                {exists && (
                  <Button variant="subtle" color="red" onClick={clear}>
                    {t("settings.clearHours")}
                  </Button>
                )}
              </Group>
            )}
          </>
        )}
      </Stack>
    </Card>
  );
}
