import { Alert, Badge, Button, Group, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { ApiError, ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { dateTime } from "../format";
import { useI18n } from "../i18n";
import { can } from "../session";

type Delivery = Schemas["Delivery"];
type Status = Schemas["DeliveryStatus"];
const COLORS: Record<Status, string> = { queued: "blue", sent: "green", skipped: "gray", dead: "red" };

export function Deliveries() {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId };
  const [status, setStatus] = useState<Status | null>(null);
  const [cause, setCause] = useState("");
  const [applied, setApplied] = useState("");
  const [rows, setRows] = useState<{ items: Delivery[]; cursor: string | null }>({ items: [], cursor: null });
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [force, setForce] = useState<Set<string>>(new Set());

  const query = (cursor?: string) => ({
    status: status ?? undefined,
    cause: applied.trim() || undefined,
    limit: 50,
    cursor,
  });
  const list = useLoad(async () => {
    const page = await ok(api.GET("/admin/channels/{channel_id}/deliveries", { params: { path, query: query() } }));
    setRows({ items: page.deliveries, cursor: page.next_cursor ?? null });
    return page;
  }, [channelId, status, applied]);

  const more = async () => {
    if (!rows.cursor) return;
    try {
      const page = await ok(
        api.GET("/admin/channels/{channel_id}/deliveries", { params: { path, query: query(rows.cursor) } }),
      );
      setRows((r) => ({ items: [...r.items, ...page.deliveries], cursor: page.next_cursor ?? null }));
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const redrive = async (delivery: Delivery) => {
    setFailure(null);
    try {
      const forced = force.has(delivery.delivery_id);
      const again = await ok(
        api.POST("/admin/channels/{channel_id}/deliveries/{delivery_id}/redrive", {
          params: { path: { channel_id: channelId, delivery_id: delivery.delivery_id }, query: { force: forced } },
        }),
      );
      setNotice(t("deliveries.redriven", { id: again.delivery_id }));
      list.reload();
    } catch (error) {
      // 409 past LINE's retry-key window: offer the forced re-drive.
      if (error instanceof ApiError && error.status === 409) setForce((f) => new Set(f).add(delivery.delivery_id));
      setFailure(error as Error);
    }
  };
  const redriveDead = async () => {
    setFailure(null);
    try {
      const answer = await ok(
        api.POST("/admin/channels/{channel_id}/deliveries/redrive-dead", {
          params: { path },
          body: { cause: applied.trim() || null, force: false, limit: 100 },
        }),
      );
      setNotice(t("deliveries.redrivenAll", { count: answer.redriven.length }));
      list.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const writes = can(session, "write");
  return (
    <Stack>
      <Title order={2}>{t("deliveries.title")}</Title>
      <Group align="end">
        <Select
          id="deliveries-status"
          label={t("deliveries.status")}
          placeholder={t("deliveries.any")}
          data={(["queued", "sent", "skipped", "dead"] as const).map((s) => ({ value: s, label: s }))}
          value={status}
          onChange={(v) => setStatus(v as Status | null)}
          clearable
          w={160}
        />
        <form
          onSubmit={(event) => {
            event.preventDefault();
            setApplied(cause);
          }}
        >
          <Group align="end">
            <TextInput
              id="deliveries-cause"
              label={t("deliveries.cause")}
              placeholder={t("deliveries.causeHint")}
              value={cause}
              onChange={(e) => setCause(e.currentTarget.value)}
              w={220}
            />
            <Button type="submit" variant="default">
              {t("common.apply")}
            </Button>
          </Group>
        </form>
        {writes && (
          <Button color="red" variant="light" onClick={redriveDead} id="deliveries-redrive-dead">
            {t("deliveries.redriveDead")}
          </Button>
        )}
      </Group>
      {notice && (
        <Alert color="green" withCloseButton closeButtonLabel="×" onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      <ErrorNote error={failure ?? list.error} />
      {list.loading && <Loading />}
      {!list.loading && !rows.items.length && <Text c="dimmed">{t("deliveries.empty")}</Text>}
      {!!rows.items.length && (
        <Table.ScrollContainer minWidth={900}>
          <Table striped id="deliveries-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("deliveries.queuedAt")}</Table.Th>
                <Table.Th>{t("deliveries.status")}</Table.Th>
                <Table.Th>{t("deliveries.cause")}</Table.Th>
                <Table.Th>{t("deliveries.campaign")}</Table.Th>
                <Table.Th>{t("deliveries.recipients")}</Table.Th>
                <Table.Th>{t("deliveries.sentAt")}</Table.Th>
                <Table.Th ta="right">{t("deliveries.attempts")}</Table.Th>
                <Table.Th>{t("deliveries.reason")}</Table.Th>
                {writes && <Table.Th />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.items.map((d) => (
                <Table.Tr key={d.delivery_id} data-delivery-id={d.delivery_id} data-status={d.status}>
                  <Table.Td>{dateTime(d.queued_at, timeZone, language)}</Table.Td>
                  <Table.Td>
                    <Badge color={COLORS[d.status]} variant="light">
                      {d.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{d.cause}</Table.Td>
                  <Table.Td>
                    {d.campaign ?? "—"}
                    {d.variant ? ` (${d.variant})` : ""}
                  </Table.Td>
                  <Table.Td>{d.to_all_friends ? t("deliveries.allFriends") : d.recipients.length}</Table.Td>
                  <Table.Td>{dateTime(d.sent_at, timeZone, language)}</Table.Td>
                  <Table.Td ta="right">{d.attempts ?? 0}</Table.Td>
                  <Table.Td>
                    <Text size="xs">{d.reason ?? d.last_error ?? d.deferred_reason ?? ""}</Text>
                  </Table.Td>
                  {writes && (
                    <Table.Td>
                      {d.status === "dead" && (
                        <Button size="compact-xs" color={force.has(d.delivery_id) ? "red" : undefined} onClick={() => redrive(d)}>
                          {force.has(d.delivery_id) ? t("deliveries.redriveForce") : t("deliveries.redrive")}
                        </Button>
                      )}
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {rows.cursor && (
        <Button variant="subtle" onClick={more}>
          {t("common.more")}
        </Button>
      )}
    </Stack>
  );
}
