// linecrm's LIFF JSON routes (same origin as the page).

export interface MemberCard {
  displayName: string | null;
  linked: boolean;
  memberId: string | null;
  rank: string | number | null;
  points: number | string | null;
}

export interface ShopLogin {
  url: string;
  expiresAt: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
  const answer = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) {
    throw new ApiError(response.status, answer.message ?? `HTTP ${response.status}`);
  }
  return answer as T;
}

export function memberCard(channelId: string, idToken: string): Promise<MemberCard> {
  return post<MemberCard>("/liff/member-card", { channelId, idToken });
}

// wt-shoplogin's route: a signed, single-use login URL into the shop for `target`.
export function shopLogin(channelId: string, idToken: string, target: string): Promise<ShopLogin> {
  return post<ShopLogin>("/liff/shop-login", { channelId, idToken, target });
}

export interface RecordedClick {
  url: string;
  first: boolean;
}

// A tracked link's click by the friend of `idToken`: the link's URL (docs/tracking.md).
export function recordClick(token: string, idToken: string): Promise<RecordedClick> {
  return post<RecordedClick>(`/t/${encodeURIComponent(token)}`, { idToken });
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return "LINEのログインを確認できませんでした。もう一度開いてください。";
    if (error.status === 403 || error.status === 409) return "会員連携が必要です。";
    if (error.status === 404) return "この機能は準備中です。";
    if (error.status === 422) return "移動先が正しくありません。";
    if (error.status >= 500) return "ただいま混み合っています。しばらくしてからお試しください。";
    return error.message;
  }
  return "通信できませんでした。電波の良いところでもう一度お試しください。";
}
