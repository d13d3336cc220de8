// 監査ログ: every change made through the admin API, newest first (GET …/audit, a page at
// a time with "more"): who, what, when, and before/after as a diff (or the JSON). The
// channel's log filters by friend; the owner also sees the changes outside a channel
// (staff users, signing keys: GET /admin/audit).
import { Badge, Button, Card, Code, Group, SegmentedControl, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { Fragment, useCallback, useEffect, useState } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole } from "../context";
import { dateTime } from "../format";
import { useI18n } from "../i18n";
import { can, isRole } from "../session";
import { diff, filledRoute, shown } from "./auditLogic";

type Entry = Schemas["AuditEntryResponse"];
type Scope = "channel" | "deployment";

const PAGE = 50;
const USER_ID = /^U[0-9a-f]{32}$/;

export function Audit() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const [scope, setScope] = useState<Scope>("channel");
  const [userFilter, setUserFilter] = useState("");
  const [applied, setApplied] = useState("");
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [loading, setLoading] = useState(false);

  const fetchPage = useCallback(
    (after: string | null) =>
      scope === "deployment"
        ? ok(api.GET("/admin/audit", { params: { query: { limit: PAGE, cursor: after } } }))
        : ok(
            api.GET("/admin/channels/{channel_id}/audit", {
              params: {
                path: { channel_id: channelId },
                query: { limit: PAGE, cursor: after, user_id: applied || null },
              },
            }),
          ),
    [api, channelId, scope, applied],
  );

  const load = useCallback(
    async (after: string | null) => {
      setFailure(null);
      setLoading(true);
      try {
        const page = await fetchPage(after);
        setEntries((shown) => (after ? [...(shown ?? []), ...page.entries] : page.entries));
        setCursor(page.next_cursor ?? null);
      } catch (error) {
        setFailure(error as Error);
        if (!after) setEntries([]);
      } finally {
        setLoading(false);
      }
    },
    [fetchPage],
  );

  useEffect(() => {
    setEntries(null);
    void load(null);
  }, [load]);

  const badUser = userFilter.trim() !== "" && !USER_ID.test(userFilter.trim());
  return (
    <Stack>
      <Title order={2}>{t("audit.title")}</Title>
      <Card withBorder id="audit-filters">
        <Group align="end">
          {can(session, "staff") && (
            <SegmentedControl
              id="audit-scope"
              aria-label={t("audit.scope")}
              value={scope}
              onChange={(next) => setScope(next as Scope)}
              data={[
                { value: "channel", label: t("audit.scope.channel") },
                { value: "deployment", label: t("audit.scope.deployment") },
              ]}
            />
          )}
          {scope === "channel" && (
            <>
              <TextInput
                id="audit-user"
                label={t("audit.user")}
                placeholder="U…"
                value={userFilter}
                error={badUser ? t("audit.userHint") : undefined}
                onChange={(e) => setUserFilter(e.currentTarget.value)}
                miw={320}
              />
              <Button id="audit-apply" variant="default" disabled={badUser} onClick={() => setApplied(userFilter.trim())}>
                {t("common.apply")}
              </Button>
            </>
          )}
          <Button variant="default" onClick={() => void load(null)}>
            {t("common.reload")}
          </Button>
        </Group>
      </Card>
      <Card withBorder id="audit-list">
        <Stack gap="xs">
          <ErrorNote error={failure} />
          {entries === null && <Loading />}
          {entries !== null && !entries.length && !failure && <Text c="dimmed">{t("audit.none")}</Text>}
          {!!entries?.length && <Entries entries={entries} />}
          {cursor && (
            <Button id="audit-more" variant="light" loading={loading} onClick={() => void load(cursor)}>
              {t("common.more")}
            </Button>
          )}
        </Stack>
      </Card>
    </Stack>
  );
}

function Entries({ entries }: { entries: Entry[] }) {
  const { timeZone } = useConsole();
  const { t, language } = useI18n();
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("audit.when")}</Table.Th>
            <Table.Th>{t("audit.who")}</Table.Th>
            <Table.Th>{t("audit.what")}</Table.Th>
            <Table.Th>{t("audit.details")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((entry) => {
            const detailed = entry.before !== null || entry.after !== null;
            return (
              <Fragment key={entry.entry_id}>
                <Table.Tr className="audit-entry" data-method={entry.method} data-route={entry.route}>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>{dateTime(entry.at, timeZone, language)}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{entry.actor.display}</Text>
                    <Text size="xs" c="dimmed">
                      {isRole(entry.actor.role) ? t(`role.${entry.actor.role}`) : entry.actor.role} · {entry.actor.kind === "staff" ? t("audit.kind.staff") : t("audit.kind.machine")}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{entry.summary}</Text>
                    <Group gap={4}>
                      <Badge size="xs" variant="light" tt="none">
                        {entry.method}
                      </Badge>
                      <Text size="xs" c="dimmed" className="audit-path" style={{ wordBreak: "break-all" }}>
                        {filledRoute(entry.route, entry.path)}
                      </Text>
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    {detailed ? (
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        aria-expanded={open === entry.entry_id}
                        onClick={() => setOpen(open === entry.entry_id ? null : entry.entry_id)}
                      >
                        {t("audit.showChanges")}
                      </Button>
                    ) : (
                      <Text size="xs" c="dimmed">
                        {entry.user_ids?.length ? t("audit.friends", { count: entry.user_ids.length }) : "—"}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
                {open === entry.entry_id && (
                  <Table.Tr>
                    <Table.Td colSpan={4}>
                      <Changes entry={entry} />
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Changes({ entry }: { entry: Entry }) {
  const { t } = useI18n();
  const [raw, setRaw] = useState(false);
  const changes = diff(entry.before, entry.after);
  return (
    <Stack gap="xs" className="audit-changes">
      <Group justify="space-between">
        <Text size="sm" fw={600}>
          {t("audit.changes", { count: changes.length })}
        </Text>
        <Button size="compact-xs" variant="default" onClick={() => setRaw(!raw)}>
          {raw ? t("audit.asDiff") : t("audit.asJson")}
        </Button>
      </Group>
      {raw ? (
        <Group grow align="start">
          <Stack gap={2}>
            <Text size="xs">{t("audit.before")}</Text>
            <Code block>{JSON.stringify(entry.before, null, 1)}</Code>
          </Stack>
          <Stack gap={2}>
            <Text size="xs">{t("audit.after")}</Text>
            <Code block>{JSON.stringify(entry.after, null, 1)}</Code>
          </Stack>
        </Group>
      ) : (
        <Table withTableBorder>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("audit.field")}</Table.Th>
              <Table.Th>{t("audit.before")}</Table.Th>
              <Table.Th>{t("audit.after")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {changes.map((change) => (
              <Table.Tr key={change.path}>
                <Table.Td>
                  <Code>{change.path}</Code>
                </Table.Td>
                <Table.Td c="red.9" style={{ wordBreak: "break-word" }}>
                  {shown(change.before)}
                </Table.Td>
                <Table.Td c="green.9" style={{ wordBreak: "break-word" }}>
                  {shown(change.after)}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
