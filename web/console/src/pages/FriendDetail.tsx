import { Alert, Anchor, Badge, Button, Card, Group, Select, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { ApiError, ok, type Schemas } from "../api/client";
import { setChatMode } from "../api/chatMode";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { dateTime } from "../format";
import { useI18n } from "../i18n";
import { href, navigate } from "../router";
import { can } from "../session";

type Friend = Schemas["FriendResponse"];
type TimelineItem = Schemas["TimelineItem"];
type TimelinePage = Schemas["linecrm__admin__timeline__TimelineResponse"];

const TIMELINE_KINDS = [
  "message",
  "postback",
  "event",
  "delivery",
  "tags",
  "fields",
  "follow",
  "block",
  "link",
  "scenario",
] as const;
// An empty page with a cursor means "older entries may follow" (a page covers 30 days):
// follow it up to this many times per click (400 days: the history kept).
const TIMELINE_HOPS = 14;

export function FriendDetail({ userId }: { userId: string }) {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId, user_id: userId };
  const [friend, setFriend] = useState<Friend | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [newTag, setNewTag] = useState<string | null>(null);

  const loaded = useLoad(async () => {
    const answer = await ok(api.GET("/admin/channels/{channel_id}/friends/{user_id}", { params: { path } }));
    setFriend(answer);
    return answer;
  }, [channelId, userId]);
  const tags = useLoad(
    () => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path: { channel_id: channelId } } })),
    [channelId],
  );
  const events = useLoad(
    () =>
      ok(api.GET("/admin/channels/{channel_id}/friends/{user_id}/events", { params: { path, query: { limit: 20 } } })),
    [channelId, userId],
  );
  const link = useLoad(async () => {
    try {
      return await ok(api.GET("/admin/channels/{channel_id}/friends/{user_id}/link", { params: { path } }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }, [channelId, userId]);
  // Enrolments: the plan of each scenario the friend is in (a 404 = not enrolled).
  const plans = useLoad(async () => {
    if (!can(session, "reports")) return [];
    const scenarios = await ok(
      api.GET("/admin/channels/{channel_id}/scenarios", { params: { path: { channel_id: channelId } } }),
    );
    const found = await Promise.all(
      scenarios.scenarios.map(async (scenario) => {
        const answer = await api.GET("/admin/channels/{channel_id}/scenarios/{scenario_id}/plan", {
          params: {
            path: { channel_id: channelId, scenario_id: scenario.scenario_id },
            query: { user_id: userId },
          },
        });
        return answer.data ? { scenario, plan: answer.data } : null;
      }),
    );
    return found.filter((x) => x !== null);
  }, [channelId, userId]);

  const [timeline, setTimeline] = useState<{ items: TimelineItem[]; cursor: string | null }>({
    items: [],
    cursor: null,
  });
  const fetchTimeline = async (before?: string) => {
    let page: TimelinePage = { items: [], cursor: before ?? null };
    const items: TimelineItem[] = [];
    for (let hop = 0; hop < TIMELINE_HOPS; hop += 1) {
      page = await ok(
        api.GET("/admin/channels/{channel_id}/friends/{user_id}/timeline", {
          params: { path, query: { limit: 30, before: page.cursor ?? undefined } },
        }),
      );
      items.push(...page.items);
      if (items.length || !page.cursor) break;
    }
    return { items, cursor: page.cursor ?? null };
  };
  const timelineLoad = useLoad(async () => {
    const first = await fetchTimeline();
    setTimeline(first);
    return first;
  }, [channelId, userId]);
  const olderTimeline = async () => {
    if (!timeline.cursor) return;
    setFailure(null);
    try {
      const page = await fetchTimeline(timeline.cursor);
      setTimeline((x) => ({ items: [...x.items, ...page.items], cursor: page.cursor }));
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const change = async (body: { add_tags?: string[]; remove_tags?: string[] }) => {
    setFailure(null);
    try {
      setFriend(await ok(api.PATCH("/admin/channels/{channel_id}/friends/{user_id}", { params: { path }, body })));
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const chat = async (take: boolean) => {
    setFailure(null);
    try {
      const staff = session.email ?? t("app.machine");
      setFriend(await setChatMode(api, channelId, userId, take ? "manual" : "auto", staff));
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const back = (
    <Anchor
      href={href("/friends")}
      onClick={(event) => {
        event.preventDefault();
        navigate("/friends");
      }}
    >
      ← {t("friend.back")}
    </Anchor>
  );
  if (loaded.loading && !friend) return <Loading />;
  if (!friend) return <Stack>{back}<ErrorNote error={loaded.error} /></Stack>;

  const fields = Object.entries(friend.fields ?? {});
  const tagNames = new Set((friend.tags ?? []).map((x) => x.name));
  return (
    <Stack>
      {back}
      <Title order={2} id="friend-name">
        {friend.display_name || friend.user_id}
      </Title>
      <ErrorNote error={failure} />
      {!!friend.warnings?.length && (
        <Alert color="yellow" title={t("friend.warnings")}>
          {friend.warnings.map((w) => (
            <Text size="sm" key={w.subject}>
              {w.subject}: {w.message}
            </Text>
          ))}
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder id="friend-profile">
          <Title order={3} size="h4">
            {t("friend.profile")}
          </Title>
          <Table>
            <Table.Tbody>
              <Row label={t("friends.userId")} value={friend.user_id} />
              <Row label={t("friends.status")} value={friend.status} />
              <Row label={t("friend.language")} value={friend.language ?? "—"} />
              <Row label={t("friend.statusMessage")} value={friend.status_message ?? "—"} />
              <Row label={t("friends.followed")} value={dateTime(friend.first_followed_at, timeZone, language)} />
              <Row
                label={t("friends.lastInteraction")}
                value={dateTime(friend.last_interaction_at, timeZone, language)}
              />
              <Row label={t("friend.inflow")} value={friend.inflow_route ?? "—"} />
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder id="friend-chat">
          <Stack>
            <Title order={3} size="h4">
              {t("friend.chat")}
            </Title>
            <Text id="friend-chat-mode">
              {friend.chat_mode
                ? t("friend.chatManual", {
                    staff: friend.chat_mode.staff,
                    since: dateTime(friend.chat_mode.since, timeZone, language),
                  })
                : t("friend.chatAuto")}
            </Text>
            {can(session, "chat") && (
              <Group>
                {friend.chat_mode ? (
                  <Button variant="light" onClick={() => chat(false)} id="friend-release">
                    {t("friend.release")}
                  </Button>
                ) : (
                  <Button onClick={() => chat(true)} id="friend-take">
                    {t("friend.take")}
                  </Button>
                )}
              </Group>
            )}
            <Title order={3} size="h4">
              {t("friend.link")}
            </Title>
            <Text size="sm" id="friend-link">
              {link.data
                ? t("friend.memberId", {
                    member: link.data.member_id,
                    at: dateTime(link.data.linked_at, timeZone, language),
                  })
                : t("friend.notLinked")}
            </Text>
            <Title order={3} size="h4">
              {t("friend.richMenu")}
            </Title>
            <Text size="sm" id="friend-rich-menu">
              {richMenuText(friend.rich_menu)}
            </Text>
          </Stack>
        </Card>
        <Card withBorder id="friend-tags">
          <Stack>
            <Title order={3} size="h4">
              {t("friend.tags")}
            </Title>
            <Group gap="xs">
              {(friend.tags ?? []).map((x) => (
                <Badge
                  key={x.tag_id}
                  variant="light"
                  rightSection={
                    can(session, "tagFriends") ? (
                      <Anchor
                        component="button"
                        size="xs"
                        aria-label={`${t("friends.removeTag")}: ${x.name}`}
                        onClick={() => change({ remove_tags: [x.name] })}
                      >
                        ×
                      </Anchor>
                    ) : undefined
                  }
                >
                  {x.name}
                </Badge>
              ))}
              {!friend.tags?.length && <Text c="dimmed">{t("common.none")}</Text>}
            </Group>
            {can(session, "tagFriends") && (
              <Group align="end">
                <Select
                  id="friend-add-tag"
                  label={t("friend.addTag")}
                  data={(tags.data?.tags ?? []).filter((x) => !tagNames.has(x.name)).map((x) => x.name)}
                  value={newTag}
                  onChange={setNewTag}
                  searchable
                  w={220}
                />
                <Button
                  disabled={!newTag}
                  onClick={() => {
                    if (newTag) void change({ add_tags: [newTag] });
                    setNewTag(null);
                  }}
                >
                  {t("friends.addTag")}
                </Button>
              </Group>
            )}
          </Stack>
        </Card>
        <Card withBorder id="friend-fields">
          <Title order={3} size="h4">
            {t("friend.fields")}
          </Title>
          {fields.length ? (
            <Table>
              <Table.Tbody>
                {fields.map(([key, value]) => (
                  <Row key={key} label={key} value={Array.isArray(value) ? value.join(", ") : String(value)} />
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Text c="dimmed">{t("friend.noFields")}</Text>
          )}
        </Card>
      </SimpleGrid>
      <Card withBorder id="friend-enrolments">
        <Title order={3} size="h4">
          {t("friend.enrolments")}
        </Title>
        <ErrorNote error={plans.error} />
        {plans.loading && <Loading />}
        {plans.data && !plans.data.length && <Text c="dimmed">{t("common.none")}</Text>}
        {plans.data?.map(({ scenario, plan }) => (
          <Stack key={scenario.scenario_id} gap={4} mt="xs" data-scenario-id={scenario.scenario_id}>
            <Text fw={600}>{t("friend.planFor", { scenario: scenario.name })}</Text>
            <Text size="sm" className="friend-next-step">
              {nextStep(plan.steps)}
            </Text>
            <Table>
              <Table.Tbody>
                {plan.steps.map((step) => (
                  <Table.Tr key={step.step_id}>
                    <Table.Td>{step.step_id}</Table.Td>
                    <Table.Td>{step.why.join(" / ")}</Table.Td>
                    <Table.Td>{dateTime(step.due_at, timeZone, language)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Stack>
        ))}
      </Card>
      <Card withBorder id="friend-timeline">
        <Title order={3} size="h4">
          {t("friend.timeline")}
        </Title>
        <ErrorNote error={timelineLoad.error} />
        {timelineLoad.loading && <Loading />}
        {!timelineLoad.loading && !timeline.items.length && <Text c="dimmed">{t("friend.timelineEmpty")}</Text>}
        {!!timeline.items.length && (
          <Table.ScrollContainer minWidth={560}>
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("friend.timelineAt")}</Table.Th>
                  <Table.Th>{t("friend.timelineKind")}</Table.Th>
                  <Table.Th>{t("friend.timelineWhat")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {timeline.items.map((item, index) => (
                  <Table.Tr key={`${item.at}-${item.kind}-${index}`} data-kind={item.kind}>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{dateTime(item.at, timeZone, language)}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={kindColor(item)} w="max-content">
                        {kindLabel(item)}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{timelineText(item)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {timeline.cursor && !timelineLoad.loading && (
          <Button variant="subtle" onClick={olderTimeline} id="friend-timeline-more">
            {t("friend.timelineOlder")}
          </Button>
        )}
      </Card>
      <Card withBorder id="friend-events">
        <Title order={3} size="h4">
          {t("friend.events")}
        </Title>
        <ErrorNote error={events.error} />
        {events.data && !events.data.events.length && <Text c="dimmed">{t("friend.noEvents")}</Text>}
        {!!events.data?.events.length && (
          <Table>
            <Table.Tbody>
              {events.data.events.map((event) => (
                <Table.Tr key={event.idempotency_key}>
                  <Table.Td>{dateTime(event.occurred_at, timeZone, language)}</Table.Td>
                  <Table.Td>{event.name}</Table.Td>
                  <Table.Td>{event.value ?? ""}</Table.Td>
                  <Table.Td>{event.source}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  );

  function richMenuText(menu: Friend["rich_menu"]): string {
    if (!menu || menu.source === "none") return t("friend.richMenuNone");
    const name = menu.name ?? menu.menu_id ?? menu.rich_menu_id ?? "";
    return t(menu.source === "assigned" ? "friend.richMenuAssigned" : "friend.richMenuDefault", { name });
  }

  function nextStep(steps: Schemas["PlannedStep"][]): string {
    const next = [...steps].sort((a, b) => a.due_at.localeCompare(b.due_at))[0];
    if (!next) return t("friend.noNextStep");
    return t("friend.nextStep", { step: next.step_id, at: dateTime(next.due_at, timeZone, language) });
  }

  function kindLabel(item: TimelineItem): string {
    if (item.kind === "message") {
      return t(item.details.direction === "out" ? "friend.timeline.out" : "friend.timeline.in");
    }
    return (TIMELINE_KINDS as readonly string[]).includes(item.kind)
      ? t(`friend.timeline.${item.kind as (typeof TIMELINE_KINDS)[number]}`)
      : item.kind;
  }

  function kindColor(item: TimelineItem): string {
    if (item.kind === "message") return item.details.direction === "out" ? "green" : "blue";
    if (item.kind === "delivery") return item.details.status === "dead" || item.details.status === "failed" ? "red" : "teal";
    if (item.kind === "block") return "red";
    return "gray";
  }

  // The API's line is English; the kinds the console knows are told from the details.
  function timelineText(item: TimelineItem): string {
    const d = item.details as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === "string" ? value : "");
    const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
    switch (item.kind) {
      case "message": {
        const staff = text(d.staff);
        const body = text(d.text) || `(${text(d.messageType)})`;
        return staff ? `${body} — ${staff}` : body;
      }
      case "postback":
        return text(d.text);
      case "delivery":
        return t("friend.timeline.deliveryText", {
          status: text(d.status),
          campaign: text(d.campaign) || text(d.cause),
          reason: text(d.reason) ? ` (${text(d.reason)})` : "",
        });
      case "tags":
        return [
          ...list(d.addedTags).map((x) => `+${x}`),
          ...list(d.removedTags).map((x) => `−${x}`),
          `(${text(d.source)})`,
        ].join(" ");
      case "fields":
        return [
          ...Object.entries((d.setFields as Record<string, unknown>) ?? {}).map(([k, v]) => `${k}=${String(v)}`),
          ...list(d.clearedFields).map((x) => `${x} ×`),
          `(${text(d.source)})`,
        ].join(" ");
      case "event":
        return [text(d.name), d.value != null ? String(d.value) : "", text(d.source) ? `(${text(d.source)})` : ""]
          .filter(Boolean)
          .join(" ");
      case "follow":
      case "block":
        return "";
      case "link":
        return text(d.memberId);
      default:
        return item.text;
    }
  }
}

function Row({ label, value }: { label: string; value: string }) {
  return (
    <Table.Tr>
      <Table.Th w="40%">{label}</Table.Th>
      <Table.Td>{value}</Table.Td>
    </Table.Tr>
  );
}
