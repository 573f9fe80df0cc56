// `npm run bench -- api`: REST latency figures on this box.
// 1. base `GET /users/:id/profiles` over 1,000 users × 100 profiles (each user bound to 5 profiles).
// 2. `POST /main/testdata` with 1,000 profiles × 10 users (+ 3 shared).
// 3. `GET /main/login/:userId` under a steady closed-loop load, with some pairs live.
import { Agent, request as undiciRequest } from 'undici';
import { startApp, testInfra, uniqueKeyspace } from '@app/testing';
import { formatLoad, measure } from '../support/latency.js';

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });

async function call(url: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
  const res = await undiciRequest(url, {
    method: method as 'GET',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}

async function inParallel<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

testInfra();
const base = await startApp('base', {
  CASSANDRA_KEYSPACE: uniqueKeyspace('benchapi'),
  ADMIN_TOKEN,
  LOG_LEVEL: 'error',
});
const main = await startApp('main', { BASE_URL: base.url, ADMIN_TOKEN, LOG_LEVEL: 'error' });
try {
  console.log('seeding 1,000 users and 100 profiles (5 profiles per user)…');
  const users = await inParallel(
    1000,
    32,
    async (i) => (await call(`${base.url}/users`, 'POST', { name: `u${i}` })).json.id as string,
  );
  await inParallel(100, 16, async (p) => {
    // User i is bound to profiles i % 100, (i + 20) % 100, …: 5 profiles each, 50 users per profile.
    const members = users.filter((_, i) => [0, 20, 40, 60, 80].some((k) => (i + k) % 100 === p));
    const res = await call(`${base.url}/profiles`, 'POST', { name: `p${p}`, userIds: members });
    if (res.status !== 201) throw new Error(`profile ${p}: ${res.status} ${JSON.stringify(res.json)}`);
  });

  const profilesOf = (i: number) =>
    call(`${base.url}/users/${users[i % users.length]}/profiles`).then(
      (r) => r.status === 200 && r.json.items.length === 5,
    );
  await measure(500, 8, profilesOf);
  console.log(formatLoad('base GET /users/:id/profiles (concurrency 8)', await measure(5000, 8, profilesOf)));
  console.log(formatLoad('base GET /users/:id/profiles (concurrency 1)', await measure(1000, 1, profilesOf)));

  const started = performance.now();
  const created = await call(`${main.url}/main/testdata`, 'POST', {
    profiles: 1000,
    usersPerProfile: 10,
    sharedUsers: 3,
    seed: 1,
  });
  const seconds = (performance.now() - started) / 1000;
  if (created.status !== 201) throw new Error(`testdata: ${created.status} ${JSON.stringify(created.json)}`);
  console.log(
    `main POST /main/testdata 1000 profiles × 10 users + 3 shared: ${created.json.users} users, ${created.json.profiles} profiles in ${seconds.toFixed(1)} s`,
  );

  const shared: string[] = created.json.sharedUserIds;
  const loginUsers = [...shared, ...users.slice(0, 200)];
  const login = (i: number) =>
    call(`${main.url}/main/login/${loginUsers[i % loginUsers.length]}`).then((r) => r.status === 200);
  await measure(500, 8, login);
  console.log(formatLoad('main GET /main/login/:userId (concurrency 8)', await measure(5000, 8, login)));
  console.log(
    formatLoad(
      'main GET /main/login/:userId (shared user: 1,003 profiles, concurrency 4)',
      await measure(200, 4, (i) =>
        call(`${main.url}/main/login/${shared[i % shared.length]}`).then((r) => r.status === 200),
      ),
    ),
  );
} finally {
  await main.stop();
  await base.stop();
  await agent.close();
}
