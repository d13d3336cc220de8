import { Alert, Button, Card, Center, Divider, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { checkToken, machineSession, managedLogin, SignInError, startSignIn } from "../auth";
import type { ConsoleConfig } from "../config";
import { useI18n } from "../i18n";
import { currentRoute } from "../router";
import type { Session } from "../session";
import { LanguageSwitch } from "../components/LanguageSwitch";

// Why a sign-in failed, in the reader's language when it is the console's own check.
export function signInReason(error: unknown, t: ReturnType<typeof useI18n>["t"]): string {
  const reason = error instanceof SignInError && error.key ? t(error.key) : (error as Error).message;
  return t("signin.failed", { reason });
}

export function SignIn({
  config,
  notice,
  failure: failed = null,
  onSignedIn,
}: {
  config: ConsoleConfig;
  notice: string | null;
  // A sign-in that came back refused (the callback), shown until the next attempt.
  failure?: string | null;
  onSignedIn: (session: Session) => void;
}) {
  const { t } = useI18n();
  const [token, setToken] = useState("");
  const [failure, setFailure] = useState<string | null>(failed);
  const [busy, setBusy] = useState(false);
  const login = managedLogin(config);

  // Staff: to the managed login (Cognito's hosted UI; locally the gateway's page).
  const staff = async () => {
    if (!login) return;
    setBusy(true);
    setFailure(null);
    try {
      const route = currentRoute();
      window.location.assign(
        await startSignIn(login, {
          origin: window.location.origin,
          returnTo: route === "/callback" ? "/" : `${route}${window.location.search}`,
        }),
      );
    } catch (error) {
      setFailure(signInReason(error, t));
      setBusy(false);
    }
  };
  // The admin token is checked with one read before the console opens with it.
  const machine = async (event: FormEvent) => {
    event.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    setFailure(null);
    try {
      const session = machineSession(token);
      await checkToken(config, session.token);
      onSignedIn(session);
    } catch (error) {
      setFailure(signInReason(error, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" p="md">
      <Card withBorder shadow="sm" w={420} maw="100%" padding="lg" component="main">
        <Stack>
          <Title order={1} size="h3">
            {t("app.title")}
          </Title>
          <LanguageSwitch />
          {notice && <Alert color="yellow">{notice}</Alert>}
          {failure && (
            <Alert color="red" role="alert" data-testid="signin-error">
              {failure}
            </Alert>
          )}
          {login && (
            <Stack id="signin-staff">
              <Title order={2} size="h5">
                {t("signin.title")}
              </Title>
              <Text size="sm">{t("signin.hostedHint")}</Text>
              <Button id="signin-hosted" onClick={staff} loading={busy}>
                {t("signin.hosted")}
              </Button>
            </Stack>
          )}
          {config.auth.mode !== "cognito" && (
            <>
              <Divider />
              <form id="signin-machine" onSubmit={machine}>
                <Stack>
                  <PasswordInput
                    id="signin-token"
                    label={t("signin.token")}
                    description={t("signin.tokenHint")}
                    value={token}
                    onChange={(e) => setToken(e.currentTarget.value)}
                  />
                  <Button type="submit" variant="light" loading={busy}>
                    {t("signin.machine")}
                  </Button>
                </Stack>
              </form>
            </>
          )}
          <Text size="xs" c="dimmed">
            /console/
          </Text>
        </Stack>
      </Card>
    </Center>
  );
}
