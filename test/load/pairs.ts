import type { Pair } from './load-generator.js';

interface ProfilePage {
  items: { id: string; userIds: string[] }[];
  nextPage?: string;
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init).catch((error: unknown) => {
    throw new Error(`${init?.method ?? 'GET'} ${url}: ${error instanceof Error ? error.message : String(error)}`);
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/**
 * Every bound (user, profile) pair, read page by page from `GET <origin><prefix>/profiles`:
 * main (`prefix` `/main`, directly or through the gateway) or base (`prefix` ''). Pairs are
 * ordered profile by profile; at most `limit` are returned. main lists every pair only for the
 * admin token (or with development sign-in on): pass `adminToken` where that is off.
 */
export async function readPairs(
  origin: string,
  prefix: '/main' | '',
  limit = Infinity,
  adminToken?: string,
): Promise<Pair[]> {
  const pairs: Pair[] = [];
  // base (prefix '') is internal: it asks for the service credential (INTERNAL_TOKEN) or the admin token.
  const credential = adminToken ?? (prefix === '' ? process.env.INTERNAL_TOKEN : undefined);
  const headers: Record<string, string> = credential ? { authorization: `Bearer ${credential}` } : {};
  let page: string | undefined;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(page ? { page } : {}) });
    const batch = await getJson<ProfilePage>(`${origin}${prefix}/profiles?${query}`, { headers });
    for (const profile of batch.items) {
      for (const userId of profile.userIds) {
        pairs.push({ userId, profileId: profile.id });
        if (pairs.length >= limit) return pairs;
      }
    }
    page = batch.nextPage;
  } while (page);
  return pairs;
}

export interface TestdataCreated {
  calls: number;
  profiles: number;
  users: number;
  seconds: number;
}

/**
 * Creates at least `pairs` bound pairs through main's `POST /main/testdata` (admin): profiles of
 * `usersPerProfile` users of their own, no shared users (so every pair is distinct and each user
 * has one profile), in as many calls as main's bounds need (≤ 1,000 profiles a call).
 */
export async function createTestdata(
  mainOrigin: string,
  adminToken: string,
  pairs: number,
  usersPerProfile = 20,
  seed = 6,
): Promise<TestdataCreated> {
  const started = performance.now();
  const created: TestdataCreated = { calls: 0, profiles: 0, users: 0, seconds: 0 };
  let missing = Math.ceil(pairs / usersPerProfile);
  while (missing > 0) {
    const profiles = Math.min(1000, missing);
    const summary = await getJson<{ profiles: number; users: number }>(`${mainOrigin}/main/testdata`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ profiles, usersPerProfile, sharedUsers: 0, seed: seed + created.calls }),
    });
    created.calls++;
    created.profiles += summary.profiles;
    created.users += summary.users;
    missing -= profiles;
  }
  created.seconds = (performance.now() - started) / 1000;
  return created;
}
