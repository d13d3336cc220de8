// 流入経路: the channel's inflow routes (docs/inflow-routes.md) with their counters
// (…/reports/routes), the route's URL (copy) and QR code (PNG / SVG, fetched with the
// bearer token and saved as a file); create, edit and delete for those who may.
import {
  Alert,
  Badge,
  Button,
  CopyButton,
  Group,
  Modal,
  MultiSelect,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useState, type FormEvent } from "react";
import { ApiError, ok, reason } from "../api/client";
import { fetchBlob, saveBlob } from "../blobs";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime, percent } from "../format";
import { useI18n, type MessageKey } from "../i18n";
import { can } from "../session";
import {
  countersOf,
  createBody,
  emptyForm,
  qrFileName,
  ROUTE_ID,
  settingsOf,
  toForm,
  UTM_KEYS,
  type Route,
  type RouteForm,
} from "./routesLogic";

export function Routes() {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const writes = can(session, "write");
  const path = { channel_id: channelId };
  const routes = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/routes", { params: { path } })), [channelId]);
  const report = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/reports/routes", { params: { path, query: { format: "json" } } })),
    [channelId],
  );
  // null: closed; a form with an empty original: creating; else editing that route.
  const [editing, setEditing] = useState<{ form: RouteForm; original: Route | null } | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const reload = () => {
    routes.reload();
    report.reload();
  };

  const remove = async (route: Route) => {
    if (!window.confirm(t("routes.confirmDelete", { name: route.name }))) return;
    setFailure(null);
    try {
      await ok(api.DELETE("/admin/channels/{channel_id}/routes/{route_id}", { params: { path: { ...path, route_id: route.route_id } } }));
      setNotice(t("routes.deleted", { name: route.name }));
      reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const list = routes.data?.routes ?? [];
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("routes.title")}</Title>
        {writes && (
          <Button id="routes-new" onClick={() => setEditing({ form: emptyForm(), original: null })}>
            {t("routes.new")}
          </Button>
        )}
      </Group>
      <ErrorNote error={routes.error ?? report.error ?? failure} />
      {notice && (
        <Alert color="green" withCloseButton closeButtonLabel={t("routes.dismiss")} onClose={() => setNotice(null)} id="routes-notice">
          {notice}
        </Alert>
      )}
      {routes.loading && !routes.data && <Loading />}
      {routes.data && !list.length && <Text c="dimmed">{t("routes.empty")}</Text>}
      {list.length > 0 && (
        <Table.ScrollContainer minWidth={900}>
          <Table id="routes-list" striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("routes.route")}</Table.Th>
                <Table.Th>{t("routes.friends")}</Table.Th>
                <Table.Th>{t("routes.blocked")}</Table.Th>
                <Table.Th>{t("routes.linked")}</Table.Th>
                <Table.Th>{t("routes.converted")}</Table.Th>
                <Table.Th>{t("routes.url")}</Table.Th>
                <Table.Th>{t("routes.qr")}</Table.Th>
                <Table.Th>{t("routes.updated")}</Table.Th>
                {writes && <Table.Th>{t("routes.actions")}</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((route) => {
                const counters = countersOf(route, report.data?.routes);
                return (
                  <Table.Tr key={route.route_id} data-route={route.route_id}>
                    <Table.Td>
                      <Text fw={600} size="sm">
                        {route.name}
                      </Text>
                      <Text size="xs" c="dimmed">
                        {route.route_id}
                      </Text>
                      <Group gap={4} mt={2}>
                        {route.tags.map((tag) => (
                          <Badge key={tag} size="xs" variant="light">
                            {tag}
                          </Badge>
                        ))}
                        {route.scenario && (
                          <Badge size="xs" variant="outline" color="grape">
                            {t("routes.scenarioBadge", { id: route.scenario })}
                          </Badge>
                        )}
                      </Group>
                    </Table.Td>
                    <Table.Td data-counter="friends">{count(counters.friends, language)}</Table.Td>
                    <Table.Td data-counter="blocked">{count(counters.blocked, language)}</Table.Td>
                    <Table.Td data-counter="linked">{count(counters.linked, language)}</Table.Td>
                    <Table.Td data-counter="converted">
                      {count(counters.converted, language)}
                      {counters.conversion_rate !== null && (
                        <Text span size="xs" c="dimmed">
                          {" "}
                          ({percent(counters.conversion_rate)})
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Text size="xs" ff="monospace" data-url>
                          {route.url}
                        </Text>
                        <CopyButton value={route.url}>
                          {({ copied, copy }) => (
                            <Button size="compact-xs" variant="subtle" onClick={copy} aria-label={t("routes.copyUrl", { name: route.name })}>
                              {copied ? t("routes.copied") : t("routes.copy")}
                            </Button>
                          )}
                        </CopyButton>
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <QrButtons route={route} onError={setFailure} />
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs">{dateTime(route.updated_at, timeZone, language)}</Text>
                    </Table.Td>
                    {writes && (
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Button size="compact-xs" variant="default" onClick={() => setEditing({ form: toForm(route), original: route })}>
                            {t("routes.edit")}
                          </Button>
                          <Button size="compact-xs" color="red" variant="subtle" onClick={() => remove(route)}>
                            {t("routes.delete")}
                          </Button>
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {editing && (
        <RouteEditor
          form={editing.form}
          original={editing.original}
          onClose={() => setEditing(null)}
          onSaved={(route, created) => {
            setEditing(null);
            setNotice(t(created ? "routes.created" : "routes.saved", { name: route.name }));
            reload();
          }}
        />
      )}
    </Stack>
  );
}

function QrButtons({ route, onError }: { route: Route; onError: (error: Error) => void }) {
  const { config, hooks, channelId } = useConsole();
  const { t } = useI18n();
  const [busy, setBusy] = useState<"png" | "svg" | null>(null);
  const download = async (format: "png" | "svg") => {
    setBusy(format);
    try {
      const blob = await fetchBlob(
        config.apiBaseUrl,
        hooks,
        `/admin/channels/${channelId}/routes/${encodeURIComponent(route.route_id)}/qr.${format}?scale=8`,
      );
      saveBlob(blob, qrFileName(route.route_id, format));
    } catch (error) {
      onError(error as Error);
    } finally {
      setBusy(null);
    }
  };
  return (
    <Group gap={4} wrap="nowrap">
      {(["png", "svg"] as const).map((format) => (
        <Button
          key={format}
          size="compact-xs"
          variant="light"
          loading={busy === format}
          data-qr={format}
          aria-label={t("routes.qrDownload", { format: format.toUpperCase(), name: route.name })}
          onClick={() => download(format)}
        >
          {format.toUpperCase()}
        </Button>
      ))}
    </Group>
  );
}

function RouteEditor({
  form: initial,
  original,
  onClose,
  onSaved,
}: {
  form: RouteForm;
  original: Route | null;
  onClose: () => void;
  onSaved: (route: Route, created: boolean) => void;
}) {
  const { api, channelId } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const [form, setForm] = useState(initial);
  const [failure, setFailure] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const tags = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path } })), [channelId]);
  const scenarios = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/scenarios", { params: { path } })), [channelId]);
  const creating = original === null;
  const badId = creating && form.route_id !== "" && !ROUTE_ID.test(form.route_id);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    setBusy(true);
    try {
      const answer = creating
        ? await api.POST("/admin/channels/{channel_id}/routes", { params: { path }, body: createBody(form) })
        : await api.PUT("/admin/channels/{channel_id}/routes/{route_id}", {
            params: { path: { ...path, route_id: original.route_id } },
            body: settingsOf(form),
          });
      if (answer.error !== undefined || !answer.response.ok) {
        const body = answer.error as { field?: string } | undefined;
        const why = reason(answer.error, answer.response.status);
        throw new ApiError(answer.response.status, body?.field ? `${body.field}: ${why}` : why);
      }
      onSaved(answer.data as unknown as Route, creating);
    } catch (error) {
      setFailure(error as Error);
    } finally {
      setBusy(false);
    }
  };

  const set = <K extends keyof RouteForm>(key: K, value: RouteForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const tagNames = (tags.data?.tags ?? []).map((tag) => tag.name);
  const scenarioIds = (scenarios.data?.scenarios ?? []).map((s) => ({ value: s.scenario_id, label: s.name ?? s.scenario_id }));
  return (
    <Modal opened onClose={onClose} title={creating ? t("routes.new") : t("routes.editTitle", { id: original.route_id })} size="lg">
      <form onSubmit={submit} id="route-form">
        <Stack gap="xs">
          <TextInput
            id="route-id"
            label={t("routes.routeId")}
            description={t("routes.routeIdHint")}
            required
            value={form.route_id}
            readOnly={!creating}
            error={badId ? t("routes.badId") : undefined}
            onChange={(e) => set("route_id", e.currentTarget.value)}
          />
          <TextInput id="route-name" label={t("routes.name")} required value={form.name} onChange={(e) => set("name", e.currentTarget.value)} />
          <MultiSelect
            id="route-tags"
            label={t("routes.tags")}
            data={[...new Set([...tagNames, ...form.tags])]}
            value={form.tags}
            searchable
            onChange={(value) => set("tags", value)}
          />
          <Select
            id="route-scenario"
            label={t("routes.scenario")}
            data={scenarioIds}
            value={form.scenario}
            clearable
            onChange={(value) => set("scenario", value)}
          />
          <TextInput
            id="route-landing"
            label={t("routes.landing")}
            placeholder="https://shop.example/welcome"
            value={form.landing_url}
            onChange={(e) => set("landing_url", e.currentTarget.value)}
          />
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            {UTM_KEYS.map((key) => (
              <TextInput
                key={key}
                id={`route-utm-${key}`}
                label={t(`routes.utm.${key}` as MessageKey)}
                value={form.utm[key]}
                onChange={(e) => {
                  const value = e.currentTarget.value;
                  setForm((f) => ({ ...f, utm: { ...f.utm, [key]: value } }));
                }}
              />
            ))}
          </SimpleGrid>
          <ErrorNote error={failure} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={busy} id="route-save">
              {creating ? t("routes.create") : t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
