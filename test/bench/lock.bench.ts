// `npm run bench -- lock` — figure e: lock acquire latency p50/p99 with 1 and with 3
// Redis, and lock cycles (acquire + release) per second, calling libs/lock's `PairLock` directly
// against private redis-servers.
//
// Ours: `PairLock.acquire` = Redlock try-lock on every server + fencing token and launched record
// (one Lua call on the main server) + the renewal loop armed; `release` = Redlock release + the
// record's compare-and-delete. Baseline: what a user writes first — `new Redlock(clients)` with its
// defaults, `acquire([resource], ttl)` and `release(lock)`, no fencing token and no record.
import { randomUUID } from 'node:crypto';
import { Redlock } from '@sesamecare-oss/redlock';
import { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, PairLock } from '@app/lock';
import { RedisServer } from '@app/testing';
import { Histogram, type Percentiles } from '../load/histogram.js';
import { Figure, log, row, SMOKE } from '../load/bench-kit.js';

const SEQUENTIAL = SMOKE ? 200 : 3000;
const WARM_UP = SMOKE ? 50 : 300;
const CONCURRENCY = 32;
const THROUGHPUT_MS = SMOKE ? 1000 : 5000;
const TTL_MS = 15_000;

interface Lock {
  acquire(i: number): Promise<() => Promise<void>>;
}

interface Measured {
  acquire: Percentiles;
  release: Percentiles;
  cyclesPerSecond: number;
  errors: number;
}

async function measure(lock: Lock): Promise<Measured> {
  for (let i = 0; i < WARM_UP; i++) await (await lock.acquire(i))();
  const acquire = new Histogram();
  const release = new Histogram();
  let errors = 0;
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t0 = performance.now();
    try {
      const free = await lock.acquire(i);
      const t1 = performance.now();
      await free();
      acquire.record(t1 - t0);
      release.record(performance.now() - t1);
    } catch {
      errors++;
    }
  }
  let cycles = 0;
  const deadline = performance.now() + THROUGHPUT_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        try {
          await (
            await lock.acquire(worker * 1e6 + i)
          )();
          cycles++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return {
    acquire: acquire.summary(),
    release: release.summary(),
    cyclesPerSecond: cycles / ((performance.now() - started) / 1000),
    errors,
  };
}

const figure = new Figure('e', 'lock', 'lock acquire p50/p99 with 1 and 3 Redis; lock cycles/s');
const servers = await Promise.all([RedisServer.start(), RedisServer.start(), RedisServer.start()]);
const results: Record<string, Measured> = {};
try {
  for (const members of [1, 3]) {
    const urls = servers.slice(0, members).map((server) => server.url);
    // Ours: the clients libs/lock builds (fail fast, bounded command time).
    const ours = urls.map((url, i) => createRedisClient(url, { commandTimeoutMs: 500, name: `bench-lock-${i}` }));
    await Promise.all(ours.map((client) => connectRedis(client)));
    const pairLock = new PairLock({ lockClients: ours, mainClient: ours[0]!, ttlMs: TTL_MS, renewMs: 5000 });
    const run = randomUUID();
    results[`ours-${members}`] = await measure({
      acquire: async () => {
        const held = await pairLock.acquire(run, randomUUID(), { pod: 'bench' });
        return () => held.release();
      },
    });
    await Promise.all(ours.map((client) => closeRedis(client)));

    // Baseline: plain ioredis clients and Redlock with its defaults.
    const plain = urls.map((url) => new Redis(url));
    const redlock = new Redlock(plain);
    results[`baseline-${members}`] = await measure({
      acquire: async () => {
        const lock = await redlock.acquire([`bench:lock:${randomUUID()}`], TTL_MS);
        return async () => {
          await redlock.release(lock);
        };
      },
    });
    await Promise.all(plain.map((client) => client.quit()));
    for (const kind of ['ours', 'baseline']) {
      const m = results[`${kind}-${members}`]!;
      log(
        `${kind}, ${members} Redis: acquire p50 ${m.acquire.p50} ms, p99 ${m.acquire.p99} ms, max ${m.acquire.max} ms; ` +
          `release p50 ${m.release.p50} ms; ${m.cyclesPerSecond.toFixed(0)} cycles/s at concurrency ${CONCURRENCY}; errors ${m.errors}`,
      );
    }
  }
} finally {
  await Promise.all(servers.map((server) => server.dispose()));
}

figure.details.results = results;
figure.details.method = {
  sequential: SEQUENTIAL,
  warmUp: WARM_UP,
  concurrency: CONCURRENCY,
  throughputMs: THROUGHPUT_MS,
  ttlMs: TTL_MS,
};
for (const members of [1, 3]) {
  const ours = results[`ours-${members}`]!;
  const base = results[`baseline-${members}`]!;
  const limit = members === 1 ? 1 : 2;
  figure.add(row(`lock acquire p50, ${members} Redis`, 'ms', ours.acquire.p50, base.acquire.p50));
  figure.add(
    row(`lock acquire p99, ${members} Redis`, 'ms', ours.acquire.p99, base.acquire.p99, {
      text: `≤ ${limit}`,
      test: (v) => v <= limit,
    }),
  );
  figure.add(
    row(
      `lock cycles/s, ${members} Redis (concurrency ${CONCURRENCY})`,
      'cycles/s',
      ours.cyclesPerSecond,
      base.cyclesPerSecond,
      undefined,
      'higher',
    ),
  );
  if (ours.acquire.p99 > limit) {
    figure.finding(
      `ours acquire p99 ${ours.acquire.p99} ms with ${members} Redis (p50 ${ours.acquire.p50} ms): two sequential round trips ` +
        `(Redlock SET on ${members} server(s), then the fencing-token/record script), baseline p99 ${base.acquire.p99} ms with one`,
    );
  }
}
figure.write();
