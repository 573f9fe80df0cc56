// The resident memory of ONE stream process holding 1,000 idle SSE streams.
// `npm run bench -- stream-idle-rss` provides Cassandra and Redis; `npm run bench:stream-idle` uses
// the ones the environment names, as the tests do (CASSANDRA_CONTACT_POINTS, REDIS_URL).
//
// "Idle" here: STREAM_EVENTS_PER_SECOND=1 with 64-byte payloads (≈ 0.2 KB/s per stream) and the
// default 15 s heartbeat — every stream holds its socket, its session, its timers and its lock
// (renewed every 5 s), but carries almost no data. BENCH_STREAMS overrides the count.
// BENCH_HEAP_SNAPSHOTS=<dir> also takes a V8 heap snapshot of the stream process with no stream
// open and with them all, and prints what grew per stream by kind of object (the files are removed).
import { type AppProcess, eventually, startApp, testInfra, uniqueKeyspace } from '@app/testing';
import { rssSamples, sleep } from '../load/bench-kit.js';
import {
  countHeapKinds,
  heapGrowthPerStream,
  heapSnapshotNodeOptions,
  removeHeapSnapshot,
  rssByMapping,
  takeHeapSnapshot,
} from '../load/heap-snapshot.js';
import type { SseClient } from '../support/sse-client.js';
import { createPairs, Metrics, mib, openStream, rssBytes } from '../support/stream-stack.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);
const OPEN_CONCURRENCY = 50;
const SNAPSHOT_DIR = process.env.BENCH_HEAP_SNAPSHOTS;
const CHURN_MS = 5000;
/** RSS is sampled this long after the last stream opened, once a second; the last sample counts. */
const SETTLE_MS = 10_000;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function printGrowth(title: string, rows: ReturnType<typeof heapGrowthPerStream>): void {
  console.log(`\n${title}:`);
  for (const row of rows)
    console.log(
      `  ${row.kind.slice(0, 60).padEnd(62)}${row.perStream.toFixed(2).padStart(8)}${row.bytesPerStream.toFixed(0).padStart(8)} B`,
    );
  console.log(`  (these ${rows.length} kinds: ${kb(rows.reduce((sum, row) => sum + row.bytesPerStream, 0))})`);
}

async function settledRss(pid: number, label: string): Promise<number> {
  const samples = await rssSamples(pid, SETTLE_MS / 1000 + 1, 1000);
  console.log(`  ${label}: RSS samples (1 s apart) ${samples.map(mib).join(', ')}`);
  return samples.at(-1)!;
}

testInfra();
let base: AppProcess | undefined;
let stream: AppProcess | undefined;
const clients: SseClient[] = [];
try {
  base = await startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('benchidle') });
  stream = await startApp('stream', {
    BASE_URL: base.url,
    POD_NAME: 'stream-bench',
    STREAM_EVENTS_PER_SECOND: '1',
    STREAM_EVENT_BYTES: '64',
    STREAM_MAX_CONNECTIONS: String(STREAMS + 100),
    ...(SNAPSHOT_DIR ? { NODE_OPTIONS: heapSnapshotNodeOptions(SNAPSHOT_DIR) } : {}),
  });
  console.log(`creating ${STREAMS} bound (user, profile) pairs in base…`);
  const pairs = await createPairs(base.url, STREAMS, { concurrency: 32 });
  const pid = stream.child.pid!;

  const openAll = async () => {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: OPEN_CONCURRENCY }, async () => {
        for (let index = next++; index < STREAMS; index = next++)
          clients.push(await openStream(stream!.url, pairs[index]!));
      }),
    );
    const metrics = await Metrics.scrape(stream!.url);
    if (metrics.active !== STREAMS || metrics.locksHeld !== STREAMS) {
      throw new Error(`gauges read ${metrics.active} streams / ${metrics.locksHeld} locks, expected ${STREAMS}`);
    }
    return performance.now() - started;
  };
  const closeAll = async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await eventually(async () => {
      const end = await Metrics.scrape(stream!.url);
      if (end.active !== 0 || end.locksHeld !== 0)
        throw new Error(`gauges read ${end.active} / ${end.locksHeld} after closing`);
    }, 5000);
  };
  const heap = async () => {
    const metrics = await Metrics.scrape(stream!.url);
    return `V8 heap used ${mib(metrics.value('nodejs_heap_size_used_bytes'))} of ${mib(metrics.value('nodejs_heap_size_total_bytes'))}, external ${mib(metrics.value('nodejs_external_memory_bytes'))}`;
  };

  const fresh = rssBytes(pid);
  // A first round warms the process up (JIT, pools, heap sized for the load) so that the
  // baseline is a process that has served streams, not one full of start-up garbage.
  const warmMs = await openAll();
  await closeAll();
  console.log(
    `warm-up: ${STREAMS} streams opened in ${(warmMs / 1000).toFixed(1)} s and closed (RSS right after start-up: ${mib(fresh)})`,
  );
  const before = await settledRss(pid, 'no stream open');
  const heapBefore = await heap();
  const mappingsBefore = rssByMapping(pid);
  const snapshotBefore = SNAPSHOT_DIR ? await takeHeapSnapshot(pid, SNAPSHOT_DIR) : undefined;

  const openMs = await openAll();
  console.log(`opened ${STREAMS} streams in ${(openMs / 1000).toFixed(1)} s; gauges read ${STREAMS} / ${STREAMS}`);
  const after = await settledRss(pid, `${STREAMS} idle streams`);
  const heapAfter = await heap();
  const mappingsAfter = rssByMapping(pid);
  const lost = clients.filter((client) => client.ended).length;
  if (lost > 0) throw new Error(`${lost} streams ended during the measurement`);
  const messages = clients.reduce((sum, client) => sum + client.messages, 0);
  console.log('');
  const rows: [string, string][] = [
    ['stream process RSS, no stream open', `${mib(before)}  (${heapBefore})`],
    [`stream process RSS, ${STREAMS} idle streams`, `${mib(after)}  (${heapAfter})`],
    ['difference per idle stream', kb((after - before) / STREAMS)],
    ...(Object.keys(mappingsAfter) as (keyof typeof mappingsAfter)[]).map((kind): [string, string] => [
      `… of it in ${kind} mappings`,
      `${kb((mappingsAfter[kind] - mappingsBefore[kind]) / STREAMS)} (${mib(mappingsBefore[kind])} → ${mib(mappingsAfter[kind])})`,
    ]),
  ];
  for (const [label, value] of rows) console.log(`${`${label}:`.padEnd(44)}${value}`);
  console.log(`(${messages} events received while measuring; bench client RSS ${mib(process.memoryUsage.rss())})`);
  // Last: a snapshot pauses the process for seconds, long enough for streams to lose their locks.
  if (SNAPSHOT_DIR && snapshotBefore) {
    const snapshotAfter = await takeHeapSnapshot(pid, SNAPSHOT_DIR);
    const before = countHeapKinds(snapshotBefore);
    const after = countHeapKinds(snapshotAfter);
    printGrowth(
      'heap growth per stream, by kind (objects, shallow bytes)',
      heapGrowthPerStream(before, after, STREAMS, 45),
    );
    // Objects that live about an event period get promoted and become old-generation garbage:
    // what was allocated in CHURN_MS and is still alive, per stream and second.
    await sleep(CHURN_MS);
    const snapshotLater = await takeHeapSnapshot(pid, SNAPSHOT_DIR);
    const survivors = countHeapKinds(snapshotLater, after.maxId);
    printGrowth(
      `allocated in the ${CHURN_MS / 1000} s after that and still alive, per stream and second`,
      heapGrowthPerStream(new Map(), survivors, (STREAMS * CHURN_MS) / 1000, 25),
    );
    for (const file of [snapshotBefore, snapshotAfter, snapshotLater]) removeHeapSnapshot(file);
  }
  await closeAll();
} finally {
  await Promise.all(clients.map((client) => client.close()));
  await stream?.stop();
  await base?.stop();
}
