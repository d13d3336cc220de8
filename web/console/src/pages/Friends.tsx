import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  FileInput,
  Group,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useMemo, useState } from "react";
import { ApiError, ok, rawCall, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { toCsv, download } from "../csv";
import { dateTime } from "../format";
import { newKey } from "../idempotency";
import { useI18n } from "../i18n";
import { href, navigate } from "../router";
import { can } from "../session";
import { apiQuery, filtersSearch, parseFilters, type FriendFilters, type Linked, type Status } from "./friendsLogic";

type Friend = Schemas["FriendResponse"];
type ImportJob = Schemas["ImportJob"];

export function Friends() {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const [filters, setFilters] = useState<FriendFilters>(() => parseFilters(window.location.search));
  const [fieldDraft, setFieldDraft] = useState(filters.fieldValue);
  const { tag, status } = filters;
  // Every change of a filter goes to the URL (replaced, not pushed: Back leaves the page).
  const filter = (change: Partial<FriendFilters>) => {
    const next = { ...filters, ...change };
    setFilters(next);
    window.history.replaceState(null, "", `${window.location.pathname}${filtersSearch(next)}`);
  };
  const [pages, setPages] = useState<{ friends: Friend[]; cursor: string | null }>({ friends: [], cursor: null });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkTag, setBulkTag] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);

  const tags = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path } })), [channelId]);
  // The choices of the field, route and segment filters: the API lets roles with reports
  // read them (an operator filters by tag, status and link only).
  const reads = can(session, "reports");
  const choices = useLoad(async () => {
    if (!reads) return null;
    const [fields, routes, segments] = await Promise.all([
      ok(api.GET("/admin/channels/{channel_id}/fields", { params: { path } })),
      ok(api.GET("/admin/channels/{channel_id}/routes", { params: { path } })),
      ok(api.GET("/admin/channels/{channel_id}/segments", { params: { path } })),
    ]);
    return { fields: fields.fields, routes: routes.routes, segments: segments.items };
  }, [channelId, reads]);
  // One page of the filtered list (100 friends), from `cursor` on.
  const fetchPage = (cursor?: string) =>
    ok(
      api.GET("/admin/channels/{channel_id}/friends", {
        params: { path, query: { ...apiQuery(filters), limit: 100, cursor } },
      }),
    );
  const list = useLoad(async () => {
    const page = await fetchPage();
    setPages({ friends: page.friends, cursor: page.next_cursor ?? null });
    setSelected(new Set());
    return page;
  }, [channelId, filtersSearch(filters)]);

  const more = async () => {
    if (!pages.cursor) return;
    try {
      const page = await fetchPage(pages.cursor);
      setPages((p) => ({ friends: [...p.friends, ...page.friends], cursor: page.next_cursor ?? null }));
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const bulk = async (change: "add" | "remove") => {
    if (!bulkTag || !selected.size) return;
    setFailure(null);
    try {
      const answer = await ok(
        api.POST("/admin/channels/{channel_id}/friends/bulk", {
          params: { path },
          body: {
            user_ids: [...selected],
            ...(change === "add" ? { add_tags: [bulkTag] } : { remove_tags: [bulkTag] }),
          },
        }),
      );
      setNotice(t("friends.bulkDone", { updated: answer.updated, missing: answer.not_found }));
      list.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const exportCsv = () => {
    const rows = pages.friends.map((f) => [
      f.user_id,
      f.display_name ?? "",
      f.status,
      (f.tags ?? []).map((x) => x.name).join(";"),
      f.first_followed_at ?? "",
      f.last_interaction_at ?? "",
    ]);
    download(
      `friends-${channelId}.csv`,
      toCsv(["user_id", "display_name", "status", "tags", "first_followed_at", "last_interaction_at"], rows),
    );
  };

  const tagOptions = useMemo(
    () => (tags.data?.tags ?? []).map((x) => ({ value: x.name, label: x.name })),
    [tags.data],
  );
  const friends = pages.friends;
  const allChecked = friends.length > 0 && friends.every((f) => selected.has(f.user_id));
  const writes = can(session, "tagFriends");

  return (
    <Stack>
      <Title order={2}>{t("friends.title")}</Title>
      <Group align="end">
        <Select
          id="friends-filter-tag"
          label={t("friends.tag")}
          data={tagOptions}
          value={tag}
          onChange={(value) => filter({ tag: value })}
          clearable
          searchable
          w={220}
        />
        <Select
          id="friends-filter-status"
          label={t("friends.status")}
          data={(["active", "blocked", "login_only"] as const).map((s) => ({
            value: s,
            label: t(`friends.status.${s}`),
          }))}
          placeholder={t("friends.status.any")}
          value={status}
          onChange={(value) => filter({ status: value as Status | null })}
          clearable
          w={180}
        />
        <Select
          id="friends-filter-linked"
          label={t("friends.linked")}
          data={(["any", "yes", "no"] as const).map((value) => ({ value, label: t(`friends.linked.${value}`) }))}
          value={filters.linked}
          onChange={(value) => filter({ linked: (value ?? "any") as Linked })}
          allowDeselect={false}
          w={150}
        />
        {/* Drawn at once (filled in when the choices arrive): the list does not move. */}
        {reads && (
          <>
            <Select
              id="friends-filter-segment"
              label={t("friends.segment")}
              data={(choices.data?.segments ?? []).map((x) => ({ value: x.segmentId, label: x.name }))}
              value={filters.segment}
              onChange={(value) => filter({ segment: value })}
              placeholder={t("friends.status.any")}
              clearable
              searchable
              w={220}
            />
            <Select
              id="friends-filter-route"
              label={t("friends.route")}
              data={(choices.data?.routes ?? []).map((x) => ({ value: x.route_id, label: x.name }))}
              value={filters.route}
              onChange={(value) => filter({ route: value })}
              placeholder={t("friends.status.any")}
              clearable
              searchable
              w={200}
            />
            <Select
              id="friends-filter-field"
              label={t("friends.field")}
              data={(choices.data?.fields ?? []).map((x) => ({ value: x.key, label: x.label || x.key }))}
              value={filters.fieldKey}
              onChange={(value) => filter({ fieldKey: value, fieldValue: value ? fieldDraft : "" })}
              placeholder={t("friends.status.any")}
              clearable
              searchable
              w={180}
            />
            <TextInput
              id="friends-filter-field-value"
              label={t("friends.fieldEquals")}
              value={fieldDraft}
              onChange={(event) => setFieldDraft(event.currentTarget.value)}
              onBlur={() => filters.fieldKey && fieldDraft !== filters.fieldValue && filter({ fieldValue: fieldDraft })}
              onKeyDown={(event) => {
                if (event.key === "Enter" && filters.fieldKey) filter({ fieldValue: fieldDraft });
              }}
              disabled={!filters.fieldKey}
              w={160}
            />
          </>
        )}
        <Button variant="default" onClick={exportCsv} id="friends-export" disabled={!friends.length}>
          {t("friends.export")}
        </Button>
      </Group>
      {writes && (
        <Group align="end" id="friends-bulk">
          <Select
            id="friends-bulk-tag"
            label={t("friends.bulkTag")}
            data={tagOptions}
            value={bulkTag}
            onChange={setBulkTag}
            searchable
            w={220}
          />
          <Button onClick={() => bulk("add")} disabled={!bulkTag || !selected.size} id="friends-bulk-add">
            {t("friends.addTag")}
          </Button>
          <Button
            variant="light"
            color="red"
            onClick={() => bulk("remove")}
            disabled={!bulkTag || !selected.size}
            id="friends-bulk-remove"
          >
            {t("friends.removeTag")}
          </Button>
          <Text size="sm">{t("friends.selected", { count: selected.size })}</Text>
        </Group>
      )}
      {notice && (
        <Alert color="green" id="friends-notice" withCloseButton closeButtonLabel="×" onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      <ErrorNote error={choices.error} />
      <ErrorNote error={failure ?? list.error} />
      {list.loading && <Loading />}
      {!list.loading && (
        <>
          <Text size="sm" c="dimmed" id="friends-count">
            {t("friends.count", { count: friends.length })}
          </Text>
          <Table.ScrollContainer minWidth={720}>
            <Table striped highlightOnHover id="friends-table">
              <Table.Thead>
                <Table.Tr>
                  {writes && (
                    <Table.Th w={40}>
                      <Checkbox
                        aria-label={t("friends.selectAll")}
                        checked={allChecked}
                        onChange={() =>
                          setSelected(allChecked ? new Set() : new Set(friends.map((f) => f.user_id)))
                        }
                      />
                    </Table.Th>
                  )}
                  <Table.Th>{t("friends.name")}</Table.Th>
                  <Table.Th>{t("friends.status")}</Table.Th>
                  <Table.Th>{t("friends.tags")}</Table.Th>
                  <Table.Th>{t("friends.followed")}</Table.Th>
                  <Table.Th>{t("friends.lastInteraction")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {friends.map((friend) => (
                  <Table.Tr key={friend.user_id} data-user-id={friend.user_id}>
                    {writes && (
                      <Table.Td>
                        <Checkbox
                          aria-label={friend.display_name ?? friend.user_id}
                          checked={selected.has(friend.user_id)}
                          onChange={() =>
                            setSelected((s) => {
                              const next = new Set(s);
                              if (next.has(friend.user_id)) next.delete(friend.user_id);
                              else next.add(friend.user_id);
                              return next;
                            })
                          }
                        />
                      </Table.Td>
                    )}
                    <Table.Td>
                      <Anchor
                        href={href(`/friends/${encodeURIComponent(friend.user_id)}`)}
                        onClick={(event) => {
                          event.preventDefault();
                          navigate(`/friends/${encodeURIComponent(friend.user_id)}`);
                        }}
                      >
                        {friend.display_name || friend.user_id}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={friend.status === "active" ? "green" : "gray"}>
                        {statusLabel(friend.status)}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {(friend.tags ?? []).map((x) => (
                          <Badge key={x.tag_id} variant="outline" size="sm">
                            {x.name}
                          </Badge>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td>{dateTime(friend.first_followed_at, timeZone, language)}</Table.Td>
                    <Table.Td>{dateTime(friend.last_interaction_at, timeZone, language)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {!friends.length && <Text c="dimmed">{t("friends.empty")}</Text>}
          {pages.cursor && (
            <Button variant="subtle" onClick={more} id="friends-more">
              {t("common.more")}
            </Button>
          )}
        </>
      )}
      {can(session, "write") && <CsvImport onDone={list.reload} />}
    </Stack>
  );

  function statusLabel(value: string): string {
    return value === "active" || value === "blocked" || value === "login_only" ? t(`friends.status.${value}`) : value;
  }
}

function CsvImport({ onDone }: { onDone: () => void }) {
  const { api, hooks, config, channelId } = useConsole();
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [createTags, setCreateTags] = useState(false);
  const [job, setJob] = useState<ImportJob | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    if (!file) return;
    setBusy(true);
    setFailure(null);
    try {
      const query = createTags ? "?create_missing_tags=true" : "";
      let current = (await rawCall(config.apiBaseUrl, hooks, `/admin/channels/${channelId}/imports/csv${query}`, {
        method: "POST",
        headers: { "Content-Type": "text/csv", "Idempotency-Key": newKey() },
        body: await file.arrayBuffer(),
      })) as ImportJob;
      setJob(current);
      for (let round = 0; round < 120 && !["done", "failed"].includes(current.status ?? ""); round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        current = await ok(
          api.GET("/admin/channels/{channel_id}/imports/{job_id}", {
            params: { path: { channel_id: channelId, job_id: current.job_id } },
          }),
        );
        setJob(current);
      }
      onDone();
    } catch (error) {
      setFailure(error instanceof ApiError ? error : (error as Error));
    } finally {
      setBusy(false);
    }
  };

  const counters = job?.counters;
  return (
    <Card withBorder id="friends-import">
      <Stack>
        <Title order={3} size="h4">
          {t("friends.import")}
        </Title>
        <Group align="end">
          <FileInput
            id="friends-import-file"
            label={t("friends.importFile")}
            accept=".csv,text/csv"
            value={file}
            onChange={setFile}
            w={360}
          />
          <Checkbox
            label={t("friends.createTags")}
            checked={createTags}
            onChange={(e) => setCreateTags(e.currentTarget.checked)}
          />
          <Button onClick={start} loading={busy} disabled={!file} id="friends-import-start">
            {t("friends.importStart")}
          </Button>
        </Group>
        <ErrorNote error={failure} />
        {job && (
          <Text size="sm" id="friends-import-status">
            {t("friends.importStatus", {
              status: job.status ?? "",
              seen: counters?.rows_seen ?? 0,
              created: counters?.friends_created ?? 0,
              updated: counters?.friends_updated ?? 0,
              rejected: counters?.rows_rejected ?? 0,
            })}
          </Text>
        )}
        {job?.error && <Alert color="red">{job.error}</Alert>}
        {!!job?.rejections?.length && (
          <Table id="friends-import-rejections">
            <Table.Caption>{t("friends.rejectedRows")}</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("friends.row")}</Table.Th>
                <Table.Th>{t("friends.userId")}</Table.Th>
                <Table.Th>{t("friends.reason")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {job.rejections.map((r) => (
                <Table.Tr key={r.row}>
                  <Table.Td>{r.row}</Table.Td>
                  <Table.Td>{r.user_id ?? "—"}</Table.Td>
                  <Table.Td>{r.reason}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
