// The scenario editor (docs/scenarios.md): trigger, exits, steps with their timing,
// condition, "clicked a link of step k", messages (the broadcast composer's bubble
// preview), branches, reminder and next step; what the form has no input for is edited
// as JSON in each "advanced" box, so a save never drops a field. Save is `PUT
// …/scenarios/{id}` (a new version); the API's reasons are shown next to their field.
import {
  Alert,
  Badge,
  Box,
  Button,
  Card,
  Code,
  Grid,
  Group,
  NumberInput,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Textarea,
  Title,
} from "@mantine/core";
import { useEffect, useMemo, useState } from "react";
import { ok, type Schemas } from "../api/client";
import { Bubbles } from "../components/Bubbles";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole } from "../context";
import { useI18n, type MessageKey } from "../i18n";
import { bubbles, type LineMessage } from "../preview";
import { can } from "../session";
import {
  clock,
  END,
  EXIT_TYPES,
  extraOf,
  freshStepId,
  isObj,
  list,
  MESSAGE_CLASSES,
  moveAt,
  newDefinition,
  newStep,
  objects,
  problemsAt,
  problemsOf,
  RE_ENTRY,
  removeAt,
  replaceAt,
  SCENARIO_KEYS,
  STEP_KEYS,
  stepIds,
  steps,
  timeline,
  timelineDays,
  timingForm,
  toTiming,
  unplaced,
  withExtra,
  withKey,
  withStep,
  TRIGGER_TYPES,
  type Definition,
  type FieldProblem,
  type Json,
  type Obj,
  type TimingForm,
} from "./scenarioLogic";

type ApplyResult = Schemas["ApplyResult"];
const DEFAULT_NEXT = "(default)"; // no `next`: the step after it in the list

const SKELETONS: Record<string, () => Obj> = {
  text: () => ({ type: "text", text: "" }),
  image: () => ({ type: "image", originalContentUrl: "https://", previewImageUrl: "https://" }),
  buttons: () => ({
    type: "template",
    altText: "",
    template: { type: "buttons", text: "", actions: [{ type: "uri", label: "", uri: "https://" }] },
  }),
  flex: () => ({ type: "flex", altText: "", contents: { type: "bubble", body: { type: "box", layout: "vertical", contents: [] } } }),
};

export function ScenarioEditor({
  scenarioId,
  onClose,
  onSaved,
}: {
  scenarioId: string | null;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const [current, setCurrent] = useState<string | null>(scenarioId);
  const [definition, setDefinition] = useState<Definition | null>(scenarioId ? null : newDefinition("", ""));
  const [loadError, setLoadError] = useState<Error | null>(null);
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [invalid, setInvalid] = useState<Record<string, boolean>>({});
  const [result, setResult] = useState<ApplyResult | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!scenarioId) return;
    let live = true;
    ok(
      api.GET("/admin/channels/{channel_id}/scenarios/{scenario_id}", {
        params: { path: { channel_id: channelId, scenario_id: scenarioId } },
      }),
    ).then(
      (detail) => live && setDefinition(detail.definition as Definition),
      (error: Error) => live && setLoadError(error),
    );
    return () => {
      live = false;
    };
  }, [api, channelId, scenarioId]);

  const validity = (key: string) => (good: boolean) =>
    setInvalid((all) => (all[key] === !good ? all : { ...all, [key]: !good }));
  const anyInvalid = Object.values(invalid).some(Boolean);
  const err = (path: string, exact = true) => {
    const found = problemsAt(problems, path, exact);
    return found.length ? found.join(" / ") : undefined;
  };

  const save = async (dryRun: boolean) => {
    if (!definition) return;
    const id = String(definition.id ?? "").trim();
    setBusy(true);
    setProblems([]);
    setResult(null);
    try {
      const answer = await api.PUT("/admin/channels/{channel_id}/scenarios/{scenario_id}", {
        params: { path: { channel_id: channelId, scenario_id: id || "-" }, query: { dry_run: dryRun } },
        body: definition as { [key: string]: unknown },
      });
      if (answer.error !== undefined || !answer.response.ok || !answer.data) {
        const found = problemsOf(answer.error);
        setProblems(found.length ? found : [{ field: "", message: `HTTP ${answer.response.status}` }]);
        return;
      }
      setResult(answer.data);
      if (!dryRun) {
        setCurrent(id);
        onSaved();
      }
    } catch (error) {
      setProblems([{ field: "", message: (error as Error).message }]);
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return <ErrorNote error={loadError} />;
  if (!definition) return <Loading />;
  const set = (key: string, value: Json | undefined) => setDefinition((d) => (d ? withKey(d, key, value) : d));
  const all = steps(definition);
  const ids = stepIds(definition);
  const writable = can(session, "write");
  const placedPaths = ["id", "name", "message_class", "re_entry", "triggers", "exit_when", ...all.map((_, i) => `steps[${i}]`)];
  const general = unplaced(problems, placedPaths);

  return (
    <Card withBorder id="scenario-editor" data-editing={current ?? ""}>
      <Stack>
        <Group justify="space-between">
          <Title order={3} size="h4">
            {current ? t("scenarioEditor.editTitle", { id: current }) : t("scenarioEditor.newTitle")}
          </Title>
          <Button variant="subtle" onClick={onClose} id="scenario-editor-close">
            {t("scenarioEditor.close")}
          </Button>
        </Group>
        <Group grow align="start">
          <TextInput
            id="scenario-id"
            label={t("scenarioEditor.id")}
            description={t("scenarioEditor.idHint")}
            value={String(definition.id ?? "")}
            disabled={!!current}
            onChange={(e) => set("id", e.currentTarget.value)}
            error={err("id")}
          />
          <TextInput
            id="scenario-name"
            label={t("scenarioEditor.name")}
            value={String(definition.name ?? "")}
            onChange={(e) => set("name", e.currentTarget.value)}
            error={err("name")}
          />
        </Group>
        <Group grow align="start">
          <Select
            id="scenario-class"
            label={t("scenarioEditor.messageClass")}
            description={t("scenarioEditor.capsHint")}
            allowDeselect={false}
            value={String(definition.message_class ?? "marketing")}
            onChange={(v) => v && set("message_class", v)}
            data={MESSAGE_CLASSES.map((value) => ({ value, label: t(`broadcasts.class.${value}`) }))}
            error={err("message_class")}
          />
          <Select
            id="scenario-re-entry"
            label={t("scenarioEditor.reEntry")}
            allowDeselect={false}
            value={String(definition.re_entry ?? "never")}
            onChange={(v) => v && set("re_entry", v)}
            data={RE_ENTRY.map((value) => ({ value, label: t(`scenarioEditor.reEntry.${value}`) }))}
            error={err("re_entry")}
          />
        </Group>

        <TypedList
          id="scenario-triggers"
          title={t("scenarioEditor.triggers")}
          path="triggers"
          items={list(definition.triggers)}
          types={TRIGGER_TYPES}
          labelOf={(type) => t(`scenarioEditor.trigger.${type}` as MessageKey)}
          onChange={(items) => set("triggers", items)}
          problems={problems}
          validity={validity}
        />
        <TypedList
          id="scenario-exits"
          title={t("scenarioEditor.exits")}
          path="exit_when"
          items={list(definition.exit_when)}
          types={EXIT_TYPES}
          labelOf={(type) => t(`scenarioEditor.exit.${type}` as MessageKey)}
          onChange={(items) => set("exit_when", items)}
          problems={problems}
          validity={validity}
        />

        <Title order={4} size="h5">
          {t("scenarioEditor.steps")}
        </Title>
        {err("steps") && (
          <Text c="red" size="sm">
            {err("steps")}
          </Text>
        )}
        {all.map((step, index) => (
          <StepEditor
            key={index}
            index={index}
            step={step}
            ids={ids}
            count={all.length}
            problems={problems}
            validity={validity}
            onChange={(next) => setDefinition((d) => (d ? withStep(d, index, next) : d))}
            onMove={(by) => setDefinition((d) => (d ? withKey(d, "steps", moveAt(list(d.steps), index, by)) : d))}
            onRemove={() => setDefinition((d) => (d ? withKey(d, "steps", removeAt(list(d.steps), index)) : d))}
          />
        ))}
        <Group>
          <Button
            variant="default"
            id="scenario-add-step"
            onClick={() =>
              setDefinition((d) => (d ? withKey(d, "steps", [...list(d.steps), newStep(freshStepId(d))]) : d))
            }
          >
            {t("scenarioEditor.addStep")}
          </Button>
        </Group>

        <JsonBox
          id="scenario-advanced"
          label={t("scenarioEditor.advanced")}
          description={t("scenarioEditor.advancedHint")}
          value={extraOf(definition, SCENARIO_KEYS)}
          onChange={(extra) => setDefinition((d) => (d ? withExtra(d, SCENARIO_KEYS, isObj(extra) ? extra : {}) : d))}
          validity={validity("scenario-advanced")}
          error={general.length ? general.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join(" / ") : undefined}
        />

        <ScenarioTimeline definition={definition} />

        {!!problems.length && (
          <Alert color="red" id="scenario-problems" title={t("scenarioEditor.problems")} role="alert">
            <Stack gap={2}>
              {problems.map((p, i) => (
                <Text size="sm" key={i} data-field={p.field}>
                  {p.field ? `${p.field}: ` : ""}
                  {p.message}
                </Text>
              ))}
            </Stack>
          </Alert>
        )}
        {result && (
          <Alert color={result.dry_run ? "blue" : "green"} id="scenario-saved" data-version={result.version}>
            {t(result.dry_run ? "scenarioEditor.checked" : "scenarioEditor.saved", {
              action: t(`scenarioEditor.action.${result.action}`),
              version: result.version,
            })}
            {!!result.diff.length && (
              <Code block mt="xs" id="scenario-diff">
                {result.diff.join("\n")}
              </Code>
            )}
          </Alert>
        )}
        {writable && (
          <Group>
            <Button variant="default" onClick={() => save(true)} disabled={anyInvalid} loading={busy} id="scenario-check">
              {t("scenarioEditor.check")}
            </Button>
            <Button onClick={() => save(false)} disabled={anyInvalid} loading={busy} id="scenario-save">
              {t("scenarioEditor.save")}
            </Button>
            {anyInvalid && (
              <Text size="sm" c="orange.8">
                {t("scenarioEditor.fixJson")}
              </Text>
            )}
          </Group>
        )}
      </Stack>
    </Card>
  );
}

// ---------------------------------------------------------------- triggers and exits
function TypedList({
  id,
  title,
  path,
  items,
  types,
  labelOf,
  onChange,
  problems,
  validity,
}: {
  id: string;
  title: string;
  path: string;
  items: Json[];
  types: readonly string[];
  labelOf: (type: string) => string;
  onChange: (items: Json[]) => void;
  problems: FieldProblem[];
  validity: (key: string) => (good: boolean) => void;
}) {
  const { t } = useI18n();
  const err = (p: string) => problemsAt(problems, p).join(" / ") || undefined;
  const fieldsOf: Record<string, string[]> = {
    follow: ["inflow_route"],
    tag_added: ["tag"],
    field_set: ["field", "value"],
    postback: ["data"],
    event: ["name"],
    tag: ["tag"],
  };
  return (
    <Stack gap="xs" id={id}>
      <Text fw={600} size="sm">
        {title}
      </Text>
      {err(path) && !items.length && (
        <Text c="red" size="sm">
          {err(path)}
        </Text>
      )}
      {items.map((raw, index) => {
        const item = isObj(raw) ? raw : {};
        const type = String(item.type ?? "");
        const here = `${path}[${index}]`;
        const update = (next: Obj) => onChange(replaceAt(items, index, next));
        const known = ["type", ...(fieldsOf[type] ?? []), ...(type === "event" ? ["where"] : [])];
        const extra = extraOf(item, known);
        return (
          <Card withBorder padding="xs" key={index} data-item={`${path}-${index}`}>
            <Group align="start" wrap="wrap">
              <Select
                label={t("scenarioEditor.type")}
                allowDeselect={false}
                value={type}
                w={200}
                data={types.map((value) => ({ value, label: labelOf(value) }))}
                onChange={(v) => v && v !== type && update({ type: v })}
                error={problemsAt(problems, `${here}.type`, true).join(" / ") || undefined}
              />
              {(fieldsOf[type] ?? []).map((key) => (
                <TextInput
                  key={key}
                  label={t(`scenarioEditor.field.${key}` as MessageKey)}
                  value={item[key] === undefined || item[key] === null ? "" : String(item[key])}
                  onChange={(e) => {
                    const text = e.currentTarget.value;
                    const optional = key === "inflow_route" || key === "value";
                    update(withKey(item, key, optional && text === "" ? undefined : typedLike(item[key], text)));
                  }}
                  error={problemsAt(problems, `${here}.${key}`).join(" / ") || undefined}
                />
              ))}
              <Button
                size="compact-sm"
                mt={26}
                variant="subtle"
                color="red"
                onClick={() => onChange(removeAt(items, index))}
                aria-label={`${t("scenarioEditor.remove")} ${title} ${index + 1}`}
              >
                {t("scenarioEditor.remove")}
              </Button>
            </Group>
            {type === "event" && (
              <JsonBox
                label={t("scenarioEditor.where")}
                description={t("scenarioEditor.whereHint")}
                value={item.where ?? []}
                onChange={(where) => update(withKey(item, "where", where ?? []))}
                validity={validity(`${here}.where`)}
                error={err(`${here}.where`)}
              />
            )}
            {!!Object.keys(extra).length && (
              <JsonBox
                label={t("scenarioEditor.advanced")}
                value={extra}
                onChange={(next) => update(withExtra(item, known, isObj(next) ? next : {}))}
                validity={validity(`${here}.advanced`)}
              />
            )}
          </Card>
        );
      })}
      <Group gap="xs">
        <Button size="xs" variant="default" onClick={() => onChange([...items, { type: types[0] }])} data-add={path}>
          {t("scenarioEditor.add")}
        </Button>
      </Group>
    </Stack>
  );
}

// A number stays a number when the text is one (field_set's value).
function typedLike(before: Json | undefined, text: string): Json {
  if (typeof before === "number" && text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
  return text;
}

// ---------------------------------------------------------------- one step
function StepEditor({
  index,
  step,
  ids,
  count,
  problems,
  validity,
  onChange,
  onMove,
  onRemove,
}: {
  index: number;
  step: Obj;
  ids: string[];
  count: number;
  problems: FieldProblem[];
  validity: (key: string) => (good: boolean) => void;
  onChange: (step: Obj) => void;
  onMove: (by: -1 | 1) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  const here = `steps[${index}]`;
  const err = (p: string, exact = false) => problemsAt(problems, `${here}.${p}`, exact).join(" / ") || undefined;
  const set = (key: string, value: Json | undefined) => onChange(withKey(step, key, value));
  const timing = timingForm(step.timing);
  const setTiming = (change: Partial<TimingForm>) => set("timing", toTiming({ ...timing, ...change }));
  const messages = list(step.messages);
  const branches = objects(step.branches);
  const reminder = isObj(step.reminder) ? step.reminder : null;
  const clicked = isObj(step.if_clicked) ? step.if_clicked : null;
  const others = ids.filter((_, i) => i !== index);
  const earlier = ids.slice(0, index);
  const stepData = others.map((id) => ({ value: id, label: id }));
  const extra = extraOf(step, STEP_KEYS);
  const prefix = `step-${index}`;
  const preview = useMemo(() => bubbles(messages.filter(isObj) as LineMessage[], null), [messages]);
  const ownProblems = problemsAt(problems, here, true);

  return (
    <Card withBorder data-step-editor={index} data-step-id={String(step.id ?? "")}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Badge variant="light">
            {t("scenarioEditor.stepN", { n: index + 1 })} {String(step.id ?? "")}
          </Badge>
          <Group gap={4}>
            <Button size="compact-xs" variant="default" disabled={index === 0} onClick={() => onMove(-1)}>
              {t("scenarioEditor.up")}
            </Button>
            <Button size="compact-xs" variant="default" disabled={index === count - 1} onClick={() => onMove(1)}>
              {t("scenarioEditor.down")}
            </Button>
            <Button size="compact-xs" variant="subtle" color="red" disabled={count === 1} onClick={onRemove}>
              {t("scenarioEditor.removeStep")}
            </Button>
          </Group>
        </Group>
        {!!ownProblems.length && (
          <Text c="red" size="sm">
            {ownProblems.join(" / ")}
          </Text>
        )}
        <Grid>
          <Grid.Col span={{ base: 12, md: 7 }}>
            <Stack gap="sm">
              <TextInput
                id={`${prefix}-id`}
                label={t("scenarioEditor.stepId")}
                value={String(step.id ?? "")}
                onChange={(e) => set("id", e.currentTarget.value)}
                error={err("id", true)}
              />
              <Group align="start" wrap="wrap">
                <Select
                  id={`${prefix}-timing-mode`}
                  label={t("scenarioEditor.timing")}
                  allowDeselect={false}
                  value={timing.mode}
                  w={220}
                  onChange={(v) => v && setTiming({ mode: v as TimingForm["mode"] })}
                  data={(["after", "after_enrollment", "day"] as const).map((value) => ({
                    value,
                    label: t(`scenarioEditor.timing.${value}`),
                  }))}
                  error={err("timing")}
                />
                {timing.mode !== "day" ? (
                  <>
                    <NumberInput
                      id={`${prefix}-timing-amount`}
                      label={t("scenarioEditor.amount")}
                      min={0}
                      max={525600}
                      allowDecimal={false}
                      w={120}
                      value={timing.amount}
                      onChange={(v) => setTiming({ amount: Number(v) || 0 })}
                    />
                    <Select
                      id={`${prefix}-timing-unit`}
                      label={t("scenarioEditor.unit")}
                      allowDeselect={false}
                      w={120}
                      value={timing.unit}
                      onChange={(v) => v && setTiming({ unit: v as TimingForm["unit"] })}
                      data={(["m", "h", "d"] as const).map((value) => ({ value, label: t(`scenarioEditor.unit.${value}`) }))}
                    />
                  </>
                ) : (
                  <>
                    <NumberInput
                      id={`${prefix}-timing-day`}
                      label={t("scenarioEditor.day")}
                      min={0}
                      max={365}
                      allowDecimal={false}
                      w={120}
                      value={timing.day}
                      onChange={(v) => setTiming({ day: Number(v) || 0 })}
                    />
                    <TextInput
                      id={`${prefix}-timing-at`}
                      type="time"
                      label={t("scenarioEditor.at")}
                      description={t("scenarioEditor.atHint")}
                      w={200}
                      value={timing.at}
                      onChange={(e) => setTiming({ at: e.currentTarget.value })}
                    />
                  </>
                )}
              </Group>

              <Text fw={600} size="sm">
                {t("scenarioEditor.messages")}
              </Text>
              {err("messages", true) && (
                <Text c="red" size="sm">
                  {err("messages", true)}
                </Text>
              )}
              {messages.map((message, n) => {
                const m = isObj(message) ? message : {};
                const plainText = m.type === "text" && Object.keys(m).every((k) => k === "type" || k === "text");
                const update = (next: Json | undefined) =>
                  set("messages", next === undefined ? removeAt(messages, n) : replaceAt(messages, n, next));
                return (
                  <Box key={n} data-message={n}>
                    {plainText ? (
                      <Textarea
                        id={`${prefix}-message-${n}`}
                        label={t("scenarioEditor.messageN", { n: n + 1 })}
                        autosize
                        minRows={2}
                        value={String(m.text ?? "")}
                        onChange={(e) => update(withKey(m, "text", e.currentTarget.value))}
                        error={err(`messages[${n}]`)}
                      />
                    ) : (
                      <JsonBox
                        label={t("scenarioEditor.messageN", { n: n + 1 })}
                        value={message}
                        onChange={(next) => update(next ?? {})}
                        validity={validity(`${here}.messages[${n}]`)}
                        error={err(`messages[${n}]`)}
                      />
                    )}
                    <Button size="compact-xs" variant="subtle" color="red" onClick={() => update(undefined)}>
                      {t("scenarioEditor.removeMessage", { n: n + 1 })}
                    </Button>
                  </Box>
                );
              })}
              {messages.length < 5 && (
                <Group gap="xs">
                  <Text size="sm">{t("broadcasts.add")}:</Text>
                  {Object.keys(SKELETONS).map((kind) => (
                    <Button key={kind} size="xs" variant="default" onClick={() => set("messages", [...messages, SKELETONS[kind]()])} data-add-message={kind}>
                      {t(`broadcasts.kind.${kind}` as MessageKey)}
                    </Button>
                  ))}
                </Group>
              )}
            </Stack>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 5 }}>
            <Stack gap="xs">
              <Text size="sm" fw={600}>
                {t("broadcasts.preview")}
              </Text>
              <Bubbles items={preview} />
            </Stack>
          </Grid.Col>
        </Grid>

        <Group align="start" wrap="wrap">
          <Switch
            mt={30}
            label={t("scenarioEditor.condition")}
            checked={isObj(step.condition)}
            onChange={(e) => set("condition", e.currentTarget.checked ? { tag: "" } : undefined)}
          />
          <Select
            id={`${prefix}-if-clicked`}
            label={t("scenarioEditor.ifClicked")}
            description={t("scenarioEditor.ifClickedHint")}
            w={260}
            clearable
            value={clicked ? String(clicked.step ?? "") : null}
            data={earlier.map((id) => ({ value: id, label: id }))}
            onChange={(v) => set("if_clicked", v ? { ...(clicked ?? {}), step: v } : undefined)}
            error={err("if_clicked")}
          />
          {clicked && (
            <Select
              label={t("scenarioEditor.clicked")}
              w={200}
              allowDeselect={false}
              value={clicked.clicked === false ? "false" : "true"}
              data={[
                { value: "true", label: t("scenarioEditor.clicked.true") },
                { value: "false", label: t("scenarioEditor.clicked.false") },
              ]}
              onChange={(v) => set("if_clicked", withKey(clicked, "clicked", v === "false" ? false : true))}
            />
          )}
        </Group>
        {isObj(step.condition) && (
          <JsonBox
            label={t("scenarioEditor.conditionJson")}
            description={t("scenarioEditor.conditionHint")}
            value={step.condition}
            onChange={(next) => set("condition", next ?? undefined)}
            validity={validity(`${here}.condition`)}
            error={err("condition")}
          />
        )}

        <Stack gap={4}>
          <Text fw={600} size="sm">
            {t("scenarioEditor.branches")}
          </Text>
          {err("branches", true) && (
            <Text c="red" size="sm">
              {err("branches", true)}
            </Text>
          )}
          {branches.map((branch, n) => {
            const kind = typeof branch.tag === "string" ? "tag" : "postback";
            const update = (next: Obj) => set("branches", replaceAt(branches, n, next));
            return (
              <Group key={n} align="start" data-branch={n}>
                <Select
                  label={t("scenarioEditor.branchWhen")}
                  w={180}
                  allowDeselect={false}
                  value={kind}
                  data={[
                    { value: "postback", label: t("scenarioEditor.branch.postback") },
                    { value: "tag", label: t("scenarioEditor.branch.tag") },
                  ]}
                  onChange={(v) => {
                    if (!v || v === kind) return;
                    const value = String(branch[kind] ?? "");
                    const rest = withKey(branch, kind, undefined);
                    update({ [v]: value, ...rest });
                  }}
                />
                <TextInput
                  label={t(kind === "tag" ? "scenarioEditor.branch.tag" : "scenarioEditor.branch.postback")}
                  value={String(branch[kind] ?? "")}
                  onChange={(e) => update(withKey(branch, kind, e.currentTarget.value))}
                  error={err(`branches[${n}].${kind}`)}
                />
                <Select
                  label={t("scenarioEditor.goto")}
                  w={180}
                  allowDeselect={false}
                  value={String(branch.goto ?? "") || null}
                  data={stepData}
                  onChange={(v) => v && update(withKey(branch, "goto", v))}
                  error={err(`branches[${n}].goto`)}
                />
                <Button mt={26} size="compact-sm" variant="subtle" color="red" onClick={() => set("branches", removeAt(branches, n))}>
                  {t("scenarioEditor.remove")}
                </Button>
              </Group>
            );
          })}
          <Group>
            <Button
              size="xs"
              variant="default"
              disabled={!others.length}
              onClick={() => set("branches", [...branches, { postback: "", goto: others[0] ?? "" }])}
            >
              {t("scenarioEditor.addBranch")}
            </Button>
          </Group>
        </Stack>

        <Group align="start" wrap="wrap">
          <Switch
            mt={30}
            label={t("scenarioEditor.reminder")}
            disabled={!branches.length && !reminder}
            checked={!!reminder}
            onChange={(e) => set("reminder", e.currentTarget.checked ? { after: "1d", goto: others[0] ?? "" } : undefined)}
          />
          {reminder && (
            <>
              <TextInput
                label={t("scenarioEditor.reminderAfter")}
                description={t("scenarioEditor.durationHint")}
                w={160}
                value={String(reminder.after ?? "")}
                onChange={(e) => set("reminder", withKey(reminder, "after", e.currentTarget.value))}
                error={err("reminder.after")}
              />
              <Select
                label={t("scenarioEditor.goto")}
                w={180}
                allowDeselect={false}
                value={String(reminder.goto ?? "") || null}
                data={stepData}
                onChange={(v) => v && set("reminder", withKey(reminder, "goto", v))}
                error={err("reminder.goto")}
              />
            </>
          )}
          <Select
            id={`${prefix}-next`}
            label={t("scenarioEditor.next")}
            w={220}
            allowDeselect={false}
            value={typeof step.next === "string" ? step.next : DEFAULT_NEXT}
            data={[
              { value: DEFAULT_NEXT, label: t("scenarioEditor.next.default") },
              { value: END, label: t("scenarioEditor.next.end") },
              ...stepData,
            ]}
            onChange={(v) => set("next", v && v !== DEFAULT_NEXT ? v : undefined)}
            error={err("next")}
          />
        </Group>
        <JsonBox
          className="step-advanced"
          label={t("scenarioEditor.stepAdvanced")}
          description={t("scenarioEditor.stepAdvancedHint")}
          value={extra}
          onChange={(next) => onChange(withExtra(step, STEP_KEYS, isObj(next) ? next : {}))}
          validity={validity(`${here}.advanced`)}
          error={
            problems
              .filter((p) => p.field.startsWith(`${here}.`) && !STEP_KEYS.some((k) => p.field.startsWith(`${here}.${k}`)))
              .map((p) => `${p.field.slice(here.length + 1)}: ${p.message}`)
              .join(" / ") || undefined
          }
        />
      </Stack>
    </Card>
  );
}

// ---------------------------------------------------------------- JSON
function JsonBox({
  id,
  className,
  label,
  description,
  value,
  onChange,
  validity,
  error,
}: {
  id?: string;
  className?: string;
  label: string;
  description?: string;
  value: Json | undefined;
  onChange: (value: Json | undefined) => void;
  validity: (good: boolean) => void;
  error?: string;
}) {
  const { t } = useI18n();
  const pretty = (v: Json | undefined) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  const [text, setText] = useState(pretty(value));
  const [bad, setBad] = useState<string | null>(null);
  const serial = JSON.stringify(value ?? null);
  useEffect(() => {
    // The value changed from outside (a step moved or removed): show it.
    let shown: string | null = null;
    try {
      shown = JSON.stringify(text.trim() ? JSON.parse(text) : null);
    } catch {
      shown = null;
    }
    if (shown !== serial) {
      setText(pretty(value));
      setBad(null);
      validity(true);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [serial]);
  useEffect(() => () => validity(true), []); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Textarea
      id={id}
      className={className}
      label={label}
      description={description}
      autosize
      minRows={2}
      maxRows={16}
      styles={{ input: { fontFamily: "monospace", fontSize: 12 } }}
      value={text}
      onChange={(e) => {
        const next = e.currentTarget.value;
        setText(next);
        if (!next.trim()) {
          setBad(null);
          validity(true);
          onChange(undefined);
          return;
        }
        try {
          const parsed = JSON.parse(next) as Json;
          setBad(null);
          validity(true);
          onChange(parsed);
        } catch (error) {
          setBad(t("scenarioEditor.badJson", { reason: (error as Error).message }));
          validity(false);
        }
      }}
      error={bad ?? error}
    />
  );
}

// ---------------------------------------------------------------- the timeline
export function ScenarioTimeline({ definition }: { definition: Definition }) {
  const { t } = useI18n();
  const days = timelineDays(timeline(definition));
  return (
    <Stack gap="xs" id="scenario-timeline">
      <Title order={4} size="h5">
        {t("scenarioEditor.timeline")}
      </Title>
      <Group align="start" wrap="nowrap" style={{ overflowX: "auto" }} pb="xs">
        {days.map(({ day, entries }) => (
          <Stack key={day} gap="xs" miw={200} data-day={day} component="section" aria-label={day < 0 ? t("scenarioEditor.unreached") : t("scenarioEditor.dayN", { n: day })}>
            <Text fw={700} size="sm" className="timeline-day">
              {day < 0 ? t("scenarioEditor.unreached") : t("scenarioEditor.dayN", { n: day })}
            </Text>
            {entries.map((entry) => (
              <Card key={entry.stepId} withBorder padding="xs" data-timeline-step={entry.stepId}>
                <Group gap={4}>
                  <Text fw={600} size="sm">
                    {entry.stepId}
                  </Text>
                  {day >= 0 && (
                    <Text size="xs" c="dimmed">
                      {entry.at ?? (entry.minutes % 1440 === 0 ? "" : `+${clock(entry.minutes)}`)}
                    </Text>
                  )}
                </Group>
                {entry.via === "branch" && (
                  <Text size="xs">{t("scenarioEditor.viaBranch", { from: entry.from ?? "" })}</Text>
                )}
                {entry.via === "reminder" && (
                  <Text size="xs">{t("scenarioEditor.viaReminder", { from: entry.from ?? "" })}</Text>
                )}
                {entry.condition && <Badge size="xs" variant="outline">{t("scenarioEditor.condition")}</Badge>}
                {entry.ifClicked && (
                  <Text size="xs">
                    {t(entry.ifClicked.clicked ? "scenarioEditor.ifClickedYes" : "scenarioEditor.ifClickedNo", { step: entry.ifClicked.step })}
                  </Text>
                )}
                {entry.branches.map((b, i) => (
                  <Text size="xs" key={i} data-branch-to={b.goto}>
                    ↳ {b.when} → {b.goto}
                  </Text>
                ))}
                {entry.reminder && (
                  <Text size="xs">
                    ↳ {t("scenarioEditor.reminderText", { after: entry.reminder.after, goto: entry.reminder.goto })}
                  </Text>
                )}
                {day >= 0 && (
                  <Text size="xs" c="dimmed">
                    {entry.next ? `→ ${entry.next}` : entry.reminder ? "" : t("scenarioEditor.next.end")}
                  </Text>
                )}
              </Card>
            ))}
          </Stack>
        ))}
      </Group>
    </Stack>
  );
}
