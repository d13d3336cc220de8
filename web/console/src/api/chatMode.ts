// Take over (manual: staff answer, the auto-response is off) or release (auto) a
// friend's chat: one call for the chat page and the friend detail.
import { ok, type Api, type Schemas } from "./client";

export type ChatMode = "manual" | "auto";

export function setChatMode(
  api: Api,
  channelId: string,
  userId: string,
  mode: ChatMode,
  staff: string,
): Promise<Schemas["FriendResponse"]> {
  const path = { channel_id: channelId, user_id: userId };
  return ok(
    mode === "manual"
      ? api.PUT("/admin/channels/{channel_id}/friends/{user_id}/chat-mode", { params: { path }, body: { staff } })
      : api.DELETE("/admin/channels/{channel_id}/friends/{user_id}/chat-mode", { params: { path } }),
  );
}
