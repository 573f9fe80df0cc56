// `npm run bench -- lock` — figure e: lock acquire latency p50/p99 with 1 and with 3 Redis, and
// lock cycles (acquire + release) per second, calling libs/lock's `PairLock` directly against
// private redis-servers; and what the fault checks cost against the implementation before them.
//
// Ours: `PairLock.acquire` = the try-lock script on every server (data-set check, lock key, next
// fencing value, launched record) with only servers out of quarantine voting — plus a confirm
// script on the servers whose fencing value was lower than the token (none while they agree) —
// and the renewal loop armed; `release` = one compare-and-delete script per server, done at a majority.
// Previous: the implementation before these checks, kept here as the reference — Redlock
// (`@sesamecare-oss/redlock`, retryCount 0) try-lock on every server, then INCR + record SET in one
// script on the first server; release = Redlock release + the record's compare-and-delete.
// Baseline: what a user writes first — `new Redlock(clients)` with its defaults,
// `acquire([resource], ttl)` and `release(lock)`, no fencing token and no record.
// The three take turns on the same servers, cycle by cycle, so a busy moment of the box is shared.
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Redlock } from '@sesamecare-oss/redlock';
import { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, LeaseKeeper, PairLock } from '@app/lock';
import { RedisServer } from '@app/testing';
import { Histogram, type Percentiles } from '../load/histogram.js';
import { Figure, log, scale } from '../load/bench-kit.js';

// Latency: the kinds take turns cycle by cycle, so a burst of other work on the box lands on all
// of them alike; then turns of THROUGHPUT_MS each at concurrency 32.
const { CYCLES, WARM_UP, THROUGHPUT_TURNS, THROUGHPUT_MS } = scale({
  full: { CYCLES: 4000, WARM_UP: 300, THROUGHPUT_TURNS: 4, THROUGHPUT_MS: 1000 },
  smoke: { CYCLES: 200, WARM_UP: 50, THROUGHPUT_TURNS: 1, THROUGHPUT_MS: 500 },
});
const CONCURRENCY = 32;
const TTL_MS = 15_000;
/** The most the fault checks may add to acquire p99 against the previous implementation. */
const CHECKS_BUDGET_MS = 0.5;

type Kind = 'ours' | 'previous' | 'baseline';
const KINDS: readonly Kind[] = ['previous', 'ours', 'baseline'];

interface Lock {
  acquire(): Promise<() => Promise<void>>;
}

interface Run {
  acquire: Histogram;
  release: Histogram;
  cycles: number;
  seconds: number;
  errors: number;
}

interface Measured {
  acquire: Percentiles;
  release: Percentiles;
  cyclesPerSecond: number;
  errors: number;
}

const newRun = (): Run => ({ acquire: new Histogram(), release: new Histogram(), cycles: 0, seconds: 0, errors: 0 });

async function cycle(lock: Lock, run: Run): Promise<void> {
  const t0 = performance.now();
  try {
    const free = await lock.acquire();
    const t1 = performance.now();
    await free();
    run.acquire.record(t1 - t0);
    run.release.record(performance.now() - t1);
  } catch {
    run.errors++;
  }
}

async function throughputTurn(lock: Lock, run: Run): Promise<void> {
  const deadline = performance.now() + THROUGHPUT_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        try {
          await (
            await lock.acquire()
          )();
          run.cycles++;
        } catch {
          run.errors++;
        }
      }
    }),
  );
  run.seconds += (performance.now() - started) / 1000;
}

// The previous implementation's fencing token + record script and its compare-and-delete.
const PREVIOUS_CREATE = `
local token = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], cjson.encode({pod = ARGV[1], since = ARGV[2], fencingToken = token}), 'PX', ARGV[3])
return token
`;
const PREVIOUS_DELETE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' or tonumber(record.fencingToken) ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

function previousLock(clients: Redis[]): Lock {
  const redlock = new Redlock(clients, { retryCount: 0, retryDelay: 0, retryJitter: 0 });
  const main = clients[0]!;
  const user = randomUUID();
  return {
    acquire: async () => {
      const profile = randomUUID();
      const lock = await redlock.acquire([`kubescaler:lock:${user}:${profile}`], TTL_MS);
      const launched = `kubescaler:launched:${user}:${profile}`;
      const token = await main.eval(
        PREVIOUS_CREATE,
        2,
        `kubescaler:fence:${user}:${profile}`,
        launched,
        'bench',
        new Date().toISOString(),
        TTL_MS,
      );
      // As before, a LeaseKeeper armed its renewal and watchdog timers for the held lock.
      const keeper = new LeaseKeeper({
        renewMs: 5000,
        marginMs: 500,
        expiresAt: performance.now() + TTL_MS - 152,
        renew: async () => performance.now() + TTL_MS,
        onLost: () => undefined,
      });
      keeper.start();
      return async () => {
        keeper.stop();
        await Promise.allSettled([
          redlock.release(lock, { retryCount: 0 }),
          main.eval(PREVIOUS_DELETE, 1, launched, token as number),
        ]);
      };
    },
  };
}

function baselineLock(clients: Redis[]): Lock {
  const redlock = new Redlock(clients);
  return {
    acquire: async () => {
      const lock = await redlock.acquire([`bench:lock:${randomUUID()}`], TTL_MS);
      return async () => {
        await redlock.release(lock);
      };
    },
  };
}

const figure = new Figure(
  'e',
  'lock',
  'lock acquire p50/p99 with 1 and 3 Redis; lock cycles/s; cost of the fault checks',
);
const load = { before: loadavg()[0]!, cores: cpus().length };
const servers = await Promise.all([RedisServer.start(), RedisServer.start(), RedisServer.start()]);
const results: Record<string, Measured> = {};
try {
  for (const members of [1, 3]) {
    const urls = servers.slice(0, members).map((server) => server.url);
    // Every kind gets the clients libs/lock builds (fail fast, bounded command time), except the
    // baseline, which gets plain ioredis clients as a user would.
    const ours = urls.map((url, i) => createRedisClient(url, { commandTimeoutMs: 500, name: `bench-ours-${i}` }));
    const previous = urls.map((url, i) => createRedisClient(url, { commandTimeoutMs: 500, name: `bench-prev-${i}` }));
    const plain = urls.map((url) => new Redis(url));
    await Promise.all([...ours, ...previous].map((client) => connectRedis(client)));
    const pairLock = new PairLock({ lockClients: ours, ttlMs: TTL_MS, renewMs: 5000 });
    while (pairLock.votingServers < members) await new Promise((done) => setTimeout(done, 10));
    const user = randomUUID();
    const locks: Record<Kind, Lock> = {
      ours: {
        acquire: async () => {
          const held = await pairLock.acquire(user, randomUUID(), { pod: 'bench' });
          return () => held.release();
        },
      },
      previous: previousLock(previous),
      baseline: baselineLock(plain),
    };
    const runs = Object.fromEntries(KINDS.map((kind) => [kind, newRun()])) as Record<Kind, Run>;
    for (const kind of KINDS) for (let i = 0; i < WARM_UP; i++) await (await locks[kind].acquire())();
    for (let i = 0; i < CYCLES; i++) {
      for (const kind of KINDS) await cycle(locks[kind], runs[kind]);
    }
    for (let turn = 0; turn < THROUGHPUT_TURNS; turn++) {
      for (const kind of KINDS) await throughputTurn(locks[kind], runs[kind]);
    }
    for (const kind of KINDS) {
      const run = runs[kind];
      const m: Measured = {
        acquire: run.acquire.summary(),
        release: run.release.summary(),
        cyclesPerSecond: run.cycles / run.seconds,
        errors: run.errors,
      };
      results[`${kind}-${members}`] = m;
      log(
        `${kind}, ${members} Redis: acquire p50 ${m.acquire.p50} ms, p99 ${m.acquire.p99} ms, max ${m.acquire.max} ms; ` +
          `release p50 ${m.release.p50} ms; ${m.cyclesPerSecond.toFixed(0)} cycles/s at concurrency ${CONCURRENCY}; errors ${m.errors}`,
      );
    }
    pairLock.close();
    await Promise.all([...ours, ...previous].map(closeRedis));
    await Promise.all(plain.map((client) => client.quit()));
  }
} finally {
  await Promise.all(servers.map((server) => server.dispose()));
}
load.before = Math.round(load.before * 100) / 100;
const loadAfter = Math.round(loadavg()[0]! * 100) / 100;
log(`box: ${load.cores} cores, load average ${load.before} before, ${loadAfter} after`);

figure.details.results = results;
figure.details.box = { cores: load.cores, loadAverageBefore: load.before, loadAverageAfter: loadAfter };
figure.details.method = {
  latencyCyclesPerKind: CYCLES,
  interleaved: 'cycle by cycle',
  warmUp: WARM_UP,
  concurrency: CONCURRENCY,
  throughputTurns: THROUGHPUT_TURNS,
  throughputMsPerTurn: THROUGHPUT_MS,
  ttlMs: TTL_MS,
};
for (const members of [1, 3]) {
  const ours = results[`ours-${members}`]!;
  const previous = results[`previous-${members}`]!;
  const base = results[`baseline-${members}`]!;
  const limit = members === 1 ? 1 : 2;
  const rows = figure.versus(ours, base);
  rows.add(`lock acquire p50, ${members} Redis`, 'ms', (m) => m.acquire.p50);
  rows.add(`lock acquire p99, ${members} Redis`, 'ms', (m) => m.acquire.p99, { goal: `≤ ${limit}` });
  figure.add(
    `lock acquire p99 added by the fault checks, ${members} Redis (ours − previous)`,
    'ms',
    ours.acquire.p99 - previous.acquire.p99,
    null,
    { goal: `≤ ${CHECKS_BUDGET_MS}`, note: `previous p99 ${previous.acquire.p99} ms, p50 ${previous.acquire.p50} ms` },
  );
  rows.add(`lock cycles/s, ${members} Redis (concurrency ${CONCURRENCY})`, 'cycles/s', (m) => m.cyclesPerSecond, {
    better: 'higher',
    note: `previous ${previous.cyclesPerSecond.toFixed(0)} cycles/s`,
  });
  if (ours.acquire.p99 > limit) {
    figure.finding(
      `ours acquire p99 ${ours.acquire.p99} ms with ${members} Redis (p50 ${ours.acquire.p50} ms): one round trip to ` +
        `every server (a second only where the servers' fencing values differ); baseline p99 ${base.acquire.p99} ms; ` +
        `load average ${loadAfter} on ${load.cores} cores`,
    );
  }
}
figure.write();
