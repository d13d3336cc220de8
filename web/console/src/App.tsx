import { AppShell, Burger, Button, Center, Group, Loader, NavLink, Select, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useCallback, useEffect, useMemo, useState } from "react";
import { makeClient, ok } from "./api/client";
import { finishSignIn, managedLogin, signOutLocation } from "./auth";
import { LanguageSwitch } from "./components/LanguageSwitch";
import { ErrorNote } from "./components/Status";
import type { ConsoleConfig } from "./config";
import { ConsoleContext, type ConsoleContextValue } from "./context";
import { useI18n } from "./i18n";
import { PAGES } from "./pages/registry";
import { SignIn, signInReason } from "./pages/SignIn";
import { currentRoute, href, matchRoute, navigate, useRoute } from "./router";
import { can, clearSession, loadSession, saveSession, type Session } from "./session";

const DEFAULT_TIME_ZONE = "Asia/Tokyo";

export function App({ config }: { config: ConsoleConfig }) {
  const { t } = useI18n();
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [callback, setCallback] = useState(() => currentRoute() === "/callback");

  // Back from the managed login (/console/callback?code=…&state=…): the code for the
  // ID token, once; then to the page the sign-in started from, without the code.
  useEffect(() => {
    const login = managedLogin(config);
    if (!callback || !login) return;
    const query = window.location.search;
    finishOnce(query, () => finishSignIn(login, new URLSearchParams(query))).then(
      ({ session: next, returnTo }) => {
        saveSession(next);
        window.history.replaceState(null, "", href(returnTo));
        setNotice(null);
        setFailure(null);
        setSession(next);
        setCallback(false);
      },
      (error: unknown) => {
        window.history.replaceState(null, "", href("/"));
        setFailure(signInReason(error, t));
        setCallback(false);
      },
    );
  }, [callback, config, t]);

  const signOut = useCallback(
    (expired: boolean) => {
      const login = managedLogin(config);
      clearSession();
      // A staff member also signs out of the managed login, which comes back to /console/.
      if (!expired && session?.kind === "staff" && login) {
        window.location.assign(signOutLocation(login, window.location.origin));
        return;
      }
      setSession(null);
      setNotice(expired ? t("signin.expired") : null);
    },
    [config, session, t],
  );

  if (callback && managedLogin(config)) {
    return (
      <Center mih="100vh" component="main">
        <Loader aria-label={t("signin.finishing")} />
      </Center>
    );
  }
  if (!session) {
    return (
      <SignIn
        key={failure ?? ""}
        config={config}
        notice={notice}
        failure={failure}
        onSignedIn={(next) => {
          saveSession(next);
          setNotice(null);
          setFailure(null);
          setSession(next);
        }}
      />
    );
  }
  return <Shell config={config} session={session} onSignOut={signOut} />;
}

// One exchange per callback URL, even if the effect runs twice (React's StrictMode).
const finishing = new Map<string, Promise<Awaited<ReturnType<typeof finishSignIn>>>>();
function finishOnce(
  query: string,
  finish: () => ReturnType<typeof finishSignIn>,
): ReturnType<typeof finishSignIn> {
  let found = finishing.get(query);
  if (!found) {
    found = finish();
    finishing.set(query, found);
  }
  return found;
}

function Shell({
  config,
  session,
  onSignOut,
}: {
  config: ConsoleConfig;
  session: Session;
  onSignOut: (expired: boolean) => void;
}) {
  const { t } = useI18n();
  const [opened, { toggle, close }] = useDisclosure();
  const route = useRoute();
  const [channelId, setChannelId] = useState(
    () => new URLSearchParams(window.location.search).get("channel") ?? config.channels[0] ?? "",
  );
  const [timeZone, setTimeZone] = useState(DEFAULT_TIME_ZONE);
  const hooks = useMemo(
    () => ({ token: () => session.token, onUnauthorized: () => onSignOut(true) }),
    [session.token, onSignOut],
  );
  const api = useMemo(() => makeClient(config.apiBaseUrl, hooks), [config.apiBaseUrl, hooks]);

  // The account's time zone: the delivery policy's (every role but the operator reads it).
  useEffect(() => {
    if (!can(session, "reports")) return;
    ok(api.GET("/admin/channels/{channel_id}/delivery-policy", { params: { path: { channel_id: channelId } } }))
      .then((policy) => policy.time_zone && setTimeZone(policy.time_zone))
      .catch(() => undefined);
  }, [api, channelId, session]);

  const allowed = PAGES.filter((page) => can(session, page.needs));
  // "/" for a role without the dashboard (the operator): its first page.
  const found =
    allowed
      .map((page) => ({ page, params: matchRoute(page.route, route) }))
      .find((candidate) => candidate.params !== null) ??
    (route === "/" && allowed.length ? { page: allowed[0], params: {} } : undefined);
  const value: ConsoleContextValue = { config, api, hooks, session, channelId, timeZone };
  const who = session.kind === "machine" ? t("app.machine") : (session.email ?? "");

  return (
    <ConsoleContext.Provider value={value}>
      <AppShell
        header={{ height: 56 }}
        navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
        padding="md"
      >
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between" wrap="nowrap">
            <Group wrap="nowrap">
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("app.menu")} />
              <Title order={1} size="h4">
                {t("app.title")}
              </Title>
            </Group>
            <Group gap="sm" wrap="nowrap">
              {config.channels.length > 1 && (
                <Select
                  aria-label={t("app.channel")}
                  size="xs"
                  data={config.channels}
                  value={channelId}
                  onChange={(next) => next && setChannelId(next)}
                />
              )}
              <Text size="xs" c="dimmed" visibleFrom="md" id="time-zone">
                {t("app.timeZone", { zone: timeZone })}
              </Text>
              <Text size="sm" id="signed-in-as" visibleFrom="sm">
                {t("app.signedInAs", { who, role: t(`role.${session.role}`) })}
              </Text>
              <LanguageSwitch />
              <Button size="xs" variant="default" onClick={() => onSignOut(false)} id="sign-out">
                {t("app.signOut")}
              </Button>
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs" component="nav" aria-label={t("app.pages")}>
          {allowed
            .filter((page) => !page.hidden)
            .map((page) => (
              <NavLink
                key={page.id}
                href={href(page.route)}
                label={t(page.label)}
                data-page={page.id}
                active={found?.page.id === page.id || found?.page.parent === page.id}
                onClick={(event) => {
                  event.preventDefault();
                  navigate(page.route);
                  close();
                }}
              />
            ))}
        </AppShell.Navbar>
        <AppShell.Main>
          {found ? (
            <div data-page={found.page.id} key={`${found.page.id}:${channelId}`}>
              {found.page.render(found.params ?? {})}
            </div>
          ) : (
            <ErrorNote error={new Error(`no page at ${route}`)} />
          )}
        </AppShell.Main>
      </AppShell>
    </ConsoleContext.Provider>
  );
}
