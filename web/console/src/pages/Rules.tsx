import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Grid,
  Group,
  JsonInput,
  List,
  NumberInput,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Textarea,
  Title,
} from "@mantine/core";
import { useState, type FormEvent } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { useI18n, type MessageKey } from "../i18n";
import { can } from "../session";
import { fromForm, newRuleForm, replyText, RuleFormError, toForm, withReplyText, type RuleForm } from "./rulesLogic";

type Applied = Schemas["RulesApplyResponse"];

export function Rules() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const [forms, setForms] = useState<RuleForm[]>([]);
  const [dirty, setDirty] = useState(false);
  const [result, setResult] = useState<{ applied: Applied; saved: boolean } | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const writes = can(session, "write");

  const loaded = useLoad(async () => {
    const answer = await ok(api.GET("/admin/channels/{channel_id}/rules", { params: { path } }));
    setForms(answer.rules.map(toForm));
    setDirty(false);
    return answer;
  }, [channelId]);

  const apply = async (dryRun: boolean) => {
    setFailure(null);
    setResult(null);
    try {
      const rules = forms.map(fromForm);
      const applied = await ok(
        api.PUT("/admin/channels/{channel_id}/rules", {
          params: { path, query: { dry_run: dryRun } },
          body: { rules },
        }),
      );
      setResult({ applied, saved: !dryRun });
      if (!dryRun) {
        setForms(applied.rules.map(toForm));
        setDirty(false);
      }
    } catch (error) {
      setFailure(error instanceof RuleFormError ? new Error(t("rules.badJson", { rule: "", reason: error.message })) : (error as Error));
    }
  };

  const change = (index: number, next: RuleForm) => {
    setForms((all) => all.map((f, i) => (i === index ? next : f)));
    setDirty(true);
  };
  const diff = result
    ? t("rules.diff", {
        added: result.applied.added.join(", ") || "0",
        changed: result.applied.changed.join(", ") || "0",
        removed: result.applied.removed.join(", ") || "0",
        unchanged: result.applied.unchanged,
      })
    : "";

  return (
    <Stack>
      <Title order={2}>{t("rules.title")}</Title>
      <Grid>
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <Stack>
            <Group justify="space-between">
              <Title order={3} size="h4">
                {t("rules.list")}
              </Title>
              {writes && (
                <Button
                  variant="default"
                  id="rules-add"
                  onClick={() => {
                    setForms((all) => [...all, newRuleForm(all.map((f) => f.rule_id))]);
                    setDirty(true);
                  }}
                >
                  {t("rules.add")}
                </Button>
              )}
            </Group>
            <ErrorNote error={loaded.error ?? failure} />
            {loaded.loading && <Loading />}
            {!loaded.loading && !forms.length && <Text c="dimmed">{t("rules.empty")}</Text>}
            {forms.map((form, index) => (
              <RuleEditor
                key={index}
                index={index}
                form={form}
                readOnly={!writes}
                onChange={(next) => change(index, next)}
                onRemove={() => {
                  setForms((all) => all.filter((_, i) => i !== index));
                  setDirty(true);
                }}
              />
            ))}
            {result && (
              <Alert color={result.saved ? "green" : "blue"} id="rules-result">
                {result.saved ? t("rules.saved", { diff }) : diff}
              </Alert>
            )}
            {writes ? (
              <Group>
                <Button variant="default" onClick={() => apply(true)} id="rules-check">
                  {t("rules.check")}
                </Button>
                <Button onClick={() => apply(false)} id="rules-save">
                  {t("rules.save")}
                </Button>
              </Group>
            ) : (
              <Text size="sm" c="dimmed">
                {t("common.readOnly")}
              </Text>
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <RuleTester dirty={dirty} />
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

function RuleEditor({
  index,
  form,
  readOnly,
  onChange,
  onRemove,
}: {
  index: number;
  form: RuleForm;
  readOnly: boolean;
  onChange: (form: RuleForm) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  const set = <K extends keyof RuleForm>(key: K, value: RuleForm[K]) => onChange({ ...form, [key]: value });
  const reply = replyText(form.actions);
  const prefix = `rule-${index}`;
  const option = (key: MessageKey, value: string) => ({ value, label: t(key) });
  return (
    <Card withBorder padding="sm" data-rule={form.rule_id}>
      <Stack gap="xs">
        <Group justify="space-between">
          <Group gap="xs">
            <Badge variant="light">{form.rule_id}</Badge>
            <Switch
              label={t("rules.enabled")}
              checked={form.enabled}
              disabled={readOnly}
              onChange={(e) => set("enabled", e.currentTarget.checked)}
            />
          </Group>
          {!readOnly && (
            <Button size="compact-xs" color="red" variant="subtle" onClick={onRemove}>
              {t("rules.remove")}
            </Button>
          )}
        </Group>
        <Group grow align="start">
          <TextInput id={`${prefix}-id`} label={t("rules.ruleId")} value={form.rule_id} readOnly={readOnly} onChange={(e) => set("rule_id", e.currentTarget.value)} />
          <TextInput id={`${prefix}-name`} label={t("rules.name")} value={form.name} readOnly={readOnly} onChange={(e) => set("name", e.currentTarget.value)} />
          <NumberInput label={t("rules.priority")} value={form.priority} readOnly={readOnly} onChange={(v) => set("priority", Number(v) || 0)} />
        </Group>
        <Group grow align="start">
          <Select
            label={t("rules.match")}
            value={form.kind}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(v) => v && set("kind", v as RuleForm["kind"])}
            data={[
              option("rules.kind.keyword", "keyword"),
              option("rules.kind.postback", "postback"),
              option("rules.kind.follow", "follow"),
              option("rules.kind.default", "default"),
            ]}
          />
          {form.kind === "keyword" && (
            <Select
              label={t("rules.mode")}
              value={form.mode}
              readOnly={readOnly}
              allowDeselect={false}
              onChange={(v) => v && set("mode", v as RuleForm["mode"])}
              data={[
                option("rules.mode.exact", "exact"),
                option("rules.mode.contains", "contains"),
                option("rules.mode.prefix", "prefix"),
                option("rules.mode.regex", "regex"),
              ]}
            />
          )}
          <Select
            label={t("rules.hours")}
            value={form.business_hours}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(v) => v && set("business_hours", v as RuleForm["business_hours"])}
            data={[option("rules.hours.any", "any"), option("rules.hours.open", "open"), option("rules.hours.closed", "closed")]}
          />
          <NumberInput label={t("rules.cooldown")} min={0} value={form.cooldown_seconds} readOnly={readOnly} onChange={(v) => set("cooldown_seconds", Number(v) || 0)} />
        </Group>
        {form.kind === "keyword" && (
          <Textarea id={`${prefix}-patterns`} label={t("rules.patterns")} autosize minRows={2} value={form.patterns} readOnly={readOnly} onChange={(e) => set("patterns", e.currentTarget.value)} />
        )}
        {form.kind === "postback" && (
          <Group grow>
            <TextInput label={t("rules.dataEquals")} value={form.data_equals} readOnly={readOnly} onChange={(e) => set("data_equals", e.currentTarget.value)} />
            <TextInput label={t("rules.dataPrefix")} value={form.data_prefix} readOnly={readOnly} onChange={(e) => set("data_prefix", e.currentTarget.value)} />
          </Group>
        )}
        {reply !== null && (
          <Textarea
            id={`${prefix}-reply`}
            label={t("rules.replyText")}
            autosize
            minRows={2}
            value={reply}
            readOnly={readOnly}
            onChange={(e) => set("actions", withReplyText(form.actions, e.currentTarget.value))}
          />
        )}
        <JsonInput label={t("rules.actions")} autosize minRows={3} maxRows={12} value={form.actions} readOnly={readOnly} onChange={(v) => set("actions", v)} validationError="JSON" />
      </Stack>
    </Card>
  );
}

function RuleTester({ dirty }: { dirty: boolean }) {
  const { api, channelId } = useConsole();
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [postback, setPostback] = useState("");
  const [answer, setAnswer] = useState<Schemas["RuleTestResponse"] | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const run = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    try {
      setAnswer(
        await ok(
          api.POST("/admin/channels/{channel_id}/rules/test", {
            params: { path: { channel_id: channelId } },
            body: postback.trim() ? { postback_data: postback.trim() } : { text },
          }),
        ),
      );
    } catch (error) {
      setFailure(error as Error);
    }
  };
  return (
    <Card withBorder id="rules-test">
      <form onSubmit={run}>
        <Stack gap="xs">
          <Title order={3} size="h4">
            {t("rules.test")}
          </Title>
          {dirty && (
            <Text size="xs" c="orange.8">
              {t("rules.unsaved")}
            </Text>
          )}
          <TextInput id="rules-test-text" label={t("rules.testText")} value={text} onChange={(e) => setText(e.currentTarget.value)} />
          <TextInput id="rules-test-postback" label={t("rules.testPostback")} value={postback} onChange={(e) => setPostback(e.currentTarget.value)} />
          <Button type="submit" id="rules-test-run">
            {t("rules.testRun")}
          </Button>
          <ErrorNote error={failure} />
          {answer && (
            <Stack gap={4} id="rules-test-answer">
              <Text fw={700} c={answer.matched ? "green.9" : "dimmed"}>
                {answer.matched
                  ? t("rules.answeredBy", { name: answer.rule_name ?? "", id: answer.rule_id ?? "" })
                  : t("rules.noAnswer")}
              </Text>
              <Text size="sm">{t("rules.why", { reason: answer.reason })}</Text>
              <Text size="sm" fw={600}>
                {t("rules.trace")}
              </Text>
              <List size="xs" type="ordered">
                {answer.trace.map((line, i) => (
                  <List.Item key={i}>{line}</List.Item>
                ))}
              </List>
              {!!answer.actions.length && (
                <>
                  <Text size="sm" fw={600}>
                    {t("rules.wouldDo")}
                  </Text>
                  <Code block>{JSON.stringify(answer.actions, null, 2)}</Code>
                </>
              )}
            </Stack>
          )}
        </Stack>
      </form>
    </Card>
  );
}
