// Loading and error states, the API's reason shown as it came (403: the role's limit).
import { Alert, Group, Loader, Text } from "@mantine/core";
import { ApiError } from "../api/client";
import { useI18n } from "../i18n";

export function ErrorNote({ error }: { error: Error | null }) {
  const { t } = useI18n();
  if (!error) return null;
  const forbidden = error instanceof ApiError && error.status === 403;
  return (
    <Alert color={forbidden ? "yellow" : "red"} data-testid="error" role="alert">
      {forbidden ? t("common.forbidden", { reason: error.message }) : t("common.error", { reason: error.message })}
    </Alert>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <Group gap="xs" aria-busy="true">
      <Loader size="sm" />
      <Text size="sm">{t("common.loading")}</Text>
    </Group>
  );
}
