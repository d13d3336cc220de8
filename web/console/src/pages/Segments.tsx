// セグメント: a builder (all / any groups, each condition negatable) over the condition
// kinds of docs/segments.md, a live count and sample from …/segments/preview
// (debounced), the warning under 20 friends, and the saved segments (save, list, open
// one in the builder to edit it and save it again with PUT, delete). A viewer builds and
// counts but saves nothing.
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  Grid,
  Group,
  MultiSelect,
  NativeSelect,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useEffect, useMemo, useState } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime } from "../format";
import { useI18n, type MessageKey } from "../i18n";
import { can } from "../session";
import {
  CONDITION_KINDS,
  EVENT_TESTS,
  FIELD_OPS,
  SMALL_AUDIENCE,
  TIME_TESTS,
  definition,
  fromDefinition,
  node,
  type FieldType,
  type Kind,
  type Node,
} from "./segmentsLogic";

type Preview = Schemas["PreviewResponse"];
type Saved = Schemas["SegmentResponse"];

function update(tree: Node, id: number, change: (n: Node) => Node | null): Node {
  if (tree.id === id) return change(tree) ?? tree;
  return {
    ...tree,
    children: tree.children
      .map((c) => (c.id === id ? change(c) : update(c, id, change)))
      .filter((c): c is Node => c !== null),
  };
}

export function Segments() {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const writable = can(session, "write");
  const [root, setRoot] = useState<Node>(() => node("all"));
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<Error | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  // The saved segment open in the builder (saving replaces it), or null: a new one.
  const [editing, setEditing] = useState<Saved | null>(null);

  const tags = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path } })), [channelId]);
  const fields = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/fields", { params: { path } })), [channelId]);
  const segments = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/segments", { params: { path } })),
    [channelId],
  );
  const fieldTypes = useMemo(
    () => Object.fromEntries((fields.data?.fields ?? []).map((f) => [f.key, f.type as FieldType])),
    [fields.data],
  );
  const document = useMemo(() => definition(root, fieldTypes), [root, fieldTypes]);
  const json = JSON.stringify(document);
  const [debounced] = useDebouncedValue(json, 400);

  useEffect(() => {
    let live = true;
    setPreviewError(null);
    ok(
      api.POST("/admin/channels/{channel_id}/segments/preview", {
        params: { path },
        body: { definition: JSON.parse(debounced) as Record<string, unknown> },
      }),
    ).then(
      (answer) => live && setPreview(answer),
      (error: Error) => {
        if (!live) return;
        setPreview(null);
        setPreviewError(error);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, channelId, debounced]);

  const save = async () => {
    setFailure(null);
    setSaved(null);
    try {
      const body = { name: name.trim(), description: description.trim() || null, definition: document };
      const answer = await ok(
        editing
          ? api.PUT("/admin/channels/{channel_id}/segments/{segment_id}", {
              params: { path: { channel_id: channelId, segment_id: editing.segmentId } },
              body,
            })
          : api.POST("/admin/channels/{channel_id}/segments", { params: { path }, body }),
      );
      setSaved(answer.name);
      setEditing(answer);
      segments.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const remove = async (segmentId: string) => {
    setFailure(null);
    try {
      await ok(
        api.DELETE("/admin/channels/{channel_id}/segments/{segment_id}", {
          params: { path: { channel_id: channelId, segment_id: segmentId } },
        }),
      );
      if (editing?.segmentId === segmentId) startNew();
      segments.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const open = (segment: Saved) => {
    setFailure(null);
    setSaved(null);
    try {
      setRoot(fromDefinition(segment.definition));
    } catch (error) {
      setFailure(new Error(t("segments.notBuildable", { name: segment.name, what: (error as Error).message })));
      return;
    }
    setEditing(segment);
    setName(segment.name);
    setDescription(segment.description ?? "");
  };
  const startNew = () => {
    setEditing(null);
    setSaved(null);
    setRoot(node("all"));
    setName("");
    setDescription("");
  };

  const context: Builder = {
    tags: (tags.data?.tags ?? []).map((x) => x.name),
    fields: fields.data?.fields ?? [],
    change: (id, change) => setRoot((tree) => update(tree, id, change)),
    t,
  };
  const small = preview !== null && preview.count < SMALL_AUDIENCE;

  return (
    <Stack>
      <Title order={2}>{t("segments.title")}</Title>
      <ErrorNote error={failure} />
      <Grid>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Card withBorder id="segment-builder">
            <Stack>
              <Group justify="space-between">
                <Title order={3} size="h4">
                  {t("segments.builder")}
                </Title>
                {editing && (
                  <Group gap="xs">
                    <Badge variant="light" tt="none" id="segment-editing">
                      {t("segments.editing", { name: editing.name })}
                    </Badge>
                    <Button size="xs" variant="subtle" id="segment-new" onClick={startNew}>
                      {t("segments.new")}
                    </Button>
                  </Group>
                )}
              </Group>
              <GroupEditor n={root} builder={context} root />
              {writable ? (
                <Group align="end" id="segment-save">
                  <TextInput
                    id="segment-name"
                    label={t("segments.name")}
                    value={name}
                    onChange={(e) => setName(e.currentTarget.value)}
                    maxLength={100}
                  />
                  <TextInput
                    id="segment-description"
                    label={t("segments.description")}
                    value={description}
                    onChange={(e) => setDescription(e.currentTarget.value)}
                    maxLength={500}
                  />
                  <Button id="segment-save-button" disabled={!name.trim()} onClick={() => void save()}>
                    {t("common.save")}
                  </Button>
                  {saved && (
                    <Text size="sm" c="green" id="segment-saved">
                      {t("segments.saved", { name: saved })}
                    </Text>
                  )}
                </Group>
              ) : (
                <Text size="sm" c="dimmed">
                  {t("common.readOnly")}
                </Text>
              )}
            </Stack>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Card withBorder id="segment-preview" aria-live="polite">
            <Stack gap="xs">
              <Title order={3} size="h4">
                {t("segments.preview")}
              </Title>
              <ErrorNote error={previewError} />
              {!preview && !previewError && <Loading />}
              {preview && (
                <>
                  <Text size="xl" fw={700} id="segment-count" data-count={preview.count}>
                    {t("segments.count", { count: count(preview.count, language) })}
                  </Text>
                  <Text size="sm" id="segment-reachable">
                    {t("segments.reachable", { count: count(preview.reachable, language) })}
                  </Text>
                  <Text size="sm" c="dimmed" id="segment-describe">
                    {preview.describe}
                  </Text>
                  {small && (
                    <Alert color="yellow" id="segment-small" title={t("segments.small")}>
                      {preview.warning ?? t("segments.smallHint", { min: SMALL_AUDIENCE })}
                    </Alert>
                  )}
                  {preview.warnings
                    .filter((w) => w !== preview.warning)
                    .map((w) => (
                      <Text size="sm" c="orange" key={w}>
                        {w}
                      </Text>
                    ))}
                  <Text size="sm" fw={600}>
                    {t("segments.sample")}
                  </Text>
                  <Stack gap={2} id="segment-sample">
                    {preview.sample.map((friend) => (
                      <Text size="sm" key={friend.userId}>
                        {friend.displayName || friend.userId}
                      </Text>
                    ))}
                    {!preview.sample.length && <Text c="dimmed">{t("common.none")}</Text>}
                  </Stack>
                </>
              )}
              <Code block>{JSON.stringify(document, null, 1)}</Code>
            </Stack>
          </Card>
        </Grid.Col>
      </Grid>
      <Card withBorder id="segment-list">
        <Stack gap="xs">
          <Title order={3} size="h4">
            {t("segments.saved.title")}
          </Title>
          <ErrorNote error={segments.error} />
          {segments.loading && !segments.data && <Loading />}
          {segments.data && !segments.data.items.length && <Text c="dimmed">{t("segments.none")}</Text>}
          {!!segments.data?.items.length && (
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("segments.name")}</Table.Th>
                  <Table.Th>{t("segments.description")}</Table.Th>
                  <Table.Th>{t("segments.definition")}</Table.Th>
                  <Table.Th>{t("segments.updated")}</Table.Th>
                  <Table.Th>{t("segments.actions")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {segments.data.items.map((segment) => (
                  <Table.Tr key={segment.segmentId} data-segment-id={segment.segmentId}>
                    <Table.Td>{segment.name}</Table.Td>
                    <Table.Td>{segment.description ?? ""}</Table.Td>
                    <Table.Td>
                      <Code>{JSON.stringify(segment.definition)}</Code>
                    </Table.Td>
                    <Table.Td>{dateTime(segment.updatedAt, timeZone, language)}</Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Button size="xs" variant="light" className="segment-open" onClick={() => open(segment)}>
                          {writable ? t("segments.edit") : t("segments.open")}
                        </Button>
                        {writable && (
                          <Button
                            size="xs"
                            color="red"
                            variant="light"
                            className="segment-delete"
                            onClick={() => void remove(segment.segmentId)}
                          >
                            {t("segments.delete")}
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      </Card>
    </Stack>
  );
}

interface Builder {
  tags: string[];
  fields: Schemas["FieldDefinition"][];
  change: (id: number, change: (n: Node) => Node | null) => void;
  t: (key: MessageKey, values?: Record<string, string | number>) => string;
}

function GroupEditor({ n, builder, root = false }: { n: Node; builder: Builder; root?: boolean }) {
  const { t, change } = builder;
  const [adding, setAdding] = useState<Kind>("tag");
  return (
    <Stack gap="xs" className="segment-group" data-node={n.id}>
      <Group gap="xs" align="end">
        <NativeSelect
          size="xs"
          label={root ? t("segments.match") : t("segments.group")}
          className="segment-group-kind"
          value={n.kind}
          onChange={(e) => change(n.id, (x) => ({ ...x, kind: e.currentTarget.value as Kind }))}
          data={[
            { value: "all", label: t("segments.kind.all") },
            { value: "any", label: t("segments.kind.any") },
          ]}
        />
        <NativeSelect
          size="xs"
          label={t("segments.addKind")}
          className="segment-add-kind"
          value={adding}
          onChange={(e) => setAdding(e.currentTarget.value as Kind)}
          data={[...CONDITION_KINDS, "all", "any"].map((k) => ({
            value: k,
            label: t(`segments.kind.${k}` as MessageKey),
          }))}
        />
        <Button
          size="xs"
          variant="light"
          className="segment-add"
          onClick={() => change(n.id, (x) => ({ ...x, children: [...x.children, node(adding)] }))}
        >
          {t("segments.add")}
        </Button>
      </Group>
      <Stack gap="xs" pl="md" style={{ borderLeft: "2px solid var(--mantine-color-gray-3)" }}>
        {!n.children.length && (
          <Text size="xs" c="dimmed">
            {n.kind === "all" ? t("segments.emptyAll") : t("segments.emptyAny")}
          </Text>
        )}
        {n.children.map((child) => (
          <Group key={child.id} align="start" gap="xs" wrap="nowrap" className="segment-condition" data-kind={child.kind}>
            <Checkbox
              mt={24}
              size="xs"
              label={t("segments.not")}
              checked={child.negate}
              onChange={(e) => {
                const negate = e.currentTarget.checked;
                change(child.id, (x) => ({ ...x, negate }));
              }}
            />
            <div style={{ flex: 1 }}>
              {child.kind === "all" || child.kind === "any" ? (
                <GroupEditor n={child} builder={builder} />
              ) : (
                <ConditionEditor n={child} builder={builder} />
              )}
            </div>
            <ActionIcon
              mt={24}
              variant="subtle"
              color="red"
              aria-label={t("segments.remove")}
              className="segment-remove"
              onClick={() => change(child.id, () => null)}
            >
              ×
            </ActionIcon>
          </Group>
        ))}
      </Stack>
    </Stack>
  );
}

function ConditionEditor({ n, builder }: { n: Node; builder: Builder }) {
  const { t, change } = builder;
  const set = (patch: Partial<Node>) => change(n.id, (x) => ({ ...x, ...patch }));
  const kind = <Badge variant="light">{t(`segments.kind.${n.kind}` as MessageKey)}</Badge>;
  const choice = (
    label: MessageKey,
    key: "value" | "key" | "op",
    data: { value: string; label: string }[],
    options: { className?: string; value?: string } = {},
  ) => (
    <NativeSelect
      size="xs"
      label={t(label)}
      className={options.className}
      value={options.value ?? n[key]}
      onChange={(e) => set({ [key]: e.currentTarget.value })}
      data={data}
    />
  );
  const text = (label: MessageKey, key: "value" | "key" | "withinDays", hint?: MessageKey) => (
    <TextInput
      size="xs"
      label={t(label)}
      placeholder={hint ? t(hint) : undefined}
      value={n[key]}
      className={`segment-${key}`}
      onChange={(e) => set({ [key]: e.currentTarget.value })}
    />
  );
  switch (n.kind) {
    case "tag":
    case "tags_any":
    case "tags_all":
      return (
        <Group gap="xs" align="end">
          {kind}
          <MultiSelect
            size="xs"
            label={t("segments.tags")}
            data={builder.tags}
            value={n.tags}
            maxValues={n.kind === "tag" ? 1 : undefined}
            searchable
            className="segment-tags"
            onChange={(tags) => set({ tags })}
            miw={200}
          />
        </Group>
      );
    case "field": {
      const field = builder.fields.find((f) => f.key === n.key);
      const ops = FIELD_OPS[(field?.type as FieldType) ?? "text"];
      return (
        <Group gap="xs" align="end">
          {kind}
          {choice(
            "segments.field",
            "key",
            [{ value: "", label: "—" }, ...builder.fields.map((f) => ({ value: f.key, label: f.label }))],
            { className: "segment-field" },
          )}
          {choice(
            "segments.op",
            "op",
            ops.map((op) => ({ value: op, label: t(`segments.op.${op}` as MessageKey) })),
            { className: "segment-op", value: ops.includes(n.op) ? n.op : ops[0] },
          )}
          {n.op !== "exists" && n.op !== "not_exists" && text("segments.value", "value", "segments.valueHint")}
        </Group>
      );
    }
    case "status":
      return (
        <Group gap="xs" align="end">
          {kind}
          {choice(
            "segments.value",
            "value",
            ["active", "blocked", "login_only"].map((s) => ({ value: s, label: t(`friends.status.${s}` as MessageKey) })),
            { className: "segment-status" },
          )}
        </Group>
      );
    case "linked":
      return (
        <Group gap="xs" align="end">
          {kind}
          {choice("segments.value", "value", [
            { value: "true", label: t("segments.linked.true") },
            { value: "false", label: t("segments.linked.false") },
          ])}
        </Group>
      );
    case "inflow_route":
    case "language":
      return (
        <Group gap="xs" align="end">
          {kind}
          {text("segments.value", "value", "segments.listHint")}
        </Group>
      );
    case "followed":
    case "last_interaction":
    case "blocked":
      return (
        <Group gap="xs" align="end">
          {kind}
          {choice(
            "segments.op",
            "op",
            TIME_TESTS[n.kind].map((op) => ({ value: op, label: t(`segments.op.${op}` as MessageKey) })),
          )}
          {text("segments.value", "value", n.op.endsWith("within_days") ? "segments.daysHint" : "segments.dateHint")}
        </Group>
      );
    case "event":
      return (
        <Group gap="xs" align="end">
          {kind}
          {text("segments.eventName", "key", "segments.eventHint")}
          {choice(
            "segments.op",
            "op",
            EVENT_TESTS.map((op) => ({ value: op, label: t(`segments.event.${op}` as MessageKey) })),
          )}
          {n.op !== "any" && text("segments.value", "value", "segments.numberHint")}
          {n.op !== "last_within_days" && text("segments.withinDays", "withinDays", "segments.daysHint")}
        </Group>
      );
    default:
      return kind;
  }
}
