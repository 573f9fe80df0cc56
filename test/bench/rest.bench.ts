// `npm run bench -- rest` — figure g: `GET /main/login/:userId` and base
// `GET /users/:id/profiles` at a steady rate (open loop: requests leave on schedule whatever the
// answers do), p50/p99, with 100 streams live on a stream process so logins find live profiles.
//
// Baseline: a plain Nest route (`GET /ping` of the baseline app, Fastify adapter, JSON answer) at
// the same rate — the framework's own cost, so the ratio shows what the REST work itself adds.
// Each login carries its user's own token (HS256, minted before the run), as a client's would.
import { Agent, request } from 'undici';
import { mintUserToken } from '@app/testing';
import {
  Figure,
  loadGenerator,
  log,
  scale,
  startServer,
  startSystem,
  type Steady,
  steadyRate,
} from '../load/bench-kit.js';

const { RATE, WARM_UP_S, SECONDS, LIVE_STREAMS } = scale({
  full: { RATE: 200, WARM_UP_S: 3, SECONDS: 15, LIVE_STREAMS: 100 },
  smoke: { RATE: 20, WARM_UP_S: 1, SECONDS: 2, LIVE_STREAMS: 5 },
});

const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000, pipelining: 1 });

async function get(url: string, expect: (body: any) => boolean, token?: string): Promise<boolean> {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const response = await request(url, { dispatcher: agent, headers });
  const body = await response.body.json();
  return response.statusCode === 200 && expect(body);
}

const figure = new Figure('g', 'rest', '/main/login and base GET /users/:id/profiles at a steady rate');
const system = await startSystem(LIVE_STREAMS * 2);
const users = system.pairs.map((pair) => pair.userId);
const tokens = new Map<string, string>();
for (const userId of users.slice(0, LIVE_STREAMS * 2)) tokens.set(userId, await mintUserToken(userId));
const login = (userId: string, expect: (body: any) => boolean) =>
  get(`${system.main.url}/main/login/${userId}`, expect, tokens.get(userId));
// A stream process on main's Redis, so logins find launched records.
const stream = await startServer('ours', system.base, { REDIS_URL: process.env.REDIS_URL! });
const baseline = await startServer('baseline', system.base, {});
const live = loadGenerator({ targets: [stream.url], pairs: system.pairs.slice(0, LIVE_STREAMS) });
const results: Record<string, Steady> = {};
try {
  await live.runUntilStreaming(30_000);
  const endpoints: [string, (i: number) => Promise<boolean>][] = [
    [
      'base GET /users/:id/profiles',
      (i) =>
        get(
          `${system.base.url}/users/${users[i % users.length]}/profiles`,
          (b) => b.items.length === 1,
          process.env.INTERNAL_TOKEN,
        ),
    ],
    // Users 0…2×LIVE_STREAMS−1 in turn: half of them have their profile live right now.
    [
      'main GET /main/login/:userId',
      (i) => login(users[i % (LIVE_STREAMS * 2)]!, (b) => Array.isArray(b.activeProfiles)),
    ],
    ['baseline GET /ping', () => get(`${baseline.url}/ping`, (b) => typeof b.at === 'number')],
  ];
  for (const [name, call] of endpoints) {
    await steadyRate(RATE, WARM_UP_S, call);
    const measured = await steadyRate(RATE, SECONDS, call);
    results[name] = measured;
    log(
      `${name}: ${measured.sent} requests at ${measured.achievedPerSecond.toFixed(0)}/s → p50 ${measured.latency.p50} ms, ` +
        `p90 ${measured.latency.p90} ms, p99 ${measured.latency.p99} ms, max ${measured.latency.max} ms, errors ${measured.errors}`,
    );
  }
  const activeSeen = await login(users[0]!, (b) => b.activeProfiles.length === 1);
  figure.details.loginSeesLiveProfile = activeSeen;
} finally {
  await live.stop();
  await Promise.all([stream.stop(), baseline.stop()]);
  await system.stop();
  await agent.close();
}

figure.details.results = results;
figure.details.method = { rate: RATE, warmUpSeconds: WARM_UP_S, seconds: SECONDS, liveStreams: LIVE_STREAMS };
const ping = results['baseline GET /ping']!;
for (const name of ['main GET /main/login/:userId', 'base GET /users/:id/profiles']) {
  const r = results[name]!;
  const note = r.errors ? `${r.errors} errors of ${r.sent}` : undefined;
  const rows = figure.versus(r, ping);
  rows.add(`${name} p50 at ${RATE}/s`, 'ms', (steady) => steady.latency.p50, { note });
  rows.add(`${name} p99 at ${RATE}/s`, 'ms', (steady) => steady.latency.p99, { note });
}
figure.write();
