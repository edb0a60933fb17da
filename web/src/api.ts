// The one way the app reaches votemesh: the generated SDK over grpc-web, on the page's own
// origin. Also keeps the session: access tokens live five minutes, so they are refreshed
// shortly before expiry (and the refresh token, being single use, is shared across tabs
// through localStorage).

import { createVotemesh, Role, type User, type Votemesh } from "@votemesh/sdk";

export interface SessionUser {
  userId: string;
  email: string;
  displayName: string;
  admin: boolean;
  emailVerified: boolean;
}

interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  user: SessionUser;
}

const STORE = "votemesh.session";
const MARGIN_MS = 30_000;

let session: Session | null = load();
const listeners: Array<() => void> = [];

const client = createVotemesh({ accessToken: () => session?.accessToken });
// Sign-in, registration, refresh and receipt checks never need (or want) a stale bearer.
export const anonymous: Votemesh = createVotemesh({});

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORE);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

function save(next: Session | null): void {
  session = next;
  if (next) localStorage.setItem(STORE, JSON.stringify(next));
  else localStorage.removeItem(STORE);
  for (const fn of listeners) fn();
}

export function onSessionChange(fn: () => void): void {
  listeners.push(fn);
}

export function currentUser(): SessionUser | null {
  return session?.user ?? null;
}

export function toSessionUser(user: User): SessionUser {
  return {
    userId: user.userId,
    email: user.email,
    displayName: user.displayName,
    admin: user.role === Role.ADMIN,
    emailVerified: user.emailVerified,
  };
}

/** Starts a session from a Login response. */
export function signedIn(accessToken: string, refreshToken: string, expiresIn: number, user: User): void {
  save({ accessToken, refreshToken, expiresAt: Date.now() + expiresIn * 1000, user: toSessionUser(user) });
}

/** Replaces the signed-in user's profile (after verification, say). */
export function updateUser(user: User): void {
  if (session) save({ ...session, user: toSessionUser(user) });
}

export async function signOut(): Promise<void> {
  const current = session;
  save(null);
  if (current) {
    // Best effort: the token is dropped locally whatever the server says.
    await anonymous.users
      .logout({ refreshToken: current.refreshToken }, { headers: { authorization: `Bearer ${current.accessToken}` } })
      .catch(() => undefined);
  }
}

let refreshing: Promise<void> | null = null;

async function refresh(): Promise<void> {
  refreshing ??= (async () => {
    // Another tab may have refreshed already and spent the token we hold.
    const stored = load();
    if (stored && stored.expiresAt - Date.now() > MARGIN_MS) {
      session = stored;
      return;
    }
    if (!session) return;
    try {
      const r = await anonymous.users.refresh({ refreshToken: session.refreshToken });
      save({ ...session, accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: Date.now() + r.expiresIn * 1000 });
    } catch {
      save(null);
    }
  })().finally(() => (refreshing = null));
  return refreshing;
}

/** The SDK clients, with a fresh access token when signed in. */
export async function api(): Promise<Votemesh> {
  if (session && session.expiresAt - Date.now() < MARGIN_MS) await refresh();
  return client;
}

// Keep the session alive while a page (live results, say) stays open.
window.setInterval(() => {
  if (session && session.expiresAt - Date.now() < MARGIN_MS * 2) void refresh();
}, 15_000);
