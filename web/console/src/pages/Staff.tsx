// スタッフ (owner only): the staff users of the console with their role (GET
// /admin/staff), invite one (Cognito emails a temporary password), change a role,
// disable one. The API's 4xx reasons are shown as they come (422 a bad email, 409 one
// that exists, 409 your own role).
import { Alert, Badge, Button, Card, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { useI18n } from "../i18n";
import type { Role } from "../session";

type StaffUser = Schemas["StaffUser"];

const ROLES: Role[] = ["owner", "marketer", "operator", "viewer"];

export function Staff() {
  const { api } = useConsole();
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("operator");
  const [failure, setFailure] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const users = useLoad(() => ok(api.GET("/admin/staff")), []);

  const act = async (call: () => Promise<unknown>, done: string) => {
    setFailure(null);
    setNotice(null);
    setBusy(true);
    try {
      await call();
      setNotice(done);
      users.reload();
      return true;
    } catch (error) {
      setFailure(error as Error);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const invite = async () => {
    const address = email.trim();
    const invited = await act(
      () => ok(api.POST("/admin/staff", { body: { email: address, role } })),
      t("staff.invited", { email: address }),
    );
    if (invited) setEmail("");
  };
  const changeRole = (user: StaffUser, next: Role) =>
    act(
      () => ok(api.PUT("/admin/staff/{username}", { params: { path: { username: user.email } }, body: { role: next } })),
      t("staff.roleChanged", { email: user.email, role: t(`role.${next}`) }),
    );
  const remove = (user: StaffUser) =>
    act(
      () => ok(api.DELETE("/admin/staff/{username}", { params: { path: { username: user.email } } })),
      t("staff.removed", { email: user.email }),
    );

  return (
    <Stack>
      <Title order={2}>{t("staff.title")}</Title>
      <Card withBorder id="staff-invite">
        <Stack gap="xs">
          <Title order={3} size="h4">
            {t("staff.invite")}
          </Title>
          <Text size="sm" c="dimmed">
            {t("staff.inviteHint")}
          </Text>
          <Group align="end">
            <TextInput
              id="staff-email"
              label={t("staff.email")}
              value={email}
              maxLength={254}
              onChange={(e) => setEmail(e.currentTarget.value)}
              miw={280}
            />
            <NativeSelect
              id="staff-role"
              label={t("staff.role")}
              value={role}
              onChange={(e) => setRole(e.currentTarget.value as Role)}
              data={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))}
            />
            <Button id="staff-invite-button" onClick={() => void invite()} disabled={!email.trim()} loading={busy}>
              {t("staff.inviteButton")}
            </Button>
          </Group>
        </Stack>
      </Card>
      <ErrorNote error={failure} />
      {notice && (
        <Alert color="green" id="staff-notice">
          {notice}
        </Alert>
      )}
      <Card withBorder id="staff-list">
        <Stack gap="xs">
          <Group justify="space-between">
            <Title order={3} size="h4">
              {t("staff.users")}
            </Title>
            <Button size="xs" variant="default" onClick={users.reload}>
              {t("common.reload")}
            </Button>
          </Group>
          <ErrorNote error={users.error} />
          {users.loading && !users.data && <Loading />}
          {users.data && !users.data.users.length && <Text c="dimmed">{t("staff.none")}</Text>}
          {!!users.data?.users.length && (
            <Table.ScrollContainer minWidth={640}>
              <Table>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t("staff.email")}</Table.Th>
                    <Table.Th>{t("staff.role")}</Table.Th>
                    <Table.Th>{t("staff.state")}</Table.Th>
                    <Table.Th>{t("segments.actions")}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {users.data.users.map((user) => (
                    <Table.Tr key={user.email} data-email={user.email}>
                      <Table.Td>{user.email}</Table.Td>
                      <Table.Td>
                        <NativeSelect
                          size="xs"
                          aria-label={t("staff.roleOf", { email: user.email })}
                          className="staff-role"
                          value={user.role ?? ""}
                          disabled={busy || !user.enabled}
                          onChange={(e) => void changeRole(user, e.currentTarget.value as Role)}
                          data={[
                            ...(user.role ? [] : [{ value: "", label: t("staff.noRole") }]),
                            ...ROLES.map((r) => ({ value: r, label: t(`role.${r}`) })),
                          ]}
                        />
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={user.enabled ? "green" : "gray"} tt="none">
                          {user.enabled ? t("staff.enabled") : t("staff.disabled")}
                        </Badge>{" "}
                        <Text span size="xs" c="dimmed">
                          {user.status === "FORCE_CHANGE_PASSWORD" ? t("staff.invitedState") : user.status}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {user.enabled && (
                          <Button
                            size="xs"
                            variant="light"
                            color="red"
                            className="staff-remove"
                            disabled={busy}
                            onClick={() => void remove(user)}
                          >
                            {t("staff.remove")}
                          </Button>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Stack>
      </Card>
    </Stack>
  );
}
