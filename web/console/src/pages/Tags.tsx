import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useState } from "react";
import { ok, type Schemas } from "../api/client";
import { ErrorNote, Loading } from "../components/Status";
import { useConsole, useLoad } from "../context";
import { count } from "../format";
import { useI18n } from "../i18n";
import { can } from "../session";

type Tag = Schemas["TagUsage"];
// A merge call moves up to 200 friends; repeat it until done (a bound against a loop).
const MERGE_ROUNDS = 500;
type Field = Schemas["FieldDefinition"];

export function Tags() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const [failure, setFailure] = useState<Error | null>(null);
  const [folderName, setFolderName] = useState("");
  const [tagName, setTagName] = useState("");
  const [tagFolder, setTagFolder] = useState<string | null>(null);
  const tags = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/tags", { params: { path } })), [channelId]);
  const writes = can(session, "write");

  const act = async (call: () => Promise<unknown>) => {
    setFailure(null);
    try {
      await call();
      tags.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const folders = tags.data?.folders ?? [];
  const folderOptions = folders.map((f) => ({ value: f.folder_id, label: f.name }));

  return (
    <Stack>
      <Title order={2}>{t("tags.title")}</Title>
      <ErrorNote error={failure ?? tags.error} />
      {tags.loading && <Loading />}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder id="tags-folders">
          <Stack>
            <Title order={3} size="h4">
              {t("tags.folders")}
            </Title>
            {!folders.length && <Text c="dimmed">{t("tags.empty")}</Text>}
            <Group gap="xs">
              {folders.map((folder) => (
                <Badge
                  key={folder.folder_id}
                  size="lg"
                  variant="light"
                  rightSection={
                    writes ? (
                      <Button
                        size="compact-xs"
                        variant="transparent"
                        aria-label={`${t("tags.deleteFolder")}: ${folder.name}`}
                        onClick={() =>
                          act(() =>
                            ok(
                              api.DELETE("/admin/channels/{channel_id}/tag-folders/{folder_id}", {
                                params: { path: { channel_id: channelId, folder_id: folder.folder_id } },
                              }),
                            ),
                          )
                        }
                      >
                        ×
                      </Button>
                    ) : undefined
                  }
                >
                  {folder.name}
                </Badge>
              ))}
            </Group>
            {writes && (
              <Group align="end">
                <TextInput id="tags-folder-name" label={t("tags.newFolder")} value={folderName} onChange={(e) => setFolderName(e.currentTarget.value)} />
                <Button
                  disabled={!folderName.trim()}
                  onClick={() =>
                    act(async () => {
                      await ok(api.POST("/admin/channels/{channel_id}/tag-folders", { params: { path }, body: { name: folderName.trim() } }));
                      setFolderName("");
                    })
                  }
                >
                  {t("tags.addFolder")}
                </Button>
              </Group>
            )}
          </Stack>
        </Card>
        <Card withBorder id="tags-new">
          {writes ? (
            <Stack>
              <Title order={3} size="h4">
                {t("tags.addTag")}
              </Title>
              <Group align="end">
                <TextInput id="tags-new-name" label={t("tags.newTag")} value={tagName} onChange={(e) => setTagName(e.currentTarget.value)} />
                <Select label={t("tags.folder")} data={folderOptions} value={tagFolder} onChange={setTagFolder} clearable placeholder={t("tags.noFolder")} />
                <Button
                  id="tags-new-add"
                  disabled={!tagName.trim()}
                  onClick={() =>
                    act(async () => {
                      await ok(
                        api.POST("/admin/channels/{channel_id}/tags", {
                          params: { path },
                          body: { name: tagName.trim(), folder_id: tagFolder },
                        }),
                      );
                      setTagName("");
                    })
                  }
                >
                  {t("tags.addTag")}
                </Button>
              </Group>
            </Stack>
          ) : (
            <Text size="sm" c="dimmed">
              {t("common.readOnly")}
            </Text>
          )}
        </Card>
      </SimpleGrid>
      <Card withBorder id="tags-list">
        <Title order={3} size="h4">
          {t("tags.tags")}
        </Title>
        {tags.data && !tags.data.tags.length && <Text c="dimmed">{t("tags.empty")}</Text>}
        {!!tags.data?.tags.length && (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("tags.name")}</Table.Th>
                <Table.Th>{t("tags.folder")}</Table.Th>
                <Table.Th ta="right">{t("tags.friendCount")}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {tags.data.tags.map((tag) => (
                <TagRow key={tag.tag_id} tag={tag} folders={folderOptions} writes={writes} onSave={(body) =>
                  act(() =>
                    ok(api.PATCH("/admin/channels/{channel_id}/tags/{tag_id}", { params: { path: { channel_id: channelId, tag_id: tag.tag_id } }, body })),
                  )
                } />
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
      {writes && tags.data && <MergeTags tags={tags.data.tags} onMerged={tags.reload} />}
      <Fields />
    </Stack>
  );
}

function TagRow({
  tag,
  folders,
  writes,
  onSave,
}: {
  tag: Tag;
  folders: { value: string; label: string }[];
  writes: boolean;
  onSave: (body: { name?: string | null; folder_id?: string | null }) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState(tag.name);
  const [folder, setFolder] = useState<string | null>(tag.folder_id ?? null);
  const changed = name.trim() !== tag.name || folder !== (tag.folder_id ?? null);
  return (
    <Table.Tr data-tag={tag.name}>
      <Table.Td>
        <TextInput aria-label={t("tags.name")} value={name} readOnly={!writes} onChange={(e) => setName(e.currentTarget.value)} size="xs" />
      </Table.Td>
      <Table.Td>
        <Select aria-label={t("tags.folder")} data={folders} value={folder} readOnly={!writes} onChange={setFolder} clearable placeholder={t("tags.noFolder")} size="xs" />
      </Table.Td>
      <Table.Td ta="right" className="tag-friend-count">
        {count(tag.friend_count)}
      </Table.Td>
      <Table.Td>
        {writes && (
          <Button size="compact-xs" disabled={!changed || !name.trim()} onClick={() => onSave({ name: name.trim(), folder_id: folder })}>
            {t("tags.rename")}
          </Button>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function MergeTags({ tags, onMerged }: { tags: Tag[]; onMerged: () => void }) {
  const { api, channelId } = useConsole();
  const { t, language } = useI18n();
  const [source, setSource] = useState<string | null>(null);
  const [into, setInto] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const from = tags.find((x) => x.tag_id === source);
  const to = tags.find((x) => x.tag_id === into);
  const options = tags.map((x) => ({ value: x.tag_id, label: `${x.name} (${count(x.friend_count, language)})` }));

  const merge = async () => {
    if (!from || !to) return;
    setBusy(true);
    setFailure(null);
    let moved = 0;
    try {
      for (let round = 0; round < MERGE_ROUNDS; round += 1) {
        const answer = await ok(
          api.POST("/admin/channels/{channel_id}/tags/{tag_id}/merge", {
            params: { path: { channel_id: channelId, tag_id: from.tag_id } },
            body: { into: to.tag_id },
          }),
        );
        moved += answer.moved;
        if (answer.done) break;
      }
      setNotice(t("tags.merged", { from: from.name, into: to.name, count: count(moved, language) }));
      setSource(null);
      setInto(null);
    } catch (error) {
      setFailure(error as Error);
    } finally {
      setBusy(false);
      setConfirming(false);
      onMerged();
    }
  };

  return (
    <Card withBorder id="tags-merge">
      <Stack>
        <Title order={3} size="h4">
          {t("tags.merge")}
        </Title>
        <Text size="sm" c="dimmed">
          {t("tags.mergeHint")}
        </Text>
        <Group align="end">
          <Select
            id="tags-merge-source"
            label={t("tags.mergeSource")}
            data={options.filter((x) => x.value !== into)}
            value={source}
            onChange={setSource}
            searchable
            w={240}
          />
          <Select
            id="tags-merge-into"
            label={t("tags.mergeInto")}
            data={options.filter((x) => x.value !== source)}
            value={into}
            onChange={setInto}
            searchable
            w={240}
          />
          <Button id="tags-merge-start" color="orange" disabled={!from || !to} onClick={() => setConfirming(true)}>
            {t("tags.mergeStart")}
          </Button>
        </Group>
        <ErrorNote error={failure} />
        {notice && (
          <Alert color="green" id="tags-merge-notice" withCloseButton closeButtonLabel="×" onClose={() => setNotice(null)}>
            {notice}
          </Alert>
        )}
      </Stack>
      <Modal
        opened={confirming && !!from && !!to}
        onClose={() => setConfirming(false)}
        title={t("tags.merge")}
        closeButtonProps={{ "aria-label": t("common.cancel") }}
        centered
      >
        <Stack id="tags-merge-confirm">
          <Text>
            {t("tags.mergeConfirm", {
              from: from?.name ?? "",
              into: to?.name ?? "",
              count: count(from?.friend_count ?? 0, language),
            })}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)} disabled={busy}>
              {t("common.cancel")}
            </Button>
            <Button id="tags-merge-confirm-button" color="orange" loading={busy} onClick={merge}>
              {t("tags.mergeDo")}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

function Fields() {
  const { api, channelId, session } = useConsole();
  const { t } = useI18n();
  const path = { channel_id: channelId };
  const [failure, setFailure] = useState<Error | null>(null);
  const [draft, setDraft] = useState({ key: "", label: "", type: "text" as Field["type"], choices: "" });
  const fields = useLoad(() => ok(api.GET("/admin/channels/{channel_id}/fields", { params: { path } })), [channelId]);
  const writes = can(session, "write");
  const act = async (call: () => Promise<unknown>) => {
    setFailure(null);
    try {
      await call();
      fields.reload();
    } catch (error) {
      setFailure(error as Error);
    }
  };
  const choices = (text: string) => text.split(/[,、]/).map((c) => c.trim()).filter(Boolean);
  return (
    <Card withBorder id="fields">
      <Stack>
        <Title order={3} size="h4">
          {t("tags.fields")}
        </Title>
        <ErrorNote error={failure ?? fields.error} />
        {fields.data && !fields.data.fields.length && <Text c="dimmed">{t("tags.empty")}</Text>}
        {!!fields.data?.fields.length && (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("tags.fieldKey")}</Table.Th>
                <Table.Th>{t("tags.fieldLabel")}</Table.Th>
                <Table.Th>{t("tags.fieldType")}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fields.data.fields.map((field) => (
                <FieldRow key={field.key} field={field} writes={writes} onSave={(label) =>
                  act(() =>
                    ok(api.PUT("/admin/channels/{channel_id}/fields/{key}", {
                      params: { path: { channel_id: channelId, key: field.key } },
                      body: { label, type: field.type, choices: field.choices ?? [] },
                    })),
                  )
                } />
              ))}
            </Table.Tbody>
          </Table>
        )}
        {writes && (
          <Group align="end">
            <TextInput label={t("tags.fieldKey")} value={draft.key} onChange={(e) => setDraft({ ...draft, key: e.currentTarget.value })} w={140} />
            <TextInput label={t("tags.fieldLabel")} value={draft.label} onChange={(e) => setDraft({ ...draft, label: e.currentTarget.value })} w={180} />
            <Select
              label={t("tags.fieldType")}
              data={["text", "number", "date", "choice"]}
              value={draft.type}
              allowDeselect={false}
              onChange={(v) => v && setDraft({ ...draft, type: v as Field["type"] })}
              w={120}
            />
            {draft.type === "choice" && (
              <TextInput label={t("tags.fieldChoices")} value={draft.choices} onChange={(e) => setDraft({ ...draft, choices: e.currentTarget.value })} />
            )}
            <Button
              disabled={!draft.key.trim() || !draft.label.trim()}
              onClick={() =>
                act(async () => {
                  await ok(
                    api.POST("/admin/channels/{channel_id}/fields", {
                      params: { path },
                      body: { key: draft.key.trim(), label: draft.label.trim(), type: draft.type, choices: choices(draft.choices) },
                    }),
                  );
                  setDraft({ key: "", label: "", type: "text", choices: "" });
                })
              }
            >
              {t("tags.addField")}
            </Button>
          </Group>
        )}
      </Stack>
    </Card>
  );
}

function FieldRow({ field, writes, onSave }: { field: Field; writes: boolean; onSave: (label: string) => void }) {
  const { t } = useI18n();
  const [label, setLabel] = useState(field.label);
  return (
    <Table.Tr>
      <Table.Td>
        <code>{field.key}</code>
      </Table.Td>
      <Table.Td>
        <TextInput aria-label={t("tags.fieldLabel")} size="xs" value={label} readOnly={!writes} onChange={(e) => setLabel(e.currentTarget.value)} />
      </Table.Td>
      <Table.Td>
        {field.type}
        {field.choices?.length ? ` (${field.choices.join(", ")})` : ""}
      </Table.Td>
      <Table.Td>
        {writes && (
          <Button size="compact-xs" disabled={!label.trim() || label.trim() === field.label} onClick={() => onSave(label.trim())}>
            {t("tags.rename")}
          </Button>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
