// 個別チャット: the inbox (latest activity first, unread counts, "needs reply"), one
// conversation (oldest → newest), the reply box with saved templates, take over /
// release; "older" pages back through a conversation (the messages route's `before`).
// Both refresh every 3 s while the tab is visible (src/polling.ts). The saved replies
// (定型文) are edited below: list, create, edit, delete. A viewer reads only: no reply
// box, no take over, nothing marked read, no template changes.
import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Grid,
  Group,
  NavLink,
  Paper,
  ScrollArea,
  SegmentedControl,
  Select,
  Stack,
  Text,
  Table,
  Textarea,
  TextInput,
  Title,
} from "@mantine/core";
import { useCallback, useEffect, useRef, useState } from "react";
import { setChatMode } from "../api/chatMode";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole } from "../context";
import { dateTime } from "../format";
import { useI18n, type MessageKey } from "../i18n";
import { CompositionKey } from "../idempotency";
import { usePolling } from "../polling";
import { can } from "../session";

type Conversation = Schemas["ConversationItem"];
type Message = Schemas["MessageItem"];
type Friend = Schemas["FriendResponse"];
type Template = Schemas["ChatTemplate"];
type Filter = "all" | "needs_reply" | "unread";

export const CHAT_POLL_MS = 3000;

const SOURCES = new Set(["friend", "auto_reply", "welcome", "staff", "broadcast", "scenario", "trigger", "push"]);

export function Chat() {
  const { api, channelId } = useConsole();
  const { t } = useI18n();
  const [filter, setFilter] = useState<Filter>("all");
  const [items, setItems] = useState<Conversation[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [templatesError, setTemplatesError] = useState<Error | null>(null);

  const loadTemplates = useCallback(() => {
    ok(api.GET("/admin/channels/{channel_id}/chat/templates", { params: { path: { channel_id: channelId } } })).then(
      (answer) => {
        setTemplates(answer.items);
        setTemplatesError(null);
      },
      (error: Error) => setTemplatesError(error),
    );
  }, [api, channelId]);
  useEffect(loadTemplates, [loadTemplates]);

  const load = useCallback(async () => {
    try {
      const answer = await ok(
        api.GET("/admin/channels/{channel_id}/chat/conversations", {
          params: { path: { channel_id: channelId }, query: { filter, limit: 50 } },
        }),
      );
      setItems(answer.items);
      setError(null);
    } catch (failure) {
      setError(failure as Error);
    }
  }, [api, channelId, filter]);

  useEffect(() => {
    setItems(null);
    void load();
  }, [load]);
  usePolling(() => void load(), CHAT_POLL_MS);

  const current = items?.find((item) => item.userId === selected) ?? null;
  return (
    <Stack>
      <Title order={2}>{t("chat.title")}</Title>
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Card withBorder id="chat-inbox" padding="xs">
            <Stack gap="xs">
              <Title order={3} size="h4">
                {t("chat.inbox")}
              </Title>
              <SegmentedControl
                id="chat-filter"
                aria-label={t("chat.filter")}
                size="xs"
                value={filter}
                onChange={(next) => setFilter(next as Filter)}
                data={[
                  { value: "all", label: t("chat.filter.all") },
                  { value: "needs_reply", label: t("chat.filter.needs_reply") },
                  { value: "unread", label: t("chat.filter.unread") },
                ]}
              />
              <ErrorNote error={error} />
              {items === null && !error && <Loading />}
              {items !== null && !items.length && <Text c="dimmed">{t("chat.empty")}</Text>}
              {items?.map((item) => (
                <InboxRow
                  key={item.userId}
                  item={item}
                  active={item.userId === selected}
                  onOpen={() => setSelected(item.userId)}
                />
              ))}
            </Stack>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          {selected ? (
            <ConversationView
              key={selected}
              userId={selected}
              summary={current}
              templates={templates ?? []}
              onChanged={() => void load()}
            />
          ) : (
            <Card withBorder>
              <Text c="dimmed">{t("chat.pick")}</Text>
            </Card>
          )}
        </Grid.Col>
      </Grid>
      <TemplateEditor templates={templates} error={templatesError} onChanged={loadTemplates} />
    </Stack>
  );
}

function InboxRow({ item, active, onOpen }: { item: Conversation; active: boolean; onOpen: () => void }) {
  const { timeZone } = useConsole();
  const { t, language } = useI18n();
  const name = item.displayName || item.userId;
  return (
    <NavLink
      component="button"
      type="button"
      active={active}
      onClick={onOpen}
      data-user-id={item.userId}
      data-unread={item.unread}
      data-needs-reply={item.needsReply ? "true" : "false"}
      className="chat-conversation"
      label={
        <Group justify="space-between" wrap="nowrap" gap="xs">
          <Text size="sm" fw={item.unread ? 700 : 500} truncate>
            {name}
          </Text>
          <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
            {dateTime(item.lastMessage.at, timeZone, language)}
          </Text>
        </Group>
      }
      description={
        <Stack gap={2}>
          <Text size="xs" c="dimmed" truncate>
            {item.lastMessage.direction === "out" ? `${t("chat.you")}: ` : ""}
            {item.lastMessage.text}
          </Text>
          <Group gap={4}>
            {item.unread > 0 && (
              <Badge size="xs" color="red" className="chat-unread">
                {t("chat.unread", { count: item.unread })}
              </Badge>
            )}
            {item.needsReply && (
              <Badge size="xs" color="orange" variant="light" className="chat-needs-reply">
                {t("chat.needsReply")}
              </Badge>
            )}
            {item.mode === "manual" && (
              <Badge size="xs" variant="outline" tt="none">
                {t("chat.manualBy", { staff: item.staff ?? "" })}
              </Badge>
            )}
          </Group>
        </Stack>
      }
    />
  );
}

// Newest-first pages merged into one oldest → newest list: a message seen again (a
// refresh: its delivery status may have moved on) replaces itself in place, a new one
// goes to the end, an older page goes in front.
function merged(shown: Message[], page: Message[], older: boolean): Message[] {
  const fresh = new Map(page.map((m) => [m.id, m]));
  const kept = shown.map((m) => fresh.get(m.id) ?? m);
  const known = new Set(shown.map((m) => m.id));
  const added = [...page].reverse().filter((m) => !known.has(m.id));
  return older ? [...added, ...kept] : [...kept, ...added];
}

function ConversationView({
  userId,
  summary,
  templates,
  onChanged,
}: {
  userId: string;
  summary: Conversation | null;
  templates: Template[];
  onChanged: () => void;
}) {
  const { api, channelId, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const path = { channel_id: channelId, user_id: userId };
  const answering = can(session, "chat");
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [friend, setFriend] = useState<Friend | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  // The `before` cursor of the next older page: undefined until the first page came,
  // null when there is nothing older.
  const [olderCursor, setOlderCursor] = useState<string | null | undefined>(undefined);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const lastIn = useRef<string | null>(null);

  const markRead = useCallback(async () => {
    if (!answering) return;
    await ok(api.POST("/admin/channels/{channel_id}/chat/conversations/{user_id}/read", { params: { path } }));
    onChanged();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, channelId, userId, answering]);

  const load = useCallback(async () => {
    try {
      const answer = await ok(
        api.GET("/admin/channels/{channel_id}/chat/conversations/{user_id}/messages", {
          params: { path, query: { limit: 50 } },
        }),
      );
      setMessages((shown) => merged(shown ?? [], answer.items, false));
      setOlderCursor((known) => (known === undefined ? (answer.cursor ?? null) : known));
      // A new message from the friend while the conversation is open: read it.
      const newestIn = answer.items.find((m) => m.direction === "in")?.id ?? null;
      if (lastIn.current !== null && newestIn !== lastIn.current) void markRead().catch(() => undefined);
      lastIn.current = newestIn ?? "";
    } catch (error) {
      setFailure(error as Error);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, channelId, userId, markRead]);

  useEffect(() => {
    void load();
    void markRead().catch((error: Error) => setFailure(error));
    ok(api.GET("/admin/channels/{channel_id}/friends/{user_id}", { params: { path } }))
      .then(setFriend)
      .catch((error: Error) => setFailure(error));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [userId, channelId]);
  usePolling(() => void load(), CHAT_POLL_MS);

  const older = async () => {
    if (!olderCursor) return;
    setLoadingOlder(true);
    try {
      const answer = await ok(
        api.GET("/admin/channels/{channel_id}/chat/conversations/{user_id}/messages", {
          params: { path, query: { limit: 50, before: olderCursor } },
        }),
      );
      setMessages((shown) => merged(shown ?? [], answer.items, true));
      setOlderCursor(answer.cursor ?? null);
    } catch (error) {
      setFailure(error as Error);
    } finally {
      setLoadingOlder(false);
    }
  };

  const mode = async (take: boolean) => {
    setFailure(null);
    try {
      const staff = session.email ?? t("app.machine");
      setFriend(await setChatMode(api, channelId, userId, take ? "manual" : "auto", staff));
      onChanged();
    } catch (error) {
      setFailure(error as Error);
    }
  };

  const name = friend?.display_name || summary?.displayName || userId;
  const chatMode = friend ? friend.chat_mode : null;
  const bottom = useRef<HTMLDivElement>(null);
  const newest = messages?.[messages.length - 1]?.id;
  // A new message scrolls to the end; an older page (the newest unchanged) keeps the place.
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "nearest" });
  }, [newest]);

  return (
    <Card withBorder id="chat-conversation" data-user-id={userId}>
      <Stack>
        <Group justify="space-between">
          <Title order={3} size="h4" id="chat-name">
            {name}
          </Title>
          <Group gap="xs">
            <Text size="sm" id="chat-mode">
              {chatMode
                ? t("friend.chatManual", {
                    staff: chatMode.staff,
                    since: dateTime(chatMode.since, timeZone, language),
                  })
                : t("friend.chatAuto")}
            </Text>
            {answering &&
              friend &&
              (chatMode ? (
                <Button size="xs" variant="light" onClick={() => mode(false)} id="chat-release">
                  {t("friend.release")}
                </Button>
              ) : (
                <Button size="xs" onClick={() => mode(true)} id="chat-take">
                  {t("friend.take")}
                </Button>
              ))}
          </Group>
        </Group>
        <ErrorNote error={failure} />
        <ScrollArea h={420} type="auto" id="chat-messages">
          {messages === null && <Loading />}
          {messages !== null && !messages.length && <Text c="dimmed">{t("chat.noMessages")}</Text>}
          <Stack gap="xs" p="xs">
            {olderCursor && (
              <Group justify="center">
                <Button size="compact-xs" variant="subtle" id="chat-older" loading={loadingOlder} onClick={() => void older()}>
                  {t("chat.older")}
                </Button>
              </Group>
            )}
            {messages?.map((message) => <Bubble key={message.id} message={message} />)}
            <div ref={bottom} />
          </Stack>
        </ScrollArea>
        {answering ? (
          <ReplyBox userId={userId} templates={templates} onSent={() => void load().then(onChanged)} />
        ) : (
          <Text size="sm" c="dimmed" id="chat-read-only">
            {t("common.readOnly")}
          </Text>
        )}
      </Stack>
    </Card>
  );
}

function Bubble({ message }: { message: Message }) {
  const { timeZone } = useConsole();
  const { t, language } = useI18n();
  const out = message.direction === "out";
  const source = SOURCES.has(message.source) ? t(`chat.source.${message.source}` as MessageKey) : message.source;
  const who = message.staff ? `${source} · ${message.staff}` : source;
  return (
    <Group justify={out ? "flex-end" : "flex-start"} className={`chat-message chat-${message.direction}`}>
      <Paper
        p="xs"
        radius="md"
        maw="75%"
        bg={out ? "green.1" : "gray.1"}
        c="dark"
        data-direction={message.direction}
        data-source={message.source}
      >
        <Text size="sm" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }} className="chat-text">
          {message.text}
        </Text>
        <Text size="xs" c="dark.4" ta={out ? "right" : "left"}>
          {who} · {dateTime(message.at, timeZone, language)}
          {message.status && message.status !== "sent" ? ` · ${message.status}` : ""}
          {message.reason ? ` (${message.reason})` : ""}
        </Text>
      </Paper>
    </Group>
  );
}

function ReplyBox({ userId, templates, onSent }: { userId: string; templates: Template[]; onSent: () => void }) {
  const { api, channelId } = useConsole();
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [template, setTemplate] = useState<Template | null>(null);
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const [sent, setSent] = useState(false);
  // One Idempotency-Key per composed reply: a double click sends the same key.
  const key = useRef(new CompositionKey());
  const inFlight = useRef<Promise<void> | null>(null);

  // A template unchanged is sent as the template (its placeholders filled in for the
  // friend); edited, as text.
  const body = template && template.text === text ? { templateId: template.id } : { text };

  const send = () => {
    if (inFlight.current) return;
    if (!text.trim()) return;
    const idempotencyKey = key.current.for({ userId, ...body });
    setFailure(null);
    setSending(true);
    inFlight.current = ok(
      api.POST("/admin/channels/{channel_id}/chat/conversations/{user_id}/replies", {
        params: {
          path: { channel_id: channelId, user_id: userId },
          header: { "idempotency-key": idempotencyKey },
        },
        body,
      }),
    )
      .then(() => {
        key.current.reset();
        setText("");
        setTemplate(null);
        setSent(true);
        onSent();
      })
      .catch((error: Error) => setFailure(error))
      .finally(() => {
        inFlight.current = null;
        setSending(false);
      });
  };

  return (
    <Stack gap="xs" id="chat-reply">
      <ErrorNote error={failure} />
      {templates.length > 0 && (
        <Select
          id="chat-template"
          label={t("chat.template")}
          placeholder={t("chat.templatePick")}
          data={templates.map((x) => ({ value: x.id, label: x.name }))}
          value={template?.id ?? null}
          clearable
          onChange={(id) => {
            const picked = templates.find((x) => x.id === id) ?? null;
            setTemplate(picked);
            setSent(false);
            if (picked) setText(picked.text);
          }}
        />
      )}
      <Textarea
        id="chat-reply-text"
        label={t("chat.reply")}
        autosize
        minRows={2}
        maxRows={6}
        maxLength={5000}
        value={text}
        onChange={(event) => {
          setText(event.currentTarget.value);
          setSent(false);
        }}
        onKeyDown={(event) => {
          if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) send();
        }}
      />
      <Group justify="space-between">
        <Text size="xs" c="dimmed">
          {sent ? <span id="chat-sent">{t("chat.sent")}</span> : t("chat.sendHint")}
        </Text>
        <Button id="chat-send" onClick={send} loading={sending} disabled={!text.trim()}>
          {t("chat.send")}
        </Button>
      </Group>
    </Stack>
  );
}

// The saved replies (定型文): list, create, edit (name and text), delete. Everyone who
// reads the chat sees them; changing them takes the chat role.
function TemplateEditor({
  templates,
  error,
  onChanged,
}: {
  templates: Template[] | null;
  error: Error | null;
  onChanged: () => void;
}) {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const writable = can(session, "chat");
  const [editing, setEditing] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [text, setText] = useState("");
  const [failure, setFailure] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const start = (template: Template | null) => {
    setEditing(template?.id ?? "");
    setName(template?.name ?? "");
    setText(template?.text ?? "");
    setFailure(null);
    setNotice(null);
  };
  const save = async () => {
    setFailure(null);
    const body = { name: name.trim(), text };
    try {
      const saved = await ok(
        editing
          ? api.PUT("/admin/channels/{channel_id}/chat/templates/{template_id}", {
              params: { path: { channel_id: channelId, template_id: editing } },
              body,
            })
          : api.POST("/admin/channels/{channel_id}/chat/templates", { params: { path: { channel_id: channelId } }, body }),
      );
      setNotice(t("chat.templates.saved", { name: saved.name }));
      setEditing(null);
      onChanged();
    } catch (failed) {
      setFailure(failed as Error);
    }
  };
  const remove = async (template: Template) => {
    setFailure(null);
    setNotice(null);
    try {
      await ok(
        api.DELETE("/admin/channels/{channel_id}/chat/templates/{template_id}", {
          params: { path: { channel_id: channelId, template_id: template.id } },
        }),
      );
      setNotice(t("chat.templates.deleted", { name: template.name }));
      if (editing === template.id) setEditing(null);
      onChanged();
    } catch (failed) {
      setFailure(failed as Error);
    }
  };

  return (
    <Card withBorder id="chat-templates">
      <Stack gap="xs">
        <Group justify="space-between">
          <Title order={3} size="h4">
            {t("chat.templates")}
          </Title>
          {writable && editing === null && (
            <Button size="xs" variant="light" id="chat-template-new" onClick={() => start(null)}>
              {t("chat.templates.new")}
            </Button>
          )}
        </Group>
        <Text size="xs" c="dimmed">
          {t("chat.templates.hint")}
        </Text>
        <ErrorNote error={failure ?? error} />
        {notice && (
          <Text size="sm" c="green.8" id="chat-template-notice">
            {notice}
          </Text>
        )}
        {editing !== null && (
          <Paper withBorder p="sm" id="chat-template-form">
            <Stack gap="xs">
              <TextInput
                id="chat-template-name"
                label={t("chat.templates.name")}
                value={name}
                maxLength={100}
                onChange={(e) => setName(e.currentTarget.value)}
              />
              <Textarea
                id="chat-template-text"
                label={t("chat.templates.text")}
                autosize
                minRows={2}
                maxLength={5000}
                value={text}
                onChange={(e) => setText(e.currentTarget.value)}
              />
              <Group gap={4}>
                <Text size="xs">{t("broadcasts.insert")}</Text>
                {["{display_name|お客様}"].map((token) => (
                  <Button key={token} size="compact-xs" variant="default" onClick={() => setText(text + token)}>
                    {token}
                  </Button>
                ))}
              </Group>
              <Group>
                <Button size="xs" id="chat-template-save" disabled={!name.trim() || !text.trim()} onClick={() => void save()}>
                  {t("common.save")}
                </Button>
                <Button size="xs" variant="default" onClick={() => setEditing(null)}>
                  {t("common.cancel")}
                </Button>
              </Group>
            </Stack>
          </Paper>
        )}
        {templates === null && !error && <Loading />}
        {templates !== null && !templates.length && <Text c="dimmed">{t("chat.templates.none")}</Text>}
        {!!templates?.length && (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("chat.templates.name")}</Table.Th>
                <Table.Th>{t("chat.templates.text")}</Table.Th>
                {writable && <Table.Th>{t("segments.actions")}</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {templates.map((template) => (
                <Table.Tr key={template.id} data-template-id={template.id} className="chat-template-row">
                  <Table.Td>{template.name}</Table.Td>
                  <Table.Td style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>{template.text}</Table.Td>
                  {writable && (
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Button size="compact-xs" variant="light" className="chat-template-edit" onClick={() => start(template)}>
                          {t("chat.templates.edit")}
                        </Button>
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          className="chat-template-delete"
                          aria-label={t("chat.templates.delete", { name: template.name })}
                          onClick={() => void remove(template)}
                        >
                          ×
                        </ActionIcon>
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
