// ID連携: the account link (会員ID連携, docs/id-linking.md), the auto-login into the shop
// and its signing keys (docs/auto-login.md), the LIFF app (docs/liff.md) and how many
// friends are linked. Every role that reads settings sees it; owner and marketer change
// it (PERMISSIONS: the PUT / DELETE routes and POST /admin/login-keys/rotate are
// Need.change). A 4xx reason is shown next to its field.
import { Alert, Anchor, Badge, Button, Card, Group, Modal, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { type ReactNode, useState } from "react";
import { ApiError, ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count, dateTime } from "../format";
import { useI18n } from "../i18n";
import { href, navigate } from "../router";
import { can } from "../session";
import {
  allowText,
  countPaged,
  keyState,
  keysNewestFirst,
  liffBody,
  liffForm,
  linkedFriendsRoute,
  otherProblems,
  parseAllow,
  problemsAt,
  problemsOf,
  type KeyListing,
  type LiffForm,
  type Problems,
} from "./idLinkLogic";

type AccountLink = Schemas["AccountLinkSettings"];
type ShopLogin = Schemas["ShopLoginSettings"];

export function IdLink() {
  const { t } = useI18n();
  return (
    <Stack>
      <Title order={2}>{t("idlink.title")}</Title>
      <Text size="sm" c="dimmed">
        {t("idlink.intro")}
      </Text>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <AccountLinkCard />
        <LinkedCard />
        <ShopLoginCard />
        <KeysCard />
        <LiffCard />
      </SimpleGrid>
    </Stack>
  );
}

// A setting that answers 404 until it is PUT: null then.
async function setting<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T | null> {
  try {
    return await ok(call);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

// A change whose 4xx reasons go next to the fields: the data, or a FormFailure.
class FormFailure extends Error {
  constructor(readonly problems: Problems) {
    super(Object.values(problems).flat().join("; "));
  }
}

async function change<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T | undefined> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    if (response.status === 403) throw new ApiError(403, problemsOf(error, 403)[""]?.join("; ") ?? "HTTP 403");
    throw new FormFailure(problemsOf(error, response.status));
  }
  return data as T | undefined;
}

// What a failed change shows: field reasons (returned) and the rest as one note.
function useFailure() {
  const [failure, setFailure] = useState<Error | null>(null);
  const problems: Problems = failure instanceof FormFailure ? failure.problems : {};
  const note = (fields: readonly string[]): Error | null => {
    if (!failure) return null;
    if (!(failure instanceof FormFailure)) return failure;
    const rest = otherProblems(problems, fields);
    return rest.length ? new Error(rest.join("; ")) : null;
  };
  return { failure, setFailure, problems, note };
}

function SetBadge({ set, id }: { set: boolean; id: string }) {
  const { t } = useI18n();
  return (
    <Badge id={id} variant="light" color={set ? "green" : "gray"} tt="none">
      {set ? t("idlink.on") : t("idlink.off")}
    </Badge>
  );
}

type Call<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

// One setting of the channel that answers 404 until it is PUT: its form, what is
// stored, loading, save (PUT) and disable (DELETE), and the failure of the last change.
function useSetting<V, F>(
  calls: { get: () => Call<V>; put: (form: F) => Call<V>; remove: () => Call<unknown> },
  toForm: (value: V | null) => F,
  deps: unknown[],
) {
  const { t } = useI18n();
  const [form, setForm] = useState<F>(() => toForm(null));
  const [stored, setStored] = useState<V | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const failures = useFailure();
  const fill = (value: V | null) => {
    setStored(value);
    setForm(toForm(value));
  };
  const loaded = useLoad(async () => {
    const value = await setting(calls.get());
    fill(value);
    return value;
  }, deps);
  const run = async (call: () => Promise<V | null>, message: string) => {
    failures.setFailure(null);
    setSaved(null);
    try {
      fill(await call());
      setSaved(message);
    } catch (error) {
      failures.setFailure(error as Error);
    }
  };
  const save = () => run(async () => (await change(calls.put(form))) ?? null, t("common.saved"));
  const disable = () =>
    run(async () => {
      await change(calls.remove());
      return null;
    }, t("idlink.disabled"));
  return { form, setForm, stored, saved, loaded, save, disable, ...failures };
}

// The saved note and the save / disable buttons of a setting's card (read only: a note).
function SettingActions({
  prefix,
  writes,
  stored,
  saved,
  failed,
  save,
  disable,
}: {
  prefix: string;
  writes: boolean;
  stored: boolean;
  saved: string | null;
  failed: boolean;
  save: () => void;
  disable: () => void;
}) {
  const { t } = useI18n();
  return (
    <>
      {saved && !failed && (
        <Alert color="green" id={`${prefix}-saved`}>
          {saved}
        </Alert>
      )}
      {writes ? (
        <Group>
          <Button id={`${prefix}-save`} onClick={save}>
            {stored ? t("common.save") : t("idlink.enable")}
          </Button>
          {stored && (
            <Button id={`${prefix}-disable`} variant="subtle" color="red" onClick={disable}>
              {t("idlink.disable")}
            </Button>
          )}
        </Group>
      ) : (
        <Text size="sm" c="dimmed">
          {t("common.readOnly")}
        </Text>
      )}
    </>
  );
}

// A setting's card: its title, whether it is on, a hint, the load's or change's
// failure, and its form once loaded.
function SettingCard({
  prefix,
  title,
  hint,
  loaded,
  stored,
  error,
  children,
}: {
  prefix: string;
  title: string;
  hint: string;
  loaded: { loading: boolean; error: Error | null };
  stored: boolean;
  error: Error | null;
  children: ReactNode;
}) {
  return (
    <Card withBorder id={prefix}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={3} size="h4">
            {title}
          </Title>
          {!loaded.loading && <SetBadge set={stored} id={`${prefix}-state`} />}
        </Group>
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
        <ErrorNote error={loaded.error ?? error} />
        {loaded.loading && <Loading />}
        {!loaded.loading && !loaded.error && children}
      </Stack>
    </Card>
  );
}

// ---------------------------------------------------------------- 会員ID連携
const ACCOUNT_FIELDS = ["shop_login_url", "text", "button_label"] as const;

function AccountLinkCard() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const writes = can(session, "write");
  const { form, setForm, stored, saved, loaded, save, disable, failure, problems, note } = useSetting<AccountLink, AccountLink>(
    {
      get: () => api.GET("/admin/channels/{channel_id}/account-link", { params: { path } }),
      // Empty words: left out, the API's defaults (the generated type marks defaulted
      // fields required).
      put: (typed) =>
        api.PUT("/admin/channels/{channel_id}/account-link", {
          params: { path },
          body: {
            shop_login_url: typed.shop_login_url.trim(),
            ...(typed.text?.trim() ? { text: typed.text.trim() } : {}),
            ...(typed.button_label?.trim() ? { button_label: typed.button_label.trim() } : {}),
          } as AccountLink,
        }),
      remove: () => api.DELETE("/admin/channels/{channel_id}/account-link", { params: { path } }),
    },
    (value) => ({ shop_login_url: value?.shop_login_url ?? "", text: value?.text ?? "", button_label: value?.button_label ?? "" }),
    [channelId],
  );
  return (
    <SettingCard
      prefix="idlink-account"
      title={t("idlink.account")}
      hint={t("idlink.accountHint")}
      loaded={loaded}
      stored={stored !== null}
      error={note(ACCOUNT_FIELDS)}
    >
      <TextInput
        id="idlink-account-url"
        label={t("idlink.shopLoginUrl")}
        description={t("idlink.shopLoginUrlHint")}
        placeholder="https://shop.example/login"
        value={form.shop_login_url}
        readOnly={!writes}
        error={problemsAt(problems, "shop_login_url")}
        onChange={(e) => setForm({ ...form, shop_login_url: e.currentTarget.value })}
      />
      <Textarea
        id="idlink-account-text"
        label={t("idlink.accountText")}
        description={t("idlink.accountTextHint")}
        autosize
        minRows={2}
        value={form.text ?? ""}
        readOnly={!writes}
        error={problemsAt(problems, "text")}
        onChange={(e) => setForm({ ...form, text: e.currentTarget.value })}
      />
      <TextInput
        id="idlink-account-button"
        label={t("idlink.accountButton")}
        description={t("idlink.accountButtonHint")}
        value={form.button_label ?? ""}
        readOnly={!writes}
        error={problemsAt(problems, "button_label")}
        onChange={(e) => setForm({ ...form, button_label: e.currentTarget.value })}
      />
      <Text size="xs" c="dimmed" id="idlink-account-secret">
        {t("idlink.accountSecret")}
      </Text>
      <SettingActions
        prefix="idlink-account"
        writes={writes}
        stored={stored !== null}
        saved={saved}
        failed={failure !== null}
        save={save}
        disable={disable}
      />
    </SettingCard>
  );
}

// ---------------------------------------------------------------- ショップ自動ログイン
const SHOP_FIELDS = ["base_url", "login_path", "allow"] as const;

interface ShopForm {
  base_url: string;
  login_path: string;
  allow: string;
}

function ShopLoginCard() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const writes = can(session, "write");
  const { form, setForm, stored, saved, loaded, save, disable, failure, problems, note } = useSetting<ShopLogin, ShopForm>(
    {
      get: () => api.GET("/admin/channels/{channel_id}/shop-login", { params: { path } }),
      put: (typed) =>
        api.PUT("/admin/channels/{channel_id}/shop-login", {
          params: { path },
          body: {
            base_url: typed.base_url.trim(),
            login_path: typed.login_path.trim() || "/auto-login",
            allow: parseAllow(typed.allow),
          },
        }),
      remove: () => api.DELETE("/admin/channels/{channel_id}/shop-login", { params: { path } }),
    },
    (value) => ({ base_url: value?.base_url ?? "", login_path: value?.login_path ?? "/auto-login", allow: allowText(value?.allow) }),
    [channelId],
  );
  return (
    <SettingCard
      prefix="idlink-shop"
      title={t("idlink.shop")}
      hint={t("idlink.shopHint")}
      loaded={loaded}
      stored={stored !== null}
      error={note(SHOP_FIELDS)}
    >
      <TextInput
        id="idlink-shop-base"
        label={t("idlink.baseUrl")}
        description={t("idlink.baseUrlHint")}
        placeholder="https://shop.example"
        value={form.base_url}
        readOnly={!writes}
        error={problemsAt(problems, "base_url")}
        onChange={(e) => setForm({ ...form, base_url: e.currentTarget.value })}
      />
      <TextInput
        id="idlink-shop-path"
        label={t("idlink.loginPath")}
        description={t("idlink.loginPathHint")}
        value={form.login_path}
        readOnly={!writes}
        error={problemsAt(problems, "login_path")}
        onChange={(e) => setForm({ ...form, login_path: e.currentTarget.value })}
      />
      <Textarea
        id="idlink-shop-allow"
        label={t("idlink.allow")}
        description={t("idlink.allowHint")}
        placeholder={"/mypage\n/cart/"}
        autosize
        minRows={3}
        value={form.allow}
        readOnly={!writes}
        error={problemsAt(problems, "allow")}
        onChange={(e) => setForm({ ...form, allow: e.currentTarget.value })}
      />
      <SettingActions
        prefix="idlink-shop"
        writes={writes}
        stored={stored !== null}
        saved={saved}
        failed={failure !== null}
        save={save}
        disable={disable}
      />
    </SettingCard>
  );
}

// ---------------------------------------------------------------- the signing keys
function KeysCard() {
  const { api, session, timeZone } = useConsole();
  const { t, language } = useI18n();
  const writes = can(session, "write");
  const [listing, setListing] = useState<KeyListing | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const [rotated, setRotated] = useState<string | null>(null);
  const loaded = useLoad(async () => {
    const value = await ok(api.GET("/admin/login-keys"));
    setListing(value);
    return value;
  }, []);
  const rotate = async () => {
    setBusy(true);
    setFailure(null);
    setRotated(null);
    try {
      const next = await ok(api.POST("/admin/login-keys/rotate"));
      setListing(next);
      setRotated(next.active_kid);
      setConfirming(false);
    } catch (error) {
      setFailure(error as Error);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card withBorder id="idlink-keys">
      <Stack gap="sm">
        <Title order={3} size="h4">
          {t("idlink.keys")}
        </Title>
        <Text size="xs" c="dimmed">
          {t("idlink.keysHint")}
        </Text>
        <ErrorNote error={failure ?? (listing ? null : loaded.error)} />
        {loaded.loading && !listing && <Loading />}
        {listing && listing.keys.length === 0 && (
          <Text size="sm" c="dimmed">
            {t("idlink.noKeys")}
          </Text>
        )}
        {listing && listing.keys.length > 0 && (
          <Table id="idlink-keys-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("idlink.kid")}</Table.Th>
                <Table.Th>{t("idlink.keyCreated")}</Table.Th>
                <Table.Th>{t("idlink.keyRetired")}</Table.Th>
                <Table.Th>{t("idlink.keyState")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keysNewestFirst(listing.keys).map((key) => {
                const state = keyState(key.kid, listing);
                return (
                  <Table.Tr key={key.kid} data-kid={key.kid} data-state={state}>
                    <Table.Td>
                      <code>{key.kid}</code>
                    </Table.Td>
                    <Table.Td>{dateTime(key.created_at, timeZone, language)}</Table.Td>
                    <Table.Td>{dateTime(key.retired_at, timeZone, language)}</Table.Td>
                    <Table.Td>
                      {/* Text, not a Badge: a badge truncates its label in a narrow column. */}
                      <Text size="sm" fw={500} c={state === "signing" ? "green.8" : state === "pending" ? "blue.8" : "dimmed"}>
                        {t(`idlink.keyState.${state}`)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        )}
        {rotated && (
          <Alert color="green" id="idlink-rotated">
            {t("idlink.rotated", { kid: rotated })}
          </Alert>
        )}
        {writes ? (
          <Group>
            <Button id="idlink-rotate" color="orange" variant="light" onClick={() => setConfirming(true)}>
              {t("idlink.rotate")}
            </Button>
          </Group>
        ) : (
          <Text size="sm" c="dimmed">
            {t("common.readOnly")}
          </Text>
        )}
      </Stack>
      <Modal
        opened={confirming}
        onClose={() => setConfirming(false)}
        title={t("idlink.rotate")}
        closeButtonProps={{ "aria-label": t("common.cancel") }}
        centered
      >
        <Stack id="idlink-rotate-confirm">
          <Text>{t("idlink.rotateConfirm")}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)} disabled={busy}>
              {t("common.cancel")}
            </Button>
            <Button id="idlink-rotate-confirm-button" color="orange" loading={busy} onClick={rotate}>
              {t("idlink.rotateDo")}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

// ---------------------------------------------------------------- LIFF
const LIFF_FIELDS = ["liff_id", "member_card_fields", "shop_target"] as const;

function LiffCard() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const writes = can(session, "write");
  const { form, setForm, stored, saved, loaded, save, disable, failure, problems, note } = useSetting<Schemas["LiffSettings"], LiffForm>(
    {
      get: () => api.GET("/admin/channels/{channel_id}/liff", { params: { path } }),
      put: (typed) => api.PUT("/admin/channels/{channel_id}/liff", { params: { path }, body: liffBody(typed) }),
      remove: () => api.DELETE("/admin/channels/{channel_id}/liff", { params: { path } }),
    },
    liffForm,
    [channelId],
  );
  return (
    <SettingCard
      prefix="idlink-liff"
      title={t("idlink.liff")}
      hint={t("idlink.liffHint")}
      loaded={loaded}
      stored={stored !== null}
      error={note(LIFF_FIELDS)}
    >
      <TextInput
        id="idlink-liff-id"
        label={t("idlink.liffId")}
        placeholder="2000000002-AbCdEfGh"
        value={form.liff_id}
        readOnly={!writes}
        error={problemsAt(problems, "liff_id")}
        onChange={(e) => setForm({ ...form, liff_id: e.currentTarget.value })}
      />
      <Group grow align="start">
        <TextInput
          id="idlink-liff-rank"
          label={t("idlink.liffRank")}
          value={form.rank}
          readOnly={!writes}
          error={problemsAt(problems, "member_card_fields.rank")}
          onChange={(e) => setForm({ ...form, rank: e.currentTarget.value })}
        />
        <TextInput
          id="idlink-liff-points"
          label={t("idlink.liffPoints")}
          value={form.points}
          readOnly={!writes}
          error={problemsAt(problems, "member_card_fields.points")}
          onChange={(e) => setForm({ ...form, points: e.currentTarget.value })}
        />
      </Group>
      <Text size="xs" c="dimmed">
        {t("idlink.liffFieldsHint")}
      </Text>
      <TextInput
        id="idlink-liff-target"
        label={t("idlink.liffTarget")}
        description={t("idlink.liffTargetHint")}
        value={form.shop_target}
        readOnly={!writes}
        error={problemsAt(problems, "shop_target")}
        onChange={(e) => setForm({ ...form, shop_target: e.currentTarget.value })}
      />
      <Text size="xs" c="dimmed" id="idlink-liff-channel">
        {t("idlink.liffLoginChannel", { channel: channelId })}
      </Text>
      <SettingActions
        prefix="idlink-liff"
        writes={writes}
        stored={stored !== null}
        saved={saved}
        failed={failure !== null}
        save={save}
        disable={disable}
      />
    </SettingCard>
  );
}

// ---------------------------------------------------------------- linked friends
const PAGE = 200;
const MAX_PAGES = 5;

function LinkedCard() {
  const { api, channelId } = useConsole();
  const { t, language } = useI18n();
  const counted = useLoad(
    () =>
      countPaged(async (cursor) => {
        const page = await ok(
          api.GET("/admin/channels/{channel_id}/friends", {
            params: { path: { channel_id: channelId }, query: { linked: true, limit: PAGE, ...(cursor ? { cursor } : {}) } },
          }),
        );
        return { items: page.friends.length, next: page.next_cursor };
      }, MAX_PAGES),
    [channelId],
  );
  const route = linkedFriendsRoute();
  return (
    <Card withBorder id="idlink-linked">
      <Stack gap="sm">
        <Title order={3} size="h4">
          {t("idlink.linked")}
        </Title>
        <ErrorNote error={counted.error} />
        {counted.loading && <Loading />}
        {counted.data && (
          <Text size="xl" fw={700} id="idlink-linked-count">
            {counted.data.more
              ? t("idlink.linkedMore", { count: count(counted.data.count, language) })
              : t("idlink.linkedCount", { count: count(counted.data.count, language) })}
          </Text>
        )}
        <Text size="xs" c="dimmed">
          {t("idlink.linkedHint", { pages: MAX_PAGES, limit: PAGE })}
        </Text>
        <Anchor
          id="idlink-linked-link"
          href={href(route)}
          onClick={(event) => {
            event.preventDefault();
            navigate(route);
          }}
        >
          {t("idlink.linkedOpen")}
        </Anchor>
      </Stack>
    </Card>
  );
}
