import {
  Alert,
  Badge,
  Button,
  Card,
  Grid,
  Group,
  JsonInput,
  MultiSelect,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Textarea,
  Title,
} from "@mantine/core";
import { Fragment, useMemo, useRef, useState } from "react";
import { ApiError, ok, type Schemas } from "../api/client";
import { Bubbles } from "../components/Bubbles";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime, percent, zonedIso } from "../format";
import { CompositionKey } from "../idempotency";
import { useI18n } from "../i18n";
import { bubbles, DraftError, toMessages, type Draft, type LineMessage } from "../preview";
import { can } from "../session";

type Preview = Schemas["BroadcastPreview"];
type Broadcast = Schemas["Broadcast"];

const EMPTY: Record<Draft["kind"], () => Draft> = {
  text: () => ({ kind: "text", text: "" }),
  image: () => ({ kind: "image", url: "", previewUrl: "" }),
  buttons: () => ({
    kind: "buttons",
    altText: "",
    title: "",
    text: "",
    imageUrl: "",
    actions: [
      { label: "", uri: "" },
      { label: "", uri: "" },
    ],
  }),
  flex: () => ({ kind: "flex", altText: "", json: "" }),
};

export function Broadcasts() {
  const { session } = useConsole();
  const { t } = useI18n();
  const [round, setRound] = useState(0);
  return (
    <Stack>
      <Title order={2}>{t("broadcasts.title")}</Title>
      {can(session, "write") && <Composer onSent={() => setRound((r) => r + 1)} />}
      <BroadcastList round={round} />
    </Stack>
  );
}

function Composer({ onSent }: { onSent: () => void }) {
  const { api, channelId, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const [name, setName] = useState("");
  const [messageClass, setMessageClass] = useState<"marketing" | "transactional">("marketing");
  // Recipients: every friend, those with any of some tags, or a saved segment.
  const [audience, setAudience] = useState<"all" | "tags" | "saved">("all");
  const [segmentTags, setSegmentTags] = useState<string[]>([]);
  const [savedSegment, setSavedSegment] = useState<string | null>(null);
  const [drafts, setDrafts] = useState<Draft[]>([EMPTY.text()]);
  const [when, setWhen] = useState<"now" | "at">("now");
  const [sendAt, setSendAt] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [running, setRunning] = useState<number | null>(null);
  const [sent, setSent] = useState<Broadcast | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(new CompositionKey());
  const inFlight = useRef<Promise<void> | null>(null);

  const tags = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path } })), [channelId]);
  const segments = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/segments", { params: { path } })), [channelId]);
  const sample = useLoad(async () => {
    const page = await ok(
      api.GET("/admin/channels/{channel_id}/friends", { params: { path, query: { status: "active", limit: 1 } } }),
    );
    return page.friends[0] ?? null;
  }, [channelId]);

  const built = useMemo((): { messages: LineMessage[]; error: string | null } => {
    try {
      return { messages: toMessages(drafts), error: null };
    } catch (error) {
      return { messages: [], error: error instanceof DraftError ? error.message : String(error) };
    }
  }, [drafts]);

  const request = () => ({
    name: name.trim() || t("broadcasts.title"),
    messages: built.messages as { [key: string]: unknown }[],
    message_class: messageClass,
    method: "auto" as const,
    segment:
      audience === "saved" && savedSegment
        ? { segment: savedSegment }
        : audience === "tags" && segmentTags.length
          ? { match: { tags_any: segmentTags } }
          : null,
    send_at: when === "at" && sendAt ? zonedIso(sendAt, timeZone) : null,
  });

  const dryRun = async () => {
    setFailure(null);
    setPreview(null);
    try {
      const answer = await api.POST("/admin/channels/{channel_id}/broadcasts/preview", {
        params: { path },
        body: request(),
      });
      if (answer.error || !answer.data) {
        throw new ApiError(answer.response.status, messageOf(answer.error) ?? t("broadcasts.previewFailed"));
      }
      let data = answer.data as Preview | Schemas["PreviewJobStatus"];
      // Over 5,000 friends the preview is a job: poll it.
      while ("preview_id" in data) {
        const job: Schemas["PreviewJobStatus"] = data;
        setRunning(job.friends_considered);
        if (job.status === "done" && job.result) {
          data = job.result;
          break;
        }
        if (job.status === "failed") throw new Error(job.reason ?? "preview failed");
        await new Promise((resolve) => setTimeout(resolve, 1000));
        data = await ok(
          api.GET("/admin/channels/{channel_id}/broadcasts/previews/{preview_id}", {
            params: { path: { channel_id: channelId, preview_id: job.preview_id } },
          }),
        );
      }
      setPreview(data as Preview);
    } catch (error) {
      setFailure(error as Error);
    } finally {
      setRunning(null);
    }
  };

  // One key per composition: a double click (or a second click while the first is on
  // its way) sends the same Idempotency-Key, so the API creates one broadcast.
  const send = () => {
    if (inFlight.current) return;
    const body = request();
    const idempotencyKey = key.current.for(body);
    setFailure(null);
    setBusy(true);
    inFlight.current = (async () => {
      try {
        const created = await ok(
          api.POST("/admin/channels/{channel_id}/broadcasts", {
            params: { path, header: { "idempotency-key": idempotencyKey } },
            body,
          }),
        );
        setSent(created);
        onSent();
      } catch (error) {
        setFailure(error as Error);
      } finally {
        setBusy(false);
        inFlight.current = null;
      }
    })();
  };

  const restart = () => {
    key.current.reset();
    setName("");
    setDrafts([EMPTY.text()]);
    setSegmentTags([]);
    setSavedSegment(null);
    setAudience("all");
    setPreview(null);
    setSent(null);
    setWhen("now");
    setSendAt("");
  };

  // A saved segment chosen as the recipients but none picked: not "every friend".
  const audienceMissing = audience === "saved" && !savedSegment;
  const update = (index: number, next: Draft) => setDrafts((all) => all.map((d, i) => (i === index ? next : d)));
  const sampleName = sample.data?.display_name ?? t("broadcasts.sampleDefault");

  return (
    <Card withBorder id="broadcast-composer">
      <Grid>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack>
            <Title order={3} size="h4">
              {t("broadcasts.compose")}
            </Title>
            <TextInput id="broadcast-name" label={t("broadcasts.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Select
              id="broadcast-class"
              label={t("broadcasts.class")}
              value={messageClass}
              allowDeselect={false}
              onChange={(v) => setMessageClass((v as "marketing" | "transactional") ?? "marketing")}
              data={[
                { value: "marketing", label: t("broadcasts.class.marketing") },
                { value: "transactional", label: t("broadcasts.class.transactional") },
              ]}
            />
            <Stack gap={4} id="broadcast-audience">
              <Text fw={600} size="sm">
                {t("broadcasts.audience")}
              </Text>
              <SegmentedControl
                id="broadcast-audience-kind"
                aria-label={t("broadcasts.audience")}
                value={audience}
                onChange={(v) => {
                  setAudience(v as "all" | "tags" | "saved");
                  setPreview(null);
                }}
                data={[
                  { value: "all", label: t("broadcasts.audience.all") },
                  { value: "tags", label: t("broadcasts.audience.tags") },
                  { value: "saved", label: t("broadcasts.audience.saved") },
                ]}
              />
              {audience === "tags" && (
                <MultiSelect
                  id="broadcast-segment"
                  label={t("broadcasts.segmentTags")}
                  data={(tags.data?.tags ?? []).map((x) => x.name)}
                  value={segmentTags}
                  onChange={setSegmentTags}
                  searchable
                />
              )}
              {audience === "saved" && (
                <>
                  <Select
                    id="broadcast-saved-segment"
                    label={t("broadcasts.savedSegment")}
                    placeholder={t("broadcasts.savedSegmentPick")}
                    data={(segments.data?.items ?? []).map((x) => ({ value: x.segmentId, label: x.name }))}
                    value={savedSegment}
                    onChange={(v) => {
                      setSavedSegment(v);
                      setPreview(null);
                    }}
                    searchable
                    nothingFoundMessage={t("segments.none")}
                  />
                  <ErrorNote error={segments.error} />
                  {segments.data && !segments.data.items.length && (
                    <Text size="xs" c="dimmed">
                      {t("broadcasts.noSavedSegments")}
                    </Text>
                  )}
                </>
              )}
            </Stack>
            <Text fw={600} size="sm">
              {t("broadcasts.messages")}
            </Text>
            {drafts.map((draft, index) => (
              <DraftEditor
                key={index}
                index={index}
                draft={draft}
                onChange={(next) => update(index, next)}
                onRemove={drafts.length > 1 ? () => setDrafts((all) => all.filter((_, i) => i !== index)) : undefined}
              />
            ))}
            {drafts.length < 5 && (
              <Group gap="xs">
                <Text size="sm">{t("broadcasts.add")}:</Text>
                {(Object.keys(EMPTY) as Draft["kind"][]).map((kind) => (
                  <Button key={kind} size="xs" variant="default" onClick={() => setDrafts((all) => [...all, EMPTY[kind]()])} data-add={kind}>
                    {t(`broadcasts.kind.${kind}`)}
                  </Button>
                ))}
              </Group>
            )}
            <Group align="end">
              <SegmentedControl
                aria-label={t("broadcasts.when")}
                value={when}
                onChange={(v) => setWhen(v as "now" | "at")}
                data={[
                  { value: "now", label: t("broadcasts.now") },
                  { value: "at", label: t("broadcasts.at") },
                ]}
              />
              {when === "at" && (
                <TextInput
                  id="broadcast-send-at"
                  type="datetime-local"
                  label={t("broadcasts.sendAt", { zone: timeZone })}
                  value={sendAt}
                  onChange={(e) => setSendAt(e.currentTarget.value)}
                />
              )}
            </Group>
            {built.error && <Text size="sm" c="orange.8" id="broadcast-draft-error">{built.error}</Text>}
            <ErrorNote error={failure} />
            {sent && (
              <Alert color="green" id="broadcast-sent">
                {t("broadcasts.sent", { id: sent.broadcast_id, status: sent.status ?? "" })}
              </Alert>
            )}
            <Group>
              <Button variant="default" onClick={dryRun} disabled={!!built.error || audienceMissing} id="broadcast-dry-run" loading={running !== null}>
                {t("broadcasts.dryRun")}
              </Button>
              <Button
                onClick={send}
                loading={busy}
                disabled={!!built.error || audienceMissing || (when === "at" && !sendAt)}
                id="broadcast-send"
              >
                {when === "at" ? t("broadcasts.schedule") : t("broadcasts.send")}
              </Button>
              {sent && (
                <Button variant="subtle" onClick={restart} id="broadcast-new">
                  {t("broadcasts.newComposition")}
                </Button>
              )}
            </Group>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack>
            <Title order={3} size="h4">
              {t("broadcasts.preview")}
            </Title>
            <Text size="sm">{t("broadcasts.sampleFriend", { name: sampleName })}</Text>
            <Bubbles id="broadcast-preview" items={bubbles(built.messages, sample.data ?? null)} />
            {running !== null && <Text size="sm">{t("broadcasts.running", { considered: count(running, language) })}</Text>}
            {preview && <PreviewFigures preview={preview} />}
          </Stack>
        </Grid.Col>
      </Grid>
    </Card>
  );
}

function messageOf(error: unknown): string | undefined {
  return (error as { message?: string } | undefined)?.message;
}

function PreviewFigures({ preview }: { preview: Preview }) {
  const { t, language } = useI18n();
  const rows: [string, number | string][] = [
    [t("broadcasts.recipients"), count(preview.recipients, language)],
    [t("broadcasts.considered"), count(preview.friends_considered, language)],
    [t("broadcasts.notInSegment"), count(preview.not_in_segment, language)],
    [t("broadcasts.blocked"), count(preview.blocked, language)],
    [t("broadcasts.capped"), count(preview.capped, language)],
    [t("broadcasts.deferred"), count(preview.deferred, language)],
    [t("broadcasts.overLimit"), count(preview.over_limit ?? 0, language)],
    [t("broadcasts.method"), preview.method],
  ];
  return (
    <Stack id="broadcast-dry-run-result" gap="xs">
      <Table>
        <Table.Tbody>
          {rows.map(([label, value]) => (
            <Table.Tr key={label}>
              <Table.Th>{label}</Table.Th>
              <Table.Td ta="right" data-figure={label}>
                {value}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {!!preview.warnings.length && (
        <Alert color="yellow" title={t("broadcasts.warnings")}>
          {preview.warnings.map((w) => (
            <Text size="sm" key={w}>
              {w}
            </Text>
          ))}
        </Alert>
      )}
      {preview.sample_messages && (
        <>
          <Text size="sm">{t("broadcasts.serverSample")}</Text>
          <Bubbles id="broadcast-server-sample" items={bubbles(preview.sample_messages as LineMessage[], null)} />
        </>
      )}
    </Stack>
  );
}

function DraftEditor({
  index,
  draft,
  onChange,
  onRemove,
}: {
  index: number;
  draft: Draft;
  onChange: (draft: Draft) => void;
  onRemove?: () => void;
}) {
  const { t } = useI18n();
  const prefix = `broadcast-message-${index}`;
  return (
    <Card withBorder padding="sm" data-message={index}>
      <Group justify="space-between" mb="xs">
        <Badge variant="light">
          #{index + 1} {t(`broadcasts.kind.${draft.kind}`)}
        </Badge>
        {onRemove && (
          <Button size="compact-xs" variant="subtle" color="red" onClick={onRemove}>
            {t("broadcasts.remove")}
          </Button>
        )}
      </Group>
      {draft.kind === "text" && (
        <Stack gap={4}>
          <Textarea
            id={`${prefix}-text`}
            label={t("broadcasts.text")}
            autosize
            minRows={3}
            value={draft.text}
            onChange={(e) => onChange({ ...draft, text: e.currentTarget.value })}
          />
          <Group gap={4}>
            <Text size="xs">{t("broadcasts.insert")}</Text>
            {["{display_name|お客様}", "{field.rank}"].map((token) => (
              <Button key={token} size="compact-xs" variant="default" onClick={() => onChange({ ...draft, text: draft.text + token })}>
                {token}
              </Button>
            ))}
          </Group>
        </Stack>
      )}
      {draft.kind === "image" && (
        <Stack gap={4}>
          <TextInput id={`${prefix}-url`} label={t("broadcasts.imageUrl")} value={draft.url} onChange={(e) => onChange({ ...draft, url: e.currentTarget.value })} />
          <TextInput label={t("broadcasts.previewUrl")} value={draft.previewUrl} onChange={(e) => onChange({ ...draft, previewUrl: e.currentTarget.value })} />
        </Stack>
      )}
      {draft.kind === "buttons" && (
        <Stack gap={4}>
          <TextInput label={t("broadcasts.buttonTitle")} value={draft.title} onChange={(e) => onChange({ ...draft, title: e.currentTarget.value })} />
          <Textarea label={t("broadcasts.text")} value={draft.text} onChange={(e) => onChange({ ...draft, text: e.currentTarget.value })} />
          <TextInput label={t("broadcasts.imageUrl")} value={draft.imageUrl} onChange={(e) => onChange({ ...draft, imageUrl: e.currentTarget.value })} />
          <TextInput label={t("broadcasts.altText")} value={draft.altText} onChange={(e) => onChange({ ...draft, altText: e.currentTarget.value })} />
          {draft.actions.map((action, n) => (
            <Group key={n} grow>
              <TextInput
                label={t("broadcasts.buttonLabel", { n: n + 1 })}
                value={action.label}
                onChange={(e) => onChange({ ...draft, actions: draft.actions.map((a, i) => (i === n ? { ...a, label: e.currentTarget.value } : a)) })}
              />
              <TextInput
                label={t("broadcasts.buttonUri", { n: n + 1 })}
                value={action.uri}
                onChange={(e) => onChange({ ...draft, actions: draft.actions.map((a, i) => (i === n ? { ...a, uri: e.currentTarget.value } : a)) })}
              />
            </Group>
          ))}
        </Stack>
      )}
      {draft.kind === "flex" && (
        <Stack gap={4}>
          <TextInput label={t("broadcasts.altText")} value={draft.altText} onChange={(e) => onChange({ ...draft, altText: e.currentTarget.value })} />
          <JsonInput
            label={t("broadcasts.flexJson")}
            autosize
            minRows={6}
            formatOnBlur
            value={draft.json}
            onChange={(json) => onChange({ ...draft, json })}
          />
        </Stack>
      )}
    </Card>
  );
}

function BroadcastList({ round }: { round: number }) {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const [open, setOpen] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const list = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/broadcasts", { params: { path, query: { limit: 50 } } })),
    [channelId, round],
  );
  const cancel = async (id: string) => {
    setFailure(null);
    try {
      await ok(
        api.POST("/admin/channels/{channel_id}/broadcasts/{broadcast_id}/cancel", {
          params: { path: { channel_id: channelId, broadcast_id: id } },
        }),
      );
      list.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };
  return (
    <Card withBorder id="broadcast-list">
      <Stack>
        <Group justify="space-between">
          <Title order={3} size="h4">
            {t("broadcasts.list")}
          </Title>
          <Button size="xs" variant="default" onClick={list.reload}>
            {t("common.reload")}
          </Button>
        </Group>
        <ErrorNote error={failure ?? list.error} />
        {list.loading && <Loading />}
        {list.data && !list.data.broadcasts.length && <Text c="dimmed">{t("broadcasts.empty")}</Text>}
        {!!list.data?.broadcasts.length && (
          <Table.ScrollContainer minWidth={720}>
            <Table highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("broadcasts.name")}</Table.Th>
                  <Table.Th>{t("broadcasts.status")}</Table.Th>
                  <Table.Th ta="right">{t("broadcasts.recipients")}</Table.Th>
                  <Table.Th>{t("broadcasts.sendAtColumn")}</Table.Th>
                  <Table.Th>{t("broadcasts.created")}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.broadcasts.map((b) => (
                  <Fragment key={b.broadcast_id}>
                    <Table.Tr data-broadcast-id={b.broadcast_id}>
                      <Table.Td>{b.name}</Table.Td>
                      <Table.Td>
                        <Badge color={b.status === "sent" ? "green" : b.status === "failed" ? "red" : "gray"} variant="light">
                          {b.status}
                        </Badge>
                        {b.reason && <Text size="xs" c="red.8">{b.reason}</Text>}
                      </Table.Td>
                      <Table.Td ta="right">{count(b.counters?.recipients ?? 0, language)}</Table.Td>
                      <Table.Td>{dateTime(b.send_at ?? b.started_at, timeZone, language)}</Table.Td>
                      <Table.Td>{dateTime(b.created_at, timeZone, language)}</Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Button size="compact-xs" variant="light" onClick={() => setOpen(open === b.broadcast_id ? null : b.broadcast_id)}>
                            {t("broadcasts.report")}
                          </Button>
                          {b.status === "scheduled" && can(session, "write") && (
                            <Button size="compact-xs" variant="subtle" color="red" onClick={() => cancel(b.broadcast_id)}>
                              {t("broadcasts.cancel")}
                            </Button>
                          )}
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                    {open === b.broadcast_id && (
                      <Table.Tr>
                        <Table.Td colSpan={6}>
                          <BroadcastReport id={b.broadcast_id} />
                        </Table.Td>
                      </Table.Tr>
                    )}
                  </Fragment>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Stack>
    </Card>
  );
}

function BroadcastReport({ id }: { id: string }) {
  const { api, channelId } = useConsole();
  const { t } = useI18n();
  const detail = useLoad(
    () =>
      ok(api.GET("/admin/channels/{channel_id}/broadcasts/{broadcast_id}", { params: { path: { channel_id: channelId, broadcast_id: id } } })),
    [channelId, id],
  );
  const report = useLoad(async () => {
    try {
      return await ok(
        api.GET("/admin/channels/{channel_id}/reports/campaigns/{campaign}", {
          params: { path: { channel_id: channelId, campaign: `broadcast:${id}` } },
        }),
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }, [channelId, id]);
  const counts = Object.entries(detail.data?.deliveries ?? {})
    .map(([status, n]) => `${status} ${n}`)
    .join(", ");
  return (
    <Stack gap={4} data-report={id}>
      <ErrorNote error={detail.error ?? report.error} />
      {detail.data && <Text size="sm">{t("broadcasts.deliveries", { counts: counts || t("common.none") })}</Text>}
      {report.data ? (
        <Text size="sm">
          {t("broadcasts.clicks", {
            clicks: report.data.clicks,
            unique: report.data.unique_clicks,
            conversions: report.data.conversions,
            blocks: report.data.blocks,
          })}{" "}
          (CTR {percent(report.data.ctr)}, CVR {percent(report.data.cvr)})
        </Text>
      ) : (
        !report.loading && <Text size="sm" c="dimmed">{t("broadcasts.noReport")}</Text>
      )}
    </Stack>
  );
}
