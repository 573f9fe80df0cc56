// `npm run bench -- data` — data at scale: creates 1M users in 10,000 profiles (100 own users
// each, 100 shared users bound to every profile) through `POST /main/testdata`, then measures the
// creation rate, `GET /main/suggested`, the counts, `/main/login/:u` for ordinary users and for a
// user bound to every profile, the binding check on a profile of 10,000 users, the landing page's
// requests, drop-all, and main's and base's RSS.
//
// Baseline: the implementation before the data model of user_profiles/profile_users, counters
// and the ranking (commit BASELINE_COMMIT: bindings in a set with an SAI index, suggested and
// counts computed by paging every profile and user), built from git into .cache/ and measured in
// the same run at a size it can handle: 99,100 users in 1,000 profiles (99 own + 100 shared users
// each; its limit is 100,000 users a request).
// `BENCH_DATA_PROFILES=<n>` runs ours at n profiles instead of 10,000 (same shape).
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { Agent, request } from 'undici';
import { type AppProcess, launchNodeApp, freePort, mintUserToken, REPO_ROOT, startApp } from '@app/testing';
import {
  ADMIN_TOKEN,
  buildFromGit,
  Figure,
  jvmStops,
  type JvmStops,
  log,
  rssOf,
  scale,
  sleep,
  type Steady,
  steadyRate,
} from '../load/bench-kit.js';

/** A measured window, with Cassandra's stops (GC pauses and other safepoints) during it when its log is at hand. */
type Window = Steady & { cassandraStops?: JvmStops };

const BASELINE_COMMIT = '3883296fb2cf3e88e1b31e1c2635cdd41b91e939';

const SIZES = scale({
  full: {
    ours: { profiles: Number(process.env.BENCH_DATA_PROFILES ?? 10_000), usersPerProfile: 100, sharedUsers: 100 },
    baseline: { profiles: 1000, usersPerProfile: 99, sharedUsers: 100 },
    wideUsers: 10_000,
    loginRate: 500,
    sharedLoginRate: 10,
    readRate: 100,
    seconds: 10,
  },
  smoke: {
    ours: { profiles: 20, usersPerProfile: 10, sharedUsers: 3 },
    baseline: { profiles: 20, usersPerProfile: 10, sharedUsers: 3 },
    wideUsers: 200,
    loginRate: 20,
    sharedLoginRate: 5,
    readRate: 10,
    seconds: 2,
  },
});

/** The longest the benchmark waits for Cassandra's compactions after a load. */
const SETTLE_MAX_MS = 180_000;

/**
 * Waits until Cassandra has run no compaction (`system_views.sstable_tasks`) in three polls a
 * second apart, at most SETTLE_MAX_MS; resolves with the seconds waited. After a bulk load the node
 * flushes and compacts for a while, and on a 2-core box that takes a core from the reads.
 */
async function compactionsSettled(): Promise<number> {
  const client = new cassandra.Client({
    contactPoints: (process.env.CASSANDRA_CONTACT_POINTS ?? '127.0.0.1:9042').split(','),
    localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
  });
  const t0 = performance.now();
  try {
    await client.connect();
    let quiet = 0;
    while (quiet < 3 && performance.now() - t0 < SETTLE_MAX_MS) {
      const tasks = await client.execute('SELECT kind FROM system_views.sstable_tasks');
      quiet = tasks.rowLength === 0 ? quiet + 1 : 0;
      await sleep(1000);
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await client.shutdown();
  }
}

const agent = new Agent({
  connections: 256,
  keepAliveTimeout: 30_000,
  pipelining: 1,
  headersTimeout: 600_000,
  bodyTimeout: 600_000,
});
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Answer {
  status: number;
  body: any;
  bytes: number;
  ms: number;
}

async function call(
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = admin,
): Promise<Answer> {
  const t0 = performance.now();
  const response = await request(url, {
    method: method as 'GET',
    dispatcher: agent,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    body: text ? JSON.parse(text) : undefined,
    bytes: Buffer.byteLength(text),
    ms: performance.now() - t0,
  };
}

/** The baseline's base and main, built from git (once per commit) into .cache/, beside our node_modules. */
const buildBaseline = (): string =>
  buildFromGit(BASELINE_COMMIT, 'data-baseline', ['apps/base/tsconfig.app.json', 'apps/main/tsconfig.app.json']);

async function startPair(kind: 'ours' | 'baseline', root: string): Promise<{ base: AppProcess; main: AppProcess }> {
  const keyspace = `bench_data_${kind}`;
  const launch = async (app: 'base' | 'main', env: Record<string, string>) =>
    root === REPO_ROOT
      ? startApp(app, { ADMIN_TOKEN, LOG_LEVEL: 'error', ...env }, 120_000)
      : launchNodeApp({
          script: join(root, `apps/${app}/dist/main.js`),
          label: `${kind} ${app}`,
          port: await freePort(),
          cwd: root,
          env: { HOST: '127.0.0.1', ADMIN_TOKEN, LOG_LEVEL: 'error', ...env },
          timeoutMs: 120_000,
        });
  const base = await launch('base', { CASSANDRA_KEYSPACE: keyspace, POD_NAME: `${kind}-base` });
  const main = await launch('main', { BASE_URL: base.url, POD_NAME: `${kind}-main` });
  return { base, main };
}

interface Measured {
  size: { users: number; profiles: number };
  creationSeconds: number;
  usersPerSecond: number;
  /** Ordinary users' login at once after the load, while Cassandra still flushes and compacts it. */
  loginAfterLoad: Window;
  /** How long Cassandra's compactions ran on after the load (waited out before the other reads). */
  settleSeconds: number;
  suggested: Window;
  suggestedBytes: number;
  counts: Window;
  login: Window;
  sharedLogin: Window;
  sharedProfiles: number;
  bindingSmall: Window;
  bindingWide: Window | undefined;
  wideUsers: number;
  landing: Record<string, { ms: number; bytes: number }>;
  dropSeconds: number;
  mainRss: number;
  baseRss: number;
}

async function measure(kind: 'ours' | 'baseline', root: string, size: typeof SIZES.ours): Promise<Measured> {
  const { base, main } = await startPair(kind, root);
  try {
    await call(`${main.url}/main/testdata`, 'DELETE');
    const users = size.profiles * size.usersPerProfile + size.sharedUsers;
    log(`${kind}: creating ${users.toLocaleString('en')} users in ${size.profiles.toLocaleString('en')} profiles`);
    const t0 = performance.now();
    let summary: any;
    if (kind === 'ours') {
      const started = await call(`${main.url}/main/testdata`, 'POST', { ...size, seed: 1, wait: false });
      if (started.status !== 202)
        throw new Error(`creation refused: ${started.status} ${JSON.stringify(started.body)}`);
      for (let last = 0; ;) {
        await sleep(1000);
        const polled = await call(`${main.url}/main/testdata/job`);
        if (polled.status !== 200) {
          // A busy box can time a poll out (main's Redis deadline is 500 ms); the job goes on.
          log(`  poll answered ${polled.status} ${JSON.stringify(polled.body)}; polling again`);
          continue;
        }
        const job = polled.body;
        if (performance.now() - last > 10_000) {
          last = performance.now();
          log(
            `  ${job.created.users.toLocaleString('en')} users, ${job.created.profiles} profiles, ${job.usersPerSecond}/s`,
          );
        }
        if (job.state !== 'running') {
          if (job.state !== 'done') throw new Error(`creation ${job.state}: ${job.error}`);
          summary = job.summary;
          break;
        }
      }
    } else {
      const created = await call(`${main.url}/main/testdata`, 'POST', { ...size, seed: 1 });
      if (created.status !== 201) throw new Error(`creation failed: ${created.status} ${JSON.stringify(created.body)}`);
      summary = created.body;
    }
    // Ours: the job's own duration (the polling adds up to a second); the baseline's request.
    const creationSeconds = summary.durationMs ? summary.durationMs / 1000 : (performance.now() - t0) / 1000;
    log(`${kind}: created in ${creationSeconds.toFixed(1)} s (${(users / creationSeconds).toFixed(0)} users/s)`);

    const sharedUser: string = summary.sharedUserIds[0];
    const firstUsers = (await call(`${main.url}/main/users?limit=1000`)).body.items.map((u: { id: string }) => u.id);
    const ordinary = firstUsers.filter((id: string) => !summary.sharedUserIds.includes(id)).slice(0, 200);
    const tokens = new Map<string, string>();
    for (const id of [...ordinary, sharedUser]) tokens.set(id, await mintUserToken(id));
    const example = summary.examples[0];
    // The profile of many users: ours makes one of 10,000; the baseline's largest is its test-data profile.
    let wide: { profileId: string; userId: string } | undefined;
    let wideUsers = size.usersPerProfile + size.sharedUsers;
    if (kind === 'ours') {
      const made = await call(`${base.url}/profiles/batch`, 'POST', {
        profiles: [
          {
            name: 'wide',
            newUsers: Array.from({ length: SIZES.wideUsers - 1 }, (_, i) => `wide ${i}`),
            userIds: [example.userId],
          },
        ],
      });
      if (made.status !== 201) throw new Error(`wide profile: ${made.status} ${JSON.stringify(made.body)}`);
      wide = { profileId: made.body.items[0].id, userId: example.userId };
      wideUsers = SIZES.wideUsers;
    }

    const get =
      (url: string, headers = admin) =>
      async () =>
        (await call(url, 'GET', undefined, headers)).status < 300;
    const run = async (label: string, rate: number, fn: (i: number) => Promise<boolean>): Promise<Window> => {
      await steadyRate(rate, 2, fn);
      const from = Date.now();
      const steady = await steadyRate(rate, SIZES.seconds, fn);
      const cassandraStops = jvmStops(process.env.BENCH_CASSANDRA_GC_LOG, from, Date.now());
      const stops = cassandraStops
        ? `; Cassandra stopped ${cassandraStops.safepoints}× for ${cassandraStops.totalMs.toFixed(0)} ms, at most ${cassandraStops.maxMs.toFixed(1)} ms`
        : '';
      log(
        `${kind} ${label} at ${rate}/s: p50 ${steady.latency.p50} ms, p99 ${steady.latency.p99} ms, errors ${steady.errors}/${steady.sent}${stops}`,
      );
      return { ...steady, cassandraStops };
    };
    const loginOrdinary = (i: number) => {
      const id = ordinary[i % ordinary.length]!;
      return get(`${main.url}/main/login/${id}`, { authorization: `Bearer ${tokens.get(id)}` })();
    };
    const loginAfterLoad = await run(
      'GET /main/login/:u (ordinary users) at once after the load',
      SIZES.loginRate,
      loginOrdinary,
    );
    const settleSeconds = await compactionsSettled();
    log(`${kind}: Cassandra's compactions after the load ran on for ${settleSeconds.toFixed(0)} s`);
    const suggestedOnce = await call(`${main.url}/main/suggested`);
    // The baseline's suggestions and counts take seconds each: measured at 1 request/s there.
    const slow = kind === 'baseline';
    const suggested = await run('GET /main/suggested', slow ? 1 : SIZES.readRate, get(`${main.url}/main/suggested`));
    const counts = await run('GET /main/testdata', slow ? 1 : SIZES.readRate, get(`${main.url}/main/testdata`));
    const login = await run('GET /main/login/:u (ordinary users)', SIZES.loginRate, loginOrdinary);
    const sharedProfiles = (await call(`${base.url}/users/${sharedUser}/profiles?limit=10000`)).body.items.length;
    const sharedLogin = await run(
      `GET /main/login/:u (bound to ${sharedProfiles} profiles)`,
      SIZES.sharedLoginRate,
      get(`${main.url}/main/login/${sharedUser}`, { authorization: `Bearer ${tokens.get(sharedUser)}` }),
    );
    const bindingSmall = await run(
      'binding check, small profile',
      SIZES.readRate,
      async () => (await call(`${base.url}/profiles/${example.profileId}/users/${example.userId}`)).status === 204,
    );
    const bindingWide = wide
      ? await run(
          `binding check, profile of ${wideUsers} users`,
          SIZES.readRate,
          async () => (await call(`${base.url}/profiles/${wide.profileId}/users/${wide.userId}`)).status === 204,
        )
      : undefined;

    // The landing page's requests for a signed-in ordinary user (median of 3).
    const me = ordinary[0];
    const userAuth = { authorization: `Bearer ${tokens.get(me)}` };
    const landing: Measured['landing'] = {};
    for (const [path, headers] of [
      ['/main/me', userAuth],
      [`/main/login/${me}`, userAuth],
      ['/main/profiles?limit=20', admin],
      ['/main/users?limit=20', admin],
      ['/main/suggested', admin],
      ['/main/testdata', admin],
      ['/main/testdata/job', admin],
    ] as const) {
      const answers: Answer[] = [];
      for (let i = 0; i < 3; i++) answers.push(await call(`${main.url}${path}`, 'GET', undefined, headers));
      answers.sort((a, b) => a.ms - b.ms);
      landing[path.replace(me, ':me')] = {
        ms: Math.round(answers[1]!.ms * 10) / 10,
        bytes: answers[1]!.status < 300 ? answers[1]!.bytes : 0,
      };
    }
    const mainRss = rssOf(main.child.pid!);
    const baseRss = rssOf(base.child.pid!);
    const d0 = performance.now();
    const dropped = await call(`${main.url}/main/testdata`, 'DELETE');
    const dropSeconds = (performance.now() - d0) / 1000;
    if (dropped.status !== 204) log(`${kind}: drop-all answered ${dropped.status} ${JSON.stringify(dropped.body)}`);
    log(
      `${kind}: drop-all in ${dropSeconds.toFixed(1)} s; RSS main ${(mainRss / 1e6).toFixed(0)} MB, base ${(baseRss / 1e6).toFixed(0)} MB`,
    );
    return {
      size: { users, profiles: size.profiles },
      creationSeconds,
      loginAfterLoad,
      settleSeconds,
      usersPerSecond: Math.round(users / creationSeconds),
      suggested,
      suggestedBytes: suggestedOnce.bytes,
      counts,
      login,
      sharedLogin,
      sharedProfiles,
      bindingSmall,
      bindingWide,
      wideUsers,
      landing,
      dropSeconds,
      mainRss,
      baseRss,
    };
  } finally {
    await main.stop();
    await base.stop();
  }
}

const figure = new Figure(
  'l',
  'data',
  'data at scale: 1M users / 10,000 profiles against the set model at 99,100 users',
);
const baselineRoot = buildBaseline();
const baseline = await measure('baseline', baselineRoot, SIZES.baseline);
const ours = await measure('ours', REPO_ROOT, SIZES.ours);
await agent.close();

figure.details.ours = ours;
figure.details.baseline = baseline;
figure.details.baselineCommit = BASELINE_COMMIT;
const rows = figure.versus(ours, baseline);
const size = `ours ${ours.size.users.toLocaleString('en')} users / baseline ${baseline.size.users.toLocaleString('en')}`;
rows.add('users created', 'users', (m) => m.size.users, { note: 'each side at its own size' });
rows.add('creation rate', 'users/s', (m) => m.usersPerSecond, { goal: '≥ 10,000', better: 'higher', note: size });
rows.add('GET /main/suggested p50', 'ms', (m) => m.suggested.latency.p50, {
  note: `ours at ${SIZES.readRate}/s, baseline at 1/s`,
});
rows.add('GET /main/suggested p99', 'ms', (m) => m.suggested.latency.p99, { goal: '≤ 50' });
rows.add('GET /main/suggested body', 'KB', (m) => Math.round(m.suggestedBytes / 100) / 10, { goal: '≤ 64' });
rows.add('counts (GET /main/testdata) p50', 'ms', (m) => m.counts.latency.p50);
rows.add('counts (GET /main/testdata) p99', 'ms', (m) => m.counts.latency.p99, { goal: '≤ 20' });
rows.add(
  `login, ordinary users, p99 at ${SIZES.loginRate}/s at once after the load`,
  'ms',
  (m) => m.loginAfterLoad.latency.p99,
  {
    note: 'Cassandra still flushing and compacting the load',
  },
);
rows.add("Cassandra's compactions after the load", 's', (m) => Math.round(m.settleSeconds), {
  note: `waited out, at most ${SETTLE_MAX_MS / 1000} s, before the reads below`,
});
rows.add(`login, ordinary users, p50 at ${SIZES.loginRate}/s`, 'ms', (m) => m.login.latency.p50);
rows.add(`login, ordinary users, p99 at ${SIZES.loginRate}/s`, 'ms', (m) => m.login.latency.p99, {
  goal: '≤ 20',
  note: `errors ours ${ours.login.errors}, baseline ${baseline.login.errors}`,
});
rows.add(
  `Cassandra's longest stop during the login at ${SIZES.loginRate}/s`,
  'ms',
  (m) => m.login.cassandraStops?.maxMs ?? null,
  {
    note: 'GC pause or other safepoint, from its GC log',
  },
);
rows.add(
  `Cassandra's stops during the login at ${SIZES.loginRate}/s, summed`,
  'ms',
  (m) => m.login.cassandraStops?.totalMs ?? null,
  {
    note: `over ${SIZES.seconds} s`,
  },
);
rows.add('login, user bound to every profile, p50', 'ms', (m) => m.sharedLogin.latency.p50, {
  note: `ours ${ours.sharedProfiles} profiles, baseline ${baseline.sharedProfiles}`,
});
rows.add('login, user bound to every profile, p99', 'ms', (m) => m.sharedLogin.latency.p99, { goal: '≤ 100' });
rows.add('binding check, small profile, p99', 'ms', (m) => m.bindingSmall.latency.p99);
figure.add(
  `binding check, profile of ${ours.wideUsers} users, p99`,
  'ms',
  ours.bindingWide?.latency.p99 ?? null,
  null,
  { note: `ours; small profile ${ours.bindingSmall.latency.p99} ms in the same run` },
);
for (const path of Object.keys(ours.landing)) {
  rows.add(`landing: GET ${path}`, 'ms', (m) => m.landing[path]?.ms ?? null, {
    note: `${(ours.landing[path]!.bytes / 1000).toFixed(1)} KB ours, ${((baseline.landing[path]?.bytes ?? 0) / 1000).toFixed(1)} KB baseline`,
  });
}
rows.add('drop-all', 's', (m) => Math.round(m.dropSeconds * 10) / 10);
rows.add('main RSS after the load', 'MB', (m) => Math.round(m.mainRss / 1e6), {
  goal: '≤ 200',
  note: 'pod limit 256 Mi',
});
rows.add('base RSS after the load', 'MB', (m) => Math.round(m.baseRss / 1e6));
figure.write();
