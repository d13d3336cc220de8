import { Alert, Button, Card, Center, Divider, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { checkToken, machineSession, signInWithPassword } from "../auth";
import type { ConsoleConfig } from "../config";
import { useI18n } from "../i18n";
import type { Session } from "../session";
import { LanguageSwitch } from "../components/LanguageSwitch";

export function SignIn({
  config,
  notice,
  onSignedIn,
}: {
  config: ConsoleConfig;
  notice: string | null;
  onSignedIn: (session: Session) => void;
}) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const staff = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      onSignedIn(await signInWithPassword(config, email, password));
    } catch (error) {
      setFailure(t("signin.failed", { reason: (error as Error).message }));
    } finally {
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
      setFailure(t("signin.failed", { reason: (error as Error).message }));
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
          {config.auth.mode !== "none" && (
            <form id="signin-staff" onSubmit={staff}>
              <Stack>
                <Title order={2} size="h5">
                  {t("signin.title")}
                </Title>
                <TextInput
                  id="signin-email"
                  label={t("signin.email")}
                  type="email"
                  autoComplete="username"
                  value={email}
                  onChange={(e) => setEmail(e.currentTarget.value)}
                  required
                />
                <PasswordInput
                  id="signin-password"
                  label={t("signin.password")}
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.currentTarget.value)}
                  required
                />
                <Button type="submit" loading={busy}>
                  {t("signin.submit")}
                </Button>
              </Stack>
            </form>
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
