// `npm run bench -- idle` — figure a: idle connections held by one stream process, and
// its resident memory per connection at 5,000 and at 15,000, ours against the Nest `@Sse()` baseline.
//
// "Idle": 1 event/s of 64 bytes (the least the config allows) and the 15 s heartbeat; every stream
// still holds its socket, session, timers and its lock (renewed every 5 s). Per-connection RSS is
// (RSS with N streams − RSS after a warm-up round with none open) ÷ N.
import {
  cpuMeter,
  Figure,
  loadGenerator,
  loadSummary,
  log,
  mb,
  metric,
  rssOf,
  row,
  SERVER_KINDS,
  type ServerKind,
  settledRss,
  sleep,
  SMOKE,
  startServer,
  startSystem,
  untilStreaming,
} from '../load/bench-kit.js';
import type { LoadGenerator } from '../load/load-generator.js';

const LEVELS = SMOKE ? [10, 20] : [5000, 15_000];
const WARM_UP = SMOKE ? 10 : 200;
const SETTLE_MS = SMOKE ? 1000 : 5000;
const ENV = { STREAM_EVENTS_PER_SECOND: '1', STREAM_EVENT_BYTES: '64' };
const KIB = 1024;

interface Level {
  streams: number;
  live: number;
  openSeconds: number;
  rssBytes: number;
  perConnectionKiB: number;
  serverCpuCores: number;
  loadgenRssBytes: number;
  /** Ours only (its /metrics): V8 heap used and committed, and external memory, bytes. */
  heap?: { used: number; total: number; external: number };
}

const figure = new Figure('a', 'idle', 'idle connections held; RSS per connection at 5k and 15k');
const system = await startSystem(LEVELS.at(-1)! + 200);
type Run = ServerKind | 'ours-optimize-for-size';
const results: Partial<Record<Run, { rssBefore: number; levels: Level[] }>> = {};
// The third run is ours again under `node --optimize-for-size`: what the V8 heap policy adds.
const RUNS: [Run, ServerKind, string[]][] = [
  ...SERVER_KINDS.map((kind): [Run, ServerKind, string[]] => [kind, kind, []]),
  ['ours-optimize-for-size', 'ours', ['--optimize-for-size']],
];
async function measure(run: Run, kind: ServerKind, nodeArgs: string[]): Promise<void> {
  const server = await startServer(kind, system.base, ENV, nodeArgs);
  const generators: LoadGenerator[] = [];
  try {
    // Warm-up: JIT, pools and heap sized by a first round, so the reference is a process that has served streams.
    const warm = loadGenerator({ targets: [server.url], pairs: system.pairs.slice(0, WARM_UP) });
    void warm.run();
    await untilStreaming(warm, WARM_UP, 30_000);
    await warm.stop();
    await sleep(2000);
    const rssBefore = await settledRss(server.pid);
    const heapBefore = kind === 'ours' ? await metric(server.url, 'nodejs_heap_size_used_bytes') : Number.NaN;
    log(`${run}: RSS after warm-up, no stream open: ${mb(rssBefore)}`);
    const levels: Level[] = [];
    let opened = 0;
    for (const level of LEVELS) {
      const started = performance.now();
      const generator = loadGenerator({ targets: [server.url], pairs: system.pairs.slice(opened, level) }, `${run} `);
      generators.push(generator);
      void generator.run();
      await untilStreaming(generator, level - opened, 180_000);
      const openSeconds = (performance.now() - started) / 1000;
      opened = level;
      const cpu = cpuMeter(server.pid);
      await sleep(SETTLE_MS);
      const rssBytes = await settledRss(server.pid);
      const live = generators.reduce((sum, g) => sum + g.snapshot().live, 0);
      const result: Level = {
        streams: level,
        live,
        openSeconds,
        rssBytes,
        perConnectionKiB: (rssBytes - rssBefore) / live / KIB,
        serverCpuCores: cpu.stop(),
        loadgenRssBytes: process.memoryUsage.rss(),
        ...(kind === 'ours'
          ? {
              heap: {
                used: await metric(server.url, 'nodejs_heap_size_used_bytes'),
                total: await metric(server.url, 'nodejs_heap_size_total_bytes'),
                external: await metric(server.url, 'nodejs_external_memory_bytes'),
              },
            }
          : {}),
      };
      levels.push(result);
      log(
        `${run}: ${live}/${level} streams (opened in ${openSeconds.toFixed(1)} s), RSS ${mb(rssBytes)} → ` +
          `${result.perConnectionKiB.toFixed(1)} KiB per connection, CPU ${result.serverCpuCores} cores; load generator RSS ${mb(result.loadgenRssBytes)}`,
      );
    }
    results[run] = { rssBefore, levels };
    figure.details[run] = {
      rssBeforeBytes: rssBefore,
      heapUsedBeforeBytes: heapBefore,
      levels,
      rssAtEndBytes: rssOf(server.pid),
      ...(kind === 'ours' ? { lockLostTotal: await metric(server.url, 'stream_lock_lost_total') } : {}),
      generators: (await Promise.all(generators.map((g) => g.stop()))).map(loadSummary),
    };
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
    await server.stop();
  }
}

try {
  for (const [run, kind, nodeArgs] of RUNS) {
    try {
      await measure(run, kind, nodeArgs);
    } catch (error) {
      // The extra run only explains the figure; its failure must not lose the figure.
      if (run !== 'ours-optimize-for-size') throw error;
      figure.finding(`the ${run} run failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
} finally {
  await system.stop();
}

const ours = results.ours!.levels;
const base = results.baseline!.levels;
const top = LEVELS.length - 1;
figure.add(
  row(
    `idle connections held (of ${LEVELS[top]!.toLocaleString('en')} opened)`,
    'connections',
    ours[top]!.live,
    base[top]!.live,
    {
      text: `≥ ${SMOKE ? LEVELS[top] : '15,000'}`,
      test: (v) => v >= LEVELS[top]!,
    },
    'higher',
  ),
);
LEVELS.forEach((level, i) =>
  figure.add(
    row(
      `RSS per idle connection at ${level.toLocaleString('en')}`,
      'KiB',
      ours[i]!.perConnectionKiB,
      base[i]!.perConnectionKiB,
      {
        text: '≤ 16',
        test: (v) => v <= 16,
      },
    ),
  ),
);
figure.add(
  row(
    `CPU holding ${LEVELS[top]!.toLocaleString('en')} idle streams (1 event/s each, locks renewed)`,
    'cores',
    ours[top]!.serverCpuCores,
    base[top]!.serverCpuCores,
  ),
);
figure.add(
  row(
    `load generator RSS holding ${LEVELS[top]!.toLocaleString('en')} streams`,
    'MB',
    ours[top]!.loadgenRssBytes / 1e6,
    base[top]!.loadgenRssBytes / 1e6,
    {
      text: '< 300',
      test: (v) => v < 300,
    },
  ),
);
const heapBefore = (figure.details.ours as { heapUsedBeforeBytes: number }).heapUsedBeforeBytes;
const small = results['ours-optimize-for-size']?.levels;
for (const [i, level] of ours.entries()) {
  if (level.perConnectionKiB > 16) {
    const heapPer = level.heap ? (level.heap.used - heapBefore) / level.live / KIB : Number.NaN;
    figure.finding(
      `ours at ${level.streams}: ${level.perConnectionKiB.toFixed(1)} KiB RSS per idle connection (RSS ${mb(results.ours!.rssBefore)} → ${mb(level.rssBytes)}), ` +
        `of which V8 heap used ${heapPer.toFixed(1)} KiB (heap committed ${mb(level.heap?.total ?? Number.NaN)}); baseline ${base[i]!.perConnectionKiB.toFixed(1)} KiB; ` +
        (small
          ? `the same process under node --optimize-for-size (smaller V8 heap growth steps): ${small[i]!.perConnectionKiB.toFixed(1)} KiB`
          : ''),
    );
  }
}
figure.write();
