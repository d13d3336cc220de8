// Who is signed in: kept in sessionStorage (gone with the tab), never localStorage.
// The UI hides what the role may not do; the API decides (403 with its reason).

export type Role = "owner" | "marketer" | "operator" | "viewer";

export interface Session {
  token: string;
  kind: "staff" | "machine";
  role: Role;
  email: string | null;
  // epoch ms; null = no expiry known (the admin token)
  expiresAt: number | null;
}

const KEY = "linecrm.console.session";

export function loadSession(storage: Storage = sessionStorage): Session | null {
  const raw = storage.getItem(KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    if (session.expiresAt !== null && session.expiresAt <= Date.now()) {
      storage.removeItem(KEY);
      return null;
    }
    return session;
  } catch {
    storage.removeItem(KEY);
    return null;
  }
}

export function saveSession(session: Session, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}

// What each role may do, as the admin API enforces it (docs/console.md).
// reports: every GET but the staff's; friends: read friends and their details;
// write: change anything but staff; chat: inbox and take/release; tagFriends: add or
// remove tags on a friend; staff: the staff users; chatRead: read the conversations and
// the reply templates (every role; the viewer without answering).
export type Ability = "reports" | "friends" | "write" | "chat" | "chatRead" | "tagFriends" | "staff";

const ABILITIES: Record<Role, readonly Ability[]> = {
  owner: ["reports", "friends", "write", "chat", "chatRead", "tagFriends", "staff"],
  marketer: ["reports", "friends", "write", "chat", "chatRead", "tagFriends"],
  operator: ["friends", "chat", "chatRead", "tagFriends"],
  viewer: ["reports", "friends", "chatRead"],
};

export function can(session: Session | null, ability: Ability): boolean {
  return session !== null && ABILITIES[session.role].includes(ability);
}

export function isRole(value: unknown): value is Role {
  return value === "owner" || value === "marketer" || value === "operator" || value === "viewer";
}
