// リッチメニュー: the applied set (docs/rich-menus.md) — each menu's image with its tap
// areas drawn over it and what each does, the tabs (aliases) between menus, who gets
// which menu (the rules, then the default), the sync's progress; the JSON spec, checked
// (dry run) and applied, with the API's 422 reasons.
import {
  Alert,
  Badge,
  Box,
  Button,
  Card,
  Group,
  JsonInput,
  List,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
  UnstyledButton,
} from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { ApiError, type Schemas } from "../api/client";
import { fetchBlob } from "../blobs";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { useI18n, type MessageKey } from "../i18n";
import { can } from "../session";
import {
  describeAction,
  parseSpec,
  problemLines,
  ruleLines,
  scaledBox,
  shownHeight,
  specText,
  SpecError,
  tabsOf,
  type Action,
  type ApplyRequest,
  type Menu,
} from "./richMenusLogic";

type State = Schemas["RichMenuState"];

const KIND_LABEL: Record<ReturnType<typeof describeAction>["kind"], MessageKey> = {
  postback: "richmenus.action.postback",
  uri: "richmenus.action.uri",
  message: "richmenus.action.message",
  richmenuswitch: "richmenus.action.richmenuswitch",
};

export function RichMenus() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const writes = can(session, "write");
  const path = { channel_id: channelId };
  // null: the channel has no menus applied yet (404), which is not an error here.
  const loaded = useLoad(async () => {
    const { data, error, response } = await api.GET("/admin/channels/{channel_id}/richmenus", { params: { path } });
    if (response.status === 404) return null;
    if (error !== undefined || !data) throw new ApiError(response.status, problemLines(error)[0] ?? `HTTP ${response.status}`);
    return data;
  }, [channelId]);
  const state = loaded.data;
  const document = state?.document ?? null;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("richmenus.title")}</Title>
        <Button variant="default" onClick={loaded.reload} id="richmenus-reload">
          {t("common.reload")}
        </Button>
      </Group>
      <ErrorNote error={loaded.error} />
      {loaded.loading && !state && <Loading />}
      {!loaded.loading && !loaded.error && state === null && (
        <Text c="dimmed" id="richmenus-empty">
          {t("richmenus.empty")}
        </Text>
      )}
      {state && <SyncStatus state={state} />}
      {document && (
        <>
          <SimpleGrid cols={{ base: 1, lg: 2 }} id="richmenus-list">
            {document.menus.map((menu) => (
              <MenuCard
                key={menu.id}
                menu={menu}
                summary={state?.menus.find((m) => m.id === menu.id)}
                isDefault={document.default === menu.id}
                version={state?.version ?? 0}
              />
            ))}
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <Tabs set={document} />
            <Rules set={document} />
          </SimpleGrid>
        </>
      )}
      {!loaded.loading && !loaded.error && (
        <Editor key={state?.version ?? 0} state={state ?? null} writes={writes} onApplied={loaded.reload} />
      )}
    </Stack>
  );
}

function SyncStatus({ state }: { state: State }) {
  const { t } = useI18n();
  const color = state.status === "ready" ? "green" : state.status === "failed" ? "red" : "blue";
  const counts = Object.entries(state.counts ?? {});
  return (
    <Group gap="xs" id="richmenus-status">
      <Text size="sm">{t("richmenus.version", { version: state.version ?? "—" })}</Text>
      {state.status && (
        <Badge color={color} variant="light">
          {t(`richmenus.status.${state.status}` as MessageKey)}
        </Badge>
      )}
      {state.phase && state.status === "syncing" && <Text size="sm">{t("richmenus.phase", { phase: state.phase })}</Text>}
      {counts.length > 0 && (
        <Text size="sm" c="dimmed">
          {counts.map(([k, v]) => `${k} ${v}`).join(" · ")}
        </Text>
      )}
      {state.reason && (
        <Text size="sm" c="red.8">
          {state.reason}
        </Text>
      )}
    </Group>
  );
}

function MenuCard({
  menu,
  summary,
  isDefault,
  version,
}: {
  menu: Menu;
  summary: Schemas["MenuSummary"] | undefined;
  isDefault: boolean;
  version: number;
}) {
  const { t } = useI18n();
  const [selected, setSelected] = useState<number | null>(null);
  const area = selected === null ? null : menu.areas[selected];
  return (
    <Card withBorder padding="sm" data-menu={menu.id}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap">
          <Group gap="xs">
            <Title order={3} size="h5">
              {menu.name}
            </Title>
            <Badge variant="outline" tt="none">
              {t("richmenus.alias", { id: menu.id })}
            </Badge>
            {isDefault && <Badge color="green">{t("richmenus.default")}</Badge>}
            {menu.selected && <Badge variant="light">{t("richmenus.selected")}</Badge>}
          </Group>
          <Text size="xs" c="dimmed">
            {menu.size.width}×{menu.size.height} · {t("richmenus.chatBar", { text: menu.chat_bar_text })}
          </Text>
        </Group>
        <MenuPreview menu={menu} version={version} selected={selected} onSelect={setSelected} />
        <Text size="xs" c="dimmed">
          {summary?.rich_menu_id ? t("richmenus.lineId", { id: summary.rich_menu_id }) : t("richmenus.notOnLine")}
          {summary?.image && ` · ${t(summary.image === "given" ? "richmenus.image.given" : "richmenus.image.generated")}`}
        </Text>
        <Box data-area-detail aria-live="polite">
          {area ? (
            <Text size="sm">
              <b>{area.label ?? t("richmenus.areaN", { n: (selected ?? 0) + 1 })}</b>: <ActionLine action={area.action} />
            </Text>
          ) : (
            <Text size="sm" c="dimmed">
              {t("richmenus.pickArea")}
            </Text>
          )}
        </Box>
      </Stack>
    </Card>
  );
}

function ActionLine({ action }: { action: Action }) {
  const { t } = useI18n();
  const described = describeAction(action);
  return (
    <>
      {t(KIND_LABEL[described.kind])} <code>{described.detail}</code>
    </>
  );
}

// The image, fetched with the bearer token, and one button per area over it.
function MenuPreview({
  menu,
  version,
  selected,
  onSelect,
}: {
  menu: Menu;
  version: number;
  selected: number | null;
  onSelect: (index: number) => void;
}) {
  const { config, hooks, channelId } = useConsole();
  const { t } = useI18n();
  const frame = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [src, setSrc] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);

  useEffect(() => {
    const element = frame.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    setWidth(element.clientWidth);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    let live = true;
    let url: string | null = null;
    setFailure(null);
    fetchBlob(config.apiBaseUrl, hooks, `/admin/channels/${channelId}/richmenus/${encodeURIComponent(menu.id)}/image`).then(
      (blob) => {
        if (!live) return;
        url = URL.createObjectURL(blob);
        setSrc(url);
      },
      (error: Error) => live && setFailure(error),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [config.apiBaseUrl, hooks, channelId, menu.id, version]);

  const height = width ? shownHeight(menu.size, width) : 0;
  return (
    <Stack gap={4}>
      <div
        ref={frame}
        data-preview={menu.id}
        style={{
          position: "relative",
          width: "100%",
          height,
          background: "var(--mantine-color-gray-2)",
          borderRadius: 4,
          overflow: "hidden",
        }}
      >
        {src && (
          <img
            src={src}
            alt={t("richmenus.imageAlt", { name: menu.name })}
            style={{ position: "absolute", inset: 0, width: "100%", height: "100%" }}
          />
        )}
        {width > 0 &&
          menu.areas.map((area, index) => {
            const box = scaledBox(area.bounds, menu.size, width);
            const described = describeAction(area.action);
            const name = area.label ?? t("richmenus.areaN", { n: index + 1 });
            return (
              <Tooltip key={index} label={`${name}: ${t(KIND_LABEL[described.kind])} ${described.detail}`} withArrow>
                <UnstyledButton
                  data-area={index}
                  aria-label={`${name}: ${t(KIND_LABEL[described.kind])} ${described.detail}`}
                  aria-pressed={selected === index}
                  onClick={() => onSelect(index)}
                  style={{
                    position: "absolute",
                    left: box.left,
                    top: box.top,
                    width: box.width,
                    height: box.height,
                    border: `2px ${selected === index ? "solid" : "dashed"} var(--mantine-color-orange-6)`,
                    background: selected === index ? "rgba(255, 146, 43, 0.25)" : "rgba(255, 255, 255, 0.08)",
                    boxSizing: "border-box",
                  }}
                />
              </Tooltip>
            );
          })}
      </div>
      <ErrorNote error={failure} />
    </Stack>
  );
}

function Tabs({ set }: { set: Schemas["MenuSet"] }) {
  const { t } = useI18n();
  const tabs = tabsOf(set);
  return (
    <Card withBorder padding="sm" id="richmenus-tabs">
      <Title order={3} size="h5" mb="xs">
        {t("richmenus.tabs")}
      </Title>
      {tabs.length ? (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("richmenus.tabs.from")}</Table.Th>
              <Table.Th>{t("richmenus.tabs.area")}</Table.Th>
              <Table.Th>{t("richmenus.tabs.to")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {tabs.map((tab) => (
              <Table.Tr key={`${tab.from}-${tab.area}`}>
                <Table.Td>{tab.from}</Table.Td>
                <Table.Td>{tab.label ?? t("richmenus.areaN", { n: tab.area + 1 })}</Table.Td>
                <Table.Td>{tab.to}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : (
        <Text size="sm" c="dimmed">
          {t("richmenus.tabs.none")}
        </Text>
      )}
    </Card>
  );
}

function Rules({ set }: { set: Schemas["MenuSet"] }) {
  const { t } = useI18n();
  const lines = ruleLines(set);
  return (
    <Card withBorder padding="sm" id="richmenus-rules">
      <Title order={3} size="h5" mb="xs">
        {t("richmenus.rules")}
      </Title>
      {lines.length ? (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>#</Table.Th>
              <Table.Th>{t("richmenus.rules.segment")}</Table.Th>
              <Table.Th>{t("richmenus.rules.menu")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {lines.map((line) => (
              <Table.Tr key={line.order ?? "default"}>
                <Table.Td>{line.order ?? "—"}</Table.Td>
                <Table.Td>{line.segment ? <code>{line.segment}</code> : t("richmenus.rules.everyoneElse")}</Table.Td>
                <Table.Td>{line.menu}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : (
        <Text size="sm" c="dimmed">
          {t("richmenus.rules.none")}
        </Text>
      )}
    </Card>
  );
}

// The uploaded images of the applied menus, as base64, for the ids the spec keeps: the
// console edits the JSON only, so a menu keeps its uploaded image unless the set drops it.
async function keptImages(
  load: (menuId: string) => Promise<Blob>,
  state: State | null,
  body: ApplyRequest,
): Promise<Record<string, string>> {
  const ids = new Set(body.menus.map((m) => String(m.id)));
  const given = (state?.menus ?? []).filter((m) => m.image === "given" && ids.has(m.id));
  const images: Record<string, string> = {};
  for (const menu of given) {
    const bytes = new Uint8Array(await (await load(menu.id)).arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    images[menu.id] = btoa(binary);
  }
  return images;
}

function Editor({ state, writes, onApplied }: { state: State | null; writes: boolean; onApplied: () => void }) {
  const { api, channelId, config, hooks } = useConsole();
  const { t } = useI18n();
  const [text, setText] = useState(() => specText(state?.document));
  const [answer, setAnswer] = useState<State | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async (dryRun: boolean) => {
    setAnswer(null);
    setProblems([]);
    setBusy(true);
    try {
      const body = parseSpec(text);
      const images = await keptImages(
        (menuId) => fetchBlob(config.apiBaseUrl, hooks, `/admin/channels/${channelId}/richmenus/${encodeURIComponent(menuId)}/image`),
        state,
        body,
      );
      const { data, error, response } = await api.PUT("/admin/channels/{channel_id}/richmenus", {
        params: { path: { channel_id: channelId }, query: { dry_run: dryRun } },
        body: { ...body, images: { ...images, ...(body.images ?? {}) } },
      });
      if (error !== undefined || !data) {
        const lines = problemLines(error);
        setProblems(lines.length ? [`HTTP ${response.status}`, ...lines] : [`HTTP ${response.status}`]);
        return;
      }
      setAnswer(data);
      if (!dryRun && data.action === "applied") onApplied();
    } catch (error) {
      setProblems([error instanceof SpecError ? t("richmenus.badJson", { reason: error.message }) : (error as Error).message]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card withBorder id="richmenus-editor">
      <Stack gap="xs">
        <Title order={3} size="h4">
          {t("richmenus.spec")}
        </Title>
        <Text size="sm" c="dimmed">
          {t("richmenus.specHint")}
        </Text>
        <JsonInput
          id="richmenus-spec"
          label={t("richmenus.specLabel")}
          autosize
          minRows={8}
          maxRows={30}
          value={text}
          readOnly={!writes}
          onChange={setText}
          validationError="JSON"
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: 12 } }}
        />
        {problems.length > 0 && (
          <Alert color="red" role="alert" id="richmenus-problems" title={t("richmenus.refused")}>
            <List size="sm">
              {problems.map((line, i) => (
                <List.Item key={i}>{line}</List.Item>
              ))}
            </List>
          </Alert>
        )}
        {answer && (
          <Alert color={answer.action === "would_apply" ? "blue" : "green"} id="richmenus-result">
            <Text size="sm" fw={600}>
              {t(`richmenus.result.${answer.action}` as MessageKey)}
            </Text>
            <Text size="sm">
              {answer.menus.map((m) => `${m.id}: ${m.change ? t(`richmenus.change.${m.change}` as MessageKey) : "—"}`).join(" / ")}
              {answer.rules_changed && ` · ${t("richmenus.rulesChanged")}`}
            </Text>
          </Alert>
        )}
        {writes ? (
          <Group>
            <Button variant="default" loading={busy} onClick={() => submit(true)} id="richmenus-check">
              {t("richmenus.check")}
            </Button>
            <Button loading={busy} onClick={() => submit(false)} id="richmenus-apply">
              {t("richmenus.apply")}
            </Button>
          </Group>
        ) : (
          <Text size="sm" c="dimmed">
            {t("common.readOnly")}
          </Text>
        )}
      </Stack>
    </Card>
  );
}
